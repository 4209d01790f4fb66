package planner

import (
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/strata-data/strata/asset"
)

// These tests run the planner on graphs built by asset.NewGraph: real
// Dagster-compatible time windows, static, dynamic and multi-dimensional
// definitions and their mappings.

func tw(schedule string) *asset.PartitionsDecl {
	return &asset.PartitionsDecl{TimeWindow: &asset.TimeWindowDecl{Schedule: schedule, Start: "2026-01-01"}}
}

func deps(keys ...string) []asset.DepDecl {
	var out []asset.DepDecl
	for _, k := range keys {
		out = append(out, asset.DepDecl{Asset: k})
	}
	return out
}

func realGraph(t tb, decls ...asset.AssetDecl) *asset.Graph {
	t.Helper()
	g, err := asset.NewGraph(decls)
	if err != nil {
		t.Fatalf("new graph: %v", err)
	}
	return g
}

func TestRealHourlyDailyWeekly(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 19, 0, 0, 0, 0, time.UTC) // 18 days, weeks from Sun 2026-01-04: 2
	g := realGraph(t,
		asset.AssetDecl{Key: "h", Partitions: tw("hourly")},
		asset.AssetDecl{Key: "d", Partitions: tw("daily"), Deps: deps("h")},
		asset.AssetDecl{Key: "w", Partitions: tw("weekly"), Deps: deps("d")},
	)
	m := newSim(t, g, now)
	for _, key := range []string{"h", "d", "w"} {
		as := m.s.assets[m.s.byKey[asset.Key(key)]]
		for i := 0; i < as.n; i++ {
			m.materialize(key, as.parts.Key(int64(i)), matOpt{version: "1"})
		}
	}
	for _, key := range []string{"h", "d", "w"} {
		if c, _ := m.s.Counts(asset.Key(key)); c.Fresh != c.Partitions || c.Partitions == 0 {
			t.Fatalf("%s: %+v, want all fresh", key, c)
		}
	}
	m.materialize("h", "2026-01-06-13:00", matOpt{version: "2"})
	ps := m.status("d", "2026-01-06")
	if ps.Status != StatusStale || ps.Causes[0].Kind != CauseUpstreamUpdated || ps.Causes[0].UpstreamPartition != "2026-01-06-13:00" {
		t.Fatalf("d: %s %+v", ps.Status, ps.Causes)
	}
	ps = m.status("w", "2026-01-04")
	if ps.Status != StatusStale || ps.Causes[0].Kind != CauseUpstreamStale || ps.Causes[0].RootAsset != "d" || ps.Causes[0].RootPartition != "2026-01-06" {
		t.Fatalf("w: %s %+v", ps.Status, ps.Causes)
	}
	for key, want := range map[string]int64{"d": 1, "w": 1} {
		if c, _ := m.s.Counts(asset.Key(key)); c.Stale != want {
			t.Fatalf("%s: %+v, want %d stale", key, c, want)
		}
	}
	assertSameStatuses(t, m.s, m.rebuild())
}

