package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/scheduler"
	"github.com/strata-data/strata/server"
	"github.com/strata-data/strata/ui"
)

const defaultDB = "sqlite://./.strata/strata.db"

// cmdServer runs `strata server`: it opens the catalog and serves the API
// until SIGINT or SIGTERM, then drains and closes the catalog.
func (c *cli) cmdServer(args []string) error {
	fs := flag.NewFlagSet("strata server", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:7070", "address to serve gRPC, REST, /metrics and the UI on")
	db := fs.String("db", defaultDB, "catalog: sqlite://PATH or postgres://...")
	tokensFile := fs.String("tokens-file", "", "bearer tokens, one per line: TOKEN ROLE [NAME] (roles: viewer, editor, admin)")
	insecureFlag := fs.Bool("insecure", false, "allow a non-loopback --listen address without tokens")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	shutdown := fs.Duration("shutdown-timeout", 30*time.Second, "how long to drain in-flight requests on shutdown")
	title := fs.String("title", "", "title of the web UI served at / (e.g. the environment's name)")
	dataDir := fs.String("data-dir", ".strata", "directory of the jobs' default outputs (<dir>/assets/...) and run files (<dir>/runs)")
	capFlag := fs.String("capacity", "", "local executor capacity: memory=SIZE,cpus=N[,slots=N] (default: 80% of memory, all CPUs); none: run jobs only on workers")
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("server: unexpected argument %q", pos[0])
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErrorf("--log-level %q: use debug, info, warn or error", *logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var log *slog.Logger
	switch *logFormat {
	case "text":
		log = slog.New(slog.NewTextHandler(c.stderr, hopts))
	case "json":
		log = slog.New(slog.NewJSONHandler(c.stderr, hopts))
	default:
		return usageErrorf("--log-format %q: use text or json", *logFormat)
	}
	tokens, err := loadTokens(*tokensFile)
	if err != nil {
		return usageError(err)
	}
	if err := server.CheckListen(*listen, len(tokens), *insecureFlag); err != nil {
		return usageError(err)
	}
	url := *db
	if strings.HasPrefix(url, "sqlite://") {
		path := strings.TrimPrefix(url, "sqlite://")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return failErrorf("create catalog directory: %v", err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cat, err := catalog.Open(ctx, url, catalog.Options{Logger: log})
	if err != nil {
		return failErrorf("%v", err)
	}
	defer cat.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	disp, err := newServerDispatcher(cat, log, *dataDir, *capFlag)
	if err != nil {
		return err
	}
	// The planner loop keeps statuses current from the catalog's events and,
	// as leader (advisory lock on PostgreSQL; always on SQLite), enqueues
	// what automation and backfills request.
	sched, err := scheduler.New(scheduler.Config{Catalog: cat, Logger: log.With("component", "planner"), Notify: disp.Notify})
	if err != nil {
		return failErrorf("%v", err)
	}
	srv, err := server.New(server.Config{Catalog: cat, Logger: log, Registry: reg, Tokens: tokens, ShutdownTimeout: *shutdown,
		UI: ui.Handler(ui.Options{Title: *title}), Workers: disp,
		Status: &server.PlannerStatus{Scheduler: sched, Catalog: cat}, Backfills: sched})
	if err != nil {
		return failErrorf("%v", err)
	}
	// The dispatcher runs jobs and recovers leases, and the planner loop
	// plans, until the server stops; both stop before the catalog closes.
	dctx, stopDisp := context.WithCancel(ctx)
	dispDone := make(chan struct{})
	go func() { defer close(dispDone); _ = disp.Run(dctx) }()
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); _ = sched.Run(dctx) }()
	defer func() { stopDisp(); <-dispDone; <-schedDone }()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return failErrorf("listen: %v", err)
	}
	log.Info("strata server", "listen", ln.Addr().String(), "catalog", cat.Dialect(), "tokens", len(tokens))
	// The address, for scripts and tests that listen on port 0.
	fmt.Fprintf(c.stdout, "listening on %s\n", ln.Addr())
	if err := srv.Serve(ctx, ln); err != nil {
		return failErrorf("%v", err)
	}
	stopDisp()
	<-dispDone
	<-schedDone
	if err := cat.Close(); err != nil {
		return failErrorf("close catalog: %v", err)
	}
	return nil
}

// loadTokens reads --tokens-file and $STRATA_TOKENS.
func loadTokens(file string) ([]server.Token, error) {
	var tokens []server.Token
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--tokens-file: %w", err)
		}
		defer f.Close()
		ts, err := server.ParseTokensFile(f)
		if err != nil {
			return nil, fmt.Errorf("--tokens-file %s: %w", file, err)
		}
		tokens = append(tokens, ts...)
	}
	if env := os.Getenv("STRATA_TOKENS"); env != "" {
		ts, err := server.ParseTokensEnv(env)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, ts...)
	}
	return tokens, nil
}
