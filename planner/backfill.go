package planner

import (
	"errors"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/strata-data/strata/asset"
)

// Filter narrows a backfill to partitions in some status at plan time.
type Filter string

// Backfill filters.
const (
	FilterAll     Filter = "all"
	FilterMissing Filter = "missing"
	FilterStale   Filter = "stale" // stale or missing: everything not fresh
	FilterFailed  Filter = "failed"
)

// PartitionSelector picks partitions of each selected asset. The zero value
// selects every partition. Fields combine by intersection.
type PartitionSelector struct {
	// Keys selects these partition keys (an asset lacking a key skips it).
	Keys []string `json:"keys,omitempty"`
	// From and To select the inclusive index range between two keys, for
	// assets having both keys.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Window selects time-windowed partitions whose window lies inside
	// [Start, End); it leaves partitions without a window out.
	Window *asset.TimeWindow `json:"window,omitempty"`
}

// BackfillSpec is a user's backfill request: assets x partitions x filter.
type BackfillSpec struct {
	ID         string            `json:"id"`
	Assets     []asset.Key       `json:"assets"`
	Partitions PartitionSelector `json:"partitions"`
	Filter     Filter            `json:"filter"`
	Priority   int               `json:"priority"`
}

// ErrBackfillExists is returned when starting a backfill whose ID is active.
var ErrBackfillExists = errors.New("backfill already exists")

// ErrUnknownAsset is returned for a selection naming an undeclared asset.
var ErrUnknownAsset = errors.New("unknown asset")

// BackfillPlan is what a backfill will do: per asset, how many partitions
// and how many runs (contiguous partitions batched up to the asset's
// max_partitions_per_run), and the status of those partitions now. A dry
// run returns it without starting anything.
type BackfillPlan struct {
	ID         string              `json:"id"`
	Assets     []BackfillAssetPlan `json:"assets"`
	Partitions int64               `json:"partitions"`
	Runs       int64               `json:"runs"`
}

// BackfillAssetPlan is one asset's share of a backfill plan.
type BackfillAssetPlan struct {
	Asset      asset.Key `json:"asset"`
	Partitions int64     `json:"partitions"`
	Runs       int64     `json:"runs"`
	Now        Counts    `json:"now"` // status of the targeted partitions at plan time
}

// BackfillProgress counts a backfill's partitions by state. Every target
// partition is in exactly one of Pending, Requested, Succeeded, Failed and
// Skipped; the backfill is Done when none is Pending or Requested.
type BackfillProgress struct {
	ID        string `json:"id"`
	Targets   int64  `json:"targets"`
	Pending   int64  `json:"pending"`   // not requested yet (waiting for upstream, or for the next tick)
	Requested int64  `json:"requested"` // requested, not finished
	Succeeded int64  `json:"succeeded"`
	Failed    int64  `json:"failed"`
	Skipped   int64  `json:"skipped"` // an upstream partition of the same backfill failed
	Done      bool   `json:"done"`
}

type backfill struct {
	spec     BackfillSpec
	startSeq int64
	assets   []*bfAsset // topological order
}

type bfAsset struct {
	id        int
	key       asset.Key
	def       asset.PartitionsDef
	target    *roaring.Bitmap
	requested *roaring.Bitmap
	done      *roaring.Bitmap
	failed    *roaring.Bitmap
	skipped   *roaring.Bitmap
}

// PlanBackfill resolves spec against the current state: which partitions
// of which assets, how many runs. It changes nothing.
func (s *State) PlanBackfill(spec BackfillSpec) (*BackfillPlan, error) {
	b, err := s.resolve(spec)
	if err != nil {
		return nil, err
	}
	return s.planOf(b), nil
}

// StartBackfill resolves spec and registers the backfill; its requests come
// out of the following ticks, each downstream partition once the upstream
// partitions of the same backfill it reads have succeeded.
func (s *State) StartBackfill(spec BackfillSpec) (*BackfillPlan, error) {
	if _, ok := s.backfills[spec.ID]; ok {
		return nil, fmt.Errorf("start backfill %q: %w", spec.ID, ErrBackfillExists)
	}
	b, err := s.resolve(spec)
	if err != nil {
		return nil, err
	}
	s.backfills[spec.ID] = b
	s.bfOrder = append(s.bfOrder, spec.ID)
	return s.planOf(b), nil
}

// CancelBackfill forgets a backfill: nothing more is requested for it (runs
// already requested are the materializer's to cancel).
func (s *State) CancelBackfill(id string) bool {
	if _, ok := s.backfills[id]; !ok {
		return false
	}
	delete(s.backfills, id)
	for k, v := range s.bfOrder {
		if v == id {
			s.bfOrder = append(s.bfOrder[:k], s.bfOrder[k+1:]...)
			break
		}
	}
	return true
}

