package materializer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/materializer"
)

// helperEnv selects what the test binary does when a test runs it as a
// child: a job ("job:<mode>") or a dispatching server ("server").
const helperEnv = "MATERIALIZER_TEST_HELPER"

// TestHelperProcess is not a test: it is the body of child processes (jobs
// and servers) that the tests start from this binary.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process only")
	}
	var code int
	switch {
	case strings.HasPrefix(mode, "job:"):
		code = helperJob(strings.TrimPrefix(mode, "job:"))
	case mode == "server":
		code = helperServer()
	case mode == "worker":
		code = helperWorker()
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		code = 2
	}
	os.Exit(code)
}

type testRow struct {
	ID   int64  `parquet:"id"`
	Name string `parquet:"name"`
}

// helperJob is a job of the tests. "parquet" writes 5 rows to
// $STRATA_OUTPUT/data.parquet and keeps a copy of its context file;
// "flaky" fails its first attempt.
func helperJob(mode string) int {
	out := os.Getenv("STRATA_OUTPUT")
	switch mode {
	case "parquet", "flaky":
		if mode == "flaky" && os.Getenv("STRATA_ATTEMPT") == "1" {
			fmt.Println("first attempt fails")
			return 3
		}
		rows := []testRow{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}}
		if err := parquet.WriteFile(filepath.Join(out, "data.parquet"), rows); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		b, err := os.ReadFile(os.Getenv("STRATA_CONTEXT"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := os.WriteFile(filepath.Join(out, "_context.json"), b, 0o644); err != nil {
			return 1
		}
		fmt.Println("wrote 5 rows")
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown job mode", mode)
	return 2
}

func helperCommand(mode string) ([]string, map[string]string) {
	return []string{os.Args[0], "-test.run=^TestHelperProcess$"}, map[string]string{helperEnv: "job:" + mode}
}

type bundle struct {
	cat  *catalog.Catalog
	url  string
	dir  string
	exec *materializer.LocalExecutor
}

func openCatalog(t *testing.T, url string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Open(context.Background(), url, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func setup(t *testing.T, decls ...asset.AssetDecl) *bundle {
	t.Helper()
	return setupURL(t, "", decls...)
}

// setupURL is setup with the catalog at url ("": SQLite in the test's
// temporary directory).
func setupURL(t *testing.T, url string, decls ...asset.AssetDecl) *bundle {
	t.Helper()
	dir := t.TempDir()
	if url == "" {
		url = "sqlite://" + filepath.Join(dir, "strata.db")
	}
	b := &bundle{dir: dir, url: url}
	b.cat = openCatalog(t, b.url)
	if len(decls) > 0 {
		if _, err := b.cat.ApplyAssets(context.Background(), decls, catalog.ApplyOptions{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

type dispatcherOpts struct {
	headWait time.Duration
	capacity materializer.Capacity
	exec     func(*materializer.LocalExecutor) materializer.Executor
	lease    time.Duration
	timeout  time.Duration
	owner    string
}

// start runs a dispatcher until the test ends.
func (b *bundle) start(t *testing.T, o dispatcherOpts) *materializer.Dispatcher {
	t.Helper()
	d, _ := b.startStoppable(t, o)
	return d
}

// startStoppable runs a dispatcher until stop is called or the test ends.
func (b *bundle) startStoppable(t *testing.T, o dispatcherOpts) (*materializer.Dispatcher, func()) {
	t.Helper()
	if o.capacity == (materializer.Capacity{}) {
		o.capacity = materializer.Capacity{MemoryBytes: 8 << 30, CPUs: 4, Slots: 4}
	}
	b.exec = materializer.NewLocalExecutor(materializer.LocalConfig{RunRoot: filepath.Join(b.dir, "runs"),
		Capacity: o.capacity, KillGrace: 200 * time.Millisecond, DefaultTimeout: o.timeout})
	var ex materializer.Executor = b.exec
	if o.exec != nil {
		ex = o.exec(b.exec)
	}
	lease := o.lease
	if lease == 0 {
		lease = 3 * time.Second
	}
	d, err := materializer.NewDispatcher(materializer.Config{Catalog: b.cat, Executors: []materializer.Executor{ex},
		DataDir: filepath.Join(b.dir, "data"), Lease: lease, PollInterval: 20 * time.Millisecond,
		RetryBackoff: 20 * time.Millisecond, Owner: o.owner, Seed: 1, MaxHeadWait: o.headWait,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return d, stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		tm := time.NewTimer(20 * time.Millisecond)
		<-tm.C
	}
}

func waitRun(t *testing.T, c *catalog.Catalog, id int64, timeout time.Duration) catalog.Run {
	t.Helper()
	var r catalog.Run
	waitFor(t, timeout, fmt.Sprintf("run %d to finish", id), func() (bool, error) {
		var err error
		r, err = c.GetRun(context.Background(), id)
		return err == nil && r.State.Terminal(), err
	})
	return r
}

func enqueue(t *testing.T, c *catalog.Catalog, specs ...catalog.RunSpec) []int64 {
	t.Helper()
	ids, err := c.EnqueueRuns(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func staticDecl(key string, keys []string, cmd []string, env map[string]string) asset.AssetDecl {
	d := asset.AssetDecl{Key: key, Compute: &asset.ComputeDecl{Command: cmd, Env: env}}
	if keys != nil {
		d.Partitions = &asset.PartitionsDecl{Static: keys}
	}
	return d
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func TestDispatcherRecordsMaterializationWithProvenance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cmd, env := helperCommand("parquet")
	up := staticDecl("lake/orders", []string{"a", "b"}, []string{"true"}, nil)
	down := staticDecl("lake/summary", []string{"a", "b"}, cmd, env)
	down.CodeVersion = "v7"
	down.Deps = []asset.DepDecl{{Asset: "lake/orders"}}
	b := setup(t, up, down)
	rows, bytes := int64(1000), int64(12345)
	mids, err := b.cat.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "lake/orders", Partition: "a",
		DataVersion: "orders-a-v1", RowCount: &rows, ByteCount: &bytes, Location: "/lake/orders/a.parquet"}})
	if err != nil {
		t.Fatal(err)
	}
	b.start(t, dispatcherOpts{})
	id := enqueue(t, b.cat, catalog.RunSpec{Asset: "lake/summary", PartitionKeys: []string{"a"}})[0]
	r := waitRun(t, b.cat, id, 30*time.Second)
	if r.State != catalog.RunSucceeded {
		log, _, _ := b.cat.RunLog(ctx, id)
		t.Fatalf("run = %s (%s), log:\n%s", r.State, r.Error, log)
	}
	if r.Usage == nil || r.Usage.Duration <= 0 || r.Usage.PeakRSS <= 0 {
		t.Fatalf("usage = %+v", r.Usage)
	}
	h, err := b.cat.MaterializationHistory(ctx, "lake/summary", "a", 0)
	if err != nil || len(h) != 1 {
		t.Fatalf("history = %+v, %v", h, err)
	}
	m, err := b.cat.GetMaterialization(ctx, h[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.RowCount == nil || *m.RowCount != 5 || m.ByteCount == nil || *m.ByteCount <= 0 || !strings.HasPrefix(m.DataVersion, "sha256:") ||
		m.CodeVersion != "v7" || m.RunID != id || m.Attempt != 1 || len(m.Schema) == 0 {
		t.Fatalf("materialization = %+v", m)
	}
	if len(m.Provenance) != 1 || m.Provenance[0].DataVersion != "orders-a-v1" || m.Provenance[0].UpstreamMaterializationID != mids[0] ||
		m.Provenance[0].UpstreamPartition != "a" {
		t.Fatalf("provenance = %+v", m.Provenance)
	}
	wantLoc := filepath.Join(b.dir, "data", "assets", "lake", "summary", "a") + "/"
	if m.Location != wantLoc {
		t.Fatalf("location %q, want %s", m.Location, wantLoc)
	}
	// The job was given its input's recorded location and numbers.
	var cf materializer.ContextFile
	raw, err := os.ReadFile(filepath.Join(wantLoc, "_context.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	if len(cf.Inputs) != 1 || cf.Inputs[0].Location != "/lake/orders/a.parquet" || cf.Inputs[0].Rows != rows ||
		cf.Inputs[0].Bytes != bytes || cf.Inputs[0].DataVersion != "orders-a-v1" || cf.Resources.MemoryBytes < 256<<20 {
		t.Fatalf("context = %s", raw)
	}
	log, _, _ := b.cat.RunLog(ctx, id)
	if !strings.Contains(log, "wrote 5 rows") || !strings.Contains(log, "sizing") {
		t.Fatalf("log = %q", log)
	}
}

// TestDispatcherFailures: a job that hangs past its timeout, floods stdout,
// exits non-zero, writes garbage Parquet or cannot start fails with the
// reason, and the dispatcher goes on running other jobs.
func TestDispatcherFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		key    string
		cmd    []string
		reason string
	}{
		{"bad/hang", sh("sleep 30"), "timed out after 1s"},
		{"bad/exit", sh("echo boom >&2; exit 3"), "exited with code 3"},
		{"bad/flood", sh("head -c 30000000 /dev/zero | tr '\\0' x; exit 1"), "exited with code 1"},
		{"bad/garbage", sh(`printf 'PAR1 this is not parquet' > "$STRATA_OUTPUT/x.parquet"`), "output is unreadable"},
		{"bad/nostart", []string{"/nonexistent/job"}, "could not start"},
		{"good/after", sh("echo fine"), ""},
	}
	var decls []asset.AssetDecl
	for _, c := range cases {
		d := staticDecl(c.key, nil, c.cmd, nil)
		d.Compute.Timeout = asset.Duration(time.Minute)
		if c.key == "bad/hang" {
			d.Compute.Timeout = asset.Duration(time.Second)
		}
		decls = append(decls, d)
	}
	b := setup(t, decls...)
	b.start(t, dispatcherOpts{})
	var specs []catalog.RunSpec
	for _, c := range cases {
		specs = append(specs, catalog.RunSpec{Asset: asset.Key(c.key), PartitionKeys: []string{""}})
	}
	ids := enqueue(t, b.cat, specs...)
	for i, c := range cases {
		r := waitRun(t, b.cat, ids[i], 60*time.Second)
		if c.reason == "" {
			if r.State != catalog.RunSucceeded {
				t.Errorf("%s: %s %q", c.key, r.State, r.Error)
			}
			continue
		}
		if r.State != catalog.RunFailed || !strings.Contains(r.Error, c.reason) {
			t.Errorf("%s: state %s error %q, want failed with %q", c.key, r.State, r.Error, c.reason)
		}
		if c.key == "bad/flood" {
			log, _, _ := b.cat.RunLog(ctx, ids[i])
			if len(log) > 2<<20 || !strings.Contains(log, "exited with code 1") {
				t.Errorf("flood log is %d bytes, tail %q", len(log), log[max(len(log)-200, 0):])
			}
		}
		if h, _ := b.cat.MaterializationHistory(ctx, asset.Key(c.key), "", 0); len(h) != 0 {
			t.Errorf("%s: failed run recorded %d materializations", c.key, len(h))
		}
	}
}

func TestDispatcherRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cmd, env := helperCommand("flaky")
	d := staticDecl("retry/flaky", []string{"p"}, cmd, env)
	d.Retry = &asset.RetryDecl{MaxAttempts: 3, Backoff: asset.Duration(200 * time.Millisecond)}
	once := staticDecl("retry/once", []string{"p"}, sh("exit 4"), nil)
	b := setup(t, d, once)
	b.start(t, dispatcherOpts{})
	ids := enqueue(t, b.cat, catalog.RunSpec{Asset: "retry/flaky", PartitionKeys: []string{"p"}, MaxAttempts: 3},
		catalog.RunSpec{Asset: "retry/once", PartitionKeys: []string{"p"}, MaxAttempts: 2})
	// The first attempt fails and is queued again, not before its backoff.
	var failedAt time.Time
	waitFor(t, 30*time.Second, "first attempt to fail", func() (bool, error) {
		r, err := b.cat.GetRun(ctx, ids[0])
		if err == nil && r.Attempt == 1 && r.State == catalog.RunQueued {
			failedAt = r.UpdatedAt
			// The backoff of attempt 1 is in [100ms, 200ms] from when the
			// dispatcher saw the failure, a little before it was recorded.
			if d := r.NotBefore.Sub(failedAt); d < 50*time.Millisecond || d > 200*time.Millisecond {
				return false, fmt.Errorf("not_before %s is %s after the failure, want about [100ms, 200ms]", r.NotBefore, d)
			}
			return true, nil
		}
		return err == nil && r.Attempt > 1, err
	})
	r := waitRun(t, b.cat, ids[0], 30*time.Second)
	if r.State != catalog.RunSucceeded || r.Attempt != 2 {
		t.Fatalf("flaky run = %s attempt %d (%s)", r.State, r.Attempt, r.Error)
	}
	if !failedAt.IsZero() && r.StartedAt != nil && r.StartedAt.Sub(failedAt) < 50*time.Millisecond {
		t.Fatalf("second attempt started %s after the failure", r.StartedAt.Sub(failedAt))
	}
	h, _ := b.cat.MaterializationHistory(ctx, "retry/flaky", "p", 0)
	if len(h) != 1 || h[0].Attempt != 2 {
		t.Fatalf("materializations = %+v", h)
	}
	r = waitRun(t, b.cat, ids[1], 30*time.Second)
	if r.State != catalog.RunFailed || r.Attempt != 2 || !strings.Contains(r.Error, "exited with code 4") {
		t.Fatalf("always-failing run = %s attempt %d (%s)", r.State, r.Attempt, r.Error)
	}
}

func TestBackoffIsExponentialWithJitter(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for attempt := 1; attempt <= 12; attempt++ {
		want := min(time.Second<<(attempt-1), time.Minute)
		for range 50 {
			got := materializer.Backoff(time.Second, time.Minute, attempt, r)
			if got < want/2 || got > want {
				t.Fatalf("attempt %d: backoff %s outside [%s, %s]", attempt, got, want/2, want)
			}
		}
	}
}

func TestDispatcherCancelsRunningRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, staticDecl("slow/job", nil, sh("echo started; sleep 60"), nil))
	b.start(t, dispatcherOpts{lease: 600 * time.Millisecond})
	id := enqueue(t, b.cat, catalog.RunSpec{Asset: "slow/job", PartitionKeys: []string{""}})[0]
	waitFor(t, 20*time.Second, "run to start", func() (bool, error) {
		r, err := b.cat.GetRun(ctx, id)
		return err == nil && r.State == catalog.RunRunning, err
	})
	if _, _, err := b.cat.CancelRuns(ctx, []int64{id}); err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, b.cat, id, 20*time.Second)
	if r.State != catalog.RunCancelled {
		t.Fatalf("run = %s (%s)", r.State, r.Error)
	}
}

// TestDispatcherShutdownRequeues: a dispatcher that stops kills its jobs
// and queues their runs again; the next one completes them.
func TestDispatcherShutdownRequeues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, staticDecl("stop/slow", []string{"p"}, sh(`test "$STRATA_ATTEMPT" -gt 1 || sleep 60`), nil))
	_, stop := b.startStoppable(t, dispatcherOpts{})
	id := enqueue(t, b.cat, catalog.RunSpec{Asset: "stop/slow", PartitionKeys: []string{"p"}, MaxAttempts: 3})[0]
	waitFor(t, 20*time.Second, "run to start", func() (bool, error) {
		r, err := b.cat.GetRun(ctx, id)
		return err == nil && r.State == catalog.RunRunning, err
	})
	stop()
	r, err := b.cat.GetRun(ctx, id)
	if err != nil || r.State != catalog.RunQueued || !strings.Contains(r.Error, "interrupted") {
		t.Fatalf("after shutdown: %+v, %v", r, err)
	}
	b.start(t, dispatcherOpts{})
	if r := waitRun(t, b.cat, id, 20*time.Second); r.State != catalog.RunSucceeded || r.Attempt != 2 {
		t.Fatalf("run = %s attempt %d (%s)", r.State, r.Attempt, r.Error)
	}
}

// TestDispatcherOrphanRecovery: runs left running under this server's owner
// by a previous process are queued again on start and complete.
func TestDispatcherOrphanRecovery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, staticDecl("orphan/a", []string{"p", "q"}, []string{"true"}, nil))
	ids := enqueue(t, b.cat, catalog.RunSpec{Asset: "orphan/a", PartitionKeys: []string{"p"}, MaxAttempts: 2},
		catalog.RunSpec{Asset: "orphan/a", PartitionKeys: []string{"q"}, MaxAttempts: 2})
	if _, err := b.cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "local:dead-server", Lease: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// A live worker's run is not this server's orphan.
	if _, err := b.cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "worker:alive", Lease: time.Hour}); err != nil {
		t.Fatal(err)
	}
	b.start(t, dispatcherOpts{owner: "local:dead-server"})
	r := waitRun(t, b.cat, ids[0], 20*time.Second)
	if r.State != catalog.RunSucceeded || r.Attempt != 2 {
		t.Fatalf("orphan = %s attempt %d (%s)", r.State, r.Attempt, r.Error)
	}
	if r, err := b.cat.GetRun(ctx, ids[1]); err != nil || r.State != catalog.RunRunning || r.LeaseOwner != "worker:alive" {
		t.Fatalf("the live worker's run = %+v, %v", r, err)
	}
}

