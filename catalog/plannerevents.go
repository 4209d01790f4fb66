package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/uptrace/bun"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/planner"
)

// PlannerBatch is a page of the event log translated for the planner loop.
type PlannerBatch struct {
	// Events to apply in order (planner.State.Apply), with planner seqs
	// (PlannerSeq). RunStateChanged.RequestID is left empty: the loop that
	// enqueued a run knows which request it came from.
	Events []planner.Event
	// LastEventID is the id of the last catalog event read (0: none).
	LastEventID int64
	// Read counts the catalog events read (at most the limit asked for).
	Read int
	// BackfillsStarted are planner backfills created (their state is in
	// GetPlannerBackfill); BackfillsStopped are backfills being cancelled.
	BackfillsStarted, BackfillsStopped []int64
	// Resync, when not empty, says why events cannot be applied one by one
	// (a mass state change recorded as one summary event): the loop must
	// rebuild from a snapshot.
	Resync string
}

// splitPrefix starts the error of a run the materializer cancelled because
// it split it into smaller runs (materializer.Dispatcher.split).
const splitPrefix = "split into "

type rangeKey struct {
	asset       string
	first, last int64
}

// PlannerEvents reads up to limit events after afterID and translates them
// into planner events, reading what their payloads only point to (the
// runs of a runs_enqueued event, the materializations and provenance of a
// materialization event, the keys of a dynamic definition, the current
// asset graph) in the same call. Those reads may see later state than the
// event (a graph applied since, keys added since); applying later state
// early is harmless because the later event applies it again. Run states
// come from the events themselves, so they are applied in log order.
func (c *Catalog) PlannerEvents(ctx context.Context, afterID int64, limit int) (*PlannerBatch, error) {
	evs, err := c.Events(ctx, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("planner events: %w", err)
	}
	b := &PlannerBatch{Read: len(evs)}
	if len(evs) == 0 {
		return b, nil
	}
	b.LastEventID = evs[len(evs)-1].ID
	var runIDs []int64
	var runRanges, matRanges []rangeKey
	dynNames := map[string]bool{}
	needGraph := false
	for _, e := range evs {
		switch e.Kind {
		case EventRunsEnqueued:
			var p struct {
				First int64 `json:"first_run_id"`
				Last  int64 `json:"last_run_id"`
			}
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				return nil, fmt.Errorf("planner events: event %d payload: %w", e.ID, err)
			}
			runRanges = append(runRanges, rangeKey{string(e.Asset), p.First, p.Last})
		case EventRunState:
			if e.RunID != 0 {
				runIDs = append(runIDs, e.RunID)
			}
		case EventMaterialization:
			var p struct {
				First int64 `json:"first_id"`
				Last  int64 `json:"last_id"`
			}
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				return nil, fmt.Errorf("planner events: event %d payload: %w", e.ID, err)
			}
			matRanges = append(matRanges, rangeKey{string(e.Asset), p.First, p.Last})
		case EventDynamicPartitions:
			var p struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				return nil, fmt.Errorf("planner events: event %d payload: %w", e.ID, err)
			}
			dynNames[p.Name] = true
		case EventAssetApplied, EventAssetDeleted:
			needGraph = true
		}
	}
	runs := map[int64]*runModel{}
	byRange := map[rangeKey][]*runModel{}
	for start := 0; start < len(runIDs); start += 1000 {
		var rows []runModel
		if err := c.rdb.NewRaw("SELECT "+runColumns+" FROM runs WHERE id IN (?)", bun.In(runIDs[start:min(start+1000, len(runIDs))])).
			Scan(ctx, &rows); err != nil {
			return nil, fmt.Errorf("planner events: runs: %w", translate(err))
		}
		for i := range rows {
			runs[rows[i].ID] = &rows[i]
		}
	}
	for _, rk := range runRanges {
		var rows []runModel
		if err := c.rdb.NewRaw("SELECT "+runColumns+" FROM runs WHERE asset = ? AND id BETWEEN ? AND ? ORDER BY id", rk.asset, rk.first, rk.last).
			Scan(ctx, &rows); err != nil {
			return nil, fmt.Errorf("planner events: enqueued runs: %w", translate(err))
		}
		for i := range rows {
			byRange[rk] = append(byRange[rk], &rows[i])
		}
	}
	mats := map[rangeKey][]planner.MaterializationRecorded{}
	for _, rk := range matRanges {
		if _, ok := mats[rk]; ok {
			continue
		}
		ms, err := c.plannerMaterializations(ctx, rk)
		if err != nil {
			return nil, fmt.Errorf("planner events: %w", err)
		}
		mats[rk] = ms
	}
	dyn := map[string][]string{}
	for n := range dynNames {
		keys, err := c.DynamicPartitionKeys(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("planner events: %w", err)
		}
		dyn[n] = keys
	}
	var graph *asset.Graph
	if needGraph {
		recs, err := c.CurrentAssets(ctx)
		if err != nil {
			return nil, fmt.Errorf("planner events: %w", err)
		}
		decls := make([]asset.AssetDecl, len(recs))
		for i, r := range recs {
			decls[i] = r.Decl
		}
		if graph, err = asset.NewGraph(decls); err != nil {
			return nil, fmt.Errorf("planner events: asset graph: %w", err)
		}
	}
	graphApplied := false
	for _, e := range evs {
		switch e.Kind {
		case EventRunsEnqueued:
			var p struct {
				First int64 `json:"first_run_id"`
				Last  int64 `json:"last_run_id"`
			}
			_ = json.Unmarshal(e.Payload, &p)
			for k, r := range byRange[rangeKey{string(e.Asset), p.First, p.Last}] {
				ev, err := runEvent(r, RunQueued)
				if err != nil {
					return nil, fmt.Errorf("planner events: %w", err)
				}
				ev.Seq, ev.At = PlannerSeq(e.ID, k), e.CreatedAt
				b.Events = append(b.Events, ev)
			}
		case EventRunState:
			if e.RunID == 0 {
				b.Resync = fmt.Sprintf("event %d summarizes a mass run state change", e.ID)
				continue
			}
			r := runs[e.RunID]
			if r == nil {
				continue // not visible: cannot happen, runs are never deleted
			}
			var p struct {
				To RunState `json:"to"`
			}
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				return nil, fmt.Errorf("planner events: event %d payload: %w", e.ID, err)
			}
			ev, err := runEvent(r, p.To)
			if err != nil {
				return nil, fmt.Errorf("planner events: %w", err)
			}
			if p.To == RunCancelled && strings.HasPrefix(r.Error, splitPrefix) {
				// The materializer replaced the run by smaller runs over
				// the same partitions (they carry the backfill id): it
				// ends, but its partitions did not fail the backfill.
				ev.BackfillID = ""
			}
			ev.Seq, ev.At = PlannerSeq(e.ID, 0), e.CreatedAt
			b.Events = append(b.Events, ev)
		case EventMaterialization:
			var p struct {
				First int64 `json:"first_id"`
				Last  int64 `json:"last_id"`
			}
			_ = json.Unmarshal(e.Payload, &p)
			for _, m := range mats[rangeKey{string(e.Asset), p.First, p.Last}] {
				m.Seq = PlannerSeq(e.ID, int(m.Seq)) // m.Seq holds the offset
				b.Events = append(b.Events, m)
			}
		case EventDynamicPartitions:
			var p struct {
				Name string `json:"name"`
			}
			_ = json.Unmarshal(e.Payload, &p)
			b.Events = append(b.Events, planner.DynamicPartitionsChanged{Seq: PlannerSeq(e.ID, 0), Name: p.Name, Keys: dyn[p.Name]})
		case EventAssetApplied, EventAssetDeleted:
			// The graph read is the current one: apply it at the first
			// asset event of the batch, so materializations of an asset
			// created in this batch find it.
			if !graphApplied {
				b.Events = append(b.Events, planner.AssetsApplied{Seq: PlannerSeq(e.ID, 0), Graph: graph})
				graphApplied = true
			}
		case EventBackfillState:
			var p struct {
				From    string `json:"from"`
				To      string `json:"to"`
				Planned bool   `json:"planned"`
			}
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				return nil, fmt.Errorf("planner events: event %d payload: %w", e.ID, err)
			}
			switch {
			case p.From == "" && p.Planned:
				b.BackfillsStarted = append(b.BackfillsStarted, e.BackfillID)
			case p.To == BackfillCancelling || p.To == BackfillCancelled:
				b.BackfillsStopped = append(b.BackfillsStopped, e.BackfillID)
			}
		}
	}
	return b, nil
}

