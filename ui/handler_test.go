package ui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strata-data/strata/ui"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	h := ui.Handler(ui.Options{APIBase: "https://api.example.com/", Title: "Strata <prod>"})
	get := func(method, path string, hdr map[string]string) *http.Response {
		t.Helper()
		req := httptest.NewRequest(method, path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Result()
	}
	body := func(r *http.Response) string {
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}

	tests := []struct {
		name, method, path string
		code               int
		ctype, contains    string
	}{
		{"root is the app", "GET", "/", 200, "text/html", `<script type="module" src="/static/js/app.js">`},
		{"deep link to an asset", "GET", "/assets/analytics/daily_revenue", 200, "text/html", "<title>Strata &lt;prod&gt;</title>"},
		{"deep link to a run", "GET", "/runs/42", 200, "text/html", "app.js"},
		{"deep link to a backfill", "GET", "/backfills/7", 200, "text/html", "app.js"},
		{"lineage with a query", "GET", "/lineage?focus=a/b&up=2", 200, "text/html", "app.js"},
		{"a module", "GET", "/static/js/app.js", 200, "text/javascript", "function route()"},
		{"the stylesheet", "GET", "/static/css/app.css", 200, "text/css", ":root"},
		{"config", "GET", "/config.js", 200, "text/javascript", `"api_base":"https://api.example.com"`},
		{"a missing file", "GET", "/static/js/nope.js", 404, "", ""},
		{"an API path is not the app", "GET", "/v1/assets", 404, "", ""},
		{"no writes", "POST", "/", 405, "", ""},
		{"head", "HEAD", "/static/js/api.js", 200, "text/javascript", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := get(tc.method, tc.path, nil)
			if r.StatusCode != tc.code {
				t.Fatalf("%s %s = %d, want %d", tc.method, tc.path, r.StatusCode, tc.code)
			}
			if tc.ctype != "" && !strings.HasPrefix(r.Header.Get("Content-Type"), tc.ctype) {
				t.Errorf("Content-Type = %q, want %s", r.Header.Get("Content-Type"), tc.ctype)
			}
			if b := body(r); tc.contains != "" && !strings.Contains(b, tc.contains) {
				t.Errorf("body does not contain %q:\n%.300s", tc.contains, b)
			}
		})
	}

	t.Run("etag revalidation", func(t *testing.T) {
		r := get("GET", "/static/js/app.js", nil)
		etag := r.Header.Get("ETag")
		if etag == "" || r.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("ETag %q, Cache-Control %q", etag, r.Header.Get("Cache-Control"))
		}
		if r2 := get("GET", "/static/js/app.js", map[string]string{"If-None-Match": etag}); r2.StatusCode != http.StatusNotModified {
			t.Errorf("revalidation = %d, want 304", r2.StatusCode)
		}
	})
}

// TestEmbeddedModules checks that every module the app imports is embedded:
// a missing file would only show in a browser.
func TestEmbeddedModules(t *testing.T) {
	t.Parallel()
	h := ui.Handler(ui.Options{})
	seen := map[string]bool{}
	var visit func(path string)
	visit = func(path string) {
		if seen[path] {
			return
		}
		seen[path] = true
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 200 {
			t.Errorf("%s = %d", path, w.Code)
			return
		}
		for _, line := range strings.Split(w.Body.String(), "\n") {
			line = strings.TrimSpace(line)
			i := strings.Index(line, " from '")
			if !strings.HasPrefix(line, "import ") && !strings.HasPrefix(line, "} from") || i < 0 {
				continue
			}
			rel := line[i+len(" from '"):]
			rel = rel[:strings.Index(rel, "'")]
			dir := path[:strings.LastIndex(path, "/")+1]
			for strings.HasPrefix(rel, "../") {
				rel = rel[3:]
				dir = dir[:strings.LastIndex(strings.TrimSuffix(dir, "/"), "/")+1]
			}
			visit(dir + strings.TrimPrefix(rel, "./"))
		}
	}
	visit("/static/js/app.js")
	if len(seen) < 10 {
		t.Errorf("followed only %d modules: %v", len(seen), seen)
	}
}
