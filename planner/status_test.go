package planner

import (
	"slices"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
)

func TestStatusUnpartitionedChain(t *testing.T) {
	t.Parallel()

	type testBundle struct{ m *sim }
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		g := graph(t,
			node{key: "a"},
			node{key: "b", deps: []dep{{up: "a", m: allMap{}}}},
			node{key: "c", deps: []dep{{up: "b", m: allMap{}}}},
		)
		return &testBundle{m: newSim(t, g, t0)}
	}

	t.Run("MissingThenFresh", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, k := range []string{"a", "b", "c"} {
			if got := b.m.status(k, "").Status; got != StatusMissing {
				t.Fatalf("%s: status %s, want missing", k, got)
			}
		}
		if got := causeKinds(b.m.status("b", "").Causes); !slices.Equal(got, []CauseKind{CauseUpstreamMissing}) {
			t.Fatalf("b causes %v, want upstream_missing", got)
		}
		b.m.materialize("a", "", matOpt{})
		b.m.materialize("b", "", matOpt{})
		b.m.materialize("c", "", matOpt{})
		for _, k := range []string{"a", "b", "c"} {
			if ps := b.m.status(k, ""); ps.Status != StatusFresh || len(ps.Causes) != 0 {
				t.Fatalf("%s: %s %v, want fresh without causes", k, ps.Status, ps.Causes)
			}
		}
	})

	t.Run("UpstreamUpdatedByOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.m.materialize("a", "", matOpt{})
		b.m.materialize("b", "", matOpt{})
		b.m.materialize("c", "", matOpt{})
		b.m.materialize("a", "", matOpt{})

		ps := b.m.status("b", "")
		if ps.Status != StatusStale || len(ps.Causes) != 1 || ps.Causes[0].Kind != CauseUpstreamUpdated || ps.Causes[0].UpstreamAsset != "a" {
			t.Fatalf("b: %s %+v, want stale upstream_updated by a", ps.Status, ps.Causes)
		}
		ps = b.m.status("c", "")
		if ps.Status != StatusStale || len(ps.Causes) != 1 {
			t.Fatalf("c: %s %+v, want stale with one cause", ps.Status, ps.Causes)
		}
		c := ps.Causes[0]
		if c.Kind != CauseUpstreamStale || c.UpstreamAsset != "b" || c.RootAsset != "b" || c.RootKind != CauseUpstreamUpdated {
			t.Fatalf("c cause %+v, want upstream_stale via b rooted at b (upstream_updated)", c)
		}
	})

	t.Run("DataVersionUnchangedKeepsFresh", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.m.materialize("a", "", matOpt{version: "v1"})
		b.m.materialize("b", "", matOpt{version: "w1"})
		b.m.materialize("a", "", matOpt{version: "v1"}) // same data again
		if got := b.m.status("b", "").Status; got != StatusFresh {
			t.Fatalf("b: %s, want fresh (provenance says it read v1, a is still v1)", got)
		}
		b.m.materialize("a", "", matOpt{version: "v2"})
		ps := b.m.status("b", "")
		if ps.Status != StatusStale || ps.Causes[0].Kind != CauseUpstreamUpdated {
			t.Fatalf("b: %s %+v, want stale upstream_updated", ps.Status, ps.Causes)
		}
		// Exact explanation with the recorded provenance.
		prov := []InputVersion{{Asset: "a", PartitionKey: "", DataVersion: "v1"}}
		ex, err := b.m.s.Explain("b", "", b.m.now, prov)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Causes[0].UpstreamAsset != "a" || ex.Causes[0].UpstreamPartition != "" {
			t.Fatalf("explain: %+v", ex.Causes)
		}
	})

	t.Run("ProvenanceWinsOverOrder", func(t *testing.T) {
		t.Parallel()
		// b's run read a@v1, but a@v2 was recorded before b's run finished.
		b := setup(t)
		b.m.materialize("a", "", matOpt{version: "v1"})
		b.m.apply(MaterializationRecorded{Seq: b.m.next(), Asset: "a", DataVersion: "v2"})
		b.m.apply(MaterializationRecorded{Seq: b.m.next(), Asset: "b", DataVersion: "w1",
			Provenance: []InputVersion{{Asset: "a", DataVersion: "v1"}}})
		ps := b.m.status("b", "")
		if ps.Status != StatusStale || ps.Causes[0].Kind != CauseUpstreamUpdated || ps.Causes[0].UpstreamAsset != "a" {
			t.Fatalf("b: %s %+v, want stale: read v1, a is v2 (order alone says fresh)", ps.Status, ps.Causes)
		}
	})

	t.Run("CodeVersionChanged", func(t *testing.T) {
		t.Parallel()
		g := graph(t, node{key: "a", decl: asset.AssetDecl{CodeVersion: "2"}})
		m := newSim(t, g, t0)
		m.materialize("a", "", matOpt{code: "1"})
		ps := m.status("a", "")
		want := Cause{Kind: CauseCodeVersionChanged, OldCodeVersion: "1", NewCodeVersion: "2"}
		if ps.Status != StatusStale || len(ps.Causes) != 1 || ps.Causes[0].Kind != want.Kind ||
			ps.Causes[0].OldCodeVersion != "1" || ps.Causes[0].NewCodeVersion != "2" {
			t.Fatalf("a: %s %+v, want %+v", ps.Status, ps.Causes, want)
		}
		m.materialize("a", "", matOpt{code: "2"})
		if got := m.status("a", "").Status; got != StatusFresh {
			t.Fatalf("after rerun with code 2: %s, want fresh", got)
		}
	})
}