// Backfills returns the IDs of the active backfills, oldest first.
func (s *State) Backfills() []string { return append([]string(nil), s.bfOrder...) }

// BackfillProgress reports a backfill's progress.
func (s *State) BackfillProgress(id string) (BackfillProgress, bool) {
	b, ok := s.backfills[id]
	if !ok {
		return BackfillProgress{}, false
	}
	p := BackfillProgress{ID: id}
	for _, ba := range b.assets {
		t := int64(ba.target.GetCardinality())
		p.Targets += t
		done := int64(ba.done.GetCardinality())
		failed := int64(roaring.AndNot(ba.failed, ba.done).GetCardinality())
		skipped := int64(roaring.AndNot(roaring.AndNot(ba.skipped, ba.done), ba.failed).GetCardinality())
		open := roaring.AndNot(ba.requested, ba.done)
		open.AndNot(ba.failed)
		open.AndNot(ba.skipped)
		req := int64(open.GetCardinality())
		p.Succeeded += done
		p.Failed += failed
		p.Skipped += skipped
		p.Requested += req
		p.Pending += t - done - failed - skipped - req
	}
	p.Done = p.Pending == 0 && p.Requested == 0
	return p, true
}

func (s *State) resolve(spec BackfillSpec) (*backfill, error) {
	if spec.ID == "" {
		return nil, fmt.Errorf("backfill: id is empty")
	}
	switch spec.Filter {
	case "":
		spec.Filter = FilterAll
	case FilterAll, FilterMissing, FilterStale, FilterFailed:
	default:
		return nil, fmt.Errorf("backfill %q: filter %q is not one of all, missing, stale, failed", spec.ID, spec.Filter)
	}
	b := &backfill{spec: spec, startSeq: s.cursor}
	seen := map[int]bool{}
	for _, k := range spec.Assets {
		id, ok := s.byKey[k]
		if !ok {
			return nil, fmt.Errorf("backfill %q: asset %q: %w", spec.ID, k, ErrUnknownAsset)
		}
		seen[id] = true
	}
	for id, as := range s.assets { // topological order
		if !seen[id] {
			continue
		}
		t, err := s.selectPartitions(as, spec.Partitions)
		if err != nil {
			return nil, fmt.Errorf("backfill %q: asset %s: %w", spec.ID, as.a.Key, err)
		}
		s.filter(as, t, spec.Filter)
		b.assets = append(b.assets, &bfAsset{id: id, key: as.a.Key, def: as.parts.Def(), target: t,
			requested: roaring.New(), done: roaring.New(), failed: roaring.New(), skipped: roaring.New()})
	}
	return b, nil
}

func (s *State) selectPartitions(as *assetState, sel PartitionSelector) (*roaring.Bitmap, error) {
	t := roaring.New()
	t.AddRange(0, uint64(as.n))
	if len(sel.Keys) > 0 {
		k := roaring.New()
		for _, key := range sel.Keys {
			if j, ok := as.parts.Index(key); ok {
				k.Add(uint32(j))
			}
		}
		t.And(k)
	}
	if sel.From != "" || sel.To != "" {
		lo, hi := int64(0), int64(as.n)-1
		if sel.From != "" {
			j, ok := as.parts.Index(sel.From)
			if !ok {
				return roaring.New(), nil
			}
			lo = j
		}
		if sel.To != "" {
			j, ok := as.parts.Index(sel.To)
			if !ok {
				return roaring.New(), nil
			}
			hi = j
		}
		r := roaring.New()
		if hi >= lo {
			r.AddRange(uint64(lo), uint64(hi+1))
		}
		t.And(r)
	}
	if sel.Window != nil {
		w, ok := as.parts.(asset.Windowed)
		if !ok {
			return roaring.New(), nil
		}
		r := roaring.New()
		// Windows are in time order for time-window definitions: find
		// the first inside with a binary search, then walk.
		it := t.Iterator()
		for it.HasNext() {
			i := it.Next()
			win := w.Window(int64(i))
			if !win.Start.Before(sel.Window.Start) && !win.End.After(sel.Window.End) {
				r.Add(i)
			}
		}
		t = r
	}
	return t, nil
}

func (s *State) filter(as *assetState, t *roaring.Bitmap, f Filter) {
	if f == FilterAll {
		return
	}
	keep := roaring.New()
	it := t.Iterator()
	for it.HasNext() {
		i := it.Next()
		v := as.st[i] & stMask
		switch f {
		case FilterMissing:
			if v == stMissing {
				keep.Add(i)
			}
		case FilterStale:
			if v != stFresh {
				keep.Add(i)
			}
		case FilterFailed:
			if fs, ok := as.fail[int32(i)]; ok && fs > as.seq[i] {
				keep.Add(i)
			}
		}
	}
	t.And(keep)
}