// TestDispatcherLeaseExpiry: a run whose owner stopped heartbeating (a dead
// worker) is queued again when its lease expires, and completes.
func TestDispatcherLeaseExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, staticDecl("lease/a", []string{"p"}, []string{"true"}, nil))
	id := enqueue(t, b.cat, catalog.RunSpec{Asset: "lease/a", PartitionKeys: []string{"p"}, MaxAttempts: 2})[0]
	if _, err := b.cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "worker:dead", Lease: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	b.start(t, dispatcherOpts{lease: 300 * time.Millisecond})
	r := waitRun(t, b.cat, id, 20*time.Second)
	if r.State != catalog.RunSucceeded || r.Attempt != 2 {
		t.Fatalf("run = %s attempt %d (%s)", r.State, r.Attempt, r.Error)
	}
}

// trackingExecutor records the memory its running jobs were granted.
type trackingExecutor struct {
	*materializer.LocalExecutor
	mu       sync.Mutex
	inUse    int64
	peak     int64
	order    []string
	overflow bool
}

func (e *trackingExecutor) Execute(ctx context.Context, job materializer.Job) (materializer.Result, error) {
	e.mu.Lock()
	e.inUse += job.Grant.MemoryBytes
	e.peak = max(e.peak, e.inUse)
	if c := e.Capacity().MemoryBytes; e.inUse > c {
		e.overflow = true
	}
	e.order = append(e.order, string(job.Asset))
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.inUse -= job.Grant.MemoryBytes
		e.mu.Unlock()
	}()
	return e.LocalExecutor.Execute(ctx, job)
}

