package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/materializer"
)

// cmdWorker runs `strata worker`: it claims runs from a server over the
// WorkerService, runs their jobs on this machine with the local executor,
// heartbeats, and sends their logs and results back, until SIGINT or
// SIGTERM. It needs no catalog access: the server sizes each run and
// builds its context.
func (c *cli) cmdWorker(args []string) error {
	fs := flag.NewFlagSet("strata worker", flag.ContinueOnError)
	serverAddr := fs.String("server", "", "server address (default $"+envServer+" or "+defaultServer+")")
	token := fs.String("token", "", "bearer token (default $"+envToken+")")
	capFlag := fs.String("capacity", "", "what this worker runs at once: memory=SIZE,cpus=N[,slots=N] (default: 80% of memory, all CPUs)")
	labelsFlag := fs.String("labels", "", "labels k=v[,k=v...]")
	id := fs.String("id", "", "worker id (default: host name and process id)")
	runDir := fs.String("run-dir", "", "directory for the runs' context and messages files (default: one of this worker's under $XDG_RUNTIME_DIR or /dev/shm, else the temporary directory)")
	wait := fs.Duration("wait", 30*time.Second, "long-poll wait of each claim")
	logInterval := fs.Duration("log-interval", time.Second, "how often a running job's output is sent to the server (live logs)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("worker: unexpected argument %q", pos[0])
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErrorf("--log-level %q: use debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	capacity, err := parseCapacity(*capFlag)
	if err != nil {
		return usageErrorf("--capacity: %v", err)
	}
	labels, err := parseLabels(*labelsFlag)
	if err != nil {
		return usageErrorf("--labels: %v", err)
	}
	addr := *serverAddr
	if addr == "" {
		addr = os.Getenv(envServer)
	}
	if addr == "" {
		addr = defaultServer
	}
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "grpc://")
	tok := *token
	if tok == "" {
		tok = os.Getenv(envToken)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20), grpc.MaxCallRecvMsgSize(64<<20))}
	if tok != "" {
		opts = append(opts, grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, o ...grpc.CallOption) error {
			return invoker(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok), method, req, reply, cc, o...)
		}))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return usageErrorf("server %q: %v", addr, err)
	}
	defer conn.Close()
	if *runDir == "" {
		*runDir = filepath.Join(materializer.DefaultRunRoot(), "worker-"+strconv.Itoa(os.Getpid()))
		defer os.RemoveAll(*runDir)
	}
	ex := materializer.NewLocalExecutor(materializer.LocalConfig{RunRoot: *runDir, Capacity: capacity, Logger: log,
		InspectCommand: inspectCommand()})
	w, err := materializer.NewWorker(materializer.WorkerConfig{Client: stratav1.NewWorkerServiceClient(conn), ID: *id,
		Labels: labels, Executor: ex, Logger: log, Wait: *wait, LogInterval: *logInterval})
	if err != nil {
		return failErrorf("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	got := ex.Capacity()
	log.Info("strata worker", "id", w.ID(), "server", addr, "memory", got.MemoryBytes, "cpus", got.CPUs, "slots", got.Slots)
	fmt.Fprintf(c.stdout, "worker %s claiming runs from %s\n", w.ID(), addr)
	if err := w.Run(ctx); err != nil {
		return failErrorf("%v", err)
	}
	return nil
}

// parseCapacity parses "memory=8GiB,cpus=4[,slots=8]"; what is left out
// takes the machine's default.
func parseCapacity(s string) (materializer.Capacity, error) {
	c := materializer.DefaultCapacity()
	if s == "" {
		return c, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return c, fmt.Errorf("%q is not key=value", kv)
		}
		switch k {
		case "memory":
			b, err := asset.ParseByteSize(v)
			if err != nil || b <= 0 {
				return c, fmt.Errorf("memory %q: want a size like 8GiB", v)
			}
			c.MemoryBytes = int64(b)
		case "cpus":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				return c, fmt.Errorf("cpus %q: want a positive number", v)
			}
			c.CPUs = f
			c.Slots = max(2*int(f+0.999), 1)
		case "slots":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return c, fmt.Errorf("slots %q: want a positive integer", v)
			}
			c.Slots = n
		default:
			return c, fmt.Errorf("unknown key %q (want memory, cpus or slots)", k)
		}
	}
	return c, nil
}

func parseLabels(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		m[k] = v
	}
	return m, nil
}

// newServerDispatcher builds the dispatcher of `strata server`: it runs
// jobs on this machine with the local executor (capacity as parsed by
// parseCapacity; "none" runs nothing here, only on remote workers), writes
// outputs under dataDir, and serves remote workers.
// Its lease owner is stable across restarts of this server (host name and
// data directory), so runs orphaned by a crash are queued again at start.
func newServerDispatcher(cat *catalog.Catalog, log *slog.Logger, dataDir, capacity string) (*materializer.Dispatcher, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, usageErrorf("--data-dir: %v", err)
	}
	var execs []materializer.Executor
	if capacity != "none" {
		c, err := parseCapacity(capacity)
		if err != nil {
			return nil, usageErrorf("--capacity: %v", err)
		}
		// The run files are runtime state: in memory where the system has
		// a runtime directory, in a directory of this data directory's (a
		// second server on another catalog reuses run ids).
		sum := sha256.Sum256([]byte(abs))
		runRoot := filepath.Join(materializer.DefaultRunRoot(), "server-"+hex.EncodeToString(sum[:6]))
		execs = append(execs, materializer.NewLocalExecutor(materializer.LocalConfig{
			RunRoot: runRoot, Capacity: c, Logger: log, InspectCommand: inspectCommand()}))
	}
	host, _ := os.Hostname()
	d, err := materializer.NewDispatcher(materializer.Config{Catalog: cat, Executors: execs, Logger: log,
		DataDir: abs, Owner: "local:" + host + ":" + abs})
	if err != nil {
		return nil, failErrorf("%v", err)
	}
	return d, nil
}

// inspectCommand is this binary, which inspects Parquet output in a
// memory-limited helper process (main calls
// materializer.RunInspectHelperIfRequested first); nil, inspecting in
// process, when the executable cannot be found.
func inspectCommand() []string {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return []string{exe}
}
