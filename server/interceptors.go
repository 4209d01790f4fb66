package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	httpRequests *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_api_requests_total",
			Help: "API requests (gRPC and REST) by method and status code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strata_api_request_duration_seconds",
			Help:    "API request latency by method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"method"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_http_requests_total",
			Help: "Plain HTTP requests (REST, OpenAPI, metrics, health, UI) by kind and status.",
		}, []string{"handler", "code"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.httpRequests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(method string, code codes.Code, d time.Duration) {
	m.requests.WithLabelValues(method, code.String()).Inc()
	m.latency.WithLabelValues(method).Observe(d.Seconds())
}

// http counts plain HTTP requests by the kind of handler.
func (m *metrics) http(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.httpRequests.WithLabelValues(handlerKind(r.URL.Path), strconv.Itoa(sw.code)).Inc()
	})
}

func handlerKind(path string) string {
	switch {
	case len(path) >= 4 && path[:4] == "/v1/":
		return "rest"
	case path == "/openapi.json", path == "/metrics", path == "/healthz":
		return path[1:]
	}
	return "ui"
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in handler", "method", info.FullMethod, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp, err = nil, status.Error(codes.Internal, "internal error")
		}
		s.finish(ctx, info.FullMethod, err, start)
	}()
	ctx, err = s.auth.authorize(ctx, info.FullMethod, req)
	if err != nil {
		return nil, err
	}
	if err := s.checkSize(req); err != nil {
		return nil, err
	}
	resp, err = handler(ctx, req)
	if err != nil {
		err = StatusError(err)
	}
	return resp, err
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	ctx := ss.Context()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in handler", "method", info.FullMethod, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
		s.finish(ctx, info.FullMethod, err, start)
	}()
	actx, err := s.auth.authorize(ctx, info.FullMethod, nil)
	if err != nil {
		return err
	}
	err = handler(srv, &authedStream{ServerStream: ss, ctx: actx})
	if err != nil {
		err = StatusError(err)
	}
	return err
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authedStream) Context() context.Context { return s.ctx }

func (s *Server) finish(ctx context.Context, method string, err error, start time.Time) {
	d := time.Since(start)
	st := status.Convert(err)
	s.metrics.observe(method, st.Code(), d)
	level := slog.LevelInfo
	switch st.Code() {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		level = slog.LevelError
	}
	if method == "/grpc.health.v1.Health/Check" && err == nil {
		level = slog.LevelDebug
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("code", st.Code().String()),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("actor", actor(ctx)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", st.Message()))
	}
	s.log.LogAttrs(ctx, level, "request", attrs...)
}

// checkSize answers an oversized request with InvalidArgument.
func (s *Server) checkSize(req any) error {
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	if n := proto.Size(m); n > s.cfg.MaxRequestBytes {
		field := "request"
		if _, ok := m.(*stratav1.ApplyAssetsRequest); ok {
			field = "assets"
		}
		return InvalidArgument(field, "request is %d bytes, more than the limit of %d bytes", n, s.cfg.MaxRequestBytes)
	}
	return nil
}
