package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/strata-data/strata/asset"
)

// maxRunEvents bounds the per-run events of one mass state change.
const maxRunEvents = 1000

// noDeadline orders runs without a deadline after every run with one.
const noDeadline = "9223372036854775807"

func validJSON(field string, b json.RawMessage) error {
	if b != nil && !json.Valid(b) {
		return invalidf("%s is not valid JSON", field)
	}
	return nil
}

func jsonText(b json.RawMessage) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func validateRunSpecs(specs []RunSpec) error {
	for i, s := range specs {
		if _, err := asset.ParseKey(string(s.Asset)); err != nil {
			return invalidf("runs[%d].asset: %v", i, err)
		}
		if len(s.PartitionKeys) == 0 {
			return invalidf("runs[%d].partition_keys: at least one key is needed ([\"\"] for an unpartitioned asset)", i)
		}
		if s.MaxAttempts < 0 {
			return invalidf("runs[%d].max_attempts: %d is negative", i, s.MaxAttempts)
		}
		if s.BackfillID < 0 {
			return invalidf("runs[%d].backfill_id: %d is negative", i, s.BackfillID)
		}
		if err := validJSON(fmt.Sprintf("runs[%d].sizing", i), s.Sizing); err != nil {
			return err
		}
	}
	return nil
}

// backfillDelta is a change of a backfill's per-state counters: of runs,
// and of partitions per asset (backfill_assets).
type backfillDelta struct {
	total, queued, running, succeeded, failed, cancelled int64
	assets                                               map[string]*backfillDelta // partitions; runs counts runs
	runs                                                 int64
}

// asset returns the per-asset partition delta of key.
func (d *backfillDelta) asset(key string) *backfillDelta {
	if d.assets == nil {
		d.assets = map[string]*backfillDelta{}
	}
	a := d.assets[key]
	if a == nil {
		a = &backfillDelta{}
		d.assets[key] = a
	}
	return a
}

func (d *backfillDelta) add(s RunState, n int64) {
	switch s {
	case RunQueued:
		d.queued += n
	case RunRunning:
		d.running += n
	case RunSucceeded:
		d.succeeded += n
	case RunFailed:
		d.failed += n
	case RunCancelled:
		d.cancelled += n
	}
}

type backfillDeltas map[int64]*backfillDelta

func (m backfillDeltas) get(id int64) *backfillDelta {
	d := m[id]
	if d == nil {
		d = &backfillDelta{}
		m[id] = d
	}
	return d
}

// move counts run r (of a backfill) going from one state to another: one
// run, and r's partitions for its asset.
func (m backfillDeltas) move(r *runModel, from, to RunState) {
	id := backfillOf(r)
	if id == 0 || from == to {
		return
	}
	d := m.get(id)
	d.add(from, -1)
	d.add(to, 1)
	a := d.asset(r.Asset)
	n := int64(max(r.PartitionCount, 1))
	a.add(from, -n)
	a.add(to, n)
}

