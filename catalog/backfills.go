package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/strata-data/strata/asset"
)

// CreateBackfill creates a backfill and enqueues its runs in one
// transaction. Its counters start with every run queued. When
// spec.RequestID names a backfill already created, that backfill is
// returned with no run ids and nothing is written (idempotent retries).
func (c *Catalog) CreateBackfill(ctx context.Context, spec BackfillSpec) (Backfill, []int64, error) {
	if len(spec.RequestID) > 200 {
		return Backfill{}, nil, fmt.Errorf("create backfill: %w", invalidf("request_id: %d bytes long, more than 200", len(spec.RequestID)))
	}
	if len(spec.Description) > 10000 {
		return Backfill{}, nil, fmt.Errorf("create backfill: %w", invalidf("description: %d bytes long, more than 10000", len(spec.Description)))
	}
	if len(spec.Selection) == 0 {
		return Backfill{}, nil, fmt.Errorf("create backfill: %w", invalidf("selection is empty"))
	}
	for i, k := range spec.Selection {
		if _, err := asset.ParseKey(string(k)); err != nil {
			return Backfill{}, nil, fmt.Errorf("create backfill: %w", invalidf("selection[%d]: %v", i, err))
		}
	}
	switch spec.Filter {
	case "", "missing", "stale", "failed":
	default:
		return Backfill{}, nil, fmt.Errorf("create backfill: %w", invalidf("filter %q is not missing, stale or failed", spec.Filter))
	}
	if err := validJSON("partitions", spec.Partitions); err != nil {
		return Backfill{}, nil, fmt.Errorf("create backfill: %w", err)
	}
	if err := validateRunSpecs(spec.Runs); err != nil {
		return Backfill{}, nil, fmt.Errorf("create backfill: %w", err)
	}
	sel, err := json.Marshal(spec.Selection)
	if err != nil {
		return Backfill{}, nil, fmt.Errorf("create backfill: %w", err)
	}
	var ids []int64
	var bf backfillModel
	existing := int64(0)
	err = c.write(ctx, func(tx *txn) error {
		now := micros(c.now())
		var err error
		if bf, existing, err = insertBackfill(ctx, tx, spec, sel, len(spec.Runs) == 0, now); err != nil || existing != 0 {
			return err
		}
		runs := make([]RunSpec, len(spec.Runs))
		copy(runs, spec.Runs)
		for i := range runs {
			runs[i].BackfillID = bf.ID
		}
		events := []eventModel{{Kind: EventBackfillState, BackfillID: bf.ID, CreatedAt: now,
			Payload: jsonPayload(map[string]any{"from": "", "to": bf.State, "runs": len(runs)})}}
		var evs []eventModel
		ids, evs, err = c.enqueue(ctx, tx, runs, now)
		if err != nil {
			return err
		}
		return c.appendEvents(ctx, tx, append(events, evs...))
	})
	if err != nil && spec.RequestID != "" && errors.Is(err, ErrAlreadyExists) {
		// A concurrent create with the same request id won the race.
		if out, gerr := c.BackfillByRequestID(ctx, spec.RequestID); gerr == nil {
			return out, nil, nil
		}
	}
	if err != nil {
		return Backfill{}, nil, fmt.Errorf("create backfill: %w", err)
	}
	if existing != 0 {
		out, err := c.GetBackfill(ctx, existing)
		return out, nil, err
	}
	out, err := c.GetBackfill(ctx, bf.ID)
	return out, ids, err
}

// insertBackfill inserts the backfill row of spec, completed at once when
// empty, unless a backfill with the same request id exists: then it inserts
// nothing and returns that backfill's id as existing.
func insertBackfill(ctx context.Context, tx *txn, spec BackfillSpec, sel []byte, empty bool, now int64) (bf backfillModel, existing int64, err error) {
	if spec.RequestID != "" {
		var found []int64
		if err := tx.NewSelect().Model((*backfillModel)(nil)).Column("id").Where("request_id = ?", spec.RequestID).
			Scan(ctx, &found); err != nil {
			return bf, 0, err
		}
		if len(found) > 0 {
			return bf, found[0], nil
		}
	}
	bf = backfillModel{Selection: string(sel), Partitions: jsonText(spec.Partitions), Filter: spec.Filter,
		Priority: spec.Priority, State: BackfillRunning, Actor: spec.Actor, RequestID: spec.RequestID,
		Description: spec.Description, CreatedAt: now, UpdatedAt: now}
	if empty {
		bf.State = BackfillCompleted
		bf.FinishedAt = &now
	}
	if _, err := tx.NewInsert().Model(&bf).Returning("id").Exec(ctx); err != nil {
		return bf, 0, err
	}
	return bf, 0, nil
}

