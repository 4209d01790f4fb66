package materializer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
	"github.com/strata-data/strata/materializer"
)

// Environment of a helper server child.
const (
	envCatalogURL = "STRATA_MATERIALIZER_TEST_CATALOG"
	envDataDir    = "STRATA_MATERIALIZER_TEST_DATA"
	envOwner      = "STRATA_MATERIALIZER_TEST_OWNER"
)

// helperServer is a strata server reduced to its dispatcher: it opens the
// catalog and dispatches runs to a local executor until it is killed.
func helperServer() int {
	ctx := context.Background()
	c, err := catalog.Open(ctx, os.Getenv(envCatalogURL), catalog.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir := os.Getenv(envDataDir)
	ex := materializer.NewLocalExecutor(materializer.LocalConfig{RunRoot: filepath.Join(dir, "runs"),
		Capacity: materializer.Capacity{MemoryBytes: 16 << 30, CPUs: 4, Slots: 4}, KillGrace: time.Second})
	d, err := materializer.NewDispatcher(materializer.Config{Catalog: c, Executors: []materializer.Executor{ex},
		DataDir: filepath.Join(dir, "data"), Owner: os.Getenv(envOwner), Lease: 2 * time.Second,
		PollInterval: 50 * time.Millisecond, RetryBackoff: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a helper process of a test.
type child struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
	done   chan struct{}
}

func startChild(t *testing.T, mode string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), append(env, helperEnv+"="+mode)...)
	var stderr strings.Builder
	cmd.Stderr = &lockedWriter{w: &stderr}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stderr: &stderr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() { c.kill(t) })
	return c
}

