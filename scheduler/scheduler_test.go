package scheduler_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
	"github.com/strata-data/strata/planner"
	"github.com/strata-data/strata/scheduler"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var epoch = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

type backend struct {
	name string
	url  func(t *testing.T) string
}

var backends = []backend{
	{"SQLite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "strata.db") }},
	{"Postgres", func(t *testing.T) string { return pgtest.SchemaURL(t) }},
}

// eachBackend runs fn as a parallel subtest per catalog dialect.
func eachBackend(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.url(t))
		})
	}
}

type testBundle struct {
	ctx context.Context
	cat *catalog.Catalog
	url string
}

func setup(t *testing.T, url string, decls ...asset.AssetDecl) *testBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cat := openCatalog(t, ctx, url)
	if len(decls) > 0 {
		if _, err := cat.ApplyAssets(ctx, decls, catalog.ApplyOptions{Actor: "test"}); err != nil {
			t.Fatalf("apply assets: %v", err)
		}
	}
	return &testBundle{ctx: ctx, cat: cat, url: url}
}

func openCatalog(t *testing.T, ctx context.Context, url string) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Open(ctx, url, catalog.Options{Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatalf("open catalog: %v", err)
	}
	t.Cleanup(func() { cat.Close() })
	return cat
}

func (b *testBundle) scheduler(t *testing.T, cat *catalog.Catalog) *scheduler.Scheduler {
	t.Helper()
	if cat == nil {
		cat = b.cat
	}
	s, err := scheduler.New(scheduler.Config{Catalog: cat, Clock: func() time.Time { return epoch }, TickInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatalf("new scheduler: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // before the catalog closes: its pool waits for the lock connection
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func step(t *testing.T, ctx context.Context, s *scheduler.Scheduler) {
	t.Helper()
	if err := s.Step(ctx); err != nil {
		t.Fatalf("step: %v", err)
	}
}

var static = &asset.PartitionsDecl{Static: []string{"p1", "p2"}}

func decl(key string, automation string, deps ...string) asset.AssetDecl {
	d := asset.AssetDecl{Key: key, CodeVersion: "v1", Partitions: static}
	for _, dep := range deps {
		d.Deps = append(d.Deps, asset.DepDecl{Asset: dep})
	}
	if automation != "" {
		d.Automation = &asset.AutomationDecl{Condition: automation}
	}
	return d
}

// materialize records a materialization reported over the API (no run).
func (b *testBundle) materialize(t *testing.T, key, part, version string, prov ...catalog.ProvenanceEntry) {
	t.Helper()
	if _, err := b.cat.RecordMaterializations(b.ctx, []catalog.Materialization{{Asset: asset.Key(key), Partition: part,
		DataVersion: version, CodeVersion: "v1", Provenance: prov}}); err != nil {
		t.Fatalf("record materialization: %v", err)
	}
}

func prov(key, part, version string) catalog.ProvenanceEntry {
	return catalog.ProvenanceEntry{UpstreamAsset: asset.Key(key), UpstreamPartition: part, DataVersion: version}
}

// runs lists the runs of the catalog, oldest first.
func (b *testBundle) runs(t *testing.T, states ...catalog.RunState) []catalog.Run {
	t.Helper()
	rs, err := b.cat.ListRuns(b.ctx, catalog.RunFilter{States: states, Limit: 1000})
	if err != nil {
		t.Fatalf("list runs: %v", err)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].ID < rs[j].ID })
	return rs
}

// work plays the dispatcher: it claims every queued run and finishes it
// with the given state, recording a materialization per partition (with
// provenance from the same partition of each dep) when it succeeds.
func (b *testBundle) work(t *testing.T, state catalog.RunState, only func(catalog.Run) bool) int {
	t.Helper()
	claimed, err := b.cat.ClaimRuns(b.ctx, catalog.ClaimRequest{Owner: "worker", Lease: time.Hour, Limit: 1000})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	n := 0
	for _, r := range claimed {
		st := state
		if only != nil && !only(r) {
			st = catalog.RunSucceeded
		}
		res := catalog.RunResult{RunID: r.ID, Attempt: r.Attempt, Owner: "worker", State: st}
		if st == catalog.RunSucceeded {
			a, err := b.cat.GetAsset(b.ctx, r.Asset)
			if err != nil {
				t.Fatalf("get asset: %v", err)
			}
			for _, k := range r.PartitionKeys {
				m := catalog.Materialization{Asset: r.Asset, Partition: k, DataVersion: "run" + k, CodeVersion: "v1"}
				for _, d := range a.Decl.Deps {
					m.Provenance = append(m.Provenance, prov(d.Asset, k, ""))
				}
				res.Materializations = append(res.Materializations, m)
			}
		}
		if _, err := b.cat.FinishRun(b.ctx, res); err != nil {
			t.Fatalf("finish run %d: %v", r.ID, err)
		}
		n++
	}
	return n
}

func status(t *testing.T, s *scheduler.Scheduler, key, part string) planner.PartitionStatus {
	t.Helper()
	ps, err := s.Status(asset.Key(key), part)
	if err != nil {
		t.Fatalf("status %s %s: %v", key, part, err)
	}
	return ps
}

func TestRebuildEqualsIncremental(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, url string) {
		b := setup(t, url, decl("a", ""), decl("b", "", "a"), decl("c", "", "b"))
		inc := b.scheduler(t, nil)
		step(t, b.ctx, inc) // built before anything happened: what follows is incremental

		b.materialize(t, "a", "p1", "v1")
		b.materialize(t, "a", "p2", "v1")
		b.materialize(t, "b", "p1", "bv1", prov("a", "p1", "v1"))
		b.materialize(t, "b", "p2", "bv1", prov("a", "p2", "v1"))
		b.materialize(t, "c", "p1", "cv1", prov("b", "p1", "bv1"))
		b.materialize(t, "a", "p1", "v2") // b:p1 and c:p1 go stale
		if _, err := b.cat.EnqueueRuns(b.ctx, []catalog.RunSpec{{Asset: "c", PartitionKeys: []string{"p2"}, Reason: "manual"}}); err != nil {
			t.Fatal(err)
		}
		b.work(t, catalog.RunFailed, nil) // c:p2 failed
		if _, err := b.cat.EnqueueRuns(b.ctx, []catalog.RunSpec{{Asset: "b", PartitionKeys: []string{"p2"}, Reason: "manual"}}); err != nil {
			t.Fatal(err)
		}
		step(t, b.ctx, inc)

		full := b.scheduler(t, nil)
		step(t, b.ctx, full)
		for _, key := range []asset.Key{"a", "b", "c"} {
			got, err := inc.Partitions(key, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			want, err := full.Partitions(key, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: incremental\n%+v\nrebuild\n%+v", key, got, want)
			}
		}
		if ps := status(t, full, "c", "p1"); ps.DataStatus != planner.StatusStale {
			t.Errorf("c:p1 = %v, want stale (a:p1 changed upstream of b:p1)", ps.DataStatus)
		}
		if ps := status(t, full, "c", "p2"); ps.Status != planner.StatusFailed {
			t.Errorf("c:p2 = %v, want failed", ps.Status)
		}
		if ps := status(t, full, "b", "p2"); ps.Status != planner.StatusRunning {
			t.Errorf("b:p2 = %v, want running (queued)", ps.Status)
		}
	})
}

func TestMaterializationUpdatesDownstream(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, url string) {
		b := setup(t, url, decl("a", ""), decl("b", "", "a"))
		s := b.scheduler(t, nil)
		b.materialize(t, "a", "p1", "v1")
		b.materialize(t, "b", "p1", "bv1", prov("a", "p1", "v1"))
		step(t, b.ctx, s)
		if ps := status(t, s, "b", "p1"); ps.Status != planner.StatusFresh {
			t.Fatalf("b:p1 = %v, want fresh", ps.Status)
		}
		b.materialize(t, "a", "p1", "v2")
		step(t, b.ctx, s)
		ps, err := s.Explain(b.ctx, "b", "p1")
		if err != nil {
			t.Fatal(err)
		}
		if ps.Status != planner.StatusStale || len(ps.Causes) == 0 || ps.Causes[0].Kind != planner.CauseUpstreamUpdated ||
			ps.Causes[0].UpstreamAsset != "a" || ps.Causes[0].UpstreamPartition != "p1" {
			t.Fatalf("b:p1 = %+v, want stale because a:p1 was updated", ps)
		}
		if ps := status(t, s, "b", "p2"); ps.Status != planner.StatusMissing {
			t.Errorf("b:p2 = %v, want missing", ps.Status)
		}
		h, err := s.PartitionHealth("b", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []planner.StatusRange{{Lo: 0, Hi: 1, Status: planner.StatusStale}, {Lo: 1, Hi: 2, Status: planner.StatusMissing}}
		if !reflect.DeepEqual(h, want) {
			t.Errorf("health = %+v, want %+v", h, want)
		}
	})
}

func TestEagerEnqueuesOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, url string) {
		b := setup(t, url, decl("a", ""), decl("b", asset.AutomationEager, "a"))
		s := b.scheduler(t, nil)
		step(t, b.ctx, s)
		if rs := b.runs(t); len(rs) != 0 {
			t.Fatalf("runs before any upstream = %+v, want none (a is missing)", rs)
		}
		b.materialize(t, "a", "p1", "v1")
		for range 3 {
			step(t, b.ctx, s)
		}
		rs := b.runs(t)
		if len(rs) != 1 || rs[0].Asset != "b" || !reflect.DeepEqual(rs[0].PartitionKeys, []string{"p1"}) {
			t.Fatalf("runs = %+v, want one run of b:p1", rs)
		}
		if got := catalog.ParsePlannerReason(rs[0].Reason).Kind; got != planner.ReasonEager {
			t.Errorf("reason %q, want eager", rs[0].Reason)
		}
		if _, err := b.cat.ClaimRuns(b.ctx, catalog.ClaimRequest{Owner: "worker", Lease: time.Hour}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			step(t, b.ctx, s)
		}
		if rs := b.runs(t); len(rs) != 1 {
			t.Fatalf("runs while running = %d, want 1", len(rs))
		}
		// Finish it (the claimed run is running: finish through a re-claim-free path).
		r := b.runs(t)[0]
		if _, err := b.cat.FinishRun(b.ctx, catalog.RunResult{RunID: r.ID, Attempt: r.Attempt, Owner: "worker", State: catalog.RunSucceeded,
			Materializations: []catalog.Materialization{{Asset: "b", Partition: "p1", DataVersion: "b1", CodeVersion: "v1",
				Provenance: []catalog.ProvenanceEntry{prov("a", "p1", "v1")}}}}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			step(t, b.ctx, s)
		}
		if rs := b.runs(t); len(rs) != 1 {
			t.Fatalf("runs after success = %+v, want still 1", rs)
		}
		if ps := status(t, s, "b", "p1"); ps.Status != planner.StatusFresh {
			t.Errorf("b:p1 = %v, want fresh", ps.Status)
		}
		// A new upstream version fires eager once more.
		b.materialize(t, "a", "p1", "v2")
		step(t, b.ctx, s)
		step(t, b.ctx, s)
		if rs := b.runs(t); len(rs) != 2 {
			t.Fatalf("runs after upstream update = %d, want 2", len(rs))
		}
		// A restarted scheduler sees the queued run and asks nothing more.
		s2 := b.scheduler(t, nil)
		step(t, b.ctx, s2)
		step(t, b.ctx, s2)
		if rs := b.runs(t); len(rs) != 2 {
			t.Fatalf("runs after restart = %d, want 2", len(rs))
		}
	})
}