// EnqueueRuns adds runs to the queue in one transaction (COPY on PostgreSQL,
// batched multi-row inserts on SQLite) and returns their ids in order.
func (c *Catalog) EnqueueRuns(ctx context.Context, specs []RunSpec) ([]int64, error) {
	if err := validateRunSpecs(specs); err != nil {
		return nil, fmt.Errorf("enqueue runs: %w", err)
	}
	var ids []int64
	err := c.write(ctx, func(tx *txn) error {
		var events []eventModel
		var err error
		ids, events, err = c.enqueue(ctx, tx, specs, micros(c.now()))
		if err != nil {
			return err
		}
		return c.appendEvents(ctx, tx, events)
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue %d runs: %w", len(specs), err)
	}
	return ids, nil
}

func (c *Catalog) enqueue(ctx context.Context, tx *txn, specs []RunSpec, now int64) ([]int64, []eventModel, error) {
	if len(specs) == 0 {
		return nil, nil, nil
	}
	deltas := backfillDeltas{}
	for _, s := range specs {
		if s.BackfillID != 0 {
			d := deltas.get(s.BackfillID)
			d.total++
			d.queued++
			a := d.asset(string(s.Asset))
			a.runs++
			a.total += int64(len(s.PartitionKeys))
			a.queued += int64(len(s.PartitionKeys))
		}
	}
	if len(deltas) > 0 {
		want := make([]int64, 0, len(deltas))
		for id := range deltas {
			want = append(want, id)
		}
		n, err := tx.NewSelect().Model((*backfillModel)(nil)).Where("id IN (?)", bun.In(want)).Count(ctx)
		if err != nil {
			return nil, nil, err
		}
		if int(n) != len(want) {
			return nil, nil, fmt.Errorf("backfill of a run: %w", ErrNotFound)
		}
	}
	ids, err := c.drv.allocIDs(ctx, tx, "runs", len(specs))
	if err != nil {
		return nil, nil, fmt.Errorf("allocate run ids: %w", err)
	}
	rows := make([]runModel, len(specs))
	type span struct{ n, first, last int64 }
	perAsset := map[string]*span{}
	var order []string
	for i, s := range specs {
		keys, err := json.Marshal(s.PartitionKeys)
		if err != nil {
			return nil, nil, err
		}
		r := &rows[i]
		r.ID = ids[i]
		r.Asset = string(s.Asset)
		r.PartitionKeys = string(keys)
		r.PartitionCount = len(s.PartitionKeys)
		r.Reason = s.Reason
		r.Priority = s.Priority
		r.Deadline = microsPtr(s.Deadline)
		if s.NotBefore != nil {
			r.NotBefore = micros(*s.NotBefore)
		}
		if s.BackfillID != 0 {
			b := s.BackfillID
			r.BackfillID = &b
		}
		r.State = string(RunQueued)
		r.MaxAttempts = max(s.MaxAttempts, 1)
		r.Sizing = jsonText(s.Sizing)
		r.CreatedAt, r.UpdatedAt = now, now
		sp := perAsset[r.Asset]
		if sp == nil {
			sp = &span{first: r.ID}
			perAsset[r.Asset] = sp
			order = append(order, r.Asset)
		}
		sp.n++
		sp.last = r.ID
	}
	if err := c.drv.insertRuns(ctx, tx, rows); err != nil {
		return nil, nil, fmt.Errorf("insert runs: %w", err)
	}
	events, err := c.applyBackfillDeltas(ctx, tx, deltas, now)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range order {
		sp := perAsset[a]
		events = append(events, eventModel{Kind: EventRunsEnqueued, Asset: a, CreatedAt: now,
			Payload: jsonPayload(map[string]int64{"count": sp.n, "first_run_id": sp.first, "last_run_id": sp.last})})
	}
	return ids, events, nil
}

// applyBackfillDeltas updates backfill counters and, when a backfill has no
// queued or running run left, its state. It returns backfill_state events.
func (c *Catalog) applyBackfillDeltas(ctx context.Context, tx *txn, deltas backfillDeltas, now int64) ([]eventModel, error) {
	ids := make([]int64, 0, len(deltas))
	for id := range deltas {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] }) // lock order
	var events []eventModel
	for _, id := range ids {
		d := deltas[id]
		var state string
		var queued, running, failed int64
		err := tx.QueryRowContext(ctx, `UPDATE backfills SET runs_total = runs_total + ?, queued = queued + ?,
running = running + ?, succeeded = succeeded + ?, failed = failed + ?, cancelled = cancelled + ?, updated_at = ?
WHERE id = ? RETURNING state, queued, running, failed`,
			d.total, d.queued, d.running, d.succeeded, d.failed, d.cancelled, now, id).Scan(&state, &queued, &running, &failed)
		if err != nil {
			return nil, fmt.Errorf("update counters of backfill %d: %w", id, err)
		}
		if err := c.applyBackfillAssetDeltas(ctx, tx, id, d); err != nil {
			return nil, err
		}
		next := nextBackfillState(state, queued, running, failed)
		if next == state {
			continue
		}
		if next == BackfillCompleted || next == BackfillFailed {
			// A backfill the planner enqueues in waves has no runs in flight
			// between two waves: it ends when the planner says it is done
			// (FinishPlannerBackfill), not when its current wave drains.
			waves, err := c.plannerBackfillPending(ctx, tx, id)
			if err != nil {
				return nil, err
			}
			if waves {
				continue
			}
		}
		var fin *int64
		if next != BackfillRunning {
			fin = &now
		}
		if _, err := tx.ExecContext(ctx, "UPDATE backfills SET state = ?, finished_at = ? WHERE id = ?", next, fin, id); err != nil {
			return nil, fmt.Errorf("update state of backfill %d: %w", id, err)
		}
		events = append(events, eventModel{Kind: EventBackfillState, BackfillID: id, CreatedAt: now,
			Payload: jsonPayload(map[string]string{"from": state, "to": next})})
	}
	return events, nil
}

