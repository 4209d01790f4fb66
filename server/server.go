package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/gen/openapi"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// Limits of a request.
const (
	// DefaultMaxRequestBytes bounds the size of one request message (gRPC)
	// or body (REST).
	DefaultMaxRequestBytes = 16 << 20
	// DefaultMaxAssets bounds the number of declarations of one ApplyAssets.
	DefaultMaxAssets = 10000
	// transportMaxBytes is what the gRPC transport accepts: larger than the
	// request limit so that an oversized request reaches the size check and
	// is answered InvalidArgument naming the limit, not ResourceExhausted.
	transportMaxBytes = 64 << 20
)

// Config configures a Server. Catalog is required; the zero value of every
// other field is a sensible default.
type Config struct {
	Catalog *catalog.Catalog
	// Logger receives one line per request and operational messages; nil
	// discards them.
	Logger *slog.Logger
	// Registry receives the server's metrics and is served at /metrics; nil
	// means a new registry of the server's own.
	Registry *prometheus.Registry
	// Tokens are the accepted bearer tokens. Empty means no authentication:
	// every caller may do everything (bind loopback only; see CheckListen).
	Tokens []Token
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// UI serves "/" and everything the API does not; nil answers 404.
	UI http.Handler
	// Status answers partition statuses; nil means the interim
	// implementation over the catalog (CatalogStatus).
	Status StatusSource
	// Planner plans backfills; nil means the interim implementation.
	Planner BackfillPlanner
	// Backfills, when set, creates backfills (scheduler.Scheduler): the
	// planner loop enqueues their runs wave by wave, each downstream
	// partition once its upstream partitions succeeded. Nil enqueues every
	// run at creation (catalog.CreateBackfill).
	Backfills BackfillStarter
	// Workers serves the WorkerService (remote workers claim runs and
	// report results); nil leaves it unimplemented.
	Workers Workers
	// MaxRequestBytes and MaxAssets bound requests; 0 means the defaults.
	MaxRequestBytes int
	MaxAssets       int
	// ShutdownTimeout bounds the drain of in-flight requests on shutdown;
	// 0 means 30s.
	ShutdownTimeout time.Duration
	// LogPollInterval is how often a followed log stream looks for new
	// lines; 0 means 500ms.
	LogPollInterval time.Duration
}

// Server serves Strata's gRPC services, their REST gateway, the OpenAPI
// document, health, metrics and the UI on one listener.
type Server struct {
	cfg     Config
	cat     *catalog.Catalog
	log     *slog.Logger
	now     func() time.Time
	auth    *authenticator
	metrics *metrics
	status  StatusSource
	planner BackfillPlanner
	starter BackfillStarter
	snaps   snapshotCache

	grpc   *grpc.Server
	health *health.Server

	stopping     chan struct{} // closed when shutdown starts (ends followed streams)
	stoppingOnce sync.Once
}

// New builds a server from cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Catalog == nil {
		return nil, errors.New("new server: no catalog")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxAssets <= 0 {
		cfg.MaxAssets = DefaultMaxAssets
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.LogPollInterval <= 0 {
		cfg.LogPollInterval = 500 * time.Millisecond
	}
	auth, err := newAuthenticator(cfg.Tokens)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	s := &Server{
		cfg: cfg, cat: cfg.Catalog, log: cfg.Logger, now: cfg.Now, auth: auth, metrics: m,
		status: cfg.Status, planner: cfg.Planner, starter: cfg.Backfills, stopping: make(chan struct{}),
	}
	if s.status == nil {
		s.status = &CatalogStatus{Catalog: cfg.Catalog}
	}
	if s.planner == nil {
		s.planner = interimPlanner{}
	}
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(transportMaxBytes),
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	)
	stratav1.RegisterAssetServiceServer(s.grpc, &assetService{s: s})
	stratav1.RegisterLineageServiceServer(s.grpc, &lineageService{s: s})
	stratav1.RegisterPartitionServiceServer(s.grpc, &partitionService{s: s})
	stratav1.RegisterBackfillServiceServer(s.grpc, &backfillService{s: s})
	stratav1.RegisterRunServiceServer(s.grpc, &runService{s: s})
	if cfg.Workers != nil {
		stratav1.RegisterWorkerServiceServer(s.grpc, NewWorkerService(cfg.Workers, cfg.Now))
	}
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	return s, nil
}