func TestStatusRunningFailed(t *testing.T) {
	t.Parallel()
	g := graph(t, node{key: "a", parts: static("x", "y")})
	m := newSim(t, g, t0)
	m.apply(RunStateChanged{Seq: m.next(), RunID: "r1", Asset: "a", PartitionKeys: []string{"x"}, State: RunQueued})
	if got := m.status("a", "x").Status; got != StatusRunning {
		t.Fatalf("queued: %s, want running", got)
	}
	m.apply(RunStateChanged{Seq: m.next(), RunID: "r1", Asset: "a", PartitionKeys: []string{"x"}, State: RunFailed})
	if ps := m.status("a", "x"); ps.Status != StatusFailed || ps.DataStatus != StatusMissing {
		t.Fatalf("failed: %s/%s, want failed/missing", ps.Status, ps.DataStatus)
	}
	m.materialize("a", "x", matOpt{})
	if got := m.status("a", "x").Status; got != StatusFresh {
		t.Fatalf("after a later success: %s, want fresh", got)
	}
	// Rebuild restores failed: a failure after the latest materialization.
	m.apply(RunStateChanged{Seq: m.next(), RunID: "r2", Asset: "a", PartitionKeys: []string{"x", "y"}, State: RunFailed})
	s := m.rebuild()
	for _, k := range []string{"x", "y"} {
		ps, _ := s.Status("a", k, t0)
		if ps.Status != StatusFailed {
			t.Fatalf("rebuilt %s: %s, want failed", k, ps.Status)
		}
	}
}

