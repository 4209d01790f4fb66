package planner

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
)

func eager() asset.AssetDecl {
	return asset.AssetDecl{Automation: &asset.AutomationDecl{Condition: asset.AutomationEager}}
}

func onMissing() asset.AssetDecl {
	return asset.AssetDecl{Automation: &asset.AutomationDecl{Condition: asset.AutomationOnMissing}}
}

func requested(res *TickResult) []string {
	var out []string
	for _, r := range res.Requests {
		out = append(out, string(r.Asset)+"["+strings.Join(r.PartitionKeys, ",")+"]:"+string(r.Reason.Kind))
	}
	return out
}

func TestEager(t *testing.T) {
	t.Parallel()
	now := t0.Add(3 * 24 * time.Hour)

	type testBundle struct{ m *sim }
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		g := graph(t,
			node{key: "raw", parts: daily()},
			node{key: "clean", parts: daily(), deps: []dep{{up: "raw"}}, decl: eager()},
			node{key: "report", deps: []dep{{up: "clean", m: allMap{}}}, decl: eager()},
		)
		m := newSim(t, g, now)
		for _, k := range []string{"2026-01-01", "2026-01-02", "2026-01-03"} {
			m.materialize("raw", k, matOpt{version: "1"})
			m.materialize("clean", k, matOpt{version: "1"})
		}
		m.materialize("report", "", matOpt{version: "1"})
		return &testBundle{m: m}
	}

	t.Run("UpstreamUpdatedFiresOnceAndWaitsDownstream", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if res := b.m.s.Tick(now); len(res.Requests) != 0 {
			t.Fatalf("all fresh: requests %v", requested(res))
		}
		b.m.materialize("raw", "2026-01-02", matOpt{version: "2"})
		res := b.m.s.Tick(now)
		if got, want := requested(res), []string{"clean[2026-01-02]:eager"}; !slices.Equal(got, want) {
			t.Fatalf("requests %v, want %v", got, want)
		}
		r := res.Requests[0]
		if !strings.Contains(r.Reason.Detail, "upstream raw partition \"2026-01-02\"") {
			t.Fatalf("reason %q does not name the upstream partition", r.Reason.Detail)
		}
		// report is stale too (upstream_stale) but waits: not eager-eligible,
		// and clean is requested this tick.
		if again := b.m.s.Tick(now); len(again.Requests) != 0 {
			t.Fatalf("second tick while requested: %v", requested(again))
		}
		b.m.succeed(r, func(string) string { return "2" })
		res = b.m.s.Tick(now)
		if got, want := requested(res), []string{"report[]:eager"}; !slices.Equal(got, want) {
			t.Fatalf("after clean landed: %v, want %v", got, want)
		}
		b.m.succeed(res.Requests[0], func(string) string { return "2" })
		if res := b.m.s.Tick(now); len(res.Requests) != 0 {
			t.Fatalf("settled: %v", requested(res))
		}
		for _, p := range []struct{ a, k string }{{"clean", "2026-01-02"}, {"report", ""}} {
			if got := b.m.status(p.a, p.k).Status; got != StatusFresh {
				t.Fatalf("%s %q: %s, want fresh", p.a, p.k, got)
			}
		}
	})

	t.Run("UpstreamMissingBlocksWithReason", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.m.s.Advance(now.Add(24 * time.Hour)) // 2026-01-04 appears, raw has not got it
		res := b.m.s.Tick(now.Add(24 * time.Hour))
		if len(res.Requests) != 0 {
			t.Fatalf("requests %v, want none", requested(res))
		}
		found := false
		for _, sk := range res.Skipped {
			if sk.Asset == "clean" && sk.PartitionKey == "2026-01-04" && strings.Contains(sk.Why, "missing") {
				found = true
			}
		}
		if !found {
			t.Fatalf("skips %+v, want clean 2026-01-04 blocked by missing raw", res.Skipped)
		}
		b.m.now = now.Add(24 * time.Hour)
		b.m.materialize("raw", "2026-01-04", matOpt{version: "1"})
		res = b.m.s.Tick(b.m.now)
		if got, want := requested(res), []string{"clean[2026-01-04]:eager"}; !slices.Equal(got, want) {
			t.Fatalf("once raw landed: %v, want %v", got, want)
		}
	})

	t.Run("FailedIsNotRetriedUntilUpstreamChanges", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.m.materialize("raw", "2026-01-01", matOpt{version: "2"})
		res := b.m.s.Tick(now)
		b.m.fail(res.Requests[0])
		if got := b.m.status("clean", "2026-01-01").Status; got != StatusFailed {
			t.Fatalf("status %s, want failed", got)
		}
		if res := b.m.s.Tick(now); len(res.Requests) != 0 {
			t.Fatalf("failed partition re-requested: %v", requested(res))
		}
		b.m.materialize("raw", "2026-01-01", matOpt{version: "3"})
		if got := requested(b.m.s.Tick(now)); !slices.Equal(got, []string{"clean[2026-01-01]:eager"}) {
			t.Fatalf("after upstream changed again: %v", got)
		}
	})

	t.Run("DroppedRequestIsRequestedAgain", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.m.materialize("raw", "2026-01-03", matOpt{version: "2"})
		res := b.m.s.Tick(now)
		b.m.apply(RequestDropped{Seq: b.m.next(), RequestID: res.Requests[0].ID, Why: "queue full"})
		if got := requested(b.m.s.Tick(now)); !slices.Equal(got, []string{"clean[2026-01-03]:eager"}) {
			t.Fatalf("after drop: %v", got)
		}
	})

	t.Run("CodeVersionChanged", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		g := graph(t,
			node{key: "raw", parts: daily()},
			node{key: "clean", parts: daily(), deps: []dep{{up: "raw"}}, decl: asset.AssetDecl{CodeVersion: "2", Automation: eager().Automation}},
			node{key: "report", deps: []dep{{up: "clean", m: allMap{}}}, decl: eager()},
		)
		b.m.apply(AssetsApplied{Seq: b.m.next(), Graph: g})
		// A code change alone makes the partitions stale but does not fire
		// eager (rerunning history is a backfill's decision).
		if res := b.m.s.Tick(now); len(res.Requests) != 0 {
			t.Fatalf("requests %v, want none", requested(res))
		}
		ps := b.m.status("clean", "2026-01-01")
		if ps.Status != StatusStale || ps.Causes[0].Kind != CauseCodeVersionChanged {
			t.Fatalf("clean: %+v", ps)
		}
		plan, err := b.m.s.StartBackfill(BackfillSpec{ID: "code", Assets: []asset.Key{"clean"}, Filter: FilterStale})
		if err != nil || plan.Partitions != 3 {
			t.Fatalf("backfill stale: %+v %v", plan, err)
		}
		res := b.m.s.Tick(now)
		if len(res.Requests) != 3 || res.Requests[0].Reason.Kind != ReasonBackfill {
			t.Fatalf("requests %v", requested(res))
		}
		for _, r := range res.Requests {
			b.m.succeed(r, func(string) string { return "1" })
		}
		// report read clean before; clean's data did not change (same
		// version): report stays fresh.
		if got := b.m.status("report", "").Status; got != StatusFresh {
			t.Fatalf("report: %s", got)
		}
	})
}

