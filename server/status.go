package server

import (
	"context"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// StatusSource answers the status of an asset's partitions. The planner
// satisfies it once it lands (an adapter over planner.State); until then
// CatalogStatus derives statuses from the catalog alone.
type StatusSource interface {
	AssetStatus(ctx context.Context, g *asset.Graph, a *asset.Asset, now time.Time) (*AssetStatus, error)
}

// AssetStatus is the status of every partition of one asset at one instant.
type AssetStatus struct {
	// Partitions are the asset's partitions at now.
	Partitions asset.Partitions
	// Counts over every partition.
	Counts *stratav1.PartitionStatusCounts
	// Latest is the latest materialization of any partition, nil when none.
	Latest *stratav1.MaterializationSummary
	// Known are the indices of the partitions whose status is not
	// missing, ascending: every other partition is missing, never
	// materialized, with no run.
	Known []int64
	// State returns the status of partition i (0 <= i < Partitions.Len()).
	State func(i int64) *stratav1.AssetPartitionStatus
	// Fill, when not nil, sets the LatestMaterialization of statuses State
	// returned, which then leave it out: one lookup for a page of
	// partitions rather than one per partition asked about.
	Fill func(ctx context.Context, ps []*stratav1.AssetPartitionStatus) error
	// Ranges, when not nil, are the statuses of all partitions as runs of
	// equal status in index order (what State would say of each), and Late
	// counts those of lo..hi-1 that are not missing and fail their
	// freshness policy: a health bar without a status per partition.
	Ranges []StatusRange
	Late   func(lo, hi int64) (int64, error)
}

// StatusRange is a run of partitions [Lo, Hi) with one status.
type StatusRange struct {
	Lo, Hi int64
	Status stratav1.PartitionStatus
}

// fill attaches the latest materializations to ps when st leaves them out.
func (st *AssetStatus) fill(ctx context.Context, ps []*stratav1.AssetPartitionStatus) error {
	if st.Fill == nil || len(ps) == 0 {
		return nil
	}
	return st.Fill(ctx, ps)
}

// status is partition i's status alone: from Ranges when there are, else
// from State.
func (st *AssetStatus) status(i int64) stratav1.PartitionStatus {
	if st.Ranges != nil {
		k := sort.Search(len(st.Ranges), func(k int) bool { return st.Ranges[k].Hi > i })
		if k < len(st.Ranges) && st.Ranges[k].Lo <= i {
			return st.Ranges[k].Status
		}
		return stratav1.PartitionStatus_PARTITION_STATUS_MISSING
	}
	return st.State(i).GetStatus()
}

// CatalogStatus is the interim StatusSource: a partition is missing until
// materialized, then fresh, or stale when the asset's code version changed
// since; running while a run for it is queued or running; failed when its
// latest run failed after its latest materialization. Upstream causes
// (upstream changed, missing, stale) come with the planner.
type CatalogStatus struct {
	Catalog *catalog.Catalog
}

var _ StatusSource = (*CatalogStatus)(nil)

type partInfo struct {
	mat       *catalog.MaterializationSummary
	activeRun int64
	failedRun *catalog.Run
}

// AssetStatus implements StatusSource.
func (c *CatalogStatus) AssetStatus(ctx context.Context, g *asset.Graph, a *asset.Asset, now time.Time) (*AssetStatus, error) {
	var dyn asset.DynamicKeys
	if kindNeedsDynamic(a.Partitions) {
		d, err := c.Catalog.DynamicKeysSnapshot(ctx)
		if err != nil {
			return nil, err
		}
		dyn = d
	}
	parts := a.Partitions.At(now, dyn)
	info := map[int64]*partInfo{}
	get := func(key string) *partInfo {
		i, ok := parts.Index(key)
		if !ok {
			return nil
		}
		p := info[i]
		if p == nil {
			p = &partInfo{}
			info[i] = p
		}
		return p
	}
	var latest *catalog.MaterializationSummary
	err := c.Catalog.LatestMaterializations(ctx, a.Key, func(m *catalog.MaterializationSummary) error {
		cp := *m
		if latest == nil || cp.CreatedAt.After(latest.CreatedAt) {
			latest = &cp
		}
		if p := get(m.Partition); p != nil {
			p.mat = &cp
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	active, err := c.Catalog.ListRuns(ctx, catalog.RunFilter{Asset: a.Key, States: []catalog.RunState{catalog.RunQueued, catalog.RunRunning}, Limit: 10000})
	if err != nil {
		return nil, err
	}
	for _, r := range active {
		for _, k := range r.PartitionKeys {
			if p := get(k); p != nil && p.activeRun == 0 {
				p.activeRun = r.ID
			}
		}
	}
	failed, err := c.Catalog.ListRuns(ctx, catalog.RunFilter{Asset: a.Key, States: []catalog.RunState{catalog.RunFailed}, Limit: 1000})
	if err != nil {
		return nil, err
	}
	for i := range failed {
		r := &failed[i]
		for _, k := range r.PartitionKeys {
			p := get(k)
			if p == nil || p.failedRun != nil {
				continue // newest first: the first failure seen is the latest
			}
			end := r.UpdatedAt
			if r.FinishedAt != nil {
				end = *r.FinishedAt
			}
			if p.mat == nil || p.mat.CreatedAt.Before(end) {
				p.failedRun = r
			}
		}
	}
	known := make([]int64, 0, len(info))
	for i := range info {
		known = append(known, i)
	}
	sort.Slice(known, func(x, y int) bool { return known[x] < known[y] })

	codeVersion := a.Decl.CodeVersion
	state := func(i int64) *stratav1.AssetPartitionStatus {
		key := parts.Key(i)
		ps := &stratav1.AssetPartitionStatus{Asset: string(a.Key), PartitionKey: key, Index: i,
			Status: stratav1.PartitionStatus_PARTITION_STATUS_MISSING}
		p := info[i]
		if p == nil {
			ps.Causes = []*stratav1.StaleCause{{Kind: stratav1.StaleCauseKind_STALE_CAUSE_KIND_NEVER_MATERIALIZED, Message: "never materialized"}}
			return ps
		}
		if p.mat != nil {
			ps.LatestMaterialization = summaryProto(p.mat)
			ps.Status = stratav1.PartitionStatus_PARTITION_STATUS_FRESH
			if codeVersion != "" && p.mat.CodeVersion != codeVersion {
				ps.Status = stratav1.PartitionStatus_PARTITION_STATUS_STALE
				ps.Causes = append(ps.Causes, &stratav1.StaleCause{Kind: stratav1.StaleCauseKind_STALE_CAUSE_KIND_CODE_VERSION_CHANGED,
					PreviousVersion: p.mat.CodeVersion, CurrentVersion: codeVersion,
					Message: "code version changed from " + strconv.Quote(p.mat.CodeVersion) + " to " + strconv.Quote(codeVersion)})
			}
		} else {
			ps.Causes = append(ps.Causes, &stratav1.StaleCause{Kind: stratav1.StaleCauseKind_STALE_CAUSE_KIND_NEVER_MATERIALIZED, Message: "never materialized"})
		}
		switch {
		case p.activeRun != 0:
			ps.Status = stratav1.PartitionStatus_PARTITION_STATUS_RUNNING
			ps.ActiveRunId = formatID(p.activeRun)
		case p.failedRun != nil:
			ps.Status = stratav1.PartitionStatus_PARTITION_STATUS_FAILED
			msg := "run " + formatID(p.failedRun.ID) + " failed"
			if p.failedRun.Error != "" {
				msg += ": " + p.failedRun.Error
			}
			ps.Causes = append(ps.Causes, &stratav1.StaleCause{Kind: stratav1.StaleCauseKind_STALE_CAUSE_KIND_RUN_FAILED,
				RunId: formatID(p.failedRun.ID), Message: msg})
		}
		return ps
	}
	counts := &stratav1.PartitionStatusCounts{Total: parts.Len()}
	for _, i := range known {
		ps := state(i)
		if ps.GetFreshness().GetState() == stratav1.FreshnessState_FRESHNESS_STATE_FAIL {
			counts.Late++ // never, until freshness is evaluated here
		}
		switch ps.Status {
		case stratav1.PartitionStatus_PARTITION_STATUS_FRESH:
			counts.Fresh++
		case stratav1.PartitionStatus_PARTITION_STATUS_STALE:
			counts.Stale++
		case stratav1.PartitionStatus_PARTITION_STATUS_FAILED:
			counts.Failed++
		case stratav1.PartitionStatus_PARTITION_STATUS_RUNNING:
			counts.Running++
		}
	}
	counts.Missing = counts.Total - counts.Fresh - counts.Stale - counts.Failed - counts.Running
	out := &AssetStatus{Partitions: parts, Counts: counts, Known: known, State: state}
	if latest != nil {
		out.Latest = summaryProto(latest)
	}
	return out, nil
}

func kindNeedsDynamic(def asset.PartitionsDef) bool {
	switch def.Kind() {
	case asset.KindDynamic, asset.KindMulti:
		return true
	}
	return false
}

func summaryProto(m *catalog.MaterializationSummary) *stratav1.MaterializationSummary {
	out := &stratav1.MaterializationSummary{
		Id: formatID(m.ID), RunId: formatID(m.RunID), CreateTime: timestamppb.New(m.CreatedAt),
		DataVersion: m.DataVersion, CodeVersion: m.CodeVersion, Location: m.Location,
	}
	if m.RowCount >= 0 {
		v := m.RowCount
		out.RowCount = &v
	}
	if m.ByteCount >= 0 {
		v := m.ByteCount
		out.Bytes = &v
	}
	return out
}
