package planner

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"pgregory.net/rapid"

	"github.com/strata-data/strata/asset"
)

var propNow = t0.Add(6 * 24 * time.Hour) // 6 daily partitions

// drawGraph draws a small graph of unpartitioned, daily and static assets
// with identity, all and time-window mappings (self-dependent daily assets
// included), code versions, automation and batching.
func drawGraph(t *rapid.T, automation bool) *testGraph {
	n := rapid.IntRange(1, 6).Draw(t, "assets")
	kinds := make([]string, n)
	nodes := make([]node, n)
	var selfDeps []int
	for k := range nodes {
		kinds[k] = rapid.SampledFrom([]string{"unpartitioned", "daily", "static"}).Draw(t, "kind")
		nd := node{key: fmt.Sprintf("a%d", k)}
		switch kinds[k] {
		case "daily":
			nd.parts = daily()
		case "static":
			nd.parts = static("x", "y", "z")
		}
		for u := 0; u < k; u++ {
			if !rapid.Bool().Draw(t, "dep") {
				continue
			}
			var m asset.Mapping = allMap{}
			if kinds[u] == kinds[k] && kinds[k] != "unpartitioned" {
				opts := []string{"identity", "all"}
				if kinds[k] == "daily" {
					opts = append(opts, "window-1,0", "window-1,-1")
				}
				switch rapid.SampledFrom(opts).Draw(t, "mapping") {
				case "identity":
					m = identityMap{}
				case "window-1,0":
					m = windowMap{startOff: -1}
				case "window-1,-1":
					m = windowMap{startOff: -1, endOff: -1}
				}
			}
			nd.deps = append(nd.deps, dep{up: fmt.Sprintf("a%d", u), m: m})
		}
		nd.decl.CodeVersion = rapid.SampledFrom([]string{"", "1"}).Draw(t, "code")
		if automation {
			switch rapid.SampledFrom([]string{"none", "eager", "on_missing"}).Draw(t, "automation") {
			case "eager":
				nd.decl.Automation = &asset.AutomationDecl{Condition: asset.AutomationEager}
			case "on_missing":
				nd.decl.Automation = &asset.AutomationDecl{Condition: asset.AutomationOnMissing}
			}
		}
		if per := rapid.IntRange(0, 3).Draw(t, "max_per_run"); per > 0 {
			nd.decl.BackfillPolicy = &asset.BackfillPolicyDecl{MaxPartitionsPerRun: per}
		}
		if kinds[k] == "daily" && rapid.IntRange(0, 4).Draw(t, "self") == 0 {
			selfDeps = append(selfDeps, k)
		}
		nodes[k] = nd
	}
	g := graph(t, nodes...)
	for _, k := range selfDeps {
		a := g.list[k]
		a.Deps = append(a.Deps, asset.Dep{Upstream: a.Key, UpID: k, Mapping: windowMap{startOff: -1, endOff: -1}})
	}
	return g
}

// drawHistory plays random catalog events: materializations in any order
// (with or without data versions and provenance, old or new code), queued,
// failed and succeeded runs.
func drawHistory(t *rapid.T, m *sim) {
	steps := rapid.IntRange(0, 40).Draw(t, "steps")
	for range steps {
		as := m.s.assets[rapid.IntRange(0, len(m.s.assets)-1).Draw(t, "asset")]
		if as.n == 0 {
			continue
		}
		key := as.parts.Key(int64(rapid.IntRange(0, as.n-1).Draw(t, "partition")))
		switch rapid.IntRange(0, 6).Draw(t, "event") {
		case 6:
			m.apply(AssetsApplied{Seq: m.next(), Graph: redeclare(t, m.s.Graph())})
			m.g = m.s.Graph()
		case 0, 1, 2:
			m.materialize(string(as.a.Key), key, matOpt{
				version: rapid.SampledFrom([]string{"", "v1", "v2"}).Draw(t, "version"),
				code:    rapid.SampledFrom([]string{"", "1", "decl"}).Draw(t, "code"),
				noProv:  rapid.Bool().Draw(t, "noProv"),
			})
		case 3:
			m.runN++
			m.apply(RunStateChanged{Seq: m.next(), RunID: fmt.Sprintf("x%d", m.runN), Asset: as.a.Key, PartitionKeys: []string{key}, State: RunQueued})
		case 4:
			m.runN++
			m.apply(RunStateChanged{Seq: m.next(), RunID: fmt.Sprintf("x%d", m.runN), Asset: as.a.Key, PartitionKeys: []string{key}, State: RunFailed})
		case 5:
			// Finish the open run with the smallest ID, if any, successfully.
			ids := slices.Sorted(maps.Keys(m.s.runs))
			for _, id := range ids {
				r := m.s.runs[id]
				ra := m.s.assets[r.asset]
				var keys []string
				for _, i := range r.idx {
					keys = append(keys, ra.parts.Key(int64(i)))
				}
				for _, k := range keys {
					m.materialize(string(ra.a.Key), k, matOpt{version: "v3", code: "decl"})
				}
				m.apply(RunStateChanged{Seq: m.next(), RunID: id, Asset: ra.a.Key, PartitionKeys: keys, State: RunSucceeded})
				break
			}
		}
	}
}

