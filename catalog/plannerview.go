package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/planner"
)

// The planner orders everything by one sequence: materializations (a later
// one wins), failed runs (a failure counts when later than the partition's
// latest materialization), the cursor of applied events and the start of a
// backfill. The catalog's event ids are that order, but one event may carry
// many materializations (one event per asset per transaction), and the
// planner ignores an event whose seq is not above its cursor. So a planner
// seq is the event id shifted left by PlannerSeqShift, plus the index of
// the record within its event.
const PlannerSeqShift = 24

const plannerSubMax = 1<<PlannerSeqShift - 1

// PlannerSeq returns the planner seq of record sub of event id.
func PlannerSeq(eventID int64, sub int) int64 {
	return eventID<<PlannerSeqShift | int64(min(sub, plannerSubMax))
}

// EventIDOfSeq returns the catalog event id of a planner seq.
func EventIDOfSeq(seq int64) int64 { return seq >> PlannerSeqShift }

// PlannerReason formats a planner reason as a run's reason: "kind: detail",
// with " [tick RFC3339]" appended for an on_cron tick, so the server shows
// the kind and the detail and a rebuild recovers the tick (the on_cron
// state survives a restart).
func PlannerReason(r planner.Reason) string {
	s := string(r.Kind) + ": " + r.Detail
	if !r.Tick.IsZero() {
		s += " [tick " + r.Tick.UTC().Format(time.RFC3339Nano) + "]"
	}
	return s
}

// ParsePlannerReason reverses PlannerReason; a reason written by someone
// else gives its head as the kind and the rest as the detail.
func ParsePlannerReason(s string) planner.Reason {
	head, detail, ok := strings.Cut(s, ":")
	if !ok {
		return planner.Reason{Detail: s}
	}
	r := planner.Reason{Kind: planner.ReasonKind(strings.TrimSpace(head)), Detail: strings.TrimSpace(detail)}
	if i := strings.LastIndex(r.Detail, " [tick "); i >= 0 && strings.HasSuffix(r.Detail, "]") {
		if t, err := time.Parse(time.RFC3339Nano, r.Detail[i+len(" [tick "):len(r.Detail)-1]); err == nil {
			r.Tick, r.Detail = t, r.Detail[:i]
		}
	} else if strings.HasPrefix(r.Detail, "[tick ") && strings.HasSuffix(r.Detail, "]") {
		if t, err := time.Parse(time.RFC3339Nano, r.Detail[len("[tick "):len(r.Detail)-1]); err == nil {
			r.Tick, r.Detail = t, ""
		}
	}
	return r
}

func plannerRunState(s string) planner.RunState {
	switch RunState(s) {
	case RunQueued:
		return planner.RunQueued
	case RunRunning:
		return planner.RunRunning
	case RunSucceeded:
		return planner.RunSucceeded
	case RunFailed:
		return planner.RunFailed
	case RunCancelled:
		return planner.RunCanceled
	}
	return 0
}

// PlannerView is a read-only snapshot of the catalog, as the planner builds
// its state from it (planner.Build): every read happens in one read
// transaction (REPEATABLE READ, read only, on PostgreSQL; a read
// transaction on SQLite, whose snapshot starts at its first read), so the
// asset graph, materializations, runs, dynamic keys and planner backfills
// agree with each other and with Cursor. Close it when done.
//
// The view keeps the context it was opened with: the planner's View
// interface has no context parameter, and the view lives only for one
// rebuild.
type PlannerView struct {
	ctx       context.Context
	tx        bun.Tx
	dialect   string
	cursor    int64
	graph     *asset.Graph
	backfills []PlannerBackfill
	// matEvents per asset: the materialization events, by first id, that
	// give a materialization its seq.
	matEvents map[string][]matEvent
}

type matEvent struct{ first, last, event int64 }

var _ planner.View = (*PlannerView)(nil)

// OpenPlannerView opens a snapshot for planner.Build.
func (c *Catalog) OpenPlannerView(ctx context.Context) (*PlannerView, error) {
	var opts *sql.TxOptions
	if c.drv.dialect() == "postgres" {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := c.rdb.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("open planner view: %w", translate(err))
	}
	v := &PlannerView{ctx: ctx, tx: tx, dialect: c.drv.dialect(), matEvents: map[string][]matEvent{}}
	if err := v.load(ctx); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("open planner view: %w", translate(err))
	}
	return v, nil
}

// Close ends the snapshot's transaction.
func (v *PlannerView) Close() error {
	if err := v.tx.Rollback(); err != nil && err != sql.ErrTxDone {
		return fmt.Errorf("close planner view: %w", translate(err))
	}
	return nil
}