func TestStatusPartitionedScenarios(t *testing.T) {
	t.Parallel()
	now := t0.Add(14 * 24 * time.Hour) // 336 hourly, 14 daily, 2 weekly partitions

	t.Run("HourlyDailyWeeklyChain", func(t *testing.T) {
		t.Parallel()
		g := graph(t,
			node{key: "h", parts: hourly()},
			node{key: "d", parts: daily(), deps: []dep{{up: "h", m: windowMap{}}}},
			node{key: "w", parts: weekly(), deps: []dep{{up: "d", m: windowMap{}}}},
		)
		m := newSim(t, g, now)
		for _, key := range []string{"h", "d", "w"} {
			as := m.s.assets[m.s.byKey[asset.Key(key)]]
			for i := 0; i < as.n; i++ {
				m.materialize(key, as.parts.Key(int64(i)), matOpt{version: "v1"})
			}
		}
		for _, key := range []string{"h", "d", "w"} {
			if c, _ := m.s.Counts(asset.Key(key)); c.Fresh != c.Partitions {
				t.Fatalf("%s: %+v, want all fresh", key, c)
			}
		}
		// Rematerialize one hour of day 3 with new data.
		m.materialize("h", "2026-01-03-05:00", matOpt{version: "v2"})
		d, _ := m.s.Counts("d")
		w, _ := m.s.Counts("w")
		if d.Stale != 1 || w.Stale != 1 {
			t.Fatalf("stale counts d=%d w=%d, want 1 and 1", d.Stale, w.Stale)
		}
		ps := m.status("d", "2026-01-03")
		if ps.Status != StatusStale || ps.Causes[0].Kind != CauseUpstreamUpdated || ps.Causes[0].UpstreamPartition != "2026-01-03-05:00" {
			t.Fatalf("d 2026-01-03: %s %+v", ps.Status, ps.Causes)
		}
		ps = m.status("w", "2026-01-01")
		if ps.Causes[0].Kind != CauseUpstreamStale || ps.Causes[0].UpstreamPartition != "2026-01-03" ||
			ps.Causes[0].RootAsset != "d" || ps.Causes[0].RootPartition != "2026-01-03" {
			t.Fatalf("w: %+v", ps.Causes)
		}
		if got := m.status("w", "2026-01-08").Status; got != StatusFresh {
			t.Fatalf("second week: %s, want fresh", got)
		}
		// Missing hour: the daily partition reading it is stale with upstream_missing.
		g2 := graph(t,
			node{key: "h", parts: hourly()},
			node{key: "d", parts: daily(), deps: []dep{{up: "h", m: windowMap{}}}},
		)
		m2 := newSim(t, g2, now)
		for i := 0; i < 24; i++ {
			if i != 7 {
				m2.materialize("h", hourly().At(now, nil).Key(int64(i)), matOpt{})
			}
		}
		m2.materialize("d", "2026-01-01", matOpt{})
		ps = m2.status("d", "2026-01-01")
		if ps.Status != StatusStale || ps.Causes[0].Kind != CauseUpstreamMissing || ps.Causes[0].UpstreamPartition != "2026-01-01-07:00" {
			t.Fatalf("d with a missing hour: %s %+v", ps.Status, ps.Causes)
		}
	})

	t.Run("StaticIdentity", func(t *testing.T) {
		t.Parallel()
		g := graph(t,
			node{key: "a", parts: static("eu", "us")},
			node{key: "b", parts: static("eu", "us"), deps: []dep{{up: "a"}}},
			node{key: "c", deps: []dep{{up: "b", m: allMap{}}}},
		)
		m := newSim(t, g, now)
		m.materialize("a", "eu", matOpt{})
		m.materialize("b", "eu", matOpt{})
		m.materialize("c", "", matOpt{})
		if ps := m.status("b", "us"); ps.Status != StatusMissing || ps.Causes[0].UpstreamPartition != "us" {
			t.Fatalf("b/us: %s %+v", ps.Status, ps.Causes)
		}
		ps := m.status("c", "")
		if ps.Status != StatusStale || !slices.Contains(causeKinds(ps.Causes), CauseUpstreamMissing) {
			t.Fatalf("c: %s %+v, want stale upstream_missing (b/us)", ps.Status, ps.Causes)
		}
	})

	t.Run("SelfDependentCumulative", func(t *testing.T) {
		t.Parallel()
		g := graph(t, node{key: "cum", parts: daily()})
		// Partition i reads partition i-1 of itself.
		g.list[0].Deps = []asset.Dep{{Upstream: "cum", UpID: 0, Mapping: windowMap{startOff: -1, endOff: -1}}}
		m := newSim(t, g, now)
		as := m.s.assets[0]
		for i := 0; i < as.n; i++ {
			m.materialize("cum", as.parts.Key(int64(i)), matOpt{version: "v1"})
		}
		if c, _ := m.s.Counts("cum"); c.Fresh != c.Partitions {
			t.Fatalf("in order: %+v, want all fresh", c)
		}
		m.materialize("cum", "2026-01-05", matOpt{version: "v2"})
		if ps := m.status("cum", "2026-01-06"); ps.Causes[0].Kind != CauseUpstreamUpdated || ps.Causes[0].UpstreamPartition != "2026-01-05" {
			t.Fatalf("next day: %+v", ps.Causes)
		}
		ps := m.status("cum", "2026-01-09")
		if ps.Causes[0].Kind != CauseUpstreamStale || ps.Causes[0].RootPartition != "2026-01-06" {
			t.Fatalf("later day: %+v", ps.Causes)
		}
		if c, _ := m.s.Counts("cum"); c.Stale != int64(as.n)-5 {
			t.Fatalf("counts %+v, want %d stale", c, as.n-5)
		}
	})

	t.Run("DynamicPartitions", func(t *testing.T) {
		t.Parallel()
		g := graph(t,
			node{key: "a", parts: &dynDef{name: "customers"}},
			node{key: "b", parts: &dynDef{name: "customers"}, deps: []dep{{up: "a"}}},
		)
		m := newSim(t, g, now)
		m.materialize("a", "acme", matOpt{}) // key not added yet: kept aside
		m.apply(DynamicPartitionsChanged{Seq: m.next(), Name: "customers", Keys: []string{"acme", "zeta"}})
		if got := m.status("a", "acme").Status; got != StatusFresh {
			t.Fatalf("a/acme after the key was added: %s, want fresh", got)
		}
		m.materialize("b", "acme", matOpt{})
		m.apply(DynamicPartitionsChanged{Seq: m.next(), Name: "customers", Keys: []string{"zeta", "acme"}})
		if got := m.status("b", "acme").Status; got != StatusFresh {
			t.Fatalf("b/acme after keys were reordered: %s, want fresh", got)
		}
		if got := m.status("b", "zeta").Status; got != StatusMissing {
			t.Fatalf("b/zeta: %s, want missing", got)
		}
	})

	t.Run("NewWindowsAppear", func(t *testing.T) {
		t.Parallel()
		g := graph(t,
			node{key: "a", parts: daily()},
			node{key: "b", parts: daily(), deps: []dep{{up: "a"}}},
		)
		m := newSim(t, g, now)
		m.materialize("a", "2026-01-15", matOpt{}) // the window of tomorrow
		m.s.Advance(now.Add(24 * time.Hour))
		m.now = now.Add(24 * time.Hour)
		if got := m.status("a", "2026-01-15").Status; got != StatusFresh {
			t.Fatalf("a/2026-01-15 once it exists: %s, want fresh", got)
		}
		if c, _ := m.s.Counts("b"); c.Partitions != 15 || c.Missing != 15 {
			t.Fatalf("b: %+v", c)
		}
	})
}