// nextBackfillState is the state of a backfill in state after its counters
// changed: running while runs are queued or running, else completed, failed
// (some run failed) or cancelled (it was cancelling).
func nextBackfillState(state string, queued, running, failed int64) string {
	switch {
	case queued+running > 0 && (state == BackfillCompleted || state == BackfillFailed):
		return BackfillRunning
	case queued+running == 0 && state == BackfillCancelling:
		return BackfillCancelled
	case queued+running == 0 && state == BackfillRunning && failed > 0:
		return BackfillFailed
	case queued+running == 0 && state == BackfillRunning:
		return BackfillCompleted
	}
	return state
}

// applyBackfillAssetDeltas upserts the per-asset partition counters of
// backfill id, assets in key order (lock order).
func (c *Catalog) applyBackfillAssetDeltas(ctx context.Context, tx *txn, id int64, d *backfillDelta) error {
	keys := make([]string, 0, len(d.assets))
	for k := range d.assets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := d.assets[k]
		if a.runs == 0 && a.total == 0 && a.queued == 0 && a.running == 0 && a.succeeded == 0 && a.failed == 0 && a.cancelled == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO backfill_assets AS b (backfill_id, asset, runs, total, queued, running, succeeded, failed, cancelled)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (backfill_id, asset) DO UPDATE SET runs = b.runs + excluded.runs, total = b.total + excluded.total,
  queued = b.queued + excluded.queued, running = b.running + excluded.running, succeeded = b.succeeded + excluded.succeeded,
  failed = b.failed + excluded.failed, cancelled = b.cancelled + excluded.cancelled`,
			id, k, a.runs, a.total, a.queued, a.running, a.succeeded, a.failed, a.cancelled); err != nil {
			return fmt.Errorf("update asset %s counters of backfill %d: %w", k, id, err)
		}
	}
	return nil
}

func runStateEvent(r *runModel, from RunState, now int64, extra map[string]any) eventModel {
	p := map[string]any{"from": from, "to": r.State, "attempt": r.Attempt}
	for k, v := range extra {
		p[k] = v
	}
	var bf int64
	if r.BackfillID != nil {
		bf = *r.BackfillID
	}
	return eventModel{Kind: EventRunState, Asset: r.Asset, RunID: r.ID, BackfillID: bf, CreatedAt: now, Payload: jsonPayload(p)}
}

func backfillOf(r *runModel) int64 {
	if r.BackfillID == nil {
		return 0
	}
	return *r.BackfillID
}

// ClaimRuns leases up to req.Limit runnable runs (queued, not_before <= now)
// to req.Owner, highest priority first, then earliest deadline (none last),
// then oldest. Each claimed run starts its next attempt. On PostgreSQL
// concurrent claimers skip each other's rows (FOR UPDATE SKIP LOCKED).
func (c *Catalog) ClaimRuns(ctx context.Context, req ClaimRequest) ([]Run, error) {
	if req.Owner == "" {
		return nil, fmt.Errorf("claim runs: %w", invalidf("owner is empty"))
	}
	if req.Lease <= 0 {
		return nil, fmt.Errorf("claim runs: %w", invalidf("lease must be positive"))
	}
	limit := max(req.Limit, 1)
	now := c.nowOr(req.Now)
	var out []Run
	err := c.write(ctx, func(tx *txn) error {
		out = nil
		n := micros(now)
		q := `UPDATE runs SET state = 'running', attempt = attempt + 1, lease_owner = ?, lease_expires_at = ?,
started_at = ?, updated_at = ?
WHERE id IN (SELECT id FROM ` + c.drv.claimFrom() + ` WHERE state = 'queued' AND not_before <= ?
  ORDER BY priority DESC, coalesce(deadline, ` + noDeadline + `), id LIMIT ?` + c.drv.skipLocked() + `)
RETURNING ` + runColumns
		var rows []runModel
		if err := tx.NewRaw(q, req.Owner, micros(now.Add(req.Lease)), n, n, n, limit).Scan(ctx, &rows); err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		sort.Slice(rows, func(i, j int) bool { return claimLess(&rows[i], &rows[j]) })
		deltas := backfillDeltas{}
		events := make([]eventModel, 0, len(rows))
		for i := range rows {
			deltas.move(&rows[i], RunQueued, RunRunning)
			events = append(events, runStateEvent(&rows[i], RunQueued, n, map[string]any{"owner": req.Owner}))
		}
		bevs, err := c.applyBackfillDeltas(ctx, tx, deltas, n)
		if err != nil {
			return err
		}
		if err := c.appendEvents(ctx, tx, append(events, bevs...)); err != nil {
			return err
		}
		out = make([]Run, len(rows))
		for i := range rows {
			if out[i], err = rows[i].run(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim runs for %s: %w", req.Owner, err)
	}
	return out, nil
}

func claimLess(a, b *runModel) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	da, db := int64(1<<63-1), int64(1<<63-1)
	if a.Deadline != nil {
		da = *a.Deadline
	}
	if b.Deadline != nil {
		db = *b.Deadline
	}
	if da != db {
		return da < db
	}
	return a.ID < b.ID
}

func (r *runModel) run() (Run, error) {
	out := Run{ID: r.ID, Asset: asset.Key(r.Asset), Reason: r.Reason, Priority: r.Priority,
		Deadline: fromMicrosPtr(r.Deadline), NotBefore: fromMicros(r.NotBefore), BackfillID: backfillOf(r),
		State: RunState(r.State), Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		LeaseExpiresAt: fromMicrosPtr(r.LeaseExpiresAt), ExitCode: r.ExitCode, Error: r.Error,
		CancelRequested: r.CancelRequested, CreatedAt: fromMicros(r.CreatedAt), StartedAt: fromMicrosPtr(r.StartedAt),
		FinishedAt: fromMicrosPtr(r.FinishedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
	if err := json.Unmarshal([]byte(r.PartitionKeys), &out.PartitionKeys); err != nil {
		return Run{}, fmt.Errorf("decode partition keys of run %d: %w", r.ID, err)
	}
	if r.LeaseOwner != nil {
		out.LeaseOwner = *r.LeaseOwner
	}
	if r.Sizing != nil {
		out.Sizing = json.RawMessage(*r.Sizing)
	}
	if r.LogPath != nil {
		out.LogPath = *r.LogPath
	}
	if r.DurationUS != nil || r.PeakRSS != nil || r.CPUSeconds != nil {
		u := &Usage{}
		if r.DurationUS != nil {
			u.Duration = time.Duration(*r.DurationUS) * time.Microsecond
		}
		if r.PeakRSS != nil {
			u.PeakRSS = *r.PeakRSS
		}
		if r.CPUSeconds != nil {
			u.CPUSeconds = *r.CPUSeconds
		}
		out.Usage = u
	}
	return out, nil
}

// Heartbeat extends the lease of a running run held by owner. It reports
// whether the run was asked to stop (a cancellation). A run not running
// under owner gives ErrConflict: the lease was lost.
func (c *Catalog) Heartbeat(ctx context.Context, runID int64, owner string, lease time.Duration) (cancelRequested bool, err error) {
	if lease <= 0 {
		return false, fmt.Errorf("heartbeat run %d: %w", runID, invalidf("lease must be positive"))
	}
	now := c.now()
	err = c.write(ctx, func(tx *txn) error {
		var flags []bool
		if err := tx.NewRaw(`UPDATE runs SET lease_expires_at = ?, updated_at = ?
WHERE id = ? AND state = 'running' AND lease_owner = ? RETURNING cancel_requested`,
			micros(now.Add(lease)), micros(now), runID, owner).Scan(ctx, &flags); err != nil {
			return err
		}
		if len(flags) == 1 {
			cancelRequested = flags[0]
			return nil
		}
		return c.runConflict(ctx, tx, runID, "is not running under owner "+owner)
	})
	if err != nil {
		return false, fmt.Errorf("heartbeat run %d: %w", runID, err)
	}
	return cancelRequested, nil
}

// runConflict explains why a guarded update of a run matched no row.
func (c *Catalog) runConflict(ctx context.Context, db bun.IDB, runID int64, what string) error {
	var rs []runModel
	if err := db.NewSelect().Model(&rs).Column("id", "state", "attempt", "lease_owner").Where("id = ?", runID).Scan(ctx); err != nil {
		return err
	}
	if len(rs) == 0 {
		return fmt.Errorf("run %d: %w", runID, ErrNotFound)
	}
	r := rs[0]
	owner := ""
	if r.LeaseOwner != nil {
		owner = *r.LeaseOwner
	}
	return fmt.Errorf("%w: run %d %s (state %s, attempt %d, owner %q)", ErrConflict, runID, what, r.State, r.Attempt, owner)
}

// boundLog appends chunk to log keeping at most max bytes (the tail), cut
// at a UTF-8 boundary.
func boundLog(log, chunk string, max int) string {
	s := log + chunk
	if len(s) <= max {
		return s
	}
	s = s[len(s)-max:]
	for i := 0; i < len(s) && i < utf8.UTFMax; i++ {
		if utf8.RuneStart(s[i]) {
			return s[i:]
		}
	}
	return s
}

// FinishRun records the outcome of one attempt in one transaction: the run's
// state, usage, exit code and log, its materializations with provenance,
// observations and check results, backfill counters and events. It succeeds
// once per (run, attempt): a second call for the same attempt, a call for
// another attempt or from an owner that lost the lease gives ErrConflict and
// writes nothing.
func (c *Catalog) FinishRun(ctx context.Context, res RunResult) (Run, error) {
	runs, errs, err := c.FinishRuns(ctx, []RunResult{res})
	if err != nil {
		return Run{}, err
	}
	if errs[0] != nil {
		return Run{}, errs[0]
	}
	return runs[0], nil
}

// RequeueExpired handles runs whose lease expired before now (their worker
// or server died): each is queued again for another attempt, or failed when
// its attempts are exhausted (or cancelled when it had been asked to stop).
// It returns the runs it requeued and failed.
func (c *Catalog) RequeueExpired(ctx context.Context, now time.Time) (requeued, failed []int64, err error) {
	now = c.nowOr(now)
	n := micros(now)
	err = c.write(ctx, func(tx *txn) error {
		requeued, failed = nil, nil
		var cancelled []int64
		var rows []runModel
		if err := tx.NewRaw("SELECT "+runColumns+" FROM runs WHERE state = 'running' AND lease_expires_at < ? ORDER BY id LIMIT 10000"+
			c.drv.skipLocked(), n).Scan(ctx, &rows); err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		deltas := backfillDeltas{}
		var events []eventModel
		for i := range rows {
			r := &rows[i]
			to := RunQueued
			switch {
			case r.CancelRequested:
				to = RunCancelled
				cancelled = append(cancelled, r.ID)
			case r.Attempt >= r.MaxAttempts:
				to = RunFailed
				failed = append(failed, r.ID)
			default:
				requeued = append(requeued, r.ID)
			}
			deltas.move(r, RunRunning, to)
			r.State = string(to)
			events = append(events, runStateEvent(r, RunRunning, n, map[string]any{"reason": "lease expired"}))
		}
		if len(requeued) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL,
updated_at = ? WHERE id IN (?)`, n, bun.In(requeued)); err != nil {
				return err
			}
		}
		if len(failed) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL,