// redeclare returns a copy of g as after an ApplyAssets that changed some
// code versions and reordered some static definitions' keys.
func redeclare(t *rapid.T, g Graph) Graph {
	out := &testGraph{}
	for _, a := range g.Assets() {
		c := *a
		c.Deps = slices.Clone(a.Deps)
		if rapid.IntRange(0, 3).Draw(t, "new_code") == 0 {
			c.Decl.CodeVersion = rapid.SampledFrom([]string{"", "1", "2"}).Draw(t, "code_version")
		}
		if sd, ok := a.Partitions.(*staticDef); ok && rapid.Bool().Draw(t, "reorder") {
			keys := slices.Clone(sd.keys)
			slices.Reverse(keys)
			c.Partitions = &staticDef{keys: keys}
		}
		out.list = append(out.list, &c)
	}
	return out
}

func TestPropertyIncrementalEqualsRebuild(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		m := newSim(t, drawGraph(t, false), propNow)
		drawHistory(t, m)
		assertSameStatuses(t, m.s, m.rebuild())
	})
}

func TestPropertyCausesNameRealUpstreamPartitions(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		m := newSim(t, drawGraph(t, false), propNow)
		drawHistory(t, m)
		s := m.s
		for _, as := range s.assets {
			for i := 0; i < as.n; i++ {
				key := as.parts.Key(int64(i))
				ps, err := s.Status(as.a.Key, key, propNow)
				if err != nil {
					t.Fatalf("status: %v", err)
				}
				if (ps.DataStatus == StatusStale) != (len(ps.Causes) > 0) && ps.DataStatus != StatusMissing {
					t.Fatalf("%s %q: %s with causes %+v", as.a.Key, key, ps.DataStatus, ps.Causes)
				}
				inputs, _ := s.Inputs(as.a.Key, key)
				for _, c := range ps.Causes {
					checkCause(t, s, as, key, c, inputs)
				}
			}
		}
	})
}

func checkCause(t *rapid.T, s *State, as *assetState, key string, c Cause, inputs []PartitionRef) {
	if c.Kind == CauseCodeVersionChanged {
		if c.OldCodeVersion == c.NewCodeVersion {
			t.Fatalf("%s %q: code cause without a change: %+v", as.a.Key, key, c)
		}
		return
	}
	isDep := false
	for _, d := range as.a.Deps {
		isDep = isDep || d.Upstream == c.UpstreamAsset
	}
	if !isDep {
		t.Fatalf("%s %q: cause %+v names a non-upstream asset", as.a.Key, key, c)
	}
	if c.Nonexistent {
		return
	}
	if !slices.Contains(inputs, PartitionRef{Asset: c.UpstreamAsset, Key: c.UpstreamPartition}) {
		t.Fatalf("%s %q: cause %+v names a partition it does not read (reads %v)", as.a.Key, key, c, inputs)
	}
	if c.Kind == CauseUpstreamStale {
		root, err := s.Status(c.RootAsset, c.RootPartition, propNow)
		if err != nil || root.DataStatus != StatusStale || !slices.Contains(causeKinds(root.Causes), c.RootKind) || c.RootKind == CauseUpstreamStale {
			t.Fatalf("%s %q: root of %+v is %+v (%v)", as.a.Key, key, c, root, err)
		}
	}
}

// TestPropertyReplanYieldsNothing: once a tick's requests are queued,
// re-planning requests nothing new; no request includes a partition whose
// mapped upstream is missing or in flight.
func TestPropertyReplanYieldsNothing(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		m := newSim(t, drawGraph(t, true), propNow)
		drawHistory(t, m)
		res := m.s.Tick(propNow)
		checkRequests(t, m.s, res)
		for _, r := range res.Requests {
			m.runN++
			m.apply(RunStateChanged{Seq: m.next(), RunID: fmt.Sprintf("q%d", m.runN), RequestID: r.ID, Asset: r.Asset, PartitionKeys: r.PartitionKeys, State: RunQueued, Reason: r.Reason})
		}
		if again := m.s.Tick(propNow); len(again.Requests) != 0 {
			t.Fatalf("re-plan after queueing %v requested %v", requested(res), requested(again))
		}
		// And after a restart (full rebuild) too.
		if again := m.rebuild().Tick(propNow); len(again.Requests) != 0 {
			t.Fatalf("re-plan after rebuild requested %v", requested(again))
		}
	})
}

