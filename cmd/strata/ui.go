package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/strata-data/strata/ui"
)

// cmdUI runs `strata ui`: it serves the web UI alone, in front of another
// server's REST API, with no catalog and no scheduler. By default it
// proxies /v1/ to --api, so the browser needs no CORS; --direct makes the
// browser call --api itself.
func (c *cli) cmdUI(args []string) error {
	fs := flag.NewFlagSet("strata ui", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	api := fs.String("api", "", "`URL` of the Strata server's REST API, e.g. http://strata.internal:7070 (required)")
	listen := fs.String("listen", "127.0.0.1:8080", "`ADDR` to serve the UI on")
	direct := fs.Bool("direct", false, "let the browser call --api directly instead of proxying /v1/ (the API must allow CORS from the UI's origin)")
	title := fs.String("title", "", "page title, e.g. the environment's name (default \"Strata\")")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: strata ui --api URL [--listen ADDR] [--direct] [--title TEXT]\n\n"+
			"Serve the web UI alone, over another server's REST API (no database access).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if *api == "" {
		return usageErrorf("ui: --api is required (the URL of a strata server, e.g. http://127.0.0.1:7070)")
	}
	log := slog.New(slog.NewTextHandler(c.stderr, nil))
	h, err := ui.Standalone(ui.StandaloneOptions{API: *api, Direct: *direct, Title: *title, Logger: log})
	if err != nil {
		return usageErrorf("ui: --api: %v", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return failErrorf("listen: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	mode := "proxy"
	if *direct {
		mode = "direct"
	}
	log.Info("strata ui", "listen", ln.Addr().String(), "api", *api, "mode", mode)
	// The address, for scripts and tests that listen on port 0.
	fmt.Fprintf(c.stdout, "serving the UI on http://%s (API %s)\n", ln.Addr(), *api)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return failErrorf("serve: %v", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return failErrorf("shutdown: %v", err)
	}
	return nil
}