func TestBackfillWaves(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, url string) {
		b := setup(t, url, decl("a", ""), decl("b", "", "a"))
		s := b.scheduler(t, nil)
		step(t, b.ctx, s)
		plan, err := s.PlanBackfill(planner.BackfillSpec{Assets: []asset.Key{"a", "b"}})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Partitions != 4 || plan.Runs != 4 {
			t.Fatalf("dry run = %+v, want 4 partitions in 4 runs", plan)
		}
		if rs := b.runs(t); len(rs) != 0 {
			t.Fatalf("a dry run enqueued %d runs", len(rs))
		}
		bf, plan, err := s.StartBackfill(b.ctx, scheduler.BackfillRequest{Spec: planner.BackfillSpec{Assets: []asset.Key{"a", "b"}}, Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if plan.ID == "" || plan.Partitions != 4 {
			t.Fatalf("plan = %+v", plan)
		}
		step(t, b.ctx, s)
		rs := b.runs(t)
		if len(rs) != 2 || rs[0].Asset != "a" || rs[1].Asset != "a" || rs[0].BackfillID != bf.ID {
			t.Fatalf("first wave = %+v, want the 2 runs of a in backfill %d", rs, bf.ID)
		}
		step(t, b.ctx, s)
		if rs := b.runs(t); len(rs) != 2 {
			t.Fatalf("runs before a succeeded = %d, want 2 (b waits for a)", len(rs))
		}
		b.work(t, catalog.RunSucceeded, nil)
		// Between two waves nothing is in flight, yet the backfill goes on.
		if got, err := b.cat.GetBackfill(b.ctx, bf.ID); err != nil || got.State != catalog.BackfillRunning {
			t.Fatalf("backfill between waves = %q, %v, want %q", got.State, err, catalog.BackfillRunning)
		}
		step(t, b.ctx, s)
		rs = b.runs(t, catalog.RunQueued)
		if len(rs) != 2 || rs[0].Asset != "b" || rs[1].Asset != "b" {
			t.Fatalf("second wave = %+v, want the 2 runs of b", rs)
		}
		b.work(t, catalog.RunSucceeded, nil)
		step(t, b.ctx, s)
		step(t, b.ctx, s)
		p, err := s.BackfillProgress(bf.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Done || p.Succeeded != 4 || p.Targets != 4 {
			t.Fatalf("progress = %+v, want done with 4 succeeded", p)
		}
		pb, err := b.cat.GetPlannerBackfill(b.ctx, bf.ID)
		if err != nil || !pb.Done {
			t.Fatalf("planner backfill = %+v, %v, want done", pb, err)
		}
		if rs := b.runs(t); len(rs) != 4 {
			t.Fatalf("runs = %d, want 4", len(rs))
		}
		if got, err := b.cat.GetBackfill(b.ctx, bf.ID); err != nil || got.State != catalog.BackfillCompleted {
			t.Fatalf("backfill after the last wave = %q, %v, want %q", got.State, err, catalog.BackfillCompleted)
		}
	})
}

func TestRestartResumesBackfill(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, url string) {
		b := setup(t, url, decl("a", ""), decl("b", "", "a"))
		s := b.scheduler(t, nil)
		step(t, b.ctx, s)
		bf, _, err := s.StartBackfill(b.ctx, scheduler.BackfillRequest{Spec: planner.BackfillSpec{Assets: []asset.Key{"a", "b"}}})
		if err != nil {
			t.Fatal(err)
		}
		step(t, b.ctx, s) // a:p1, a:p2 enqueued
		// a:p1 succeeds, a:p2 fails; then the server restarts.
		b.work(t, catalog.RunFailed, func(r catalog.Run) bool { return r.PartitionKeys[0] == "p2" })
		s.Close() // the old server is gone: its lock with it

		s2 := b.scheduler(t, openCatalog(t, b.ctx, b.url))
		step(t, b.ctx, s2)
		p, err := s2.BackfillProgress(bf.ID)
		if err != nil {
			t.Fatal(err)
		}
		// a:p1 succeeded, a:p2 failed, b:p1 requested now, b:p2 skipped (reads a failed target).
		if p.Targets != 4 || p.Succeeded != 1 || p.Failed != 1 || p.Skipped != 1 || p.Requested != 1 {
			t.Fatalf("progress after restart = %+v", p)
		}
		rs := b.runs(t, catalog.RunQueued)
		if len(rs) != 1 || rs[0].Asset != "b" || rs[0].PartitionKeys[0] != "p1" {
			t.Fatalf("queued after restart = %+v, want b:p1", rs)
		}
		b.work(t, catalog.RunSucceeded, nil)
		step(t, b.ctx, s2)
		step(t, b.ctx, s2)
		if p, _ := s2.BackfillProgress(bf.ID); !p.Done || p.Succeeded != 2 {
			t.Fatalf("final progress = %+v", p)
		}
		// Retry the failed partitions: a new backfill with filter failed.
		bf2, plan, err := s2.RetryBackfill(b.ctx, bf.ID, "test")
		if err != nil {
			t.Fatal(err)
		}
		if plan.Partitions != 1 || bf2.Filter != "failed" {
			t.Fatalf("retry = %+v %+v, want the 1 failed partition", plan, bf2)
		}
		step(t, b.ctx, s2)
		rs = b.runs(t, catalog.RunQueued)
		if len(rs) != 1 || rs[0].Asset != "a" || rs[0].PartitionKeys[0] != "p2" || rs[0].BackfillID != bf2.ID {
			t.Fatalf("retry runs = %+v", rs)
		}
		// Cancel it: the queued run is cancelled and nothing more is asked.
		if _, err := s2.CancelBackfill(b.ctx, bf2.ID); err != nil {
			t.Fatal(err)
		}
		step(t, b.ctx, s2)
		if rs := b.runs(t, catalog.RunQueued); len(rs) != 0 {
			t.Fatalf("queued after cancel = %+v", rs)
		}
	})
}

func TestOneLeaderOnPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.SchemaURL(t)
	b := setup(t, url, decl("a", ""), decl("b", asset.AutomationEager, "a"))
	ctx1, stop1 := context.WithCancel(b.ctx)
	defer stop1()
	s1 := b.scheduler(t, nil)
	done1 := make(chan error, 1)
	go func() { done1 <- s1.Run(ctx1) }()
	waitFor(t, "s1 leads", s1.Leading)

	s2 := b.scheduler(t, openCatalog(t, b.ctx, url))
	ctx2, stop2 := context.WithCancel(b.ctx)
	defer stop2()
	done2 := make(chan error, 1)
	go func() { done2 <- s2.Run(ctx2) }()
	<-s2.Ready()
	// s2 follows: it keeps its state current but does not tick.
	b.materialize(t, "a", "p1", "v1")
	waitFor(t, "b:p1 requested once", func() bool { return len(b.runs(t)) == 1 })
	waitFor(t, "s2 sees b:p1 running", func() bool {
		ps, err := s2.Status("b", "p1")
		return err == nil && ps.Status == planner.StatusRunning
	})
	if s2.Leading() {
		t.Fatal("s2 leads while s1 holds the lock")
	}

	stop1()
	if err := <-done1; err != nil {
		t.Fatalf("s1 run: %v", err)
	}
	waitFor(t, "s2 takes over", s2.Leading)
	b.materialize(t, "a", "p2", "v1")
	waitFor(t, "s2 requests b:p2", func() bool { return len(b.runs(t)) == 2 })
	stop2()
	if err := <-done2; err != nil {
		t.Fatalf("s2 run: %v", err)
	}
	if rs := b.runs(t); len(rs) != 2 {
		t.Fatalf("runs = %+v, want 2 (b:p1 once, b:p2 once)", rs)
	}
}