func TestOnMissing(t *testing.T) {
	t.Parallel()
	now := t0.Add(3 * 24 * time.Hour)
	g := graph(t,
		node{key: "raw", parts: daily()},
		node{key: "agg", parts: daily(), deps: []dep{{up: "raw"}}, decl: onMissing()},
		node{key: "regions", parts: static("eu", "us"), decl: asset.AssetDecl{
			Automation:     onMissing().Automation,
			BackfillPolicy: &asset.BackfillPolicyDecl{MaxPartitionsPerRun: 10}}},
	)
	m := newSim(t, g, now)
	res := m.s.Tick(now)
	// Static: all missing partitions, batched; time windows: only the
	// latest window (history is a backfill), blocked while raw is missing.
	if got, want := requested(res), []string{"regions[eu,us]:on_missing"}; !slices.Equal(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	m.materialize("raw", "2026-01-03", matOpt{})
	if got, want := requested(m.s.Tick(now)), []string{"agg[2026-01-03]:on_missing"}; !slices.Equal(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
}

func TestOrdering(t *testing.T) {
	t.Parallel()
	now := t0
	dl := func(h int) *time.Time { d := now.Add(time.Duration(h) * time.Hour); return &d }
	q := func(id string, prio int, deadline *time.Time, waited time.Duration) Queued {
		return Queued{Request: RunRequest{ID: id, Priority: prio, Deadline: deadline}, EnqueuedAt: now.Add(-waited)}
	}
	tests := []struct {
		name string
		in   []Queued
		want []string
	}{
		{"PriorityFirst", []Queued{q("low", 0, dl(1), 0), q("high", 5, dl(9), 0)}, []string{"high", "low"}},
		{"EarliestDeadlineWithinPriority", []Queued{q("late", 1, dl(9), 0), q("none", 1, nil, 0), q("soon", 1, dl(1), 0)}, []string{"soon", "late", "none"}},
		{"AgingLiftsOldWork", []Queued{q("new-high", 2, nil, 0), q("old-low", 0, nil, 3*DefaultOrdering.AgingStep)}, []string{"old-low", "new-high"}},
		{"OldestThenID", []Queued{q("b", 0, nil, time.Second), q("c", 0, nil, time.Minute), q("a", 0, nil, time.Second)}, []string{"c", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := slices.Clone(tt.in)
			DefaultOrdering.Sort(in, now)
			var got []string
			for _, x := range in {
				got = append(got, x.Request.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("order %v, want %v", got, tt.want)
			}
		})
	}
}
