package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/planner"
	"github.com/strata-data/strata/scheduler"
)

// PlannerStatus is the StatusSource over the planner loop (package
// scheduler): exact statuses with their upstream causes (upstream data
// changed, upstream stale with its root, upstream missing), freshness and
// deadlines. Until the loop's first rebuild, or for an asset it has not
// seen yet (applied a moment ago), it answers with the catalog-only
// CatalogStatus.
type PlannerStatus struct {
	Scheduler *scheduler.Scheduler
	Catalog   *catalog.Catalog
}

var _ StatusSource = (*PlannerStatus)(nil)

// AssetStatus implements StatusSource.
func (p *PlannerStatus) AssetStatus(ctx context.Context, g *asset.Graph, a *asset.Asset, now time.Time) (*AssetStatus, error) {
	// Read your writes: a status asked right after a run finished shows it.
	if err := p.Scheduler.Sync(ctx); err != nil && !errors.Is(err, scheduler.ErrNotReady) {
		return nil, err
	}
	ranges, err := p.Scheduler.PartitionHealth(a.Key, 0, 0)
	if errors.Is(err, scheduler.ErrNotReady) || errors.Is(err, planner.ErrUnknownAsset) {
		return (&CatalogStatus{Catalog: p.Catalog}).AssetStatus(ctx, g, a, now)
	}
	if err != nil {
		return nil, err
	}
	var dyn asset.DynamicKeys
	if kindNeedsDynamic(a.Partitions) {
		d, err := p.Catalog.DynamicKeysSnapshot(ctx)
		if err != nil {
			return nil, err
		}
		dyn = d
	}
	parts := a.Partitions.At(now, dyn)
	counts := &stratav1.PartitionStatusCounts{Total: parts.Len()}
	var known []int64
	out := &AssetStatus{Partitions: parts, Counts: counts, Ranges: []StatusRange{}}
	for _, r := range ranges {
		if r.Lo >= parts.Len() {
			break // a window the planner has and the request's now has not
		}
		hi := min(r.Hi, parts.Len())
		switch r.Status {
		case planner.StatusMissing:
			continue
		case planner.StatusFresh:
			counts.Fresh += hi - r.Lo
		case planner.StatusStale:
			counts.Stale += hi - r.Lo
		case planner.StatusFailed:
			counts.Failed += hi - r.Lo
		case planner.StatusRunning:
			counts.Running += hi - r.Lo
		}
		out.Ranges = append(out.Ranges, StatusRange{Lo: r.Lo, Hi: hi, Status: statusProto[r.Status]})
		for i := r.Lo; i < hi; i++ {
			known = append(known, i)
		}
	}
	counts.Missing = counts.Total - counts.Fresh - counts.Stale - counts.Failed - counts.Running
	out.Known = known
	// The latest materializations are looked up for the partitions asked
	// about (Fill), not loaded for all: an asset may have millions.
	out.State = func(i int64) *stratav1.AssetPartitionStatus {
		key := parts.Key(i)
		ps := &stratav1.AssetPartitionStatus{Asset: string(a.Key), PartitionKey: key, Index: i,
			Status: stratav1.PartitionStatus_PARTITION_STATUS_MISSING}
		st, err := p.Scheduler.Status(a.Key, key)
		if err != nil {
			// Not a partition for the planner at its own now (a window
			// boundary passed in between): say so rather than guess.
			ps.Causes = []*stratav1.StaleCause{{Message: "status not known yet: " + err.Error()}}
			return ps
		}
		return partitionStatusProto(st, ps)
	}
	out.Fill = func(ctx context.Context, ps []*stratav1.AssetPartitionStatus) error {
		keys := make([]string, len(ps))
		for i, s := range ps {
			keys[i] = s.GetPartitionKey()
		}
		ms, err := p.Catalog.LatestOf(ctx, a.Key, keys)
		if err != nil {
			return err
		}
		byKey := make(map[string]*catalog.MaterializationSummary, len(ms))
		for i := range ms {
			byKey[ms[i].Partition] = &ms[i]
		}
		for _, s := range ps {
			if m := byKey[s.GetPartitionKey()]; m != nil {
				s.LatestMaterialization = summaryProto(m)
			}
		}
		return nil
	}
	out.Late = func(lo, hi int64) (int64, error) { return p.Scheduler.Late(a.Key, lo, hi) }
	// The asset's latest materialization: the newest row of its history.
	newest, err := p.Catalog.ListMaterializations(ctx, catalog.MaterializationQuery{Asset: a.Key, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(newest) == 1 {
		sum := newest[0].Summary()
		out.Latest = summaryProto(&sum)
	}
	return out, nil
}

var statusProto = map[planner.Status]stratav1.PartitionStatus{
	planner.StatusMissing: stratav1.PartitionStatus_PARTITION_STATUS_MISSING,
	planner.StatusFresh:   stratav1.PartitionStatus_PARTITION_STATUS_FRESH,
	planner.StatusStale:   stratav1.PartitionStatus_PARTITION_STATUS_STALE,
	planner.StatusRunning: stratav1.PartitionStatus_PARTITION_STATUS_RUNNING,
	planner.StatusFailed:  stratav1.PartitionStatus_PARTITION_STATUS_FAILED,
}

var causeProto = map[planner.CauseKind]stratav1.StaleCauseKind{
	planner.CauseCodeVersionChanged: stratav1.StaleCauseKind_STALE_CAUSE_KIND_CODE_VERSION_CHANGED,
	planner.CauseUpstreamUpdated:    stratav1.StaleCauseKind_STALE_CAUSE_KIND_UPSTREAM_DATA_CHANGED,
	planner.CauseUpstreamStale:      stratav1.StaleCauseKind_STALE_CAUSE_KIND_UPSTREAM_STALE,
	planner.CauseUpstreamMissing:    stratav1.StaleCauseKind_STALE_CAUSE_KIND_UPSTREAM_MISSING,
}

var freshnessProto = map[planner.FreshnessState]stratav1.FreshnessState{
	planner.FreshnessPass: stratav1.FreshnessState_FRESHNESS_STATE_PASS,
	planner.FreshnessWarn: stratav1.FreshnessState_FRESHNESS_STATE_WARN,
	planner.FreshnessFail: stratav1.FreshnessState_FRESHNESS_STATE_FAIL,
}

// partitionStatusProto fills out (which carries the asset, key, index and
// latest materialization) from a planner status.
func partitionStatusProto(ps planner.PartitionStatus, out *stratav1.AssetPartitionStatus) *stratav1.AssetPartitionStatus {
	out.Status = statusProto[ps.Status]
	if ps.DataStatus == planner.StatusMissing {
		out.Causes = append(out.Causes, &stratav1.StaleCause{Kind: stratav1.StaleCauseKind_STALE_CAUSE_KIND_NEVER_MATERIALIZED,
			Message: "never materialized"})
	}
	for _, c := range ps.Causes {
		sc := &stratav1.StaleCause{Kind: causeProto[c.Kind], UpstreamAsset: string(c.UpstreamAsset),
			UpstreamPartitionKey: c.UpstreamPartition, PreviousVersion: c.OldCodeVersion, CurrentVersion: c.NewCodeVersion,
			Message: c.Detail}
		if c.RootAsset != "" {
			sc.Message += " (root: " + string(c.RootAsset) + " " + c.RootPartition + ", " + string(c.RootKind) + ")"
		}
		out.Causes = append(out.Causes, sc)
	}
	if ps.Status == planner.StatusFailed {
		out.Causes = append(out.Causes, &stratav1.StaleCause{Kind: stratav1.StaleCauseKind_STALE_CAUSE_KIND_RUN_FAILED,
			Message: "its last run failed and nothing was materialized since"})
	}
	if st, ok := freshnessProto[ps.Freshness.State]; ok {
		f := &stratav1.Freshness{State: st}
		if !ps.Freshness.Deadline.IsZero() {
			f.Deadline = timestamppb.New(ps.Freshness.Deadline)
		}
		if !ps.Freshness.WarnAt.IsZero() {
			f.WarnTime = timestamppb.New(ps.Freshness.WarnAt)
		}
		if ps.Freshness.OverdueBy > 0 {
			f.OverdueBy = durationpb.New(ps.Freshness.OverdueBy)
		}
		out.Freshness = f
	}
	return out
}

// BackfillStarter creates a backfill whose partitions spec.Runs name and
// runs them in dependency order (scheduler.Scheduler satisfies it).
type BackfillStarter interface {
	StartPlannedBackfill(ctx context.Context, spec catalog.BackfillSpec) (catalog.Backfill, error)
}

var _ BackfillStarter = (*scheduler.Scheduler)(nil)

// createBackfill creates a backfill through the planner loop when one is
// configured, else with every run enqueued at once.
func (s *Server) createBackfill(ctx context.Context, spec catalog.BackfillSpec) (catalog.Backfill, error) {
	if s.starter != nil {
		bf, err := s.starter.StartPlannedBackfill(ctx, spec)
		if !errors.Is(err, scheduler.ErrNotReady) {
			return bf, err
		}
		// The planner loop has not built its state yet (first seconds
		// after start): enqueue every run at once.
	}
	bf, _, err := s.cat.CreateBackfill(ctx, spec)
	return bf, err
}
