package ui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strata-data/strata/ui"
)

func TestStandalone(t *testing.T) {
	t.Parallel()
	var gotAuth, gotPath string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.RequestURI()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"assets":[]}`)
	}))
	defer api.Close()

	h, err := ui.Standalone(ui.StandaloneOptions{API: api.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path string, hdr map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	if code, body := get("/v1/assets?query=rev", map[string]string{"Authorization": "Bearer tok"}); code != 200 || body != `{"assets":[]}` {
		t.Errorf("proxied list = %d %s", code, body)
	}
	if gotAuth != "Bearer tok" || gotPath != "/v1/assets?query=rev" {
		t.Errorf("api saw %q %q", gotAuth, gotPath)
	}
	if code, body := get("/assets/a/b", nil); code != 200 || !strings.Contains(body, "app.js") {
		t.Errorf("deep link = %d", code)
	}
	if code, body := get("/config.js", nil); code != 200 || !strings.Contains(body, `"api_base":""`) {
		t.Errorf("config = %d %s", code, body)
	}
	if code, _ := get("/healthz", nil); code != 200 {
		t.Errorf("healthz = %d", code)
	}

	t.Run("api down", func(t *testing.T) {
		h, err := ui.Standalone(ui.StandaloneOptions{API: "http://127.0.0.1:1"})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/assets", nil))
		if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "cannot reach the API") {
			t.Errorf("api down = %d %s", w.Code, w.Body.String())
		}
	})
	t.Run("direct", func(t *testing.T) {
		h, err := ui.Standalone(ui.StandaloneOptions{API: "https://strata.example.com", Direct: true})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/config.js", nil))
		if !strings.Contains(w.Body.String(), `"api_base":"https://strata.example.com"`) {
			t.Errorf("config = %s", w.Body.String())
		}
		w = httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/assets", nil))
		if w.Code != http.StatusNotFound {
			t.Errorf("direct mode proxied /v1/: %d", w.Code)
		}
	})
	for _, bad := range []string{"", "strata:7070", "ftp://x", "http://"} {
		if _, err := ui.Standalone(ui.StandaloneOptions{API: bad}); err == nil {
			t.Errorf("api %q accepted", bad)
		}
	}
}
