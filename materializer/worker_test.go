package materializer_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/materializer"
	"github.com/strata-data/strata/server"
)

// Environment of a helper worker child.
const (
	envServerAddr = "STRATA_MATERIALIZER_TEST_SERVER"
	envWorkerID   = "STRATA_MATERIALIZER_TEST_WORKER"
)

// helperWorker is `strata worker` reduced to its loop.
func helperWorker() int {
	conn, err := grpc.NewClient(os.Getenv(envServerAddr), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer conn.Close()
	id := os.Getenv(envWorkerID)
	ex := materializer.NewLocalExecutor(materializer.LocalConfig{RunRoot: filepath.Join(os.Getenv(envDataDir), "runs-"+id),
		Capacity: materializer.Capacity{MemoryBytes: 8 << 30, CPUs: 4}, KillGrace: time.Second})
	w, err := materializer.NewWorker(materializer.WorkerConfig{Client: stratav1.NewWorkerServiceClient(conn), ID: id,
		Executor: ex, Wait: time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := w.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// remoteServer is the server side of the worker API: a dispatcher without
// local executors (it only recovers leases) behind the WorkerService on a
// loopback port.
func (b *bundle) remoteServer(t *testing.T, lease time.Duration) (addr string, d *materializer.Dispatcher) {
	t.Helper()
	d, err := materializer.NewDispatcher(materializer.Config{Catalog: b.cat, DataDir: filepath.Join(b.dir, "data"),
		Lease: lease, PollInterval: 20 * time.Millisecond, RetryBackoff: 20 * time.Millisecond, Owner: "local:remote-test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	stratav1.RegisterWorkerServiceServer(gs, server.NewWorkerService(d, nil))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = gs.Serve(ln) }()
	go func() { defer wg.Done(); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); gs.Stop(); wg.Wait() })
	return ln.Addr().String(), d
}

func startWorker(t *testing.T, addr, id, runRoot string) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ex := materializer.NewLocalExecutor(materializer.LocalConfig{RunRoot: runRoot,
		Capacity: materializer.Capacity{MemoryBytes: 8 << 30, CPUs: 2}, KillGrace: time.Second})
	w, err := materializer.NewWorker(materializer.WorkerConfig{Client: stratav1.NewWorkerServiceClient(conn), ID: id,
		Executor: ex, Wait: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; conn.Close() })
}

// TestTwoWorkersShareBackfill: two workers on loopback share a backfill;
// every partition runs exactly once, both workers take part, and the
// materializations carry the provenance the server gave.
func TestTwoWorkersShareBackfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 200
	up := backfillDecl("remote/up")
	down := backfillDecl("remote/down")
	down.Deps = []asset.DepDecl{{Asset: "remote/up"}}
	b := setup(t)
	ledger := filepath.Join(b.dir, "ledger")
	down.Compute.Command = sh(`echo "$STRATA_PARTITION_KEY $STRATA_CONTEXT" >> ` + ledger +
		`; printf '{"type":"output","rows":7,"bytes":70}\n' >> "$STRATA_MESSAGES"`)
	if _, err := b.cat.ApplyAssets(ctx, []asset.AssetDecl{up, down}, catalog.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	keys := dailyKeys(t, up, n)
	var mats []catalog.Materialization
	for _, k := range keys {
		mats = append(mats, catalog.Materialization{Asset: "remote/up", Partition: k, DataVersion: "up-" + k})
	}
	if _, err := b.cat.RecordMaterializations(ctx, mats); err != nil {
		t.Fatal(err)
	}
	bf := createBackfill(t, b.cat, "remote/down", keys)
	addr, _ := b.remoteServer(t, 3*time.Second)
	startWorker(t, addr, "w1", filepath.Join(b.dir, "w1"))
	startWorker(t, addr, "w2", filepath.Join(b.dir, "w2"))
	waitFor(t, 2*time.Minute, "backfill to complete", func() (bool, error) {
		bb, err := b.cat.GetBackfill(ctx, bf.ID)
		if err == nil && bb.State == catalog.BackfillFailed {
			return false, fmt.Errorf("backfill failed: %+v", bb.Counts)
		}
		return err == nil && bb.State == catalog.BackfillCompleted, err
	})
	checkBackfillExactlyOnce(t, b.cat, bf.ID, "remote/down", keys)
	f, err := os.Open(ledger)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]int{}
	by := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		part, ctxPath, _ := strings.Cut(sc.Text(), " ")
		seen[part]++
		for _, w := range []string{"w1", "w2"} {
			if strings.HasPrefix(ctxPath, filepath.Join(b.dir, w)+"/") {
				by[w]++
			}
		}
	}
	for _, k := range keys {
		if seen[k] != 1 {
			t.Fatalf("partition %s ran %d times", k, seen[k])
		}
	}
	if by["w1"] == 0 || by["w2"] == 0 || by["w1"]+by["w2"] != n {
		t.Fatalf("runs per worker: %v", by)
	}
	t.Logf("runs per worker: %v", by)
	h, err := b.cat.MaterializationHistory(ctx, "remote/down", keys[7], 1)
	if err != nil || len(h) != 1 {
		t.Fatal(h, err)
	}
	m, err := b.cat.GetMaterialization(ctx, h[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.RowCount == nil || *m.RowCount != 7 || len(m.Provenance) != 1 || m.Provenance[0].DataVersion != "up-"+keys[7] ||
		m.Provenance[0].UpstreamMaterializationID == 0 || !strings.HasSuffix(m.Location, "/remote/down/"+keys[7]+"/") {
		t.Fatalf("materialization = %+v", m)
	}
	log, _, _ := b.cat.RunLog(ctx, m.RunID)
	if !strings.Contains(log, "on worker w") {
		t.Fatalf("log = %q", log)
	}
}

// TestWorkerKilledMidBackfill: kill -9 a worker (a child process) in the
// middle of a 2,000-partition backfill and start another: the killed
// worker's runs are queued again when their leases expire, the backfill
// completes, and every partition has exactly one successful
// materialization.
func TestWorkerKilledMidBackfill(t *testing.T) {
	t.Parallel()
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"SQLite", func(t *testing.T) string { return "" }},
		{"Postgres", func(t *testing.T) string { return pgtest.SchemaURL(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			testWorkerKilled(t, setupURL(t, db.url(t)))
		})
	}
}

func testWorkerKilled(t *testing.T, b *bundle) {
	ctx := context.Background()
	const n = 2000
	decl := backfillDecl("remote/crash")
	if _, err := b.cat.ApplyAssets(ctx, []asset.AssetDecl{decl}, catalog.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	keys := dailyKeys(t, decl, n)
	bf := createBackfill(t, b.cat, decl.Key, keys)
	addr, _ := b.remoteServer(t, 3*time.Second)
	env := []string{envServerAddr + "=" + addr, envDataDir + "=" + b.dir}
	first := startChild(t, "worker", append(env, envWorkerID+"=doomed")...)
	at := waitSucceeded(t, b.cat, bf.ID, n/4, 2*time.Minute)
	first.kill(t)
	after, _ := b.cat.GetBackfill(ctx, bf.ID)
	t.Logf("killed the worker at %d succeeded (%d running after the kill)", at.Counts.Succeeded, after.Counts.Running)
	second := startChild(t, "worker", append(env, envWorkerID+"=survivor")...)
	waitFor(t, 3*time.Minute, "backfill to complete", func() (bool, error) {
		bb, err := b.cat.GetBackfill(ctx, bf.ID)
		if err == nil && bb.State == catalog.BackfillFailed {
			return false, fmt.Errorf("backfill failed: %+v; worker log: %s", bb.Counts, second.stderr.String())
		}
		return err == nil && bb.State == catalog.BackfillCompleted, err
	})
	second.kill(t)
	checkBackfillExactlyOnce(t, b.cat, bf.ID, decl.Key, keys)
}

// TestWorkerCancelsRun: a run cancelled while it runs on a worker is
// stopped (its heartbeat says so) and recorded as cancelled; a failing job
// is retried per the asset's policy.
func TestWorkerCancelsAndRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	slow := staticDecl("remote/slow", nil, sh("echo started; sleep 60"), nil)
	flaky := staticDecl("remote/flaky", []string{"p"}, sh(`test "$STRATA_ATTEMPT" -gt 1 || exit 7`), nil)
	flaky.Retry = &asset.RetryDecl{MaxAttempts: 2, Backoff: asset.Duration(10 * time.Millisecond)}
	b := setup(t, slow, flaky)
	addr, _ := b.remoteServer(t, 600*time.Millisecond)
	startWorker(t, addr, "w", filepath.Join(b.dir, "w"))
	ids := enqueue(t, b.cat, catalog.RunSpec{Asset: "remote/slow", PartitionKeys: []string{""}},
		catalog.RunSpec{Asset: "remote/flaky", PartitionKeys: []string{"p"}, MaxAttempts: 2})
	waitFor(t, 20*time.Second, "run to start", func() (bool, error) {
		r, err := b.cat.GetRun(ctx, ids[0])
		return err == nil && r.State == catalog.RunRunning, err
	})
	if _, _, err := b.cat.CancelRuns(ctx, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, b.cat, ids[0], 20*time.Second); r.State != catalog.RunCancelled {
		t.Fatalf("cancelled run = %s (%s)", r.State, r.Error)
	}
	r := waitRun(t, b.cat, ids[1], 20*time.Second)
	if r.State != catalog.RunSucceeded || r.Attempt != 2 {
		t.Fatalf("flaky run = %s attempt %d (%s)", r.State, r.Attempt, r.Error)
	}
}