// TestDispatcherAdmission: a big job waits for room while smaller ones
// behind it fill the gap; memory in use never exceeds the capacity.
func TestDispatcherAdmission(t *testing.T) {
	t.Parallel()
	big := staticDecl("adm/big", []string{"p"}, sh("sleep 0.3"), nil)
	big.Resources = &asset.ResourcesDecl{Memory: 700 << 20}
	small := staticDecl("adm/small", []string{"1", "2", "3", "4", "5", "6"}, sh("sleep 0.3"), nil)
	small.Resources = &asset.ResourcesDecl{Memory: 300 << 20}
	b := setup(t, big, small)
	var tr *trackingExecutor
	b.start(t, dispatcherOpts{capacity: materializer.Capacity{MemoryBytes: 1 << 30, CPUs: 8, Slots: 8},
		exec: func(l *materializer.LocalExecutor) materializer.Executor {
			tr = &trackingExecutor{LocalExecutor: l}
			return tr
		}})
	// Two small runs first take 600MiB; the big one (higher priority) needs
	// 700MiB and waits; the small ones queued after it fill the 400MiB.
	ids := enqueue(t, b.cat, catalog.RunSpec{Asset: "adm/small", PartitionKeys: []string{"1"}, Priority: 9},
		catalog.RunSpec{Asset: "adm/small", PartitionKeys: []string{"2"}, Priority: 9},
		catalog.RunSpec{Asset: "adm/big", PartitionKeys: []string{"p"}, Priority: 5},
		catalog.RunSpec{Asset: "adm/small", PartitionKeys: []string{"3"}, Priority: 1},
		catalog.RunSpec{Asset: "adm/small", PartitionKeys: []string{"4"}, Priority: 1})
	for _, id := range ids {
		if r := waitRun(t, b.cat, id, 30*time.Second); r.State != catalog.RunSucceeded {
			t.Fatalf("run %d = %s (%s)", id, r.State, r.Error)
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.overflow || tr.peak > 1<<30 {
		t.Fatalf("memory in use peaked at %d > capacity", tr.peak)
	}
	bigAt := -1
	for i, a := range tr.order {
		if a == "adm/big" {
			bigAt = i
		}
	}
	if bigAt < 3 {
		t.Fatalf("start order %v: want a small run to fill the gap before the big one", tr.order)
	}
}

// TestDispatcherHeadOfLineDoesNotStarve: once the first waiting run has
// waited MaxHeadWait, smaller runs stop filling the gap and it gets the
// capacity as soon as the running ones finish.
func TestDispatcherHeadOfLineDoesNotStarve(t *testing.T) {
	t.Parallel()
	big := staticDecl("starve/big", []string{"p"}, sh("true"), nil)
	big.Resources = &asset.ResourcesDecl{Memory: 700 << 20}
	var keys []string
	for i := range 12 {
		keys = append(keys, strconv.Itoa(i))
	}
	small := staticDecl("starve/small", keys, sh("sleep 0.3"), nil)
	small.Resources = &asset.ResourcesDecl{Memory: 300 << 20}
	b := setup(t, big, small)
	var tr *trackingExecutor
	b.start(t, dispatcherOpts{capacity: materializer.Capacity{MemoryBytes: 1 << 30, CPUs: 16, Slots: 16}, headWait: 100 * time.Millisecond,
		exec: func(l *materializer.LocalExecutor) materializer.Executor {
			tr = &trackingExecutor{LocalExecutor: l}
			return tr
		}})
	specs := []catalog.RunSpec{{Asset: "starve/small", PartitionKeys: []string{"0"}, Priority: 9},
		{Asset: "starve/small", PartitionKeys: []string{"1"}, Priority: 9},
		{Asset: "starve/big", PartitionKeys: []string{"p"}, Priority: 5}}
	for _, k := range keys[2:] {
		specs = append(specs, catalog.RunSpec{Asset: "starve/small", PartitionKeys: []string{k}, Priority: 1})
	}
	ids := enqueue(t, b.cat, specs...)
	for _, id := range ids {
		if r := waitRun(t, b.cat, id, 60*time.Second); r.State != catalog.RunSucceeded {
			t.Fatalf("run %d = %s (%s)", id, r.State, r.Error)
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	bigAt := slices.Index(tr.order, "starve/big")
	if bigAt < 0 || bigAt > 5 || tr.overflow {
		t.Fatalf("start order %v: the big run started %dth; want it within the first 6", tr.order, bigAt+1)
	}
}

// TestSizingFromUpstreamBytes: downstream partitions whose upstream
// partitions differ 100x in bytes get memory grants that differ 100x; a
// run over capacity is split (several partitions), sharded (shardable) or
// refused with the reason.
func TestSizingFromUpstreamBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	keys := []string{"small", "big", "huge", "h1", "h2"}
	up := staticDecl("size/up", keys, []string{"true"}, nil)
	report := sh(`printf '{"type":"metadata","metadata":{"mem":%s,"shards":%s}}\n' "$STRATA_MEMORY_BYTES" "$STRATA_SHARDS" >> "$STRATA_MESSAGES"`)
	down := staticDecl("size/down", keys, report, nil)
	down.Deps = []asset.DepDecl{{Asset: "size/up"}}
	shard := staticDecl("size/sharded", keys, report, nil)
	shard.Deps = []asset.DepDecl{{Asset: "size/up"}}
	shard.Compute.Shardable = true
	b := setup(t, up, down, shard)
	const mib = int64(1 << 20)
	sizes := map[string]int64{"small": 100 * mib, "big": 10000 * mib, "huge": 40000 * mib, "h1": 9000 * mib, "h2": 9000 * mib}
	var mats []catalog.Materialization
	for _, k := range keys {
		n, rows := sizes[k], sizes[k]/100
		mats = append(mats, catalog.Materialization{Asset: "size/up", Partition: k, DataVersion: k, ByteCount: &n, RowCount: &rows})
	}
	if _, err := b.cat.RecordMaterializations(ctx, mats); err != nil {
		t.Fatal(err)
	}
	// 64GiB of memory: the default model grants 4 x input bytes.
	b.start(t, dispatcherOpts{capacity: materializer.Capacity{MemoryBytes: 64 << 30, CPUs: 4, Slots: 4}})
	ids := enqueue(t, b.cat,
		catalog.RunSpec{Asset: "size/down", PartitionKeys: []string{"small"}},
		catalog.RunSpec{Asset: "size/down", PartitionKeys: []string{"big"}},
		catalog.RunSpec{Asset: "size/down", PartitionKeys: []string{"huge"}},
		catalog.RunSpec{Asset: "size/sharded", PartitionKeys: []string{"huge"}},
		catalog.RunSpec{Asset: "size/down", PartitionKeys: []string{"h1", "h2"}})
	grant := func(key asset.Key, part string) (mem, shards int64) {
		t.Helper()
		h, err := b.cat.MaterializationHistory(ctx, key, part, 1)
		if err != nil || len(h) != 1 {
			t.Fatalf("%s %s: materializations %v, %v", key, part, h, err)
		}
		var m struct{ Mem, Shards int64 }
		if err := json.Unmarshal(h[0].Metadata, &m); err != nil {
			t.Fatal(err)
		}
		return m.Mem, m.Shards
	}
	for _, i := range []int{0, 1, 3} {
		if r := waitRun(t, b.cat, ids[i], 30*time.Second); r.State != catalog.RunSucceeded {
			t.Fatalf("run %d = %s (%s)", ids[i], r.State, r.Error)
		}
	}
	small, _ := grant("size/down", "small")
	bigM, _ := grant("size/down", "big")
	if small != 400*mib || bigM != 100*small {
		t.Fatalf("grants small %d, big %d: want 400MiB and 100x that", small, bigM)
	}
	shardMem, shards := grant("size/sharded", "huge")
	if shards < 3 || shardMem > 64<<30 {
		t.Fatalf("sharded huge: %d shards of %d bytes", shards, shardMem)
	}
	// One partition, not shardable, 160GiB > 64GiB: refused with the reason.
	r := waitRun(t, b.cat, ids[2], 30*time.Second)
	if r.State != catalog.RunFailed || !strings.Contains(r.Error, "largest executor has 64GiB") || !strings.Contains(r.Error, "not shardable") {
		t.Fatalf("huge run = %s %q", r.State, r.Error)
	}
	// Two partitions of 36GiB each: split into two runs that each fit.
	r = waitRun(t, b.cat, ids[4], 30*time.Second)
	if r.State != catalog.RunCancelled || !strings.Contains(r.Error, "split into 2 runs") {
		t.Fatalf("split run = %s %q", r.State, r.Error)
	}
	waitFor(t, 30*time.Second, "split runs", func() (bool, error) {
		runs, err := b.cat.ListRuns(ctx, catalog.RunFilter{Asset: "size/down", States: []catalog.RunState{catalog.RunSucceeded}})
		return len(runs) == 4, err
	})
	h1, _ := grant("size/down", "h1")
	if h1 != 36000*mib {
		t.Fatalf("h1 grant %d", h1)
	}
	runs, err := b.cat.ListRuns(ctx, catalog.RunFilter{Asset: "size/down", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var split catalog.Run
	for _, r := range runs {
		if len(r.PartitionKeys) == 1 && r.PartitionKeys[0] == "h2" {
			split = r
		}
	}
	var sz struct {
		MemoryBytes int64  `json:"memory_bytes"`
		InputBytes  int64  `json:"input_bytes"`
		Reason      string `json:"reason"`
	}
	if err := json.Unmarshal(split.Sizing, &sz); err != nil || sz.MemoryBytes != 36000*mib || sz.InputBytes != 9000*mib ||
		!strings.Contains(sz.Reason, "split from run "+strconv.FormatInt(ids[4], 10)) {
		t.Fatalf("sizing of split run = %s (%v)", split.Sizing, err)
	}
}

var errStop = errors.New("stop")
