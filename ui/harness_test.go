package ui_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/server"
	"github.com/strata-data/strata/ui"
)

var (
	update = flag.Bool("update", false, "write the screenshots of the main pages to docs/")
	perf   = flag.Bool("perf", false, "measure the ready time of the lineage (5,000 assets) and asset (1,000,000 partitions) pages")
)

// browser is one headless Chromium shared by the tests of the package (a
// tab each), started on first use and stopped by TestMain.
var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
	dir    string
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
		// Chromium's children may write in the profile for a moment.
		for range 50 {
			if os.RemoveAll(browser.dir) == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	os.Exit(code)
}

// chromiumPath finds the browser: STRATA_CHROMIUM, or a known name on PATH.
func chromiumPath() string {
	if p := os.Getenv("STRATA_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newTab returns a context on a new tab of the shared browser, with a
// deadline. Without Chromium the test is skipped, or fails under CI=true.
func newTab(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found: CI needs it for the UI tests (apt-get install -y chromium, or set STRATA_CHROMIUM)")
		}
		t.Skip("chromium not found: install it (apt-get install -y chromium) or set STRATA_CHROMIUM to run the UI tests in a browser")
	}
	browser.once.Do(func() {
		dir, err := os.MkdirTemp("", "strata-ui-chromium")
		if err != nil {
			browser.err = err
			return
		}
		browser.dir = dir
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.UserDataDir(dir),
			chromedp.WindowSize(1440, 960),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("hide-scrollbars", true),
		)
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		if err := chromedp.Do(bctx); err != nil { // start the browser
			browser.err = fmt.Errorf("start chromium %s: %w", path, err)
		}
		browser.ctx = bctx
		browser.cancel = func() { bcancel(); acancel() }
	})
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	tctx, cancel := chromedp.NewContext(browser.ctx)
	t.Cleanup(cancel)
	ctx, cancel2 := context.WithTimeout(tctx, timeout)
	t.Cleanup(cancel2)
	// Collect the page's uncaught errors from the first script on
	// (checkNoErrors reports them).
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: jsErrors}); err != nil {
		t.Fatalf("install the error collector: %v", err)
	}
	return ctx
}

// bundle is a real server (SQLite catalog in a temporary directory) with
// the UI mounted at "/", and clients to seed it.
type bundle struct {
	base   string
	cat    *catalog.Catalog
	assets stratav1.AssetServiceClient
	runs   stratav1.RunServiceClient
	bfs    stratav1.BackfillServiceClient
}

func startServer(t testing.TB, tokens ...server.Token) *bundle {
	t.Helper()
	return startServerWith(t, nil, tokens...)
}

// startServerWith starts a server whose status source is status(catalog)
// (nil: the server's default).
func startServerWith(t testing.TB, status func(*catalog.Catalog) server.StatusSource, tokens ...server.Token) *bundle {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "strata.db"), catalog.Options{})
	if err != nil {
		t.Fatalf("open catalog: %v", err)
	}
	var st server.StatusSource
	if status != nil {
		st = status(cat)
	}
	srv, err := server.New(server.Config{Catalog: cat, UI: ui.Handler(ui.Options{}), Registry: prometheus.NewRegistry(), Tokens: tokens,
		Status: st, ShutdownTimeout: 5 * time.Second, LogPollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20), grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not stop")
		}
		cat.Close()
	})
	return &bundle{
		base: "http://" + ln.Addr().String(), cat: cat,
		assets: stratav1.NewAssetServiceClient(conn), runs: stratav1.NewRunServiceClient(conn), bfs: stratav1.NewBackfillServiceClient(conn),
	}
}

func day(d time.Time) string { return d.UTC().Format("2006-01-02") }

// sampleSchema is an Arrow schema as the materializer records it.
const sampleSchema = `[{"name":"day","type":"date32[day]","nullable":false},{"name":"customer_id","type":"int64","nullable":false},` +
	`{"name":"revenue","type":"decimal(18, 2)","nullable":true},{"name":"country","type":"utf8","nullable":true},` +
	`{"name":"items","type":"list","nullable":true,"children":[{"name":"element","type":"utf8","nullable":true}]}]`