func checkRequests(t *rapid.T, s *State, res *TickResult) {
	seen := map[PartitionRef]bool{}
	for _, r := range res.Requests {
		for _, k := range r.PartitionKeys {
			ref := PartitionRef{Asset: r.Asset, Key: k}
			if seen[ref] {
				t.Fatalf("%v requested twice in one tick", ref)
			}
			seen[ref] = true
		}
	}
	for _, r := range res.Requests {
		if r.Reason.Kind == ReasonBackfill {
			continue // checked against the backfill's own progress
		}
		for _, k := range r.PartitionKeys {
			inputs, err := s.Inputs(r.Asset, k)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range inputs {
				ps, _ := s.Status(in.Asset, in.Key, propNow)
				if ps.DataStatus == StatusMissing {
					t.Fatalf("request %s %q reads missing %v", r.Asset, k, in)
				}
				if seen[in] {
					t.Fatalf("request %s %q reads %v requested in the same tick", r.Asset, k, in)
				}
			}
		}
	}
}

// TestPropertyBackfillCompletesFresh: a backfill of every partition of every
// asset, every requested run succeeding, ends with every partition fresh
// and the backfill done with every target succeeded; no request reads a
// missing partition.
func TestPropertyBackfillCompletesFresh(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		g := drawGraph(t, false)
		m := newSim(t, g, propNow)
		drawHistory(t, m)
		// Runs still open from the history end (succeed) first.
		for _, id := range slices.Sorted(maps.Keys(m.s.runs)) {
			r := m.s.runs[id]
			ra := m.s.assets[r.asset]
			var keys []string
			for _, i := range r.idx {
				keys = append(keys, ra.parts.Key(int64(i)))
			}
			m.apply(RunStateChanged{Seq: m.next(), RunID: id, Asset: ra.a.Key, PartitionKeys: keys, State: RunCanceled})
		}
		var keys []asset.Key
		for _, a := range g.list {
			keys = append(keys, a.Key)
		}
		plan, err := m.s.StartBackfill(BackfillSpec{ID: "all", Assets: keys, Filter: FilterAll})
		if err != nil {
			t.Fatal(err)
		}
		requestedOnce := map[PartitionRef]bool{}
		for round := 0; ; round++ {
			if round > 100 {
				t.Fatalf("no progress after 100 ticks")
			}
			res := m.s.Tick(propNow)
			if len(res.Requests) == 0 {
				break
			}
			for _, r := range res.Requests {
				for _, k := range r.PartitionKeys {
					inputs, _ := m.s.Inputs(r.Asset, k)
					for _, in := range inputs {
						if ps, _ := m.s.Status(in.Asset, in.Key, propNow); ps.DataStatus == StatusMissing {
							t.Fatalf("backfill request %s %q reads missing %v", r.Asset, k, in)
						}
					}
				}
				max := maxPerRun(m.s.assets[m.s.byKey[r.Asset]].a)
				if len(r.PartitionKeys) > max {
					t.Fatalf("request %v has more than max_partitions_per_run %d", r, max)
				}
				for _, k := range r.PartitionKeys {
					ref := PartitionRef{Asset: r.Asset, Key: k}
					if requestedOnce[ref] {
						t.Fatalf("%v requested twice by the backfill", ref)
					}
					requestedOnce[ref] = true
				}
				m.succeed(r, func(string) string { return fmt.Sprintf("bf%d", m.seq) })
			}
		}
		p, _ := m.s.BackfillProgress("all")
		if !p.Done || p.Succeeded != plan.Partitions {
			t.Fatalf("progress %+v, plan %d partitions", p, plan.Partitions)
		}
		if int64(len(requestedOnce)) != plan.Partitions {
			t.Fatalf("%d partitions requested, plan said %d", len(requestedOnce), plan.Partitions)
		}
		for _, as := range m.s.assets {
			for i := 0; i < as.n; i++ {
				if as.status(i) != StatusFresh {
					ps, _ := m.s.Status(as.a.Key, as.parts.Key(int64(i)), propNow)
					t.Fatalf("%s %q is %s after the backfill: %+v", as.a.Key, ps.Key, ps.Status, ps.Causes)
				}
			}
		}
	})
}

