package catalog_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
)

// killChildEnv makes the test binary act as the writer child of
// TestKillMidBatch: it holds the catalog URL.
const killChildEnv = "STRATA_CATALOG_KILL_CHILD_URL"

const killBatch = 5000

// killChildMain writes big batches in a loop, alternating a backfill with its
// runs and a batch of materializations with provenance, announcing each on
// stdout ("begin N", "commit N") until it is killed.
func killChildMain() int {
	ctx := context.Background()
	c, err := catalog.Open(ctx, os.Getenv(killChildEnv), catalog.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for n := 0; ; n++ {
		tag := fmt.Sprintf("batch%04d", n)
		var runs []catalog.RunSpec
		var mats []catalog.Materialization
		for i := 0; i < killBatch; i++ {
			if n%2 == 0 {
				runs = append(runs, catalog.RunSpec{Asset: "kill/runs", PartitionKeys: []string{fmt.Sprint(i)}, Reason: tag})
			} else {
				mats = append(mats, catalog.Materialization{Asset: "kill/mats", Partition: fmt.Sprintf("%s-%05d", tag, i),
					DataVersion: tag, Provenance: []catalog.ProvenanceEntry{{UpstreamAsset: "kill/src", UpstreamPartition: fmt.Sprint(i)}}})
			}
		}
		fmt.Printf("begin %d\n", n)
		if n%2 == 0 {
			_, _, err = c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: []asset.Key{"kill/runs"}, Actor: tag, Runs: runs})
		} else {
			_, err = c.RecordMaterializations(ctx, mats)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		fmt.Printf("commit %d\n", n)
	}
}

func TestKillMidBatch(t *testing.T) {
	t.Parallel()
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"SQLite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "strata.db") }},
		{"Postgres", func(t *testing.T) string { return pgtest.SchemaURL(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			url := db.url(t)
			openURL(t, url).Close() // migrate first, so the child only writes batches
			killChild(t, url, 4)
			c := openURL(t, url)
			checkNoPartialBatch(t, c)
		})
	}
}

// killChild starts the writer child and SIGKILLs it right after it begins
// batch number `at` (so mid-transaction), then waits for it to die.
func killChild(t *testing.T, url string, at int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == fmt.Sprintf("begin %d", at) {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
			break
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before batch %d: %s", at, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v", cmd.ProcessState)
	}
}

func checkNoPartialBatch(t *testing.T, c *catalog.Catalog) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Backfill batches: every backfill has all its runs, counted both ways.
	bfs, err := c.ListBackfills(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Batches 0-3 committed; batch 4 (a backfill) was being written when
	// the child died: it must be absent, or (if the kill came late) whole.
	if len(bfs) != 2 && len(bfs) != 3 {
		t.Fatalf("%d backfills committed before the kill, want 2 (or 3)", len(bfs))
	}
	if len(bfs) == 3 {
		t.Logf("the killed batch had committed before SIGKILL landed")
	}
	for _, bf := range bfs {
		runs, err := c.ListRuns(ctx, catalog.RunFilter{BackfillID: bf.ID, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != killBatch || bf.Counts.Total != killBatch || bf.Counts.Queued != killBatch {
			t.Fatalf("backfill %d (%s) has %d runs, counters %+v; want %d", bf.ID, bf.Actor, len(runs), bf.Counts, killBatch)
		}
	}
	all, err := c.ListRuns(ctx, catalog.RunFilter{Limit: 10000 * 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(bfs)*killBatch && len(all) != 10000 {
		t.Fatalf("%d runs for %d backfills", len(all), len(bfs))
	}
	// Materialization batches: each tag has all its partitions or none.
	perTag := map[string]int{}
	if err := c.LatestMaterializations(ctx, "kill/mats", func(s *catalog.MaterializationSummary) error {
		perTag[s.DataVersion]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(perTag) == 0 {
		t.Fatal("no materialization batch committed before the kill")
	}
	for tag, n := range perTag {
		if n != killBatch {
			t.Fatalf("materialization batch %s has %d rows, want %d", tag, n, killBatch)
		}
		h, err := c.MaterializationHistory(ctx, "kill/mats", tag+"-00000", 0)
		if err != nil || len(h) != 1 {
			t.Fatalf("history of %s: %v %v", tag, h, err)
		}
		p, err := c.Provenance(ctx, h[0].ID)
		if err != nil || len(p) != 1 {
			t.Fatalf("provenance of %s: %v %v", tag, p, err)
		}
	}
	// The event log agrees: one materialization event per committed batch.
	evs, err := c.Events(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	nm := 0
	for _, e := range evs {
		if e.Kind == catalog.EventMaterialization {
			nm++
		}
	}
	if nm != len(perTag) {
		t.Fatalf("%d materialization events for %d batches", nm, len(perTag))
	}
}
