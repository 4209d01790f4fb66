package planner

import (
	"fmt"
	"strconv"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/strata-data/strata/asset"
)

// ReasonKind says what made the planner request a run.
type ReasonKind string

// Reason kinds.
const (
	ReasonBackfill  ReasonKind = "backfill"
	ReasonEager     ReasonKind = "eager"
	ReasonOnCron    ReasonKind = "on_cron"
	ReasonOnMissing ReasonKind = "on_missing"
)

// Reason is why a run was requested: the condition that fired and a
// sentence saying why it fired.
type Reason struct {
	Kind   ReasonKind `json:"kind"`
	Detail string     `json:"detail"`
	// Tick is the cron tick an on_cron request answers.
	Tick time.Time `json:"tick,omitzero"`
}

// RunRequest is what the planner hands to the materializer: run the job of
// Asset for PartitionKeys (contiguous, at most the asset's
// backfill_policy.max_partitions_per_run).
type RunRequest struct {
	// ID identifies the request; the run created from it must carry it as
	// RunStateChanged.RequestID. It is unique within one State; the loop
	// may prefix it (e.g. with the leader's epoch) to make it global.
	ID            string     `json:"id"`
	Asset         asset.Key  `json:"asset"`
	PartitionKeys []string   `json:"partition_keys"`
	Reason        Reason     `json:"reason"`
	Priority      int        `json:"priority"`
	Deadline      *time.Time `json:"deadline,omitempty"` // earliest freshness deadline among the partitions
	BackfillID    string     `json:"backfill_id,omitempty"`
}

// Skip is a decision not to request an asset partition this tick, with
// its reason.
type Skip struct {
	Asset        asset.Key  `json:"asset"`
	PartitionKey string     `json:"partition_key"`
	Condition    ReasonKind `json:"condition"`
	Why          string     `json:"why"`
}

// TickResult is the outcome of one tick.
type TickResult struct {
	Requests []RunRequest `json:"requests"`
	// Skipped lists partitions a condition selected but that were not
	// requested, with why (at most MaxSkips).
	Skipped []Skip `json:"skipped,omitempty"`
	// SkippedTotal counts all skips, listed or not.
	SkippedTotal int `json:"skipped_total"`
}

// MaxSkips bounds TickResult.Skipped.
const MaxSkips = 1000

// PriorityTag is the asset tag whose integer value is the priority of the
// asset's automatic runs (default 0).
const PriorityTag = "priority"

// tick carries one tick's bookkeeping.
type tick struct {
	now     time.Time
	planned map[int]*roaring.Bitmap // partitions requested this tick, per asset
	res     *TickResult
}

func (t *tick) skip(a asset.Key, key string, cond ReasonKind, why string) {
	t.res.SkippedTotal++
	if len(t.res.Skipped) < MaxSkips {
		t.res.Skipped = append(t.res.Skipped, Skip{Asset: a, PartitionKey: key, Condition: cond, Why: why})
	}
}

func (t *tick) plannedOf(id int) *roaring.Bitmap {
	b := t.planned[id]
	if b == nil {
		b = roaring.New()
		t.planned[id] = b
	}
	return b
}

// Tick advances the state to now and evaluates every asset's automation
// condition and every active backfill, in topological order. The requests
// it returns are held as in flight until a RunStateChanged with their ID
// (or a RequestDropped) arrives, so a second Tick does not request them
// again.
func (s *State) Tick(now time.Time) *TickResult {
	if !now.Equal(s.now) {
		s.Advance(now)
	}
	t := &tick{now: now, planned: map[int]*roaring.Bitmap{}, res: &TickResult{}}
	for _, id := range s.bfOrder {
		if b := s.backfills[id]; b != nil {
			s.backfillRequests(b, t)
		}
	}
	for _, as := range s.assets {
		au := as.a.Decl.Automation
		if au == nil {
			continue
		}
		switch au.Condition {
		case asset.AutomationEager:
			s.eager(as, t)
		case asset.AutomationOnMissing:
			s.onMissing(as, t)
		case asset.AutomationOnCron:
			s.onCron(as, au.Cron, t)
		}
	}
	for _, as := range s.assets {
		as.dirty.Clear()
	}
	return t.res
}