// seed declares a small estate: ingestion, analytics, reports and ML
// assets over 30 days, materialized in part, with a failed run and a
// changed code version so the pages show every status.
func (b *bundle) seed(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	start := day(now.AddDate(0, 0, -30))
	hourStart := now.AddDate(0, 0, -3).Truncate(24 * time.Hour).Format("2006-01-02-15:04")
	daily := &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Schedule: "daily", Start: start, Timezone: "UTC"}}
	decls := []*stratav1.AssetDecl{
		{Key: "raw/events", Description: "Click events from the web and mobile apps", Group: "ingestion", Owners: []string{"platform@example.com"},
			Tags: map[string]string{"tier": "bronze"}, CodeVersion: "1",
			Partitions: &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Schedule: "hourly", Start: hourStart, Timezone: "UTC"}},
			Compute:    &stratav1.ComputeDecl{Command: []string{"python", "ingest.py", "--hour", "$STRATA_PARTITION_START"}}},
		{Key: "raw/customers", Description: "Customers, copied nightly from the CRM", Group: "ingestion", Owners: []string{"platform@example.com"},
			Tags: map[string]string{"pii": "yes", "tier": "bronze"}, CodeVersion: "3"},
		{Key: "analytics/sessions", Description: "Sessions per day", Group: "analytics", Owners: []string{"analytics@example.com"}, CodeVersion: "2",
			Partitions: daily, Deps: []*stratav1.DepDecl{{Asset: "raw/customers", Mapping: &stratav1.MappingDecl{All: &emptypb.Empty{}}}},
			Compute:   &stratav1.ComputeDecl{Command: []string{"dbt", "run", "--select", "sessions"}, Timeout: "30m"},
			Freshness: &stratav1.FreshnessDecl{MaxLag: "6h"},
			Retry:     &stratav1.RetryDecl{MaxAttempts: 3, Backoff: "1m"}},
		{Key: "analytics/daily_revenue", Description: "Revenue per customer and day, in EUR", Group: "finance", Owners: []string{"finance@example.com", "analytics@example.com"},
			Tags: map[string]string{"tier": "gold"}, CodeVersion: "7", Partitions: daily,
			Deps:       []*stratav1.DepDecl{{Asset: "analytics/sessions"}, {Asset: "raw/customers"}},
			Compute:    &stratav1.ComputeDecl{Command: []string{"strata-sql", "revenue.sql"}, Shardable: true},
			Automation: &stratav1.AutomationDecl{Condition: "eager"}},
		{Key: "reports/weekly_revenue", Description: "Weekly revenue report for the board", Group: "finance", Owners: []string{"finance@example.com"},
			Partitions: &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Schedule: "weekly", Start: start, Timezone: "UTC"}},
			Deps:       []*stratav1.DepDecl{{Asset: "analytics/daily_revenue"}}},
		{Key: "ml/churn_features", Description: "Features of the churn model", Group: "ml", Owners: []string{"ml@example.com"},
			Partitions: &stratav1.PartitionsDecl{Static: []string{"eu", "us", "apac"}},
			Deps:       []*stratav1.DepDecl{{Asset: "analytics/sessions", Mapping: &stratav1.MappingDecl{All: &emptypb.Empty{}}}}},
	}
	if _, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: decls}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	report := func(id, key, pk, dv string, rows, bytes int64, when int) {
		t.Helper()
		_, err := b.runs.ReportMaterialization(ctx, &stratav1.ReportMaterializationRequest{ReportId: id, Materialization: &stratav1.MaterializationReport{
			Asset: key, PartitionKey: pk, DataVersion: dv, RowCount: proto.Int64(rows), Bytes: proto.Int64(bytes), SchemaJson: sampleSchema,
			Location: "file:///lake/" + key + "/" + pk + ".parquet",
		}})
		if err != nil {
			t.Fatalf("report %s %s: %v", key, pk, err)
		}
	}
	report("c", "raw/customers", "", "crm-1", 48213, 3<<20, 0)
	for i := 0; i < 26; i++ {
		d := now.AddDate(0, 0, -30+i)
		rows := int64(90000 + 3000*i + (i%7)*5000)
		report("s"+strconv.Itoa(i), "analytics/sessions", day(d), fmt.Sprintf("s%d", i), rows, rows*180, i)
		if i < 20 {
			report("r"+strconv.Itoa(i), "analytics/daily_revenue", day(d), fmt.Sprintf("r%d", i), rows/9, rows*40, i)
		}
	}
	for i := 0; i < 60; i++ {
		d, _ := time.Parse("2006-01-02-15:04", hourStart)
		report("e"+strconv.Itoa(i), "raw/events", d.Add(time.Duration(i)*time.Hour).Format("2006-01-02-15:04"), "e"+strconv.Itoa(i), 1e6+int64(i)*1000, 1<<27, i)
	}
	// A new code version of daily_revenue makes its partitions stale.
	decls[3].CodeVersion = "8"
	if _, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: decls}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	// A backfill whose first run fails with a log.
	bf, err := b.bfs.CreateBackfill(ctx, &stratav1.CreateBackfillRequest{Selection: "ml/churn_features", Filter: stratav1.BackfillFilter_BACKFILL_FILTER_MISSING,
		Description: "first build of the churn features", RequestId: "seed-1"})
	if err != nil {
		t.Fatalf("backfill: %v", err)
	}
	_ = bf
	b.work(t, 1, func(r catalog.Run) bool { return false })
	b.work(t, 5, func(r catalog.Run) bool { return true })
}

