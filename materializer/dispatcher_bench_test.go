package materializer_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
	"github.com/strata-data/strata/materializer"
)

// BenchmarkBackfillTrue runs a backfill of 10,000 partitions of `true`
// through the local executor (queue -> claim -> size -> exec -> record, on
// SQLite) and, in the same run, spawns the same number of `true` processes
// bare from Go with the same concurrency. It reports partitions/s end to
// end, the bare spawns/s, their ratio and the process's peak RSS (VmHWM)
// after the backfill. Run it once:
//
//	go test ./materializer/ -run '^$' -bench BackfillTrue -benchtime 1x
//
// The catalog and the outputs are in the temporary directory, the run files
// (context, messages) in the default run root, as `strata server` has them.
// STRATA_BENCH_PARTITIONS overrides the size; STRATA_BENCH_DIR puts the
// outputs there (e.g. /dev/shm) instead of the temporary directory;
// STRATA_BENCH_RUN_ROOT puts the run files there (e.g. the temporary
// directory, to measure them on disk); STRATA_BENCH_CATALOG is the catalog
// URL instead of SQLite in the temporary directory ("postgres": a fresh
// schema on the test PostgreSQL server).
func BenchmarkBackfillTrue(b *testing.B) {
	n := 10000
	if s := os.Getenv("STRATA_BENCH_PARTITIONS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	ctx := context.Background()
	capacity := materializer.DefaultCapacity()
	var runDir string
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		if base := os.Getenv("STRATA_BENCH_DIR"); base != "" {
			// Outputs on another file system (tmpfs);
			// the catalog stays in the temporary directory.
			if dir, err := os.MkdirTemp(base, "strata-bench-"); err == nil {
				b.Cleanup(func() { os.RemoveAll(dir) })
				runDir = dir
			}
		} else {
			runDir = dir
		}
		url := "sqlite://" + filepath.Join(dir, "strata.db")
		if u := os.Getenv("STRATA_BENCH_CATALOG"); u == "postgres" {
			url = pgtest.SchemaURL(b)
		} else if u != "" {
			url = u
		}
		c, err := catalog.Open(ctx, url, catalog.Options{})
		if err != nil {
			b.Fatal(err)
		}
		decl := asset.AssetDecl{Key: "bench/true",
			Partitions: &asset.PartitionsDecl{TimeWindow: &asset.TimeWindowDecl{Schedule: "daily", Start: "1970-01-01"}},
			Compute:    &asset.ComputeDecl{Command: []string{"true"}}}
		if _, err := c.ApplyAssets(ctx, []asset.AssetDecl{decl}, catalog.ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
		g, err := asset.NewGraph([]asset.AssetDecl{decl})
		if err != nil {
			b.Fatal(err)
		}
		a, _ := g.Asset("bench/true")
		parts := a.Partitions.At(time.Now(), nil)
		runs := make([]catalog.RunSpec, n)
		for j := range runs {
			runs[j] = catalog.RunSpec{Asset: "bench/true", PartitionKeys: []string{parts.Key(int64(j))}}
		}
		// The run files go where a server puts them: a directory of its own
		// under the default run root (in memory when the system has a
		// runtime directory), unless STRATA_BENCH_RUN_ROOT says where.
		runRoot := filepath.Join(materializer.DefaultRunRoot(), fmt.Sprintf("bench-%d-%d", os.Getpid(), i))
		if r := os.Getenv("STRATA_BENCH_RUN_ROOT"); r != "" {
			runRoot = filepath.Join(r, fmt.Sprintf("bench-%d-%d", os.Getpid(), i))
		}
		b.Cleanup(func() { os.RemoveAll(runRoot) })
		ex := materializer.NewLocalExecutor(materializer.LocalConfig{RunRoot: runRoot, Capacity: capacity})
		d, err := materializer.NewDispatcher(materializer.Config{Catalog: c, Executors: []materializer.Executor{ex},
			DataDir: filepath.Join(runDir, "data"), PollInterval: 10 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = d.Run(dctx) }()

		b.ResetTimer()
		start := time.Now()
		bf, _, err := c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: []asset.Key{"bench/true"}, Runs: runs})
		if err != nil {
			b.Fatal(err)
		}
		d.Notify()
		for {
			got, err := c.GetBackfill(ctx, bf.ID)
			if err != nil {
				b.Fatal(err)
			}
			if got.State != catalog.BackfillRunning {
				if got.Counts.Succeeded != int64(n) {
					b.Fatalf("backfill %s: %+v", got.State, got.Counts)
				}
				break
			}
			// Polling is the harness's own cost, on the same two cores:
			// every 25ms is within 0.2% of the end-to-end time.
			tm := time.NewTimer(25 * time.Millisecond)
			<-tm.C
		}
		e2e := time.Since(start)
		b.StopTimer()
		hwm := vmHWM(b)
		cancel()
		<-done
		c.Close()

		// The bare cost: the same processes, spawned from Go with as many at
		// once as the executor runs.
		conc := max(capacity.Slots, 1)
		var next atomic.Int64
		var wg sync.WaitGroup
		bareStart := time.Now()
		for w := 0; w < conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					if err := exec.Command("true").Run(); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		bare := time.Since(bareStart)

		e2eRate := float64(n) / e2e.Seconds()
		bareRate := float64(n) / bare.Seconds()
		b.ReportMetric(e2eRate, "partitions/s")
		b.ReportMetric(bareRate, "bare-spawns/s")
		b.ReportMetric(e2eRate/bareRate, "ratio")
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
		b.Logf("%d partitions: end to end %s (%.0f/s), bare spawn %s (%.0f/s), ratio %.2f, slots %d, peak RSS %d MiB",
			n, e2e.Round(time.Millisecond), e2eRate, bare.Round(time.Millisecond), bareRate, e2eRate/bareRate, conc, hwm>>20)
	}
}

// vmHWM is the peak resident set of this process, in bytes.
func vmHWM(tb testing.TB) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Logf("peak RSS: %v", err)
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