func TestRealStaticMultiDynamic(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC)
	multi := &asset.PartitionsDecl{Multi: []asset.DimensionDecl{
		{Name: "date", TimeWindow: &asset.TimeWindowDecl{Schedule: "daily", Start: "2026-01-01"}},
		{Name: "region", Static: []string{"eu", "us"}},
	}}
	g := realGraph(t,
		asset.AssetDecl{Key: "regions", Partitions: &asset.PartitionsDecl{Static: []string{"eu", "us"}}},
		asset.AssetDecl{Key: "sales", Partitions: multi},
		asset.AssetDecl{Key: "clean", Partitions: multi, Deps: deps("sales"), Automation: &asset.AutomationDecl{Condition: asset.AutomationEager}},
		asset.AssetDecl{Key: "by_region", Partitions: &asset.PartitionsDecl{Static: []string{"eu", "us"}}, Deps: deps("regions")},
		asset.AssetDecl{Key: "customers", Partitions: &asset.PartitionsDecl{Dynamic: &asset.DynamicDecl{Name: "customers"}}},
	)
	m := newSim(t, g, now)
	if c, _ := m.s.Counts("clean"); c.Partitions != 6 {
		t.Fatalf("clean: %+v, want 3 days x 2 regions", c)
	}
	m.materialize("regions", "eu", matOpt{})
	m.materialize("by_region", "eu", matOpt{})
	if got := m.status("by_region", "eu").Status; got != StatusFresh {
		t.Fatalf("by_region/eu: %s", got)
	}
	if ps := m.status("by_region", "us"); ps.Status != StatusMissing || ps.Causes[0].UpstreamPartition != "us" {
		t.Fatalf("by_region/us: %+v", ps)
	}
	// Multi: keys are dimension keys joined in name order.
	key := asset.JoinMultiKey([]string{"2026-01-03", "eu"})
	m.materialize("sales", key, matOpt{version: "1"})
	res := m.s.Tick(now)
	// Eager on a multi asset with a time dimension: the missing partitions
	// of the latest day whose upstream is there.
	if got, want := requested(res), []string{"clean[" + key + "]:eager"}; !slices.Equal(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	m.succeed(res.Requests[0], func(string) string { return "1" })
	m.materialize("sales", key, matOpt{version: "2"})
	ps := m.status("clean", key)
	if ps.Status != StatusStale || ps.Causes[0].UpstreamPartition != key {
		t.Fatalf("clean %s: %+v", key, ps)
	}
	// Dynamic: keys arrive by event; indices follow insertion order.
	m.apply(DynamicPartitionsChanged{Seq: m.next(), Name: "customers", Keys: []string{"acme"}})
	m.materialize("customers", "acme", matOpt{})
	m.apply(DynamicPartitionsChanged{Seq: m.next(), Name: "customers", Keys: []string{"acme", "beta"}})
	if c, _ := m.s.Counts("customers"); c.Partitions != 2 || c.Fresh != 1 || c.Missing != 1 {
		t.Fatalf("customers: %+v", c)
	}
	// Time passes: a new day adds two multi partitions, existing facts stay.
	m.s.Advance(now.Add(24 * time.Hour))
	m.now = now.Add(24 * time.Hour)
	if c, _ := m.s.Counts("clean"); c.Partitions != 8 || c.Stale != 1 {
		t.Fatalf("clean after a day: %+v", c)
	}
	assertSameStatuses(t, m.s, m.rebuild())
}

func TestRealSelfDependent(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 11, 0, 0, 0, 0, time.UTC)
	g := realGraph(t, asset.AssetDecl{Key: "cum", Partitions: tw("daily"),
		Deps: []asset.DepDecl{{Asset: "cum", Mapping: &asset.MappingDecl{TimeWindow: &asset.TimeWindowMappingDecl{StartOffset: -1, EndOffset: -1}}}}})
	m := newSim(t, g, now)
	if _, err := m.s.StartBackfill(BackfillSpec{ID: "bf", Assets: []asset.Key{"cum"}}); err != nil {
		t.Fatal(err)
	}
	// Each tick can only request the next day: it reads the day before.
	for day := 1; day <= 10; day++ {
		res := m.s.Tick(now)
		if len(res.Requests) != 1 {
			t.Fatalf("tick %d: %v, want one request", day, requested(res))
		}
		m.succeed(res.Requests[0], func(k string) string { return "v" + k })
	}
	if p, _ := m.s.BackfillProgress("bf"); !p.Done || p.Succeeded != 10 {
		t.Fatalf("progress %+v", p)
	}
	m.materialize("cum", "2026-01-03", matOpt{version: "again"})
	if ps := m.status("cum", "2026-01-07"); ps.Causes[0].Kind != CauseUpstreamStale || ps.Causes[0].RootPartition != "2026-01-04" {
		t.Fatalf("cum/2026-01-07: %+v", ps.Causes)
	}
}