// work claims up to n queued runs and finishes each, succeeded (with a
// materialization per partition and a log) when ok says so, else failed.
func (b *bundle) work(t testing.TB, n int, ok func(catalog.Run) bool) []catalog.Run {
	t.Helper()
	ctx := context.Background()
	var done []catalog.Run
	for len(done) < n {
		claimed, err := b.cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "test-worker", Lease: time.Minute, Limit: 1})
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
		if len(claimed) == 0 {
			break
		}
		r := claimed[0]
		res := catalog.RunResult{RunID: r.ID, Attempt: r.Attempt, Owner: "test-worker",
			Usage: &catalog.Usage{Duration: 42 * time.Second, PeakRSS: 700 << 20, CPUSeconds: 55}}
		logText := fmt.Sprintf("starting %s %v\nreading 3 upstream partitions\nwrote %d rows\n", r.Asset, r.PartitionKeys, 1000*len(r.PartitionKeys))
		if ok(r) {
			res.State = catalog.RunSucceeded
			res.ExitCode = new(0)
			for _, pk := range r.PartitionKeys {
				res.Materializations = append(res.Materializations, catalog.Materialization{Asset: r.Asset, Partition: pk,
					DataVersion: fmt.Sprintf("run%d-%s", r.ID, pk), RowCount: new(int64(1000)), ByteCount: new(int64(64 << 10)), Schema: json.RawMessage(sampleSchema)})
			}
		} else {
			res.State = catalog.RunFailed
			res.ExitCode = new(1)
			res.Error = "exit status 1: KeyError: 'region'"
			logText += "Traceback (most recent call last):\n  File \"features.py\", line 12, in <module>\nKeyError: 'region'\n"
		}
		res.Log = logText
		if _, err := b.cat.FinishRun(ctx, res); err != nil {
			t.Fatalf("finish run %d: %v", r.ID, err)
		}
		done = append(done, r)
	}
	return done
}

