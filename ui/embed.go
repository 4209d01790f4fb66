// Package ui is Strata's web UI for analysts: a static web app (plain ES
// modules, no build step) that talks only to the public REST API. The files
// are embedded in the binary; Handler serves them, with index.html for every
// other path so deep links (/assets/analytics/daily_revenue, /runs/42) load
// the app. `strata server` mounts it at "/", `strata ui` serves it alone in
// front of a reverse proxy of /v1/ (see cmd/strata/ui.go).
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var files embed.FS

// Options configures Handler. The zero value serves the app for an API on
// the same origin.
type Options struct {
	// APIBase is the URL of the REST API the browser calls, e.g.
	// "https://strata.example.com". Empty means the origin that served the
	// page (the API and the UI on one server, or a proxy of /v1/). Another
	// origin needs CORS on the API server.
	APIBase string
	// Title replaces "Strata" in the page title (e.g. to name an environment).
	Title string
}

// FS returns the embedded files, rooted at the directory holding index.html.
func FS() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the directory is embedded: cannot happen
	}
	return sub
}

type file struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the app: /static/* are the embedded files, /config.js the
// settings of opts, and any other GET or HEAD path not under /v1/ answers
// index.html (the app routes on the URL). Files are revalidated by ETag on
// every load, so a new binary's files are picked up at once.
func Handler(opts Options) http.Handler {
	static := map[string]*file{}
	root := FS()
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		static["/static/"+p] = newFile(p, b)
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("ui: read embedded files: %v", err)) // embedded: cannot happen
	}
	index := static["/static/index.html"]
	title := opts.Title
	if title == "" {
		title = "Strata"
	}
	index = newFile("index.html", bytes.ReplaceAll(index.body, []byte("<title>Strata</title>"), []byte("<title>"+htmlEscape(title)+"</title>")))
	cfg, _ := json.Marshal(map[string]string{"api_base": strings.TrimRight(opts.APIBase, "/"), "title": title})
	config := newFile("config.js", []byte("window.STRATA_CONFIG = "+string(cfg)+";\n"))

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		var f *file
		switch {
		case p == "/config.js":
			f = config
		case strings.HasPrefix(p, "/static/"):
			f = static[p]
			if f == nil {
				http.NotFound(w, r)
				return
			}
		case p == "/v1" || strings.HasPrefix(p, "/v1/"):
			// An API path that reached the UI is not an API route.
			http.NotFound(w, r)
			return
		default:
			f = index
		}
		serve(w, r, f)
	})
}

func newFile(name string, b []byte) *file {
	sum := sha256.Sum256(b)
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".html":
		ctype = "text/html; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return &file{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

func serve(w http.ResponseWriter, r *http.Request, f *file) {
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(f.ctype, "text/html") {
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src *; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "same-origin")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(f.body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(f.body)
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