// kill sends SIGKILL and waits for the child to die.
func (c *child) kill(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// dailyKeys returns the first n keys of a daily definition.
func dailyKeys(t *testing.T, d asset.AssetDecl, n int) []string {
	t.Helper()
	g, err := asset.NewGraph([]asset.AssetDecl{d})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := g.Asset(asset.Key(d.Key))
	parts := a.Partitions.At(time.Now(), nil)
	if parts.Len() < int64(n) {
		t.Fatalf("%d partitions, want %d", parts.Len(), n)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = parts.Key(int64(i))
	}
	return keys
}

func backfillDecl(key string) asset.AssetDecl {
	return asset.AssetDecl{Key: key,
		Partitions: &asset.PartitionsDecl{TimeWindow: &asset.TimeWindowDecl{Schedule: "daily", Start: "2015-01-01"}},
		Compute:    &asset.ComputeDecl{Command: []string{"true"}},
		Retry:      &asset.RetryDecl{MaxAttempts: 5}}
}

// createBackfill enqueues one run per partition.
func createBackfill(t *testing.T, c *catalog.Catalog, key string, keys []string) catalog.Backfill {
	t.Helper()
	runs := make([]catalog.RunSpec, len(keys))
	for i, k := range keys {
		runs[i] = catalog.RunSpec{Asset: asset.Key(key), PartitionKeys: []string{k}, Reason: "backfill", MaxAttempts: 5}
	}
	bf, _, err := c.CreateBackfill(context.Background(), catalog.BackfillSpec{Selection: []asset.Key{asset.Key(key)}, Actor: "test", Runs: runs})
	if err != nil {
		t.Fatal(err)
	}
	return bf
}

func waitSucceeded(t *testing.T, c *catalog.Catalog, bf int64, n int64, timeout time.Duration) catalog.Backfill {
	t.Helper()
	var b catalog.Backfill
	waitFor(t, timeout, fmt.Sprintf("%d runs of backfill %d to succeed", n, bf), func() (bool, error) {
		var err error
		b, err = c.GetBackfill(context.Background(), bf)
		return err == nil && b.Counts.Succeeded >= n, err
	})
	return b
}

// checkBackfillExactlyOnce: the backfill completed, every partition has
// exactly one materialization and it comes from a succeeded run, and no
// run is left running.
func checkBackfillExactlyOnce(t *testing.T, c *catalog.Catalog, bfID int64, key string, keys []string) {
	t.Helper()
	ctx := context.Background()
	bf, err := c.GetBackfill(ctx, bfID)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(keys))
	if bf.State != catalog.BackfillCompleted || bf.Counts.Succeeded != n || bf.Counts.Running != 0 || bf.Counts.Queued != 0 || bf.Counts.Failed != 0 {
		t.Fatalf("backfill = %s %+v", bf.State, bf.Counts)
	}
	running, err := c.ListRuns(ctx, catalog.RunFilter{States: []catalog.RunState{catalog.RunRunning, catalog.RunQueued}})
	if err != nil || len(running) != 0 {
		t.Fatalf("%d runs still queued or running (%v)", len(running), err)
	}
	succeeded := map[int64]int{}
	runs, err := c.ListRuns(ctx, catalog.RunFilter{BackfillID: bfID, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	retried := 0
	for _, r := range runs {
		if r.State == catalog.RunSucceeded {
			succeeded[r.ID] = r.Attempt
		}
		if r.Attempt > 1 {
			retried++
		}
	}
	t.Logf("%d runs took more than one attempt", retried)
	for _, k := range keys {
		h, err := c.MaterializationHistory(ctx, asset.Key(key), k, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 1 {
			t.Fatalf("partition %s has %d materializations, want exactly 1", k, len(h))
		}
		if at, ok := succeeded[h[0].RunID]; !ok || at != h[0].Attempt {
			t.Fatalf("partition %s: materialization of run %d attempt %d, which did not succeed", k, h[0].RunID, h[0].Attempt)
		}
	}
}

// TestServerKilledMidBackfill: kill -9 the server in the middle of a
// 2,000-partition backfill and restart it: the backfill completes, every
// partition has exactly one successful materialization and no run is left
// running.
func TestServerKilledMidBackfill(t *testing.T) {
	t.Parallel()
	for _, db := range []struct {
		name string
		url  func(t *testing.T, dir string) string
	}{
		{"SQLite", func(t *testing.T, dir string) string { return "sqlite://" + filepath.Join(dir, "strata.db") }},
		{"Postgres", func(t *testing.T, dir string) string { return pgtest.SchemaURL(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			const n = 2000
			dir := t.TempDir()
			url := db.url(t, dir)
			c := openCatalog(t, url)
			decl := backfillDecl("crash/daily")
			if _, err := c.ApplyAssets(context.Background(), []asset.AssetDecl{decl}, catalog.ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			keys := dailyKeys(t, decl, n)
			bf := createBackfill(t, c, decl.Key, keys)
			env := []string{envCatalogURL + "=" + url, envDataDir + "=" + dir, envOwner + "=local:crash-test"}

			first := startChild(t, "server", env...)
			at := waitSucceeded(t, c, bf.ID, n/4, 2*time.Minute)
			first.kill(t)
			after, _ := c.GetBackfill(context.Background(), bf.ID)
			t.Logf("killed the server at %d succeeded (%d running, %d queued after the kill)", at.Counts.Succeeded, after.Counts.Running, after.Counts.Queued)
			if after.Counts.Succeeded >= n {
				t.Fatalf("the backfill finished before the kill")
			}

			second := startChild(t, "server", env...)
			waitFor(t, 3*time.Minute, "backfill to complete", func() (bool, error) {
				b, err := c.GetBackfill(context.Background(), bf.ID)
				if err == nil && b.State == catalog.BackfillFailed {
					return false, fmt.Errorf("backfill failed: %+v; server log: %s", b.Counts, second.stderr.String())
				}
				return err == nil && b.State == catalog.BackfillCompleted, err
			})
			second.kill(t)
			checkBackfillExactlyOnce(t, c, bf.ID, decl.Key, keys)
		})
	}
}
