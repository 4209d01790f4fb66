package ui

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// StandaloneOptions configures Standalone.
type StandaloneOptions struct {
	// API is the base URL of a Strata server's REST API, e.g.
	// http://strata.internal:7070. Required.
	API string
	// Direct makes the browser call API itself instead of going through
	// this handler's proxy; the API server must then allow the UI's origin
	// (CORS).
	Direct bool
	// Title replaces "Strata" in the page title.
	Title string
	// Logger receives proxy errors; nil discards them.
	Logger *slog.Logger
}

// Standalone serves the app on its own, for `strata ui`: no catalog, no
// scheduler, only the public REST API of another server. By default /v1/
// and /openapi.json are proxied to API (same origin for the browser, so no
// CORS, and the Authorization header the browser sends passes through);
// with Direct the browser calls API itself. /healthz answers ok.
func Standalone(o StandaloneOptions) (http.Handler, error) {
	u, err := url.Parse(strings.TrimRight(o.API, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api url %q: want http(s)://host[:port][/path]", o.API)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := Options{Title: o.Title}
	if o.Direct {
		opts.APIBase = u.String()
	}
	mux := http.NewServeMux()
	mux.Handle("/", Handler(opts))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	if !o.Direct {
		proxy := &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(u)
				r.SetXForwarded()
				r.Out.Host = u.Host
			},
			// Followed log streams are newline-delimited JSON: flush each write.
			FlushInterval: -1,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				log.Warn("proxy to api", "api", u.String(), "path", r.URL.Path, "error", err.Error())
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadGateway)
				fmt.Fprintf(w, `{"code":14,"message":%q}`, "the UI server cannot reach the API at "+u.String()+": "+err.Error())
			},
		}
		mux.Handle("/v1/", proxy)
		mux.Handle("GET /openapi.json", proxy)
	}
	return mux, nil
}