// waitFor polls cond until it holds, failing after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for %s", what)
		}
	}
}

// A run the materializer splits (cancelled, replaced by smaller runs with
// the same backfill) does not fail its backfill's partitions.
func TestBackfillSurvivesSplit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, url string) {
		b := setup(t, url, decl("a", ""), decl("b", "", "a"))
		s := b.scheduler(t, nil)
		step(t, b.ctx, s)
		bf, _, err := s.StartBackfill(b.ctx, scheduler.BackfillRequest{Spec: planner.BackfillSpec{Assets: []asset.Key{"a", "b"},
			Partitions: planner.PartitionSelector{Keys: []string{"p1"}}}})
		if err != nil {
			t.Fatal(err)
		}
		step(t, b.ctx, s)
		claimed, err := b.cat.ClaimRuns(b.ctx, catalog.ClaimRequest{Owner: "worker", Lease: time.Hour})
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim = %+v, %v", claimed, err)
		}
		r := claimed[0]
		ids, err := b.cat.EnqueueRuns(b.ctx, []catalog.RunSpec{{Asset: r.Asset, PartitionKeys: r.PartitionKeys, Reason: r.Reason, BackfillID: r.BackfillID}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.cat.FinishRun(b.ctx, catalog.RunResult{RunID: r.ID, Attempt: r.Attempt, Owner: "worker", State: catalog.RunCancelled,
			Error: "split into 1 runs (" + strconv.FormatInt(ids[0], 10) + "): too big"}); err != nil {
			t.Fatal(err)
		}
		step(t, b.ctx, s)
		if p, _ := s.BackfillProgress(bf.ID); p.Failed != 0 || p.Skipped != 0 || p.Requested != 1 {
			t.Fatalf("progress after split = %+v, want a:p1 still requested", p)
		}
		b.work(t, catalog.RunSucceeded, nil)
		step(t, b.ctx, s)
		rs := b.runs(t, catalog.RunQueued)
		if len(rs) != 1 || rs[0].Asset != "b" {
			t.Fatalf("queued = %+v, want b:p1", rs)
		}
	})
}

