package server_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/server"
)

func TestAuthRoles(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{tokens: testTokens()})
	ctx := context.Background()
	apply := func(tok string, req *stratav1.ApplyAssetsRequest) error {
		_, err := b.assets.ApplyAssets(withToken(ctx, tok), req)
		return err
	}
	// A viewer reads and may dry-run, but not write.
	if err := apply(viewerToken, &stratav1.ApplyAssetsRequest{Assets: sampleDecls(), DryRun: true}); err != nil {
		t.Fatalf("viewer dry run: %v", err)
	}
	wantCode(t, apply(viewerToken, &stratav1.ApplyAssetsRequest{Assets: sampleDecls()}), codes.PermissionDenied)
	// An editor applies; the catalog records who.
	if err := apply(editorToken, &stratav1.ApplyAssetsRequest{Assets: sampleDecls()}); err != nil {
		t.Fatalf("editor apply: %v", err)
	}
	rec, err := b.cat.GetAsset(ctx, asset.Key("raw/events"))
	if err != nil || rec.UpdatedBy != "ed" {
		t.Errorf("updated by %q, %v; want ed", rec.UpdatedBy, err)
	}
	if _, err := b.assets.ListAssets(withToken(ctx, viewerToken), &stratav1.ListAssetsRequest{}); err != nil {
		t.Errorf("viewer list: %v", err)
	}
	// Only an admin deletes or prunes.
	_, err = b.assets.DeleteAsset(withToken(ctx, editorToken), &stratav1.DeleteAssetRequest{Key: "dim/customers"})
	wantCode(t, err, codes.PermissionDenied)
	wantCode(t, apply(editorToken, &stratav1.ApplyAssetsRequest{Assets: sampleDecls()[:3], Prune: true}), codes.PermissionDenied)
	if _, err := b.assets.DeleteAsset(withToken(ctx, adminToken), &stratav1.DeleteAssetRequest{Key: "dim/customers"}); err != nil {
		t.Errorf("admin delete: %v", err)
	}
	// Backfills: editor.
	_, err = b.backfill.CreateBackfill(withToken(ctx, viewerToken), &stratav1.CreateBackfillRequest{Selection: "raw/events", PartitionKeys: []string{"2026-01-01-00:00"}})
	wantCode(t, err, codes.PermissionDenied)
	if _, err := b.backfill.CreateBackfill(withToken(ctx, editorToken), &stratav1.CreateBackfillRequest{Selection: "raw/events", PartitionKeys: []string{"2026-01-01-00:00"}}); err != nil {
		t.Errorf("editor backfill: %v", err)
	}
	// The message says what is missing, never the token.
	_, err = b.assets.ListAssets(withToken(ctx, "wrong-token"), &stratav1.ListAssetsRequest{})
	wantCode(t, err, codes.Unauthenticated)
	if strings.Contains(status.Convert(err).Message(), "wrong-token") {
		t.Errorf("message echoes the token: %v", err)
	}
	// REST is guarded by the same interceptor.
	code, _ := b.httpDo(t, "GET", "/v1/assets", "", nil)
	if code != http.StatusUnauthorized {
		t.Errorf("REST without token = %d", code)
	}
	code, _ = b.httpDo(t, "GET", "/v1/assets", viewerToken, nil)
	if code != http.StatusOK {
		t.Errorf("REST viewer = %d", code)
	}
	code, body := b.httpDo(t, "DELETE", "/v1/assets/analytics/weekly_report", adminToken, nil)
	if code != http.StatusOK {
		t.Errorf("REST admin delete = %d %v", code, body)
	}
	// Health and metrics need no token.
	if code, _ := b.httpDo(t, "GET", "/healthz", "", nil); code != http.StatusOK {
		t.Errorf("healthz = %d", code)
	}
}

func TestTokensAndListen(t *testing.T) {
	t.Parallel()
	ts, err := server.ParseTokensFile(strings.NewReader("# tokens\nabc viewer alice\n\ndef admin\n"))
	if err != nil || len(ts) != 2 || ts[0].Name != "alice" || ts[1].Role != server.RoleAdmin {
		t.Errorf("file tokens = %+v, %v", ts, err)
	}
	if _, err := server.ParseTokensFile(strings.NewReader("abc superuser\n")); err == nil {
		t.Error("unknown role accepted")
	}
	ts, err = server.ParseTokensEnv("t1:editor, t2:viewer:bob")
	if err != nil || len(ts) != 2 || ts[0].Role != server.RoleEditor || ts[1].Name != "bob" {
		t.Errorf("env tokens = %+v, %v", ts, err)
	}
	if _, err := server.ParseTokensEnv("t1"); err == nil {
		t.Error("token without role accepted")
	}
	for _, tc := range []struct {
		addr     string
		tokens   int
		insecure bool
		ok       bool
	}{
		{"127.0.0.1:7070", 0, false, true},
		{"localhost:7070", 0, false, true},
		{"[::1]:7070", 0, false, true},
		{"0.0.0.0:7070", 0, false, false},
		{":7070", 0, false, false},
		{"10.1.2.3:7070", 1, false, true},
		{"0.0.0.0:7070", 0, true, true},
	} {
		if err := server.CheckListen(tc.addr, tc.tokens, tc.insecure); (err == nil) != tc.ok {
			t.Errorf("CheckListen(%s, %d, %v) = %v", tc.addr, tc.tokens, tc.insecure, err)
		}
	}
}

// blockingStatus holds AssetStatus until released, to keep a request in
// flight.
type blockingStatus struct {
	inner   server.StatusSource
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStatus) AssetStatus(ctx context.Context, g *asset.Graph, a *asset.Asset, now time.Time) (*server.AssetStatus, error) {
	if a.Key == "dim/customers" {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		<-s.release
	}
	return s.inner.AssetStatus(ctx, g, a, now)
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	bs := &blockingStatus{entered: make(chan struct{}, 1), release: make(chan struct{})}
	b := setup(t, testOpts{status: func(c *catalog.Catalog) server.StatusSource {
		bs.inner = &server.CatalogStatus{Catalog: c}
		return bs
	}})
	ctx := context.Background()
	b.applySample(t)

	// A followed log stream of a queued run.
	ids, err := b.cat.EnqueueRuns(ctx, []catalog.RunSpec{{Asset: "dim/customers", PartitionKeys: []string{""}, Reason: "manual"}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	stream, err := b.runs.StreamRunLogs(sctx, &stratav1.StreamRunLogsRequest{Id: strconv.FormatInt(ids[0], 10), Follow: true})
	if err != nil {
		t.Fatal(err)
	}

	// An in-flight request.
	type result struct {
		resp *stratav1.GetAssetResponse
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		r, err := b.assets.GetAsset(ctx, &stratav1.GetAssetRequest{Key: "dim/customers"})
		inflight <- result{r, err}
	}()
	select {
	case <-bs.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("request did not start")
	}

	b.cancel() // begin shutdown
	// The followed stream ends (the server is going away).
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("stream ended with %v, want Unavailable", err)
	}
	// Serve waits for the in-flight request.
	select {
	case <-b.done:
		t.Fatal("Serve returned with a request in flight")
	default:
	}
	close(bs.release)
	r := <-inflight
	if r.err != nil || r.resp.GetAsset().GetDecl().GetKey() != "dim/customers" {
		t.Fatalf("in-flight request = %v, %v", r.resp, r.err)
	}
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
	close(b.done) // for the cleanup's stop
	// New connections are refused.
	if _, err := http.Get(b.base + "/healthz"); err == nil {
		t.Error("server still accepts connections")
	}
}