// ready waits until the page's main element says it is ready (or empty).
func ready(ctx context.Context) error {
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`['ready','empty'].includes(document.getElementById('main')?.dataset.state)`,
		chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById('main')?.dataset.state || '') + ': ' + (document.getElementById('main')?.innerText || '').slice(0, 300)`))
		return fmt.Errorf("page not ready (%s): %w", state, err)
	}
	return nil
}

func waitJS(ctx context.Context, expr string) error {
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(25*time.Millisecond)))
	if err != nil {
		return fmt.Errorf("wait for %s: %w", expr, err)
	}
	return nil
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// jsErrors installs a collector of uncaught page errors; check reads it.
const jsErrors = `window.__errors = window.__errors || []; window.addEventListener('error', (e) => window.__errors.push(String(e.message))); window.addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason && e.reason.message || e.reason)));`

func checkNoErrors(t *testing.T, ctx context.Context) {
	t.Helper()
	if !evalJS[bool](t, ctx, `Array.isArray(window.__errors)`) {
		t.Fatal("the page error collector is not installed")
	}
	errs := evalJS[[]string](t, ctx, `window.__errors`)
	if len(errs) > 0 {
		t.Errorf("page errors: %s", strings.Join(errs, "; "))
	}
}

func backfillReq(selection string) *stratav1.CreateBackfillRequest {
	return &stratav1.CreateBackfillRequest{Selection: selection, Filter: stratav1.BackfillFilter_BACKFILL_FILTER_ALL, RequestId: "req-" + selection}
}

// seedEstate adds a dozen assets around the sample, so the screenshots show
// a lineage graph of a realistic shape.
func (b *bundle) seedEstate(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	start := day(time.Now().AddDate(0, 0, -30))
	daily := &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Schedule: "daily", Start: start, Timezone: "UTC"}}
	dep := func(keys ...string) []*stratav1.DepDecl {
		var out []*stratav1.DepDecl
		for _, k := range keys {
			out = append(out, &stratav1.DepDecl{Asset: k})
		}
		return out
	}
	decls := []*stratav1.AssetDecl{
		{Key: "raw/orders", Group: "ingestion", Description: "Orders from the shop database", Partitions: daily, Owners: []string{"platform@example.com"}},
		{Key: "raw/payments", Group: "ingestion", Description: "Payments from the PSP", Partitions: daily, Owners: []string{"platform@example.com"}},
		{Key: "staging/orders", Group: "staging", Description: "Cleaned orders", Partitions: daily, Deps: dep("raw/orders")},
		{Key: "staging/payments", Group: "staging", Description: "Cleaned payments", Partitions: daily, Deps: dep("raw/payments")},
		{Key: "analytics/orders_daily", Group: "analytics", Description: "Orders per day and country", Partitions: daily, Deps: dep("staging/orders", "staging/payments", "raw/customers")},
		{Key: "analytics/ltv", Group: "finance", Description: "Customer lifetime value", Deps: dep("analytics/orders_daily", "analytics/daily_revenue")},
		{Key: "ml/churn_model", Group: "ml", Description: "The churn model", Deps: dep("ml/churn_features", "analytics/ltv")},
		{Key: "reports/exec_dashboard", Group: "finance", Description: "Executive dashboard", Deps: dep("reports/weekly_revenue", "analytics/ltv", "analytics/orders_daily")},
	}
	res, err := b.assets.ListAssets(ctx, &stratav1.ListAssetsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	all := decls
	for _, a := range res.GetAssets() {
		all = append(all, a.GetDecl())
	}
	if _, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: all}); err != nil {
		t.Fatalf("apply estate: %v", err)
	}
	now := time.Now().UTC()
	for i := 0; i < 30; i++ {
		for _, k := range []string{"raw/orders", "raw/payments", "staging/orders"} {
			if k == "staging/orders" && i > 24 {
				continue
			}
			_, err := b.runs.ReportMaterialization(ctx, &stratav1.ReportMaterializationRequest{ReportId: k + strconv.Itoa(i), Materialization: &stratav1.MaterializationReport{
				Asset: k, PartitionKey: day(now.AddDate(0, 0, -30+i)), DataVersion: "d" + strconv.Itoa(i), RowCount: proto.Int64(int64(20000 + 300*i)), Bytes: proto.Int64(int64(4<<20 + i<<16))}})
			if err != nil {
				t.Fatalf("report %s: %v", k, err)
			}
		}
	}
}