error = 'lease expired', updated_at = ?, finished_at = ? WHERE id IN (?)`, n, n, bun.In(failed)); err != nil {
				return err
			}
		}
		if len(cancelled) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL,
error = 'lease expired after cancellation', updated_at = ?, finished_at = ? WHERE id IN (?)`, n, n, bun.In(cancelled)); err != nil {
				return err
			}
		}
		bevs, err := c.applyBackfillDeltas(ctx, tx, deltas, n)
		if err != nil {
			return err
		}
		return c.appendEvents(ctx, tx, append(events, bevs...))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("requeue expired runs: %w", err)
	}
	return requeued, failed, nil
}

// CancelRuns cancels queued runs at once and asks running ones to stop (the
// worker sees it on its next heartbeat and finishes the run as cancelled).
// Runs already finished are left alone.
func (c *Catalog) CancelRuns(ctx context.Context, ids []int64) (cancelled, flagged []int64, err error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	err = c.write(ctx, func(tx *txn) error {
		var evs []eventModel
		var deltas backfillDeltas
		var err error
		cancelled, flagged, evs, deltas, err = c.cancelWhere(ctx, tx, "id IN (?)", bun.In(ids))
		if err != nil {
			return err
		}
		bevs, err := c.applyBackfillDeltas(ctx, tx, deltas, micros(c.now()))
		if err != nil {
			return err
		}
		return c.appendEvents(ctx, tx, append(evs, bevs...))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("cancel runs: %w", err)
	}
	return cancelled, flagged, nil
}

// cancelWhere cancels the queued runs matching where and flags the running
// ones; the caller applies the returned backfill deltas (after taking any
// backfill row lock it needs: run rows are always locked before backfills).
func (c *Catalog) cancelWhere(ctx context.Context, tx *txn, where string, arg any) (cancelled, flagged []int64, events []eventModel, deltas backfillDeltas, err error) {
	n := micros(c.now())
	var rows []runModel
	if err := tx.NewRaw(`UPDATE runs SET state = 'cancelled', updated_at = ?, finished_at = ?
WHERE state = 'queued' AND `+where+` RETURNING `+runColumns, n, n, arg).Scan(ctx, &rows); err != nil {
		return nil, nil, nil, nil, err
	}
	deltas = backfillDeltas{}
	for i := range rows {
		cancelled = append(cancelled, rows[i].ID)
		deltas.move(&rows[i], RunQueued, RunCancelled)
		if len(rows) <= maxRunEvents {
			events = append(events, runStateEvent(&rows[i], RunQueued, n, nil))
		}
	}
	if len(rows) > maxRunEvents {
		// One summary event instead of one per run for mass cancellations.
		events = append(events, eventModel{Kind: EventRunState, CreatedAt: n,
			Payload: jsonPayload(map[string]any{"from": RunQueued, "to": RunCancelled, "count": len(rows)})})
	}
	var fl []runModel
	if err := tx.NewRaw(`UPDATE runs SET cancel_requested = ?, updated_at = ?
WHERE state = 'running' AND cancel_requested = ? AND `+where+` RETURNING id`, true, n, false, arg).Scan(ctx, &fl); err != nil {
		return nil, nil, nil, nil, err
	}
	for _, r := range fl {
		flagged = append(flagged, r.ID)
	}
	sort.Slice(cancelled, func(i, j int) bool { return cancelled[i] < cancelled[j] })
	sort.Slice(flagged, func(i, j int) bool { return flagged[i] < flagged[j] })
	return cancelled, flagged, events, deltas, nil
}

// GetRun returns one run (without its log; see RunLog).
func (c *Catalog) GetRun(ctx context.Context, id int64) (Run, error) {
	var rows []runModel
	if err := c.rdb.NewRaw("SELECT "+runColumns+" FROM runs WHERE id = ?", id).Scan(ctx, &rows); err != nil {
		return Run{}, fmt.Errorf("get run %d: %w", id, translate(err))
	}
	if len(rows) == 0 {
		return Run{}, fmt.Errorf("get run %d: %w", id, ErrNotFound)
	}
	return rows[0].run()
}

// ListRuns returns runs matching f, newest first. Page with f.BeforeID set
// to the last id of the previous page.
func (c *Catalog) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	var key string
	if f.PartitionKey != "" {
		k, err := json.Marshal(f.PartitionKey)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		key = string(k)
	}
	page := func(before int64, n int) ([]runModel, error) {
		var rows []runModel
		q := c.rdb.NewSelect().Model(&rows).ExcludeColumn("log")
		if f.Asset != "" {
			q = q.Where("asset = ?", string(f.Asset))
		}
		if len(f.States) > 0 {
			ss := make([]string, len(f.States))
			for i, s := range f.States {
				ss[i] = string(s)
			}
			q = q.Where("state IN (?)", bun.In(ss))
		}
		if f.BackfillID != 0 {
			q = q.Where("backfill_id = ?", f.BackfillID)
		}
		if before > 0 {
			q = q.Where("id < ?", before)
		}
		if f.Worker != "" {
			q = q.Where("lease_owner = ?", f.Worker)
		}
		if !f.CreatedAfter.IsZero() {
			q = q.Where("created_at >= ?", micros(f.CreatedAfter))
		}
		if !f.CreatedBefore.IsZero() {
			q = q.Where("created_at < ?", micros(f.CreatedBefore))
		}
		if key != "" {
			// partition_keys is a JSON array of strings: match the key's
			// JSON form; the exact check is below.
			q = q.Where("partition_keys LIKE ? ESCAPE '\\'", "%"+likeEscape(key)+"%")
		}
		err := q.Order("id DESC").Limit(int64(n)).Scan(ctx)
		return rows, err
	}
	out := make([]Run, 0, min(limit, 1000))
	before := f.BeforeID
	for len(out) < limit {
		n := limit - len(out)
		rows, err := page(before, n)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", translate(err))
		}
		for i := range rows {
			r, err := rows[i].run()
			if err != nil {
				return nil, fmt.Errorf("list runs: %w", err)
			}
			before = r.ID
			// A LIKE match inside another key (one with quotes) is not one.
			if f.PartitionKey != "" && !slices.Contains(r.PartitionKeys, f.PartitionKey) {
				continue
			}
			out = append(out, r)
		}
		if len(rows) < n {
			break
		}
	}
	return out, nil
}