// A backfill whose partitions the API chose runs in waves too, its first
// wave enqueued when the call returns (this scheduler leads).
func TestStartPlannedBackfill(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, url string) {
		b := setup(t, url, decl("a", ""), decl("b", "", "a"))
		s := b.scheduler(t, nil)
		step(t, b.ctx, s)
		bf, err := s.StartPlannedBackfill(b.ctx, catalog.BackfillSpec{Selection: []asset.Key{"a", "b"}, RequestID: "req-1",
			Runs: []catalog.RunSpec{{Asset: "a", PartitionKeys: []string{"p2"}}, {Asset: "b", PartitionKeys: []string{"p2"}}}})
		if err != nil {
			t.Fatal(err)
		}
		rs := b.runs(t)
		if len(rs) != 1 || rs[0].Asset != "a" || rs[0].PartitionKeys[0] != "p2" || rs[0].BackfillID != bf.ID {
			t.Fatalf("first wave = %+v, want a:p2", rs)
		}
		again, err := s.StartPlannedBackfill(b.ctx, catalog.BackfillSpec{Selection: []asset.Key{"a"}, RequestID: "req-1",
			Runs: []catalog.RunSpec{{Asset: "a", PartitionKeys: []string{"p1"}}}})
		if err != nil || again.ID != bf.ID {
			t.Fatalf("same request id = %+v, %v, want backfill %d", again, err, bf.ID)
		}
		b.work(t, catalog.RunSucceeded, nil)
		step(t, b.ctx, s)
		rs = b.runs(t, catalog.RunQueued)
		if len(rs) != 1 || rs[0].Asset != "b" || rs[0].PartitionKeys[0] != "p2" {
			t.Fatalf("second wave = %+v, want b:p2", rs)
		}
		if rs := b.runs(t); len(rs) != 2 {
			t.Fatalf("runs = %d, want 2", len(rs))
		}
		// An asset applied a moment ago (no step since) is backfilled too.
		if _, err := b.cat.ApplyAssets(b.ctx, []asset.AssetDecl{decl("a", ""), decl("b", "", "a"), decl("c", "")},
			catalog.ApplyOptions{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.StartPlannedBackfill(b.ctx, catalog.BackfillSpec{Selection: []asset.Key{"c"},
			Runs: []catalog.RunSpec{{Asset: "c", PartitionKeys: []string{"p1"}}}}); err != nil {
			t.Fatal(err)
		}
		if rs := b.runs(t, catalog.RunQueued); len(rs) != 2 || rs[1].Asset != "c" {
			t.Fatalf("queued = %+v, want b:p2 and c:p1", rs)
		}
	})
}