func TestIncrementalMatchesRebuild(t *testing.T) {
	t.Parallel()
	now := t0.Add(10 * 24 * time.Hour)
	g := graph(t,
		node{key: "h", parts: hourly()},
		node{key: "d", parts: daily(), deps: []dep{{up: "h", m: windowMap{}}}},
		node{key: "d2", parts: daily(), deps: []dep{{up: "d"}, {up: "d", m: windowMap{startOff: -1, endOff: 0}}}},
		node{key: "u", deps: []dep{{up: "d2", m: allMap{}}}, decl: asset.AssetDecl{CodeVersion: "1"}},
	)
	m := newSim(t, g, now)
	for i := 0; i < 240; i += 3 {
		m.materialize("h", hourly().At(now, nil).Key(int64(i)), matOpt{version: "a"})
	}
	for i := 0; i < 10; i++ {
		m.materialize("d", daily().At(now, nil).Key(int64(i)), matOpt{})
		m.materialize("d2", daily().At(now, nil).Key(int64(i)), matOpt{version: "x"})
	}
	m.materialize("u", "", matOpt{code: "0"})
	m.materialize("h", "2026-01-02-00:00", matOpt{version: "b"})
	assertSameStatuses(t, m.s, m.rebuild())
}

func assertSameStatuses(t tb, got, want *State) {
	t.Helper()
	for id, as := range got.assets {
		ws := want.assets[id]
		if as.n != ws.n {
			t.Fatalf("%s: %d partitions, rebuild has %d", as.a.Key, as.n, ws.n)
		}
		for i := 0; i < as.n; i++ {
			if as.st[i] != ws.st[i] || as.status(i) != ws.status(i) {
				t.Fatalf("%s %q: incremental %08b/%s, rebuild %08b/%s", as.a.Key, as.parts.Key(int64(i)), as.st[i], as.status(i), ws.st[i], ws.status(i))
			}
		}
	}
}