// AppendRunLog appends a chunk to a run's log, keeping the last MaxLogBytes.
func (c *Catalog) AppendRunLog(ctx context.Context, runID int64, chunk string) error {
	err := c.write(ctx, func(tx *txn) error {
		var logs []*string
		if err := tx.NewRaw("SELECT log FROM runs WHERE id = ?"+c.drv.forUpdate(), runID).Scan(ctx, &logs); err != nil {
			return err
		}
		if len(logs) == 0 {
			return fmt.Errorf("run %d: %w", runID, ErrNotFound)
		}
		cur := ""
		if logs[0] != nil {
			cur = *logs[0]
		}
		_, err := tx.ExecContext(ctx, "UPDATE runs SET log = ? WHERE id = ?", boundLog(cur, chunk, c.maxLog), runID)
		return err
	})
	if err != nil {
		return fmt.Errorf("append log of run %d: %w", runID, err)
	}
	return nil
}

// RunLog returns a run's bounded log and the path of its full log file, if
// the executor keeps one.
func (c *Catalog) RunLog(ctx context.Context, runID int64) (log, path string, err error) {
	var r []runModel
	if err := c.rdb.NewSelect().Model(&r).Column("log", "log_path").Where("id = ?", runID).Scan(ctx); err != nil {
		return "", "", fmt.Errorf("log of run %d: %w", runID, translate(err))
	}
	if len(r) == 0 {
		return "", "", fmt.Errorf("log of run %d: %w", runID, ErrNotFound)
	}
	if r[0].Log != nil {
		log = *r[0].Log
	}
	if r[0].LogPath != nil {
		path = *r[0].LogPath
	}
	return log, path, nil
}