func TestRealOnCron(t *testing.T) {
	t.Parallel()
	g := realGraph(t,
		asset.AssetDecl{Key: "raw", Partitions: tw("daily")},
		asset.AssetDecl{Key: "rep", Partitions: tw("daily"), Deps: deps("raw"),
			Automation: &asset.AutomationDecl{Condition: asset.AutomationOnCron, Cron: "0 2 * * *"},
			Freshness:  &asset.FreshnessDecl{MaxLag: asset.Duration(6 * time.Hour)},
			Tags:       map[string]string{PriorityTag: "7"}},
	)
	now := time.Date(2026, 1, 5, 3, 0, 0, 0, time.UTC)
	m := newSim(t, g, now)
	res := m.s.Tick(now)
	if len(res.Requests) != 0 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0].Why, "raw partition \"2026-01-04\" is missing") {
		t.Fatalf("deps not ready: %v %+v", requested(res), res.Skipped)
	}
	m.materialize("raw", "2026-01-04", matOpt{})
	res = m.s.Tick(now)
	if got, want := requested(res), []string{"rep[2026-01-04]:on_cron"}; !slices.Equal(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	r := res.Requests[0]
	if tk := r.Reason.Tick; !tk.Equal(time.Date(2026, 1, 5, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("tick %v", tk)
	}
	if r.Deadline == nil || !r.Deadline.Equal(time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)) || r.Priority != 7 {
		t.Fatalf("deadline %v priority %d, want window end + 6h and the asset's priority tag", r.Deadline, r.Priority)
	}
	m.succeed(res.Requests[0], func(string) string { return "1" })
	if res := m.s.Tick(now.Add(time.Hour)); len(res.Requests) != 0 {
		t.Fatalf("same cron tick handled twice: %v", requested(res))
	}
	if res := m.rebuild().Tick(now.Add(time.Hour)); len(res.Requests) != 0 {
		t.Fatalf("after rebuild, same cron tick handled twice: %v", requested(res))
	}
	next := now.Add(24 * time.Hour)
	m.now = next
	m.materialize("raw", "2026-01-05", matOpt{})
	if got, want := requested(m.s.Tick(next)), []string{"rep[2026-01-05]:on_cron"}; !slices.Equal(got, want) {
		t.Fatalf("next day: %v, want %v", got, want)
	}
}

func TestRealFreshness(t *testing.T) {
	t.Parallel()
	lag := func(s string) asset.Duration { d, _ := asset.ParseDuration(s); return d }
	g := realGraph(t,
		asset.AssetDecl{Key: "d", Partitions: tw("daily"), Freshness: &asset.FreshnessDecl{MaxLag: lag("6h"), WarnLag: lag("2h")}},
		asset.AssetDecl{Key: "c", Partitions: tw("daily"), Freshness: &asset.FreshnessDecl{CronDeadline: "0 9 * * *"}},
		asset.AssetDecl{Key: "u", Freshness: &asset.FreshnessDecl{MaxLag: lag("1h")}},
	)
	at := func(d, h int) time.Time { return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		name      string
		asset     string
		key       string
		now       time.Time
		state     FreshnessState
		deadline  time.Time
		overdueBy time.Duration
	}{
		{"NotDueYet", "d", "2026-01-04", at(5, 1), FreshnessPass, at(5, 6), 0},
		{"PastWarnLag", "d", "2026-01-04", at(5, 3), FreshnessWarn, at(5, 6), 0},
		{"Overdue", "d", "2026-01-04", at(5, 7), FreshnessFail, at(5, 6), time.Hour},
		{"MaterializedPasses", "d", "2026-01-03", at(5, 7), FreshnessPass, at(4, 6), 0},
		{"CronDeadline", "c", "2026-01-04", at(5, 10), FreshnessFail, at(5, 9), time.Hour},
		{"UnpartitionedLagSinceLast", "u", "", at(5, 3), FreshnessFail, at(5, 2), time.Hour},
	}
	m := newSim(t, g, at(5, 0))
	m.now = at(5, 1)
	m.materialize("d", "2026-01-03", matOpt{})
	m.materialize("u", "", matOpt{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps, err := m.s.Status(asset.Key(tt.asset), tt.key, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			f := ps.Freshness
			if f.State != tt.state || !f.Deadline.Equal(tt.deadline) || f.OverdueBy != tt.overdueBy {
				t.Fatalf("freshness %+v, want %s due %s overdue %s", f, tt.state, tt.deadline, tt.overdueBy)
			}
		})
	}
	t.Run("LateCountsTheNotMissingFailing", func(t *testing.T) {
		t.Parallel()
		for _, key := range []asset.Key{"d", "c", "u"} {
			for _, now := range []time.Time{at(5, 1), at(5, 3), at(5, 7), at(5, 10)} {
				all, err := m.s.Partitions(key, 0, 1<<30, now)
				if err != nil {
					t.Fatal(err)
				}
				var want int64
				for _, ps := range all {
					if ps.Status != StatusMissing && ps.Freshness.State == FreshnessFail {
						want++
					}
				}
				got, err := m.s.Late(key, 0, 0, now)
				if err != nil || got != want {
					t.Fatalf("Late(%s) at %s = %d, %v; the statuses say %d", key, now, got, err, want)
				}
			}
		}
		if n, _ := m.s.Late("u", 0, 0, at(5, 3)); n != 1 {
			t.Fatalf("Late(u) past its lag = %d, want 1", n)
		}
	})
	t.Run("OverdueList", func(t *testing.T) {
		t.Parallel()
		over := m.s.Overdue(at(5, 7), false, 0)
		if len(over) == 0 || over[0].Asset != "d" || over[0].Key != "2026-01-01" || over[0].Freshness.OverdueBy != 3*24*time.Hour+time.Hour {
			t.Fatalf("overdue %+v", over)
		}
	})
}

