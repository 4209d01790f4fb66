package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/server"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-server-test")
	if err != nil {
		panic(err)
	}
	cliBin.dir = dir
	code := pgtest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// cliBin is the strata binary, built once per test run on first use.
var cliBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func strataBinary(t *testing.T) string {
	t.Helper()
	cliBin.once.Do(func() {
		path := filepath.Join(cliBin.dir, "strata")
		cmd := exec.Command("go", "build", "-o", path, "../cmd/strata")
		out, err := cmd.CombinedOutput()
		if err != nil {
			cliBin.err = fmt.Errorf("go build ./cmd/strata: %v\n%s", err, out)
			return
		}
		cliBin.path = path
	})
	if cliBin.err != nil {
		t.Fatal(cliBin.err)
	}
	return cliBin.path
}

type testOpts struct {
	postgres bool
	tokens   []server.Token
	status   func(*catalog.Catalog) server.StatusSource
	now      func() time.Time
}

type testBundle struct {
	addr     string
	base     string // http://addr
	cat      *catalog.Catalog
	conn     *grpc.ClientConn
	assets   stratav1.AssetServiceClient
	lineage  stratav1.LineageServiceClient
	parts    stratav1.PartitionServiceClient
	backfill stratav1.BackfillServiceClient
	runs     stratav1.RunServiceClient
	cancel   context.CancelFunc
	done     chan error
	dbURL    string
}

// fixedNow is the clock of the tests: partitions exist up to it.
var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func setup(t testing.TB, o testOpts) *testBundle {
	t.Helper()
	ctx := context.Background()
	var url string
	if o.postgres {
		url = pgtest.SchemaURL(t)
	} else {
		url = "sqlite://" + filepath.Join(t.TempDir(), "strata.db")
	}
	now := o.now
	if now == nil {
		now = func() time.Time { return fixedNow }
	}
	cat, err := catalog.Open(ctx, url, catalog.Options{})
	if err != nil {
		t.Fatalf("open catalog: %v", err)
	}
	var st server.StatusSource
	if o.status != nil {
		st = o.status(cat)
	}
	srv, err := server.New(server.Config{Catalog: cat, Tokens: o.tokens, Now: now, Status: st,
		Registry: prometheus.NewRegistry(), ShutdownTimeout: 10 * time.Second, LogPollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	b := &testBundle{addr: ln.Addr().String(), base: "http://" + ln.Addr().String(), cat: cat, cancel: cancel,
		done: make(chan error, 1), dbURL: url}
	go func() { b.done <- srv.Serve(sctx, ln) }()
	conn, err := grpc.NewClient(b.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	b.conn = conn
	b.assets = stratav1.NewAssetServiceClient(conn)
	b.lineage = stratav1.NewLineageServiceClient(conn)
	b.parts = stratav1.NewPartitionServiceClient(conn)
	b.backfill = stratav1.NewBackfillServiceClient(conn)
	b.runs = stratav1.NewRunServiceClient(conn)
	t.Cleanup(func() {
		conn.Close()
		b.stop(t)
		cat.Close()
	})
	return b
}

func (b *testBundle) stop(t testing.TB) {
	t.Helper()
	b.cancel()
	select {
	case err, ok := <-b.done:
		if ok && err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("server did not stop")
	}
}

func withToken(ctx context.Context, tok string) context.Context {
	if tok == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// violations returns the BadRequest field violations of err.
func violations(err error) []*errdetails.BadRequest_FieldViolation {
	st, _ := status.FromError(err)
	var out []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			out = append(out, br.GetFieldViolations()...)
		}
	}
	return out
}

func hasField(vs []*errdetails.BadRequest_FieldViolation, field string) bool {
	for _, v := range vs {
		if v.GetField() == field {
			return true
		}
	}
	return false
}

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("code = %v (%v), want %v", status.Code(err), err, code)
	}
}

// catalogState is what must not change after a rejected request.
type catalogState struct {
	rev  int64
	keys string
	runs int
	bfs  int
}

func (b *testBundle) state(t *testing.T) catalogState {
	t.Helper()
	ctx := context.Background()
	rev, err := b.cat.CatalogRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := b.cat.CurrentAssets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range recs {
		keys = append(keys, string(r.Key)+"@"+r.Hash)
	}
	runs, err := b.cat.ListRuns(ctx, catalog.RunFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	bfs, err := b.cat.ListBackfills(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return catalogState{rev: rev, keys: strings.Join(keys, ","), runs: len(runs), bfs: len(bfs)}
}

// httpDo sends a REST request and decodes the JSON answer into a map.
func (b *testBundle) httpDo(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if len(data) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	} else {
		out = map[string]any{"_raw": string(data)}
	}
	return resp.StatusCode, out
}

// restViolationFields returns the field names of the BadRequest detail of
// a REST error body.
func restViolationFields(body map[string]any) []string {
	var out []string
	details, _ := body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		fvs, _ := m["field_violations"].([]any)
		if fvs == nil {
			fvs, _ = m["fieldViolations"].([]any)
		}
		for _, fv := range fvs {
			if f, ok := fv.(map[string]any); ok {
				s, _ := f["field"].(string)
				out = append(out, s)
			}
		}
	}
	return out
}

// The declarations most tests use: hourly events -> daily sessions ->
// weekly report, and an unpartitioned dimension.
func sampleDecls() []*stratav1.AssetDecl {
	return []*stratav1.AssetDecl{
		{Key: "raw/events", Description: "Click events", Group: "ingestion", Owners: []string{"platform@example.com"},
			Tags: map[string]string{"tier": "bronze"}, CodeVersion: "1",
			Partitions:     &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Schedule: "hourly", Start: "2026-01-01-00:00", Timezone: "UTC"}},
			BackfillPolicy: &stratav1.BackfillPolicyDecl{MaxPartitionsPerRun: 24}},
		{Key: "analytics/sessions", Description: "Sessions per day", Group: "analytics", CodeVersion: "1",
			Partitions: &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Schedule: "daily", Start: "2026-01-01", Timezone: "UTC"}},
			Deps:       []*stratav1.DepDecl{{Asset: "raw/events"}}},
		{Key: "analytics/weekly_report", Description: "Weekly report", Group: "analytics", Owners: []string{"finance@example.com"},
			Partitions: &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Schedule: "weekly", Start: "2026-01-04", Timezone: "UTC"}},
			Deps:       []*stratav1.DepDecl{{Asset: "analytics/sessions"}}},
		{Key: "dim/customers", Description: "Customer dimension", Group: "ingestion", Tags: map[string]string{"pii": "yes"}},
	}
}

func (b *testBundle) applySample(t *testing.T) {
	t.Helper()
	if _, err := b.assets.ApplyAssets(context.Background(), &stratav1.ApplyAssetsRequest{Assets: sampleDecls()}); err != nil {
		t.Fatalf("apply: %v", err)
	}
}