func runEvent(r *runModel, state RunState) (planner.RunStateChanged, error) {
	ev := planner.RunStateChanged{RunID: strconv.FormatInt(r.ID, 10), Asset: asset.Key(r.Asset),
		State: plannerRunState(string(state)), Reason: ParsePlannerReason(r.Reason)}
	if r.BackfillID != nil {
		ev.BackfillID = strconv.FormatInt(*r.BackfillID, 10)
	}
	if err := json.Unmarshal([]byte(r.PartitionKeys), &ev.PartitionKeys); err != nil {
		return ev, fmt.Errorf("partition keys of run %d: %w", r.ID, err)
	}
	return ev, nil
}

// plannerMaterializations reads the materializations of one event (asset,
// id range) with their provenance, in id order.
func (c *Catalog) plannerMaterializations(ctx context.Context, rk rangeKey) ([]planner.MaterializationRecorded, error) {
	var rows []matModel
	if err := c.rdb.NewSelect().Model(&rows).Column("id", "asset", "partition_key", "run_id", "data_version", "code_version", "created_at").
		Where("asset = ?", rk.asset).Where("id BETWEEN ? AND ?", rk.first, rk.last).Order("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("materializations %d..%d of %s: %w", rk.first, rk.last, rk.asset, translate(err))
	}
	var prov []provModel
	if err := c.rdb.NewSelect().Model(&prov).Where("materialization_id BETWEEN ? AND ?", rk.first, rk.last).
		Order("materialization_id", "upstream_asset", "upstream_partition").Scan(ctx); err != nil {
		return nil, fmt.Errorf("provenance of materializations %d..%d: %w", rk.first, rk.last, translate(err))
	}
	out := make([]planner.MaterializationRecorded, len(rows))
	index := make(map[int64]int, len(rows))
	for i, r := range rows {
		index[r.ID] = i
		out[i] = planner.MaterializationRecorded{Asset: asset.Key(r.Asset), PartitionKey: r.PartitionKey,
			RunID: formatRunID(r.RunID), DataVersion: r.DataVersion, CodeVersion: r.CodeVersion, At: fromMicros(r.CreatedAt)}
	}
	for _, p := range prov {
		if i, ok := index[p.MaterializationID]; ok {
			out[i].Provenance = append(out[i].Provenance, planner.InputVersion{Asset: asset.Key(p.UpstreamAsset),
				PartitionKey: p.UpstreamPartition, DataVersion: p.DataVersion})
		}
	}
	for i, r := range rows {
		// The sub-seq is the offset in the event's id range, as the
		// snapshot (PlannerView) computes it: both give equal seqs.
		out[i].Seq = int64(min(r.ID-rk.first, plannerSubMax))
	}
	return out, nil
}
