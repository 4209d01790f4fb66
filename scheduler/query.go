package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/planner"
)

// The query methods read the planner state under the loop's mutex. Their
// answers are as of the last event the loop applied (usually within one
// tick interval of the catalog). PartitionStatus.LatestSeq is given as the
// catalog event id that recorded the materialization.

func (s *Scheduler) stateLocked() (*planner.State, error) {
	if s.st == nil {
		return nil, ErrNotReady
	}
	return s.st, nil
}

func eventSeqs(ps []planner.PartitionStatus) []planner.PartitionStatus {
	for i := range ps {
		ps[i].LatestSeq = catalog.EventIDOfSeq(ps[i].LatestSeq)
	}
	return ps
}

// Status returns the status of one asset partition, with its causes and
// its freshness now.
func (s *Scheduler) Status(key asset.Key, partition string) (planner.PartitionStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stateLocked()
	if err != nil {
		return planner.PartitionStatus{}, err
	}
	ps, err := st.Status(key, partition, s.now())
	if err != nil {
		return ps, err
	}
	return eventSeqs([]planner.PartitionStatus{ps})[0], nil
}

// Explain is Status with the provenance of the partition's latest
// materialization read from the catalog: an upstream_updated cause then
// names exactly the upstream partitions whose data version changed.
func (s *Scheduler) Explain(ctx context.Context, key asset.Key, partition string) (planner.PartitionStatus, error) {
	var prov []planner.InputVersion
	hist, err := s.cat.MaterializationHistory(ctx, key, partition, 1)
	if err != nil {
		return planner.PartitionStatus{}, fmt.Errorf("explain %s partition %q: %w", key, partition, err)
	}
	if len(hist) == 1 {
		entries, err := s.cat.Provenance(ctx, hist[0].ID)
		if err != nil {
			return planner.PartitionStatus{}, fmt.Errorf("explain %s partition %q: %w", key, partition, err)
		}
		for _, e := range entries {
			prov = append(prov, planner.InputVersion{Asset: e.UpstreamAsset, PartitionKey: e.UpstreamPartition, DataVersion: e.DataVersion})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stateLocked()
	if err != nil {
		return planner.PartitionStatus{}, err
	}
	ps, err := st.Explain(key, partition, s.now(), prov)
	if err != nil {
		return ps, err
	}
	return eventSeqs([]planner.PartitionStatus{ps})[0], nil
}

// Partitions returns the statuses of an asset's partitions lo..hi-1 (a page).
func (s *Scheduler) Partitions(key asset.Key, lo, hi int) ([]planner.PartitionStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stateLocked()
	if err != nil {
		return nil, err
	}
	ps, err := st.Partitions(key, lo, hi, s.now())
	return eventSeqs(ps), err
}

// Counts counts an asset's partitions by status.
func (s *Scheduler) Counts(key asset.Key) (planner.Counts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stateLocked()
	if err != nil {
		return planner.Counts{}, err
	}
	return st.Counts(key)
}

// PartitionHealth returns an asset's partitions lo..hi-1 (hi <= 0: all) as
// runs of equal status over index ranges: the UI's health bar.
func (s *Scheduler) PartitionHealth(key asset.Key, lo, hi int64) ([]planner.StatusRange, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stateLocked()
	if err != nil {
		return nil, err
	}
	return st.StatusRanges(key, lo, hi)
}

// Late counts an asset's partitions lo..hi-1 (hi <= 0: to the last) that
// are not missing and fail their freshness policy now.
func (s *Scheduler) Late(key asset.Key, lo, hi int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stateLocked()
	if err != nil {
		return 0, err
	}
	return st.Late(key, lo, hi, s.now())
}

// Overdue lists the partitions failing (with warn, also warning) their
// freshness policy now, most overdue first, at most limit (0: all).
func (s *Scheduler) Overdue(warn bool, limit int) ([]planner.PartitionStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stateLocked()
	if err != nil {
		return nil, err
	}
	return eventSeqs(st.Overdue(s.now(), warn, limit)), nil
}

// PlanBackfill resolves a backfill without starting it (a dry run): per
// asset, the target partitions, the runs, and their statuses now.
func (s *Scheduler) PlanBackfill(spec planner.BackfillSpec) (*planner.BackfillPlan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stateLocked()
	if err != nil {
		return nil, err
	}
	spec.ID = "dry-run"
	p, err := st.PlanBackfill(spec)
	if err != nil {
		return nil, err
	}
	p.ID = ""
	return p, nil
}

// BackfillRequest asks StartBackfill for a backfill.
type BackfillRequest struct {
	// Spec selects assets x partitions x filter, with a priority; its ID
	// is ignored (the catalog gives the backfill its id).
	Spec  planner.BackfillSpec
	Actor string
	// Partitions is kept as the catalog backfill's partitions JSON, for
	// display; nil means Spec.Partitions.
	Partitions json.RawMessage
	// RequestID makes creation idempotent: a backfill already created with
	// it is returned and nothing is started. Description is free text.
	RequestID, Description string
}

// catalogFilter maps a planner filter to the catalog's ("" is all).
func catalogFilter(f planner.Filter) string {
	if f == planner.FilterAll {
		return ""
	}
	return string(f)
}

// StartBackfill resolves a backfill against the current state and creates
// it in the catalog with the planner's state of it (targets, start seq), in
// one transaction. This scheduler takes it up at once; every other
// server's loop takes it up from the catalog event. Runs are enqueued by the
// leader's ticks, each downstream partition once the upstream partitions of
// the backfill it reads have succeeded. The returned plan carries the
// backfill's id.
func (s *Scheduler) StartBackfill(ctx context.Context, req BackfillRequest) (catalog.Backfill, *planner.BackfillPlan, error) {
	spec := req.Spec
	if spec.Filter == "" {
		spec.Filter = planner.FilterAll
	}
	if err := s.sync(ctx); err != nil {
		return catalog.Backfill{}, nil, err
	}
	s.mu.Lock()
	st, err := s.stateLocked()
	if err != nil {
		s.mu.Unlock()
		return catalog.Backfill{}, nil, err
	}
	// Resolve under a temporary id: the state to persist comes from a
	// started backfill, and the real id from the catalog insert.
	s.pending++
	spec.ID = "pending-" + strconv.FormatInt(s.pending, 10)
	plan, err := st.StartBackfill(spec)
	if err != nil {
		s.mu.Unlock()
		return catalog.Backfill{}, nil, err
	}
	bs, _ := st.BackfillState(spec.ID)
	st.CancelBackfill(spec.ID)
	s.mu.Unlock()

	parts := req.Partitions
	if parts == nil {
		b, err := json.Marshal(spec.Partitions)
		if err != nil {
			return catalog.Backfill{}, nil, fmt.Errorf("start backfill: %w", err)
		}
		parts = b
	}
	bs.Spec.ID = ""
	created := false
	bf, err := s.cat.CreatePlannedBackfill(ctx, catalog.BackfillSpec{Selection: spec.Assets, Partitions: parts,
		Filter: catalogFilter(spec.Filter), Priority: spec.Priority, Actor: req.Actor, RequestID: req.RequestID,
		Description: req.Description}, plan.Partitions == 0,
		func(int64) (json.RawMessage, error) { created = true; return json.Marshal(bs) })
	if err != nil {
		return catalog.Backfill{}, nil, fmt.Errorf("start backfill: %w", err)
	}
	id := strconv.FormatInt(bf.ID, 10)
	bs.Spec.ID, plan.ID = id, id
	if created && plan.Partitions > 0 { // not when the request id named an existing backfill
		s.mu.Lock()
		// The loop may have taken it up already from the event: fine.
		if err := s.st.RestoreBackfill(bs); err != nil && !errors.Is(err, planner.ErrBackfillExists) {
			s.mu.Unlock()
			return bf, plan, fmt.Errorf("start backfill %s: %w", id, err)
		}
		s.mu.Unlock()
	}
	s.kick(ctx)
	return bf, plan, nil
}

// CancelBackfill cancels a backfill: the catalog cancels its queued runs
// and asks its running ones to stop, and the planner stops requesting for
// it (here at once, on other servers when they see the event).
func (s *Scheduler) CancelBackfill(ctx context.Context, id int64) (catalog.Backfill, error) {
	bf, err := s.cat.CancelBackfill(ctx, id)
	if err != nil {
		return bf, err
	}
	if err := s.cat.FinishPlannerBackfill(ctx, id); err != nil {
		return bf, err
	}
	s.mu.Lock()
	if s.st != nil {
		s.dropBackfillLocked(strconv.FormatInt(id, 10))
	}
	s.mu.Unlock()
	return bf, nil
}

// RetryBackfill starts a new backfill over the failed partitions of
// backfill id's selection (the same assets and partitions, filter failed).
func (s *Scheduler) RetryBackfill(ctx context.Context, id int64, actor string) (catalog.Backfill, *planner.BackfillPlan, error) {
	pb, err := s.cat.GetPlannerBackfill(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return catalog.Backfill{}, nil, fmt.Errorf("retry backfill %d: %w", id, ErrUnknownBackfill)
	}
	if err != nil {
		return catalog.Backfill{}, nil, fmt.Errorf("retry backfill %d: %w", id, err)
	}
	bs, err := decodeBackfill(pb)
	if err != nil {
		return catalog.Backfill{}, nil, fmt.Errorf("retry backfill %d: %w", id, err)
	}
	spec := bs.Spec
	spec.Filter = planner.FilterFailed
	return s.StartBackfill(ctx, BackfillRequest{Spec: spec, Actor: actor})
}

// BackfillProgress reports a backfill's progress: every target partition
// is in exactly one of pending, requested, succeeded, failed and skipped.
// A backfill that ended (or was cancelled) since this process started keeps
// its final progress; an older one is ErrUnknownBackfill (the catalog's run
// counters still describe it).
func (s *Scheduler) BackfillProgress(id int64) (planner.BackfillProgress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stateLocked()
	if err != nil {
		return planner.BackfillProgress{}, err
	}
	key := strconv.FormatInt(id, 10)
	if p, ok := st.BackfillProgress(key); ok {
		return p, nil
	}
	if p, ok := s.finished[key]; ok {
		return p, nil
	}
	return planner.BackfillProgress{}, fmt.Errorf("backfill %d: %w", id, ErrUnknownBackfill)
}

// StartPlannedBackfill creates a backfill whose partitions were already
// chosen by the caller: spec.Runs name them (their batching is ignored: the
// planner batches by max_partitions_per_run when it requests them). Unlike
// catalog.CreateBackfill, which enqueues every run at once, the runs are
// enqueued by the leader's ticks, each downstream partition once the
// upstream partitions of the backfill it reads have succeeded. It lets the
// API keep its own selection semantics and hand the execution to the
// planner. A spec.RequestID already used returns that backfill.
func (s *Scheduler) StartPlannedBackfill(ctx context.Context, spec catalog.BackfillSpec) (catalog.Backfill, error) {
	targets := map[asset.Key][]string{}
	n := 0
	for _, r := range spec.Runs {
		targets[r.Asset] = append(targets[r.Asset], r.PartitionKeys...)
		n += len(r.PartitionKeys)
	}
	filter := planner.Filter(spec.Filter)
	if filter == "" {
		filter = planner.FilterAll
	}
	if err := s.sync(ctx); err != nil {
		return catalog.Backfill{}, err
	}
	s.mu.Lock()
	st, err := s.stateLocked()
	if err != nil {
		s.mu.Unlock()
		return catalog.Backfill{}, err
	}
	bs := planner.BackfillState{Spec: planner.BackfillSpec{Assets: spec.Selection, Filter: filter, Priority: spec.Priority},
		StartSeq: st.Cursor(), Targets: targets}
	s.mu.Unlock()
	spec.Runs = nil
	created := false
	bf, err := s.cat.CreatePlannedBackfill(ctx, spec, n == 0,
		func(int64) (json.RawMessage, error) { created = true; return json.Marshal(bs) })
	if err != nil {
		return catalog.Backfill{}, fmt.Errorf("start planned backfill: %w", err)
	}
	if created && n > 0 {
		bs.Spec.ID = strconv.FormatInt(bf.ID, 10)
		s.mu.Lock()
		if err := s.st.RestoreBackfill(bs); err != nil && !errors.Is(err, planner.ErrBackfillExists) {
			s.mu.Unlock()
			return bf, fmt.Errorf("start planned backfill %d: %w", bf.ID, err)
		}
		s.mu.Unlock()
	}
	s.kick(ctx)
	return bf, nil
}

// Sync applies the events not applied yet, so the answers that follow
// include every write committed before the call (read your writes). It
// waits for a step in progress.
func (s *Scheduler) Sync(ctx context.Context) error { return s.sync(ctx) }

// sync applies the events not applied yet, so a backfill is resolved (and
// taken up) against the assets just applied, and starts at the current
// seq.
func (s *Scheduler) sync(ctx context.Context) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	s.mu.Lock()
	ready := s.st != nil
	s.mu.Unlock()
	if !ready {
		return ErrNotReady
	}
	if err := s.catchUp(ctx); err != nil {
		return fmt.Errorf("catch up with the catalog: %w", err)
	}
	return nil
}