// blocked says why partition i of as cannot run now, or "" when it can:
// a mapped upstream partition is missing (or required but nonexistent), in
// flight, or requested this tick.
func (s *State) blocked(as *assetState, i int, t *tick) string {
	for d := range as.deps {
		u := s.assets[as.deps[d].up]
		if s.requiresNonexistent(as, d, i) {
			return fmt.Sprintf("upstream %s: a required partition does not exist", u.a.Key)
		}
		why := ""
		planned := t.planned[u.id]
		s.upstreamRanges(as, d, i, func(lo, hi int) {
			for j := lo; j < hi && why == ""; j++ {
				switch {
				case u.st[j]&stMask == stMissing:
					why = fmt.Sprintf("upstream %s is missing", ref(u.a.Key, u.parts.Key(int64(j))))
				case u.inflight[int32(j)] > 0:
					why = fmt.Sprintf("upstream %s is in progress", ref(u.a.Key, u.parts.Key(int64(j))))
				case planned != nil && planned.Contains(uint32(j)):
					why = fmt.Sprintf("upstream %s is requested this tick", ref(u.a.Key, u.parts.Key(int64(j))))
				}
			}
		})
		if why != "" {
			return why
		}
	}
	return ""
}

// failedBlocks reports whether partition i's last attempt failed after
// everything it reads was last updated: retrying is the retry policy's
// job, not automation's.
func (s *State) failedBlocks(as *assetState, i int) bool {
	f, ok := as.fail[int32(i)]
	if !ok || f <= as.seq[i] {
		return false
	}
	for d := range as.deps {
		u := s.assets[as.deps[d].up]
		newer := false
		s.upstreamRanges(as, d, i, func(lo, hi int) {
			for j := lo; j < hi && !newer; j++ {
				newer = u.seq[j] > f
			}
		})
		if newer {
			return false
		}
	}
	return true
}

// latestWindow returns the indices of as's partitions in its latest time
// window (see inLatestWindow).
func (s *State) latestWindow(as *assetState) []int {
	if as.n == 0 {
		return nil
	}
	if as.parts.Def().Kind() == asset.KindTimeWindow {
		return []int{as.n - 1}
	}
	var out []int
	for i := 0; i < as.n; i++ {
		if inLatestWindow(as, i, as.n-1) {
			out = append(out, i)
		}
	}
	return out
}

// eager examines the candidates whose status or readiness changed since
// the last tick (a candidate skipped as blocked is examined again when
// whatever blocked it changes: an upstream lands, a run ends).
func (s *State) eager(as *assetState, t *tick) {
	if as.dirty.IsEmpty() {
		return
	}
	var cand []int
	as.dirty.Iterate(func(x uint32) bool {
		if i := int(x); i < as.n && as.cand.Contains(x) && eagerCandidate(as, i, as.st[i], as.n-1) {
			cand = append(cand, i)
		}
		return true
	})
	as.dirty.Clear()
	s.requestReady(as, cand, ReasonEager, t, func(i int) string {
		if as.st[i]&stMask == stMissing {
			return "missing, and every upstream partition it reads is materialized"
		}
		return "stale: " + s.describeCauses(as, i)
	}, time.Time{})
}

func (s *State) onMissing(as *assetState, t *tick) {
	var cand []int
	for _, i := range s.latestWindow(as) {
		if as.st[i]&stMask == stMissing {
			cand = append(cand, i)
		}
	}
	s.requestReady(as, cand, ReasonOnMissing, t, func(int) string {
		return "missing, and every upstream partition it reads is materialized"
	}, time.Time{})
}

func (s *State) onCron(as *assetState, expr string, t *tick) {
	c, err := s.cron(expr)
	if err != nil {
		t.skip(as.a.Key, "", ReasonOnCron, fmt.Sprintf("cron %q: %v", expr, err))
		return
	}
	loc := time.UTC
	if tw, ok := as.parts.Def().(*asset.TimeWindowDef); ok {
		loc = tw.Location()
	}
	tk, ok := latestTick(c, loc, t.now)
	if !ok || !tk.After(s.cronDone[as.id]) {
		return
	}
	cand := s.latestWindow(as)
	if n := s.requestReady(as, cand, ReasonOnCron, t, func(int) string {
		return fmt.Sprintf("cron %q ticked at %s; latest time window, its upstream partitions are ready", expr, tk.Format(time.RFC3339))
	}, tk); n > 0 || len(cand) == 0 {
		s.cronDone[as.id] = tk
	}
}