func (s *State) planOf(b *backfill) *BackfillPlan {
	p := &BackfillPlan{ID: b.spec.ID}
	for _, ba := range b.assets {
		as := s.assets[ba.id]
		ap := BackfillAssetPlan{Asset: ba.key, Partitions: int64(ba.target.GetCardinality())}
		max := int64(maxPerRun(as.a))
		var lo, prev int64 = -1, -1
		flush := func() {
			if lo >= 0 {
				n := prev - lo + 1
				ap.Runs += (n + max - 1) / max
			}
		}
		it := ba.target.Iterator()
		for it.HasNext() {
			i := int64(it.Next())
			if i != prev+1 || lo < 0 {
				flush()
				lo = i
			}
			prev = i
			countStatus(&ap.Now, as, int(i))
		}
		flush()
		ap.Now.Partitions = ap.Partitions
		p.Assets = append(p.Assets, ap)
		p.Partitions += ap.Partitions
		p.Runs += ap.Runs
	}
	return p
}

func countStatus(c *Counts, as *assetState, i int) {
	switch as.status(i) {
	case StatusMissing:
		c.Missing++
	case StatusFresh:
		c.Fresh++
	case StatusStale:
		c.Stale++
	case StatusRunning:
		c.Running++
	case StatusFailed:
		c.Failed++
	}
}

// status is the display status of partition i.
func (as *assetState) status(i int) Status {
	if len(as.inflight) > 0 && as.inflight[int32(i)] > 0 {
		return StatusRunning
	}
	if len(as.fail) > 0 {
		if f, ok := as.fail[int32(i)]; ok && f > as.seq[i] {
			return StatusFailed
		}
	}
	return Status(as.st[i] & stMask)
}

func (b *backfill) asset(id int) *bfAsset {
	for _, ba := range b.assets {
		if ba.id == id {
			return ba
		}
	}
	return nil
}

func (b *backfill) materialized(id, j int, seq int64) {
	if seq <= b.startSeq {
		return
	}
	if ba := b.asset(id); ba != nil && ba.target.Contains(uint32(j)) {
		ba.done.Add(uint32(j))
		ba.failed.Remove(uint32(j))
		ba.skipped.Remove(uint32(j))
	}
}

func (b *backfill) runEnded(s *State, id int, idx []int32, st RunState) {
	ba := b.asset(id)
	if ba == nil {
		return
	}
	for _, i := range idx {
		switch st {
		case RunSucceeded:
			if ba.target.Contains(uint32(i)) {
				ba.done.Add(uint32(i))
			}
		case RunFailed, RunCanceled:
			if ba.target.Contains(uint32(i)) && !ba.done.Contains(uint32(i)) {
				ba.failed.Add(uint32(i))
			}
		}
	}
}

func (b *backfill) dropped(r *runRec) {
	if ba := b.asset(r.asset); ba != nil {
		for _, i := range r.idx {
			ba.requested.Remove(uint32(i))
		}
	}
}

// regraph re-resolves asset IDs after the graph changed; an asset that left
// the graph, or whose partitions definition changed, leaves the backfill.
func (b *backfill) regraph(s *State) {
	keep := b.assets[:0]
	for _, ba := range b.assets {
		id, ok := s.byKey[ba.key]
		if !ok || !s.assets[id].parts.Def().Equal(ba.def) {
			continue
		}
		ba.id = id
		keep = append(keep, ba)
	}
	b.assets = keep
	// Keep topological order under the new IDs.
	for i := 1; i < len(b.assets); i++ {
		for k := i; k > 0 && b.assets[k].id < b.assets[k-1].id; k-- {
			b.assets[k], b.assets[k-1] = b.assets[k-1], b.assets[k]
		}
	}
}

// backfillRequests emits the backfill's requests that are ready: a target
// partition not yet requested whose upstream partitions in the same
// backfill have all succeeded, and whose other upstream partitions exist,
// are materialized and are not in flight. A partition reading a failed (or
// skipped) partition of the backfill is skipped.
func (s *State) backfillRequests(b *backfill, t *tick) {
	for _, ba := range b.assets {
		as := s.assets[ba.id]
		open := roaring.AndNot(ba.target, ba.requested)
		open.AndNot(ba.done)
		open.AndNot(ba.failed)
		open.AndNot(ba.skipped)
		if open.IsEmpty() {
			continue
		}
		var ready []int
		it := open.Iterator()
		for it.HasNext() {
			i := int(it.Next())
			if i >= as.n {
				continue
			}
			why, skip := s.backfillBlocked(b, as, i, t)
			if skip {
				ba.skipped.Add(uint32(i))
				t.skip(as.a.Key, as.parts.Key(int64(i)), ReasonBackfill, why)
				continue
			}
			if why != "" {
				continue // waiting: not worth a skip record per tick
			}
			if as.inflight[int32(i)] > 0 {
				continue // running for another reason; done when it lands
			}
			ready = append(ready, i)
		}
		for _, batch := range batches(ready, maxPerRun(as.a)) {
			r := s.emit(as, batch, Reason{Kind: ReasonBackfill, Detail: fmt.Sprintf("backfill %s (filter %s)", b.spec.ID, b.spec.Filter)}, b.spec.Priority, b.spec.ID, t)
			for _, i := range batch {
				ba.requested.Add(uint32(i))
			}
			t.res.Requests = append(t.res.Requests, r)
		}
	}
}

