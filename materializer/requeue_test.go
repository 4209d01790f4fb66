package materializer_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
)

// TestShutdownRequeuesWithoutAttempt: a run interrupted by a graceful
// shutdown goes back to the queue without using an attempt, so an asset
// with one attempt survives it; the next dispatcher runs it to success.
func TestShutdownRequeuesWithoutAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	gate, started := filepath.Join(b.dir, "gate"), filepath.Join(b.dir, "started")
	decl := staticDecl("shut/one", []string{"p"}, sh(`touch `+started+`; while [ ! -f `+gate+` ]; do sleep 0.05; done`), nil)
	if _, err := b.cat.ApplyAssets(ctx, []asset.AssetDecl{decl}, catalog.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	ids := enqueue(t, b.cat, catalog.RunSpec{Asset: "shut/one", PartitionKeys: []string{"p"}, MaxAttempts: 1})
	_, stop := b.startStoppable(t, dispatcherOpts{owner: "local:shut"})
	waitFor(t, 20*time.Second, "job to start", func() (bool, error) {
		_, err := os.Stat(started)
		return err == nil, nil
	})
	stop()
	r, err := b.cat.GetRun(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.State != catalog.RunQueued || r.Attempt != 1 || r.MaxAttempts != 2 || !strings.Contains(r.Error, "shut down") {
		t.Fatalf("after shutdown: %s attempt %d of %d (%s)", r.State, r.Attempt, r.MaxAttempts, r.Error)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b.start(t, dispatcherOpts{owner: "local:shut"})
	r = waitRun(t, b.cat, ids[0], 20*time.Second)
	if r.State != catalog.RunSucceeded || r.Attempt != 2 {
		t.Fatalf("after restart: %s attempt %d (%s)", r.State, r.Attempt, r.Error)
	}
	log, _, _ := b.cat.RunLog(ctx, ids[0])
	if !strings.Contains(log, "attempt 1 requeued, not counted") {
		t.Fatalf("log = %q", log)
	}
}

// TestOrphansRequeuedWithoutAttempt: runs still leased to this server's
// owner when it starts are queued again without using an attempt.
func TestOrphansRequeuedWithoutAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, staticDecl("orphan/one", []string{"p"}, []string{"true"}, nil))
	ids := enqueue(t, b.cat, catalog.RunSpec{Asset: "orphan/one", PartitionKeys: []string{"p"}, MaxAttempts: 1})
	// A previous process claimed it and died.
	if _, err := b.cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "local:orphan", Lease: time.Hour}); err != nil {
		t.Fatal(err)
	}
	b.start(t, dispatcherOpts{owner: "local:orphan"})
	r := waitRun(t, b.cat, ids[0], 20*time.Second)
	if r.State != catalog.RunSucceeded || r.Attempt != 2 || r.MaxAttempts != 2 {
		t.Fatalf("orphan: %s attempt %d of %d (%s)", r.State, r.Attempt, r.MaxAttempts, r.Error)
	}
	// Its sizing was recorded at claim time.
	var sz struct {
		MemoryBytes int64  `json:"memory_bytes"`
		Model       string `json:"model"`
		Reason      string `json:"reason"`
	}
	if err := json.Unmarshal(r.Sizing, &sz); err != nil || sz.MemoryBytes <= 0 || sz.Model == "" || sz.Reason == "" {
		t.Fatalf("sizing = %s (%v)", r.Sizing, err)
	}
}