// Serve serves on ln until ctx is done, then shuts down gracefully: it stops
// accepting, ends followed log streams, drains in-flight requests (for at
// most Config.ShutdownTimeout) and returns. The caller closes the catalog
// afterwards. Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// The REST gateway calls the gRPC services in process, over an
	// in-memory connection, so that the same interceptors (auth, limits,
	// metrics, logs) guard both.
	pipe := newPipeListener()
	grpcDone := make(chan error, 1)
	go func() { grpcDone <- s.grpc.Serve(pipe) }()
	conn, err := grpc.NewClient("passthrough:///strata-inprocess",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return pipe.dial(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(transportMaxBytes), grpc.MaxCallSendMsgSize(transportMaxBytes)),
	)
	if err != nil {
		s.grpc.Stop()
		ln.Close()
		return fmt.Errorf("serve: gateway connection: %w", err)
	}
	defer conn.Close()
	gw, err := s.gateway(ctx, conn)
	if err != nil {
		s.grpc.Stop()
		ln.Close()
		return fmt.Errorf("serve: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/v1/", s.restLimits(gw))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.JSON())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.healthz)
	ui := s.cfg.UI
	if ui == nil {
		ui = http.NotFoundHandler()
	}
	mux.Handle("/", ui)
	httpHandler := s.metrics.http(mux)

	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			s.grpc.ServeHTTP(w, r)
			return
		}
		httpHandler.ServeHTTP(w, r)
	})
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{
		Handler:           root,
		Protocols:         &protocols,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.log.Info("serving", "address", ln.Addr().String(), "auth", s.auth.enabled())

	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case err := <-serveErr:
		s.beginShutdown()
		s.grpc.Stop()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	s.log.Info("shutting down: draining in-flight requests")
	s.beginShutdown()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err = hs.Shutdown(sctx)
	if err != nil {
		s.log.Warn("shutdown: drain timed out; closing connections", "error", err.Error())
		hs.Close()
	}
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-sctx.Done():
		s.grpc.Stop()
		<-stopped
	}
	<-grpcDone
	s.log.Info("stopped")
	return nil
}

func (s *Server) beginShutdown() {
	s.stoppingOnce.Do(func() {
		s.health.Shutdown()
		close(s.stopping)
	})
}

// gateway builds the REST mux over the in-process connection.
func (s *Server) gateway(ctx context.Context, conn *grpc.ClientConn) (http.Handler, error) {
	marshaler := &jsonMarshaler{JSONPb: runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}
	gw := runtime.NewServeMux(
		runtime.WithUnescapingMode(runtime.UnescapingModeAllCharacters),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, marshaler),
		runtime.WithErrorHandler(restErrorHandler),
	)
	// AssetService before PartitionService: the most recently registered
	// route is tried first, and {key=**} would otherwise take
	// "kafka:partitions" as a key (proto/README.md).
	regs := []struct {
		name string
		fn   func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	}{
		{"asset", stratav1.RegisterAssetServiceHandler},
		{"lineage", stratav1.RegisterLineageServiceHandler},
		{"backfill", stratav1.RegisterBackfillServiceHandler},
		{"run", stratav1.RegisterRunServiceHandler},
		{"worker", stratav1.RegisterWorkerServiceHandler},
		{"partition", stratav1.RegisterPartitionServiceHandler},
	}
	for _, r := range regs {
		if err := r.fn(ctx, gw, conn); err != nil {
			return nil, fmt.Errorf("register %s gateway: %w", r.name, err)
		}
	}
	return gw, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.cat.CatalogRevision(ctx); err != nil {
		http.Error(w, "catalog: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// CheckListen refuses to serve on a non-loopback address without tokens
// unless insecure is set.
func CheckListen(addr string, tokens int, insecureOK bool) error {
	if tokens > 0 || insecureOK {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without authentication: configure tokens (--tokens-file or STRATA_TOKENS), bind a loopback address, or pass --insecure", addr)
}

// pipeListener is an in-memory net.Listener for the in-process gateway
// connection.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "in-process" }