// BackfillByRequestID returns the backfill created with request id
// (ErrNotFound when none), with its per-asset counters.
func (c *Catalog) BackfillByRequestID(ctx context.Context, requestID string) (Backfill, error) {
	if requestID == "" {
		return Backfill{}, fmt.Errorf("backfill by request id: %w", invalidf("request id is empty"))
	}
	var ids []int64
	if err := c.rdb.NewSelect().Model((*backfillModel)(nil)).Column("id").Where("request_id = ?", requestID).
		Scan(ctx, &ids); err != nil {
		return Backfill{}, fmt.Errorf("backfill by request id %q: %w", requestID, translate(err))
	}
	if len(ids) == 0 {
		return Backfill{}, fmt.Errorf("backfill by request id %q: %w", requestID, ErrNotFound)
	}
	return c.GetBackfill(ctx, ids[0])
}

func (m *backfillModel) backfill() (Backfill, error) {
	b := Backfill{ID: m.ID, Filter: m.Filter, Priority: m.Priority, State: m.State, Actor: m.Actor,
		RequestID: m.RequestID, Description: m.Description,
		Counts: BackfillCounts{Total: m.RunsTotal, Queued: m.Queued, Running: m.Running, Succeeded: m.Succeeded,
			Failed: m.Failed, Cancelled: m.Cancelled},
		CreatedAt: fromMicros(m.CreatedAt), UpdatedAt: fromMicros(m.UpdatedAt), FinishedAt: fromMicrosPtr(m.FinishedAt)}
	if err := json.Unmarshal([]byte(m.Selection), &b.Selection); err != nil {
		return Backfill{}, fmt.Errorf("decode selection of backfill %d: %w", m.ID, err)
	}
	if m.Partitions != nil {
		b.Partitions = json.RawMessage(*m.Partitions)
	}
	return b, nil
}

// GetBackfill returns a backfill with its counters and its per-asset
// partition counters (one row, then one row per asset).
func (c *Catalog) GetBackfill(ctx context.Context, id int64) (Backfill, error) {
	var rows []backfillModel
	if err := c.rdb.NewSelect().Model(&rows).Where("id = ?", id).Scan(ctx); err != nil {
		return Backfill{}, fmt.Errorf("get backfill %d: %w", id, translate(err))
	}
	if len(rows) == 0 {
		return Backfill{}, fmt.Errorf("get backfill %d: %w", id, ErrNotFound)
	}
	b, err := rows[0].backfill()
	if err != nil {
		return Backfill{}, err
	}
	var as []backfillAssetModel
	if err := c.rdb.NewSelect().Model(&as).Where("backfill_id = ?", id).Order("asset").Scan(ctx); err != nil {
		return Backfill{}, fmt.Errorf("get backfill %d: asset counters: %w", id, translate(err))
	}
	b.Assets = make([]BackfillAssetCounts, len(as))
	for i, a := range as {
		b.Assets[i] = BackfillAssetCounts{Asset: asset.Key(a.Asset), Runs: a.Runs, Total: a.Total, Queued: a.Queued,
			Running: a.Running, Succeeded: a.Succeeded, Failed: a.Failed, Cancelled: a.Cancelled}
	}
	return b, nil
}

// ListBackfills returns backfills newest first; beforeID > 0 pages.
func (c *Catalog) ListBackfills(ctx context.Context, beforeID int64, limit int) ([]Backfill, error) {
	if limit <= 0 {
		limit = 100
	}
	var rows []backfillModel
	q := c.rdb.NewSelect().Model(&rows)
	if beforeID > 0 {
		q = q.Where("id < ?", beforeID)
	}
	if err := q.Order("id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list backfills: %w", translate(err))
	}
	out := make([]Backfill, len(rows))
	for i := range rows {
		var err error
		if out[i], err = rows[i].backfill(); err != nil {
			return nil, fmt.Errorf("list backfills: %w", err)
		}
	}
	return out, nil
}

// CancelBackfill cancels a backfill: its queued runs are cancelled and its
// running runs asked to stop; it is cancelling until they finish, then
// cancelled. Cancelling a finished backfill changes nothing.
func (c *Catalog) CancelBackfill(ctx context.Context, id int64) (Backfill, error) {
	err := c.write(ctx, func(tx *txn) error {
		var rows []backfillModel
		if err := tx.NewRaw("SELECT id, state FROM backfills WHERE id = ?", id).Scan(ctx, &rows); err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("backfill %d: %w", id, ErrNotFound)
		}
		if rows[0].State != BackfillRunning {
			return nil
		}
		now := micros(c.now())
		// Runs first, then the backfill row: the lock order of FinishRun.
		_, _, events, deltas, err := c.cancelWhere(ctx, tx, "backfill_id = ?", id)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "UPDATE backfills SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
			BackfillCancelling, now, id, BackfillRunning)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			events = append(events, eventModel{Kind: EventBackfillState, BackfillID: id, CreatedAt: now,
				Payload: jsonPayload(map[string]string{"from": BackfillRunning, "to": BackfillCancelling})})
		}
		if deltas[id] == nil {
			deltas[id] = &backfillDelta{} // a backfill with nothing running is cancelled at once
		}
		more, err := c.applyBackfillDeltas(ctx, tx, deltas, now)
		if err != nil {
			return err
		}
		return c.appendEvents(ctx, tx, append(events, more...))
	})
	if err != nil {
		return Backfill{}, fmt.Errorf("cancel backfill %d: %w", id, err)
	}
	return c.GetBackfill(ctx, id)
}
