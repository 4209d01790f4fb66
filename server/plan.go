package server

import (
	"context"
	"sort"
	"time"

	"github.com/strata-data/strata/asset"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// interimPlanner plans backfills until the planner package does: for each
// selected asset, the partitions in range (a time span mapped onto each
// asset's own windows), filtered by status, batched per
// backfill_policy.max_partitions_per_run.
type interimPlanner struct{}

var _ BackfillPlanner = interimPlanner{}

// timeSpan is [Start, End).
type timeSpan struct{ Start, End time.Time }

func (interimPlanner) PlanBackfill(ctx context.Context, in BackfillInput) (*BackfillPlan, error) {
	statuses := make([]*AssetStatus, len(in.Assets))
	for i, a := range in.Assets {
		st, err := in.Status.AssetStatus(ctx, in.Graph, a, in.Now)
		if err != nil {
			return nil, wrapf(err, "plan backfill: status of %s", a.Key)
		}
		statuses[i] = st
	}
	subsets, err := selectPartitions(in, statuses)
	if err != nil {
		return nil, err
	}
	plan := &BackfillPlan{}
	var total int64
	for i, a := range in.Assets {
		st := statuses[i]
		var known map[int64]bool
		if st.Ranges == nil {
			known = make(map[int64]bool, len(st.Known))
			for _, k := range st.Known {
				known[k] = true
			}
		}
		ap := AssetBackfillPlan{Asset: a}
		var keys []string
		for idx := range subsets[i].Indices() {
			status := stratav1.PartitionStatus_PARTITION_STATUS_MISSING
			if st.Ranges != nil || known[idx] {
				status = st.status(idx)
			}
			if !filterAccepts(in.Filter, status) {
				ap.Skipped++
				continue
			}
			keys = append(keys, st.Partitions.Key(idx))
		}
		total += int64(len(keys))
		if total > maxBackfillPartitions {
			return nil, InvalidArgument("selection", "the backfill would run more than %d partitions; split it", maxBackfillPartitions)
		}
		ap.Runs = batch(keys, maxPerRun(a))
		plan.Assets = append(plan.Assets, ap)
	}
	return plan, nil
}

func filterAccepts(f stratav1.BackfillFilter, s stratav1.PartitionStatus) bool {
	if s == stratav1.PartitionStatus_PARTITION_STATUS_RUNNING {
		return false // already in flight
	}
	switch f {
	case stratav1.BackfillFilter_BACKFILL_FILTER_ALL:
		return true
	case stratav1.BackfillFilter_BACKFILL_FILTER_STALE:
		return s == stratav1.PartitionStatus_PARTITION_STATUS_MISSING || s == stratav1.PartitionStatus_PARTITION_STATUS_STALE
	case stratav1.BackfillFilter_BACKFILL_FILTER_FAILED:
		return s == stratav1.PartitionStatus_PARTITION_STATUS_FAILED
	}
	return s == stratav1.PartitionStatus_PARTITION_STATUS_MISSING
}

// selectPartitions returns, per selected asset, the partitions the request
// names. An unpartitioned asset always has its one partition.
func selectPartitions(in BackfillInput, statuses []*AssetStatus) ([]*asset.Subset, error) {
	out := make([]*asset.Subset, len(in.Assets))
	switch {
	case len(in.Keys) > 0:
		used := make([]bool, len(in.Keys))
		for i, a := range in.Assets {
			parts := statuses[i].Partitions
			sub := asset.NewSubset(parts)
			if a.Partitions.Kind() == asset.KindUnpartitioned {
				sub.Add(0)
			} else {
				for j, k := range in.Keys {
					if idx, ok := parts.Index(k); ok {
						sub.Add(idx)
						used[j] = true
					}
				}
			}
			out[i] = sub
		}
		for j, ok := range used {
			if !ok && hasPartitioned(in.Assets) {
				return nil, InvalidArgument(index("partition_keys", j), "%q is not a partition of any selected asset", in.Keys[j])
			}
		}
		return out, nil
	case in.Range != nil:
		return selectRange(in, statuses)
	}
	for i := range in.Assets {
		out[i] = asset.AllOf(statuses[i].Partitions)
	}
	return out, nil
}

func hasPartitioned(as []*asset.Asset) bool {
	for _, a := range as {
		if a.Partitions.Kind() != asset.KindUnpartitioned {
			return true
		}
	}
	return false
}

// selectRange selects, per asset, the partitions whose windows overlap the
// span named by the range. The ends are RFC 3339 times (span [start, end)),
// or partition keys of a selected asset (span from the start of the first
// key's window to the end of the last's). Assets without time windows take
// the keys' index range when both keys are theirs, else every partition.
func selectRange(in BackfillInput, statuses []*AssetStatus) ([]*asset.Subset, error) {
	r := in.Range
	var span *timeSpan
	st, errS := time.Parse(time.RFC3339, r.GetStart())
	et, errE := time.Parse(time.RFC3339, r.GetEnd())
	switch {
	case errS == nil && errE == nil:
		if !et.After(st) {
			return nil, InvalidArgument("partition_range.end", "%s is not after the start %s", r.GetEnd(), r.GetStart())
		}
		span = &timeSpan{Start: st, End: et}
	case (errS == nil) != (errE == nil):
		field := "partition_range.end"
		if errS != nil {
			field = "partition_range.start"
		}
		return nil, InvalidArgument(field, "give both ends as RFC 3339 times or both as partition keys")
	default:
		// Keys: the first asset (topological order) that has both defines the span.
		found := false
		for i := range in.Assets {
			parts := statuses[i].Partitions
			lo, ok1 := parts.Index(r.GetStart())
			hi, ok2 := parts.Index(r.GetEnd())
			if !ok1 || !ok2 {
				continue
			}
			found = true
			if hi < lo {
				return nil, InvalidArgument("partition_range.end", "%q comes before the start %q", r.GetEnd(), r.GetStart())
			}
			if w, ok := parts.(asset.Windowed); ok {
				span = &timeSpan{Start: w.Window(lo).Start, End: w.Window(hi).End}
				break
			}
		}
		if !found {
			field := "partition_range.start"
			if hasKeyAnywhere(in, statuses, r.GetStart()) {
				field = "partition_range.end"
			}
			if !hasPartitioned(in.Assets) {
				break
			}
			return nil, InvalidArgument(field, "neither an RFC 3339 time nor a partition key of a selected asset (both ends must be keys of one asset)")
		}
	}
	out := make([]*asset.Subset, len(in.Assets))
	for i, a := range in.Assets {
		parts := statuses[i].Partitions
		sub := asset.NewSubset(parts)
		out[i] = sub
		n := parts.Len()
		if a.Partitions.Kind() == asset.KindUnpartitioned {
			sub.Add(0)
			continue
		}
		if lo, ok1 := parts.Index(r.GetStart()); ok1 {
			if hi, ok2 := parts.Index(r.GetEnd()); ok2 && hi >= lo {
				if _, windowed := parts.(asset.Windowed); !windowed || span == nil {
					sub.AddRange(lo, hi+1)
					continue
				}
			}
		}
		w, windowed := parts.(asset.Windowed)
		switch {
		case windowed && span != nil && a.Partitions.Kind() == asset.KindTimeWindow:
			// Windows are in time order: binary search both ends.
			lo := int64(sort.Search(int(n), func(j int) bool { return w.Window(int64(j)).End.After(span.Start) }))
			hi := int64(sort.Search(int(n), func(j int) bool { return !w.Window(int64(j)).Start.Before(span.End) }))
			if lo < hi {
				sub.AddRange(lo, hi)
			}
		case windowed && span != nil:
			for j := int64(0); j < n; j++ {
				win := w.Window(j)
				if win.End.After(span.Start) && win.Start.Before(span.End) {
					sub.Add(j)
				}
			}
		default:
			if n > 0 {
				sub.AddRange(0, n)
			}
		}
	}
	return out, nil
}

func hasKeyAnywhere(in BackfillInput, statuses []*AssetStatus, key string) bool {
	for i := range in.Assets {
		if _, ok := statuses[i].Partitions.Index(key); ok {
			return true
		}
	}
	return false
}