// TestPropertyRealIncrementalEqualsRebuild: random catalog histories over
// a real hourly -> daily -> weekly chain with a self-dependent daily asset.
func TestPropertyRealIncrementalEqualsRebuild(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)
	g := realGraph(t,
		asset.AssetDecl{Key: "h", Partitions: tw("hourly")},
		asset.AssetDecl{Key: "d", Partitions: tw("daily"), Deps: deps("h"), CodeVersion: "1"},
		asset.AssetDecl{Key: "cum", Partitions: tw("daily"), Deps: []asset.DepDecl{{Asset: "d"},
			{Asset: "cum", Mapping: &asset.MappingDecl{TimeWindow: &asset.TimeWindowMappingDecl{StartOffset: -1, EndOffset: -1}}}}},
		asset.AssetDecl{Key: "w", Partitions: tw("weekly"), Deps: deps("cum")},
		asset.AssetDecl{Key: "u", Deps: deps("w")},
	)
	rapid.Check(t, func(t *rapid.T) {
		m := newSim(t, g, now)
		drawHistory(t, m)
		assertSameStatuses(t, m.s, m.rebuild())
	})
}

// TestRealMultiReindex: a multi-dimensional definition whose time
// dimension is not the first (dimensions sort by name: area, date) gets new
// indices for every partition when a day passes; facts and provenance
// follow the keys.
func TestRealMultiReindex(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	multi := &asset.PartitionsDecl{Multi: []asset.DimensionDecl{
		{Name: "date", TimeWindow: &asset.TimeWindowDecl{Schedule: "daily", Start: "2026-01-01"}},
		{Name: "area", Static: []string{"eu", "us"}},
	}}
	g := realGraph(t,
		asset.AssetDecl{Key: "up", Partitions: multi},
		asset.AssetDecl{Key: "down", Partitions: multi, Deps: deps("up")},
	)
	m := newSim(t, g, now)
	for _, key := range []string{"up", "down"} {
		as := m.s.assets[m.s.byKey[asset.Key(key)]]
		for i := 0; i < as.n; i++ {
			m.materialize(key, as.parts.Key(int64(i)), matOpt{version: "1"})
		}
	}
	m.materialize("up", asset.JoinMultiKey([]string{"us", "2026-01-01"}), matOpt{version: "2"})
	check := func(when string, missing int64) {
		t.Helper()
		c, _ := m.s.Counts("down")
		if c.Stale != 1 || c.Fresh != 3 || c.Missing != missing {
			t.Fatalf("%s: down %+v, want 1 stale, 3 fresh, %d missing", when, c, missing)
		}
		ps := m.status("down", asset.JoinMultiKey([]string{"us", "2026-01-01"}))
		if ps.Status != StatusStale || ps.Causes[0].UpstreamPartition != asset.JoinMultiKey([]string{"us", "2026-01-01"}) {
			t.Fatalf("%s: %+v", when, ps)
		}
	}
	check("before", 0)
	m.now = now.Add(24 * time.Hour)
	m.s.Advance(m.now)
	check("after a day", 2)
	assertSameStatuses(t, m.s, m.rebuild())
}