func (v *PlannerView) load(ctx context.Context) error {
	if err := v.tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM events").Scan(&v.cursor); err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	var ms []assetModel
	if err := v.tx.NewSelect().Model(&ms).Where("deleted = ?", false).Order("key").Scan(ctx); err != nil {
		return fmt.Errorf("assets: %w", err)
	}
	decls := make([]asset.AssetDecl, 0, len(ms))
	for i := range ms {
		r, err := ms[i].record()
		if err != nil {
			return err
		}
		decls = append(decls, r.Decl)
	}
	g, err := asset.NewGraph(decls)
	if err != nil {
		return fmt.Errorf("asset graph: %w", err)
	}
	v.graph = g
	// A backfill cancelled through the catalog alone (CancelBackfill) is
	// not taken up again, done or not.
	var bfs []plannerBackfillModel
	if err := v.tx.NewSelect().Model(&bfs).Where("done = ?", false).
		Where("backfill_id NOT IN (SELECT id FROM backfills WHERE state IN (?, ?))", BackfillCancelling, BackfillCancelled).
		Order("backfill_id").Scan(ctx); err != nil {
		return fmt.Errorf("planner backfills: %w", err)
	}
	for _, b := range bfs {
		v.backfills = append(v.backfills, PlannerBackfill{ID: b.BackfillID, State: json.RawMessage(b.State)})
	}
	first, last := "CAST(CAST(payload AS jsonb)->>'first_id' AS bigint)", "CAST(CAST(payload AS jsonb)->>'last_id' AS bigint)"
	if v.dialect != "postgres" {
		first, last = "json_extract(payload, '$.first_id')", "json_extract(payload, '$.last_id')"
	}
	rows, err := v.tx.QueryContext(ctx, "SELECT id, asset, "+first+", "+last+" FROM events WHERE kind = ? AND payload IS NOT NULL ORDER BY id",
		EventMaterialization)
	if err != nil {
		return fmt.Errorf("materialization events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e matEvent
		var a string
		var f, l sql.NullInt64
		if err := rows.Scan(&e.event, &a, &f, &l); err != nil {
			return fmt.Errorf("materialization events: %w", err)
		}
		if !f.Valid || !l.Valid {
			continue
		}
		e.first, e.last = f.Int64, l.Int64
		v.matEvents[a] = append(v.matEvents[a], e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("materialization events: %w", err)
	}
	for _, es := range v.matEvents {
		sort.Slice(es, func(i, j int) bool { return es[i].first < es[j].first })
	}
	return nil
}

// Graph is the asset graph of the snapshot.
func (v *PlannerView) Graph() *asset.Graph { return v.graph }

// Backfills are the planner backfills not done at the snapshot, oldest
// first, to restore after planner.Build.
func (v *PlannerView) Backfills() []PlannerBackfill { return v.backfills }

// Cursor implements planner.View: the planner seq of the last record of
// the last event in the snapshot.
func (v *PlannerView) Cursor() int64 { return PlannerSeq(v.cursor, plannerSubMax) }

// seqOf finds the event that recorded materialization id of asset a.
func (v *PlannerView) seqOf(a string, id int64) int64 {
	es := v.matEvents[a]
	k := sort.Search(len(es), func(i int) bool { return es[i].first > id }) - 1
	// Ranges of one asset overlap only when concurrent transactions
	// interleaved their ids: look back a little.
	for n := 0; k >= 0 && n < 8; k, n = k-1, n+1 {
		if e := es[k]; id <= e.last {
			return PlannerSeq(e.event, int(id-e.first))
		}
	}
	return 1 // no event (should not happen): older than everything else
}

// LatestMaterializations implements planner.View: the latest
// materialization of every partition of every asset, with its provenance.
func (v *PlannerView) LatestMaterializations() iter.Seq2[planner.MaterializationRecorded, error] {
	return func(yield func(planner.MaterializationRecorded, error) bool) {
		rows, err := v.tx.QueryContext(v.ctx, `SELECT l.asset, l.partition_key, l.materialization_id, l.run_id,
l.data_version, l.code_version, l.created_at, p.upstream_asset, p.upstream_partition, p.data_version
FROM latest_materializations l LEFT JOIN provenance p ON p.materialization_id = l.materialization_id
ORDER BY l.asset, l.partition_key, p.upstream_asset, p.upstream_partition`)
		if err != nil {
			yield(planner.MaterializationRecorded{}, fmt.Errorf("latest materializations: %w", translate(err)))
			return
		}
		defer rows.Close()
		var cur planner.MaterializationRecorded
		var curID int64 = -1
		for rows.Next() {
			var a, part, dv, cv string
			var id, run, created int64
			var ua, up, udv sql.NullString
			if err := rows.Scan(&a, &part, &id, &run, &dv, &cv, &created, &ua, &up, &udv); err != nil {
				yield(planner.MaterializationRecorded{}, fmt.Errorf("latest materializations: %w", translate(err)))
				return
			}
			if id != curID {
				if curID >= 0 && !yield(cur, nil) {
					return
				}
				curID = id
				cur = planner.MaterializationRecorded{Seq: v.seqOf(a, id), Asset: asset.Key(a), PartitionKey: part,
					RunID: formatRunID(run), DataVersion: dv, CodeVersion: cv, At: fromMicros(created)}
			}
			if ua.Valid {
				cur.Provenance = append(cur.Provenance, planner.InputVersion{Asset: asset.Key(ua.String),
					PartitionKey: up.String, DataVersion: udv.String})
			}
		}
		if err := rows.Err(); err != nil {
			yield(planner.MaterializationRecorded{}, fmt.Errorf("latest materializations: %w", translate(err)))
			return
		}
		if curID >= 0 {
			yield(cur, nil)
		}
	}
}

func formatRunID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// Runs implements planner.View: every queued or running run; every failed
// run, with the seq of the event that failed it (the planner keeps a
// failure only when later than the partition's latest materialization);
// and the latest on_cron run of each asset, for its tick.
func (v *PlannerView) Runs() iter.Seq2[planner.RunStateChanged, error] {
	return func(yield func(planner.RunStateChanged, error) bool) {
		queries := []struct{ what, q string }{
			{"open runs", `SELECT id, asset, partition_keys, reason, coalesce(backfill_id, 0), state, 0 FROM runs
WHERE state IN ('queued', 'running') ORDER BY id`},
			{"failed runs", `SELECT r.id, r.asset, r.partition_keys, r.reason, coalesce(r.backfill_id, 0), r.state, max(e.id)
FROM runs r JOIN events e ON e.run_id = r.id AND e.kind = 'run_state'
WHERE r.state = 'failed' GROUP BY r.id, r.asset, r.partition_keys, r.reason, r.backfill_id, r.state ORDER BY r.id`},
			{"on_cron runs", `SELECT id, asset, partition_keys, reason, coalesce(backfill_id, 0), state, 0 FROM runs
WHERE id IN (SELECT max(id) FROM runs WHERE reason LIKE 'on_cron:%' GROUP BY asset)
AND state NOT IN ('queued', 'running', 'failed') ORDER BY id`},
		}
		for _, q := range queries {
			var out []planner.RunStateChanged
			rows, err := v.tx.QueryContext(v.ctx, q.q)
			if err != nil {
				yield(planner.RunStateChanged{}, fmt.Errorf("%s: %w", q.what, translate(err)))
				return
			}
			for rows.Next() {
				var id, bf, ev int64
				var a, keys, reason, state string
				if err := rows.Scan(&id, &a, &keys, &reason, &bf, &state, &ev); err != nil {
					rows.Close()
					yield(planner.RunStateChanged{}, fmt.Errorf("%s: %w", q.what, translate(err)))
					return
				}
				r := planner.RunStateChanged{RunID: formatRunID(id), Asset: asset.Key(a), Reason: ParsePlannerReason(reason),
					State: plannerRunState(state)}
				if ev > 0 {
					r.Seq = PlannerSeq(ev, 0)
				}
				if bf != 0 {
					r.BackfillID = strconv.FormatInt(bf, 10)
				}
				if err := json.Unmarshal([]byte(keys), &r.PartitionKeys); err != nil {
					rows.Close()
					yield(planner.RunStateChanged{}, fmt.Errorf("%s: partition keys of run %d: %w", q.what, id, err))
					return
				}
				out = append(out, r)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				yield(planner.RunStateChanged{}, fmt.Errorf("%s: %w", q.what, translate(err)))
				return
			}
			// Yield after the rows are closed: the transaction has one
			// connection, and the consumer may not be quick.
			for _, r := range out {
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}

// DynamicPartitions implements planner.View.
func (v *PlannerView) DynamicPartitions() iter.Seq2[planner.DynamicPartitionsChanged, error] {
	return func(yield func(planner.DynamicPartitionsChanged, error) bool) {
		rows, err := v.tx.QueryContext(v.ctx, "SELECT name, key FROM dynamic_partitions ORDER BY name, seq")
		if err != nil {
			yield(planner.DynamicPartitionsChanged{}, fmt.Errorf("dynamic partitions: %w", translate(err)))
			return
		}
		var out []planner.DynamicPartitionsChanged
		for rows.Next() {
			var n, k string
			if err := rows.Scan(&n, &k); err != nil {
				rows.Close()
				yield(planner.DynamicPartitionsChanged{}, fmt.Errorf("dynamic partitions: %w", translate(err)))
				return
			}
			if len(out) == 0 || out[len(out)-1].Name != n {
				out = append(out, planner.DynamicPartitionsChanged{Name: n})
			}
			out[len(out)-1].Keys = append(out[len(out)-1].Keys, k)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			yield(planner.DynamicPartitionsChanged{}, fmt.Errorf("dynamic partitions: %w", translate(err)))
			return
		}
		for _, d := range out {
			if !yield(d, nil) {
				return
			}
		}
	}
}
