package planner

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
)

func TestBackfill(t *testing.T) {
	t.Parallel()
	now := t0.Add(10 * 24 * time.Hour)
	window := &asset.TimeWindow{Start: t0, End: t0.Add(3 * 24 * time.Hour)}

	type testBundle struct{ m *sim }
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		g := graph(t,
			node{key: "h", parts: hourly(), decl: asset.AssetDecl{BackfillPolicy: &asset.BackfillPolicyDecl{MaxPartitionsPerRun: 24}}},
			node{key: "d", parts: daily(), deps: []dep{{up: "h", m: windowMap{}}}},
		)
		return &testBundle{m: newSim(t, g, now)}
	}

	t.Run("DryRunCounts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.m.materialize("d", "2026-01-02", matOpt{})
		plan, err := b.m.s.PlanBackfill(BackfillSpec{ID: "bf", Assets: []asset.Key{"h", "d"}, Partitions: PartitionSelector{Window: window}, Filter: FilterMissing})
		if err != nil {
			t.Fatal(err)
		}
		want := []BackfillAssetPlan{
			{Asset: "h", Partitions: 72, Runs: 3, Now: Counts{Partitions: 72, Missing: 72}},
			{Asset: "d", Partitions: 2, Runs: 2, Now: Counts{Partitions: 2, Missing: 2}},
		}
		if !slices.Equal(plan.Assets, want) || plan.Partitions != 74 || plan.Runs != 5 {
			t.Fatalf("plan %+v, want %+v", plan, want)
		}
		if len(b.m.s.Backfills()) != 0 {
			t.Fatal("a dry run registered a backfill")
		}
	})

	t.Run("DependencyAwareAndBatched", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if _, err := b.m.s.StartBackfill(BackfillSpec{ID: "bf", Assets: []asset.Key{"h", "d"}, Partitions: PartitionSelector{Window: window}, Priority: 3}); err != nil {
			t.Fatal(err)
		}
		res := b.m.s.Tick(now)
		if len(res.Requests) != 3 {
			t.Fatalf("first tick: %v, want 3 batches of 24 hours", requested(res))
		}
		for _, r := range res.Requests {
			if r.Asset != "h" || len(r.PartitionKeys) != 24 || r.BackfillID != "bf" || r.Priority != 3 || r.Reason.Kind != ReasonBackfill {
				t.Fatalf("request %+v", r)
			}
		}
		// Day 2's hours land: only d/2026-01-02 becomes ready.
		b.m.succeed(res.Requests[1], func(string) string { return "1" })
		got := requested(b.m.s.Tick(now))
		if !slices.Equal(got, []string{"d[2026-01-02]:backfill"}) {
			t.Fatalf("after day 2 hours: %v", got)
		}
		// Day 1's hours fail: d/2026-01-01 is skipped, never requested.
		b.m.fail(res.Requests[0])
		b.m.succeed(res.Requests[2], func(string) string { return "1" })
		res2 := b.m.s.Tick(now)
		if got := requested(res2); !slices.Equal(got, []string{"d[2026-01-03]:backfill"}) {
			t.Fatalf("after day 1 failed, day 3 landed: %v", got)
		}
		for _, r := range res2.Requests {
			b.m.succeed(r, func(string) string { return "1" })
		}
		p, _ := b.m.s.BackfillProgress("bf")
		if p.Done {
			t.Fatalf("done with d/2026-01-02 requested: %+v", p)
		}
		if p.Succeeded != 48+1 || p.Failed != 24 || p.Skipped != 1 || p.Requested != 1 {
			t.Fatalf("progress %+v", p)
		}
	})

	t.Run("ProgressTerminalStates", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if _, err := b.m.s.StartBackfill(BackfillSpec{ID: "bf", Assets: []asset.Key{"h", "d"}, Partitions: PartitionSelector{Window: window}}); err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 10; round++ {
			res := b.m.s.Tick(now)
			for k, r := range res.Requests {
				if round == 0 && k == 0 {
					b.m.fail(r)
					continue
				}
				b.m.succeed(r, func(string) string { return "1" })
			}
		}
		p, _ := b.m.s.BackfillProgress("bf")
		want := BackfillProgress{ID: "bf", Targets: 75, Succeeded: 48 + 2, Failed: 24, Skipped: 1, Done: true}
		if p != want {
			t.Fatalf("progress %+v, want %+v", p, want)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if _, err := b.m.s.StartBackfill(BackfillSpec{ID: "x", Assets: []asset.Key{"nope"}}); !errors.Is(err, ErrUnknownAsset) {
			t.Fatalf("unknown asset: %v", err)
		}
		if _, err := b.m.s.StartBackfill(BackfillSpec{ID: "x", Assets: []asset.Key{"h"}, Filter: "weird"}); err == nil {
			t.Fatal("bad filter accepted")
		}
		if _, err := b.m.s.StartBackfill(BackfillSpec{ID: "x", Assets: []asset.Key{"h"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.m.s.StartBackfill(BackfillSpec{ID: "x", Assets: []asset.Key{"h"}}); !errors.Is(err, ErrBackfillExists) {
			t.Fatalf("duplicate: %v", err)
		}
	})
}

// BenchmarkPlanBackfill100k: plan a backfill of 100,000 partitions across
// 20 assets (a chain of 20 daily assets of 5,000 partitions), and emit its
// first wave of requests.
func BenchmarkPlanBackfill100k(b *testing.B) {
	now := t0.Add(5000 * 24 * time.Hour)
	nodes := make([]node, 20)
	keys := make([]asset.Key, 20)
	for k := range nodes {
		nodes[k] = node{key: "a" + string(rune('a'+k)), parts: daily(), decl: asset.AssetDecl{BackfillPolicy: &asset.BackfillPolicyDecl{MaxPartitionsPerRun: 1}}}
		if k > 0 {
			nodes[k].deps = []dep{{up: nodes[k-1].key}}
		}
		keys[k] = asset.Key(nodes[k].key)
	}
	g := graph(b, nodes...)
	s := New(g, now)
	b.ResetTimer()
	var plan *BackfillPlan
	var reqs int
	for n := range b.N {
		id := "bf" + string(rune('0'+n%10))
		s.CancelBackfill(id)
		var err error
		plan, err = s.StartBackfill(BackfillSpec{ID: id, Assets: keys})
		if err != nil {
			b.Fatal(err)
		}
		reqs = len(s.Tick(now).Requests)
		for _, r := range s.requests {
			s.release(r)
		}
		clear(s.requests)
	}
	b.StopTimer()
	b.ReportMetric(float64(plan.Partitions), "partitions")
	b.ReportMetric(float64(reqs), "first-wave-requests")
}

func TestBackfillRestore(t *testing.T) {
	t.Parallel()
	now := t0.Add(5 * 24 * time.Hour)
	g := graph(t,
		node{key: "a", parts: daily()},
		node{key: "b", parts: daily(), deps: []dep{{up: "a"}}},
	)
	m := newSim(t, g, now)
	m.materialize("a", "2026-01-05", matOpt{version: "old"}) // before the backfill: redone
	if _, err := m.s.StartBackfill(BackfillSpec{ID: "bf", Assets: []asset.Key{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	saved, _ := m.s.BackfillState("bf")
	res := m.s.Tick(now)
	if len(res.Requests) != 5 {
		t.Fatalf("first wave: %v", requested(res))
	}
	m.succeed(res.Requests[0], func(string) string { return "1" }) // a/01-01
	m.fail(res.Requests[1])                                        // a/01-02
	// Restart: rebuild from the catalog, restore the backfill, carry on.
	m.s = m.rebuild()
	if err := m.s.RestoreBackfill(saved); err != nil {
		t.Fatal(err)
	}
	p, _ := m.s.BackfillProgress("bf")
	if p.Succeeded != 1 || p.Failed != 1 || p.Targets != 10 {
		t.Fatalf("restored progress %+v", p)
	}
	for round := 0; round < 10; round++ {
		for _, r := range m.s.Tick(now).Requests {
			m.succeed(r, func(string) string { return "1" })
		}
	}
	p, _ = m.s.BackfillProgress("bf")
	want := BackfillProgress{ID: "bf", Targets: 10, Succeeded: 8, Failed: 1, Skipped: 1, Done: true}
	if p != want {
		t.Fatalf("progress %+v, want %+v", p, want)
	}
}