// TestPropertyAgingPreventsStarvation: under a constant stream of work at
// a higher priority (more than the capacity can take), a request of the
// other class still runs within a bound, whichever class is the
// high-priority one (backfill over automatic, or automatic over backfill).
func TestPropertyAgingPreventsStarvation(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		gap := rapid.IntRange(1, 10).Draw(t, "priority_gap")
		arrivals := rapid.IntRange(1, 3).Draw(t, "arrivals_per_step")
		capacity := rapid.IntRange(1, 3).Draw(t, "capacity_per_step")
		backlog := rapid.IntRange(0, 5).Draw(t, "initial_backlog")
		highIsBackfill := rapid.Bool().Draw(t, "high_is_backfill")
		step := time.Minute
		o := Ordering{AgingStep: 5 * time.Minute}

		mk := func(id string, prio int, at time.Time, backfill bool) Queued {
			r := RunRequest{ID: id, Priority: prio, Reason: Reason{Kind: ReasonEager}}
			if backfill {
				r.BackfillID, r.Reason.Kind = "bf", ReasonBackfill
			}
			return Queued{Request: r, EnqueuedAt: at}
		}
		now := t0
		var q []Queued
		for k := range backlog {
			q = append(q, mk(fmt.Sprintf("h-%d", k), gap, now, highIsBackfill))
		}
		q = append(q, mk("low", 0, now, !highIsBackfill))
		// A high item arriving at s after low is behind it once
		// t/A > gap + (t-s)/A, i.e. when s > gap*A: only the arrivals
		// before that and the backlog can go first.
		agingSteps := gap * int(o.AgingStep/step)
		bound := agingSteps + (backlog+arrivals*(agingSteps+1))/capacity + 2
		for tick := 0; ; tick++ {
			if tick > bound {
				t.Fatalf("low item not dispatched within %d steps", bound)
			}
			for k := range arrivals {
				q = append(q, mk(fmt.Sprintf("h%d-%d", tick, k), gap, now, highIsBackfill))
			}
			var run []Queued
			run, q = o.Next(q, capacity, now)
			if slices.ContainsFunc(run, func(x Queued) bool { return x.Request.ID == "low" }) {
				return
			}
			q = slices.Clone(q)
			now = now.Add(step)
		}
	})
}

// TestPropertyAutomationConverges: with every requested run succeeding,
// ticking reaches a state with nothing to request, in which no partition an
// automation condition selects is left unless something blocks it (an
// upstream partition missing, or its own last attempt failed).
func TestPropertyAutomationConverges(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		m := newSim(t, drawGraph(t, true), propNow)
		drawHistory(t, m)
		for _, id := range slices.Sorted(maps.Keys(m.s.runs)) {
			r := m.s.runs[id]
			ra := m.s.assets[r.asset]
			var keys []string
			for _, i := range r.idx {
				keys = append(keys, ra.parts.Key(int64(i)))
			}
			m.apply(RunStateChanged{Seq: m.next(), RunID: id, Asset: ra.a.Key, PartitionKeys: keys, State: RunCanceled})
		}
		for round := 0; ; round++ {
			if round > 60 {
				t.Fatalf("still requesting after 60 ticks")
			}
			res := m.s.Tick(propNow)
			checkRequests(t, m.s, res)
			if len(res.Requests) == 0 {
				break
			}
			for _, r := range res.Requests {
				m.succeed(r, func(string) string { return fmt.Sprintf("auto%d", m.seq) })
			}
		}
		tk := &tick{now: propNow, planned: map[int]*roaring.Bitmap{}, res: &TickResult{}}
		for _, as := range m.s.assets {
			au := as.a.Decl.Automation
			if au == nil {
				continue
			}
			for i := 0; i < as.n; i++ {
				var selected bool
				switch au.Condition {
				case asset.AutomationEager:
					selected = eagerCandidate(as, i, as.st[i], as.n-1)
				case asset.AutomationOnMissing:
					selected = as.st[i]&stMask == stMissing && inLatestWindow(as, i, as.n-1)
				}
				if !selected || m.s.failedBlocks(as, i) {
					continue
				}
				if why := m.s.blocked(as, i, tk); why == "" || !strings.Contains(why, "missing") && !strings.Contains(why, "does not exist") {
					ps, _ := m.s.Status(as.a.Key, as.parts.Key(int64(i)), propNow)
					t.Fatalf("%s %q left %s (%+v), blocked: %q", as.a.Key, ps.Key, ps.Status, ps.Causes, why)
				}
			}
		}
	})
}
