package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/strata-data/strata/asset"
)

// PlannerBackfill is the planner's persisted state of one backfill: the
// JSON of a planner.BackfillState (spec, start seq, resolved targets) whose
// spec ID is the backfill's id. The catalog keeps it opaque.
type PlannerBackfill struct {
	ID    int64
	State json.RawMessage
	Done  bool
}

type plannerBackfillModel struct {
	bun.BaseModel `bun:"table:planner_backfills"`
	BackfillID    int64  `bun:"backfill_id,pk"`
	State         string `bun:"state"`
	Done          bool   `bun:"done"`
	CreatedAt     int64  `bun:"created_at"`
	UpdatedAt     int64  `bun:"updated_at"`
}

// CreatePlannedBackfill creates a backfill whose runs the planner loop will
// enqueue wave by wave (each downstream partition once its upstream
// partitions of the backfill succeeded), together with the planner's state
// of it, in one transaction: the backfill_state event that announces it is
// committed with the state, so any server's planner loop can take it up.
// state(id) returns the JSON to keep for backfill id. A backfill with no
// target (empty) is created completed. As with CreateBackfill, a
// spec.RequestID already used returns that backfill and writes nothing.
func (c *Catalog) CreatePlannedBackfill(ctx context.Context, spec BackfillSpec, empty bool, state func(id int64) (json.RawMessage, error)) (Backfill, error) {
	if len(spec.RequestID) > 200 {
		return Backfill{}, fmt.Errorf("create planned backfill: %w", invalidf("request_id: %d bytes long, more than 200", len(spec.RequestID)))
	}
	if len(spec.Description) > 10000 {
		return Backfill{}, fmt.Errorf("create planned backfill: %w", invalidf("description: %d bytes long, more than 10000", len(spec.Description)))
	}
	if len(spec.Selection) == 0 {
		return Backfill{}, fmt.Errorf("create planned backfill: %w", invalidf("selection is empty"))
	}
	for i, k := range spec.Selection {
		if _, err := asset.ParseKey(string(k)); err != nil {
			return Backfill{}, fmt.Errorf("create planned backfill: %w", invalidf("selection[%d]: %v", i, err))
		}
	}
	switch spec.Filter {
	case "", "missing", "stale", "failed":
	default:
		return Backfill{}, fmt.Errorf("create planned backfill: %w", invalidf("filter %q is not missing, stale or failed", spec.Filter))
	}
	if len(spec.Runs) > 0 {
		return Backfill{}, fmt.Errorf("create planned backfill: %w", invalidf("runs are enqueued by the planner, not given"))
	}
	if err := validJSON("partitions", spec.Partitions); err != nil {
		return Backfill{}, fmt.Errorf("create planned backfill: %w", err)
	}
	sel, err := json.Marshal(spec.Selection)
	if err != nil {
		return Backfill{}, fmt.Errorf("create planned backfill: %w", err)
	}
	var bf backfillModel
	existing := int64(0)
	err = c.write(ctx, func(tx *txn) error {
		now := micros(c.now())
		var err error
		if bf, existing, err = insertBackfill(ctx, tx, spec, sel, empty, now); err != nil || existing != 0 {
			return err
		}
		st, err := state(bf.ID)
		if err != nil {
			return fmt.Errorf("planner state of backfill %d: %w", bf.ID, err)
		}
		if err := validJSON("planner state", st); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(&plannerBackfillModel{BackfillID: bf.ID, State: string(st), Done: empty,
			CreatedAt: now, UpdatedAt: now}).Exec(ctx); err != nil {
			return fmt.Errorf("insert planner state: %w", err)
		}
		return c.appendEvents(ctx, tx, []eventModel{{Kind: EventBackfillState, BackfillID: bf.ID, CreatedAt: now,
			Payload: jsonPayload(map[string]any{"from": "", "to": bf.State, "runs": 0, "planned": true})}})
	})
	if err != nil && spec.RequestID != "" && errors.Is(err, ErrAlreadyExists) {
		// A concurrent create with the same request id won the race.
		if out, gerr := c.BackfillByRequestID(ctx, spec.RequestID); gerr == nil {
			return out, nil
		}
	}
	if err != nil {
		return Backfill{}, fmt.Errorf("create planned backfill: %w", err)
	}
	if existing != 0 {
		return c.GetBackfill(ctx, existing)
	}
	return c.GetBackfill(ctx, bf.ID)
}

// GetPlannerBackfill returns the planner's state of backfill id
// (ErrNotFound for a backfill the planner does not run).
func (c *Catalog) GetPlannerBackfill(ctx context.Context, id int64) (PlannerBackfill, error) {
	var rows []plannerBackfillModel
	if err := c.rdb.NewSelect().Model(&rows).Where("backfill_id = ?", id).Scan(ctx); err != nil {
		return PlannerBackfill{}, fmt.Errorf("planner state of backfill %d: %w", id, translate(err))
	}
	if len(rows) == 0 {
		return PlannerBackfill{}, fmt.Errorf("planner state of backfill %d: %w", id, ErrNotFound)
	}
	r := rows[0]
	return PlannerBackfill{ID: r.BackfillID, State: json.RawMessage(r.State), Done: r.Done}, nil
}

// FinishPlannerBackfill marks the planner's state of backfill id done: every
// target reached a terminal state, or the backfill was cancelled. A done
// backfill is not taken up again after a restart.
func (c *Catalog) FinishPlannerBackfill(ctx context.Context, id int64) error {
	err := c.write(ctx, func(tx *txn) error {
		n := micros(c.now())
		if _, err := tx.ExecContext(ctx, "UPDATE planner_backfills SET done = ?, updated_at = ? WHERE backfill_id = ?", true, n, id); err != nil {
			return err
		}
		// The backfill's state waited for this (applyBackfillDeltas): settle
		// it now if its last wave has drained.
		var state string
		var queued, running, failed int64
		err := tx.QueryRowContext(ctx, "SELECT state, queued, running, failed FROM backfills WHERE id = ?"+c.drv.forUpdate(), id).
			Scan(&state, &queued, &running, &failed)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		next := nextBackfillState(state, queued, running, failed)
		if next == state || next == BackfillRunning {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "UPDATE backfills SET state = ?, finished_at = ?, updated_at = ? WHERE id = ?", next, n, n, id); err != nil {
			return err
		}
		return c.appendEvents(ctx, tx, []eventModel{{Kind: EventBackfillState, BackfillID: id, CreatedAt: n,
			Payload: jsonPayload(map[string]string{"from": state, "to": next})}})
	})
	if err != nil {
		return fmt.Errorf("finish planner state of backfill %d: %w", id, err)
	}
	return nil
}

// plannerBackfillPending reports whether the planner still has waves to
// enqueue for backfill id.
func (c *Catalog) plannerBackfillPending(ctx context.Context, tx *txn, id int64) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, "SELECT count(*) FROM planner_backfills WHERE backfill_id = ? AND done = ?", id, false).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("planner state of backfill %d: %w", id, err)
	}
	return n > 0, nil
}