// backfillBlocked says why partition i of as is not ready in backfill b; skip
// reports that it never will be (an upstream of the backfill failed).
func (s *State) backfillBlocked(b *backfill, as *assetState, i int, t *tick) (string, bool) {
	for d := range as.deps {
		u := s.assets[as.deps[d].up]
		if s.requiresNonexistent(as, d, i) {
			return fmt.Sprintf("upstream %s: a required partition does not exist", u.a.Key), false
		}
		ub := b.asset(u.id)
		why, skip := "", false
		planned := t.planned[u.id]
		s.upstreamRanges(as, d, i, func(lo, hi int) {
			for j := lo; j < hi && why == ""; j++ {
				if ub != nil && ub.target.Contains(uint32(j)) {
					switch {
					case ub.done.Contains(uint32(j)):
					case ub.failed.Contains(uint32(j)) || ub.skipped.Contains(uint32(j)):
						why, skip = fmt.Sprintf("upstream %s failed in this backfill", ref(u.a.Key, u.parts.Key(int64(j)))), true
					default:
						why = "waiting for upstream of the backfill"
					}
					continue
				}
				switch {
				case u.st[j]&stMask == stMissing:
					why = fmt.Sprintf("upstream %s is missing and not in the backfill", ref(u.a.Key, u.parts.Key(int64(j))))
				case u.inflight[int32(j)] > 0 || (planned != nil && planned.Contains(uint32(j))):
					why = "upstream in progress"
				}
			}
		})
		if why != "" {
			return why, skip
		}
	}
	return "", false
}

// BackfillState is what the server persists of a started backfill so the
// planner can take it up again after a restart (RestoreBackfill): the spec,
// the catalog seq it started at, and its resolved targets (the filter was
// applied at start and cannot be recomputed later).
type BackfillState struct {
	Spec     BackfillSpec           `json:"spec"`
	StartSeq int64                  `json:"start_seq"`
	Targets  map[asset.Key][]string `json:"targets"`
}

// BackfillState returns the persistable state of an active backfill.
func (s *State) BackfillState(id string) (BackfillState, bool) {
	b, ok := s.backfills[id]
	if !ok {
		return BackfillState{}, false
	}
	out := BackfillState{Spec: b.spec, StartSeq: b.startSeq, Targets: map[asset.Key][]string{}}
	for _, ba := range b.assets {
		as := s.assets[ba.id]
		keys := make([]string, 0, ba.target.GetCardinality())
		ba.target.Iterate(func(i uint32) bool {
			if int(i) < as.n {
				keys = append(keys, as.parts.Key(int64(i)))
			}
			return true
		})
		out.Targets[ba.key] = keys
	}
	return out, true
}

// RestoreBackfill takes up a backfill after a restart, from the state
// persisted when it started. A target materialized after StartSeq counts
// as succeeded; one whose last run failed after StartSeq (and has no later
// materialization) as failed; targets in flight stay requested.
// Targets that no longer exist are dropped.
func (s *State) RestoreBackfill(bs BackfillState) error {
	id := bs.Spec.ID
	if _, ok := s.backfills[id]; ok {
		return fmt.Errorf("restore backfill %q: %w", id, ErrBackfillExists)
	}
	b := &backfill{spec: bs.Spec, startSeq: bs.StartSeq}
	for aid, as := range s.assets { // topological order
		keys, ok := bs.Targets[as.a.Key]
		if !ok {
			continue
		}
		ba := &bfAsset{id: aid, key: as.a.Key, def: as.parts.Def(), target: roaring.New(),
			requested: roaring.New(), done: roaring.New(), failed: roaring.New(), skipped: roaring.New()}
		for _, k := range keys {
			j, ok := s.index(as, k)
			if !ok {
				continue
			}
			ba.target.Add(uint32(j))
			switch f, failed := as.fail[int32(j)]; {
			case as.seq[j] > bs.StartSeq:
				ba.done.Add(uint32(j))
			case failed && f > bs.StartSeq && f > as.seq[j]:
				ba.failed.Add(uint32(j))
			case as.inflight[int32(j)] > 0:
				ba.requested.Add(uint32(j))
			}
		}
		b.assets = append(b.assets, ba)
	}
	s.backfills[id] = b
	s.bfOrder = append(s.bfOrder, id)
	return nil
}