// latestTick returns the latest tick of c at or before now.
func latestTick(c *asset.Cron, loc *time.Location, now time.Time) (time.Time, bool) {
	for _, back := range []time.Duration{time.Hour, 24 * time.Hour, 8 * 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour} {
		t := c.Next(now.Add(-back), loc)
		if t.IsZero() || t.After(now) {
			continue
		}
		for {
			nx := c.Next(t, loc)
			if nx.IsZero() || nx.After(now) || !nx.After(t) {
				return t, true
			}
			t = nx
		}
	}
	return time.Time{}, false
}

// requestReady requests the candidates that are not in flight, not failed,
// and whose upstream partitions are ready, batched by the backfill policy;
// it returns how many partitions it requested.
func (s *State) requestReady(as *assetState, cand []int, kind ReasonKind, t *tick, why func(int) string, cronTick time.Time) int {
	var ready []int
	for _, i := range cand {
		key := as.parts.Key(int64(i))
		switch {
		case as.inflight[int32(i)] > 0:
			continue // already requested or running: not a skip
		case t.planned[as.id] != nil && t.planned[as.id].Contains(uint32(i)):
			continue
		case s.failedBlocks(as, i):
			t.skip(as.a.Key, key, kind, "last attempt failed and nothing it reads changed since; retries belong to the retry policy")
			continue
		}
		if b := s.blocked(as, i, t); b != "" {
			t.skip(as.a.Key, key, kind, b)
			continue
		}
		ready = append(ready, i)
		t.plannedOf(as.id).Add(uint32(i)) // a self-dependent next partition waits for it
	}
	for _, batch := range batches(ready, maxPerRun(as.a)) {
		r := s.emit(as, batch, Reason{Kind: kind, Detail: why(batch[0]), Tick: cronTick}, assetPriority(as.a), "", t)
		t.res.Requests = append(t.res.Requests, r)
	}
	return len(ready)
}

// emit registers a request as in flight and returns it.
func (s *State) emit(as *assetState, batch []int, reason Reason, prio int, backfillID string, t *tick) RunRequest {
	s.nextReq++
	id := fmt.Sprintf("%d.%d", s.cursor, s.nextReq)
	rec := &runRec{id: id, asset: as.id, backfill: backfillID, reason: reason, idx: make([]int32, len(batch))}
	keys := make([]string, len(batch))
	pl := t.plannedOf(as.id)
	var deadline *time.Time
	for k, i := range batch {
		rec.idx[k] = int32(i)
		keys[k] = as.parts.Key(int64(i))
		pl.Add(uint32(i))
		if f := s.freshness(as, i, t.now); !f.Deadline.IsZero() && (deadline == nil || f.Deadline.Before(*deadline)) {
			d := f.Deadline
			deadline = &d
		}
	}
	s.requests[id] = rec
	s.hold(rec)
	return RunRequest{ID: id, Asset: as.a.Key, PartitionKeys: keys, Reason: reason, Priority: prio, Deadline: deadline, BackfillID: backfillID}
}

// batches cuts sorted indices into runs of contiguous indices of at most max.
func batches(idx []int, max int) [][]int {
	var out [][]int
	for k := 0; k < len(idx); {
		e := k + 1
		for e < len(idx) && e-k < max && idx[e] == idx[e-1]+1 {
			e++
		}
		out = append(out, idx[k:e])
		k = e
	}
	return out
}

// maxPerRun is the asset's max_partitions_per_run (default 1). A
// self-dependent asset runs one partition per run: each partition reads
// the one before it, which must have landed first.
func maxPerRun(a *asset.Asset) int {
	for _, d := range a.Deps {
		if d.UpID == a.ID {
			return 1
		}
	}
	if p := a.Decl.BackfillPolicy; p != nil && p.MaxPartitionsPerRun > 0 {
		return p.MaxPartitionsPerRun
	}
	return 1
}

func assetPriority(a *asset.Asset) int {
	if v, ok := a.Decl.Tags[PriorityTag]; ok {
		if p, err := strconv.Atoi(v); err == nil {
			return p
		}
	}
	return 0
}
