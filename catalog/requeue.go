package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// RequeueRun names one running attempt to put back in the queue, with what
// it logged before it was interrupted.
type RequeueRun struct {
	RunID   int64
	Attempt int
	Log     string // appended to the run's log (bounded)
}

// RequeueRequest puts running runs of one owner back in the queue without
// counting their attempt: for work interrupted by its own executor (the
// server shut down, or restarted and found runs still leased to it), not by
// the job.
type RequeueRequest struct {
	// Owner holds the runs' leases; required.
	Owner string
	// Runs are the attempts to requeue; each must be running under Owner
	// at that attempt. Empty means every run leased to Owner (orphans of a
	// previous process of a server, on its start).
	Runs []RequeueRun
	// Reason says why, in words; required. It becomes the run's error and
	// is in its run_state event.
	Reason string
	Now    time.Time // zero means the catalog's clock
}

// RequeueRuns puts running runs of req.Owner back in the queue, runnable at
// once, without counting the interrupted attempt against max_attempts. A
// run asked to stop is cancelled instead. It returns the runs it requeued
// and cancelled.
//
// The attempt number still moves on: the next claim starts attempt N+1, so
// (run, attempt) stays unique and a late FinishRun or Heartbeat-then-finish
// of the interrupted attempt N is rejected (ErrConflict: the run is queued,
// or at another attempt). Not counting it is done by raising max_attempts by
// one: a run declared with 3 attempts that was requeued once shows attempt 2
// of 4 on its next claim and still has its 3 job failures. Each requeue is a
// run_state event (running to queued) with "requeued": true and the reason.
//
// Named runs not running under Owner at their attempt give ErrConflict and
// nothing is written; unknown ones ErrNotFound.
func (c *Catalog) RequeueRuns(ctx context.Context, req RequeueRequest) (requeued, cancelled []int64, err error) {
	switch {
	case req.Owner == "":
		return nil, nil, fmt.Errorf("requeue runs: %w", invalidf("owner is empty"))
	case req.Reason == "":
		return nil, nil, fmt.Errorf("requeue runs: %w", invalidf("reason is empty"))
	}
	byID := make(map[int64]RequeueRun, len(req.Runs))
	ids := make([]int64, 0, len(req.Runs))
	for i, r := range req.Runs {
		if r.RunID <= 0 || r.Attempt < 1 {
			return nil, nil, fmt.Errorf("requeue runs: %w", invalidf("runs[%d]: run %d attempt %d is not a run attempt", i, r.RunID, r.Attempt))
		}
		if _, dup := byID[r.RunID]; dup {
			return nil, nil, fmt.Errorf("requeue runs: %w", invalidf("runs[%d]: run %d is named twice", i, r.RunID))
		}
		byID[r.RunID] = r
		ids = append(ids, r.RunID)
	}
	now := c.nowOr(req.Now)
	n := micros(now)
	err = c.write(ctx, func(tx *txn) error {
		requeued, cancelled = nil, nil
		var rows []runModel
		var q *bun.RawQuery
		if len(ids) > 0 {
			q = tx.NewRaw("SELECT "+runColumns+", log FROM runs WHERE id IN (?) ORDER BY id"+c.drv.forUpdate(), bun.In(ids))
		} else {
			q = tx.NewRaw("SELECT "+runColumns+", log FROM runs WHERE state = 'running' AND lease_owner = ? ORDER BY id"+c.drv.forUpdate(), req.Owner)
		}
		if err := q.Scan(ctx, &rows); err != nil {
			return err
		}
		if len(ids) > 0 {
			found := make(map[int64]bool, len(rows))
			for i := range rows {
				r := &rows[i]
				found[r.ID] = true
				owner := ""
				if r.LeaseOwner != nil {
					owner = *r.LeaseOwner
				}
				want := byID[r.ID]
				switch {
				case r.Attempt != want.Attempt:
					return fmt.Errorf("%w: run %d is at attempt %d, not %d", ErrConflict, r.ID, r.Attempt, want.Attempt)
				case RunState(r.State) != RunRunning:
					return fmt.Errorf("%w: run %d attempt %d is already %s", ErrConflict, r.ID, r.Attempt, r.State)
				case owner != req.Owner:
					return fmt.Errorf("%w: run %d is leased to %q, not %q", ErrConflict, r.ID, owner, req.Owner)
				}
			}
			for _, id := range ids {
				if !found[id] {
					return fmt.Errorf("run %d: %w", id, ErrNotFound)
				}
			}
		}
		if len(rows) == 0 {
			return nil
		}
		deltas := backfillDeltas{}
		events := make([]eventModel, 0, len(rows))
		for i := range rows {
			r := &rows[i]
			logText := ""
			if r.Log != nil {
				logText = *r.Log
			}
			chunk := byID[r.ID].Log
			if chunk != "" && chunk[len(chunk)-1] != '\n' {
				chunk += "\n"
			}
			to := RunQueued
			if r.CancelRequested {
				to = RunCancelled
				chunk += fmt.Sprintf("[strata] attempt %d interrupted after a cancellation was requested: %s\n", r.Attempt, req.Reason)
			} else {
				chunk += fmt.Sprintf("[strata] attempt %d requeued, not counted as an attempt: %s\n", r.Attempt, req.Reason)
			}
			logText = boundLog(logText, chunk, c.maxLog)
			var err error
			if to == RunCancelled {
				cancelled = append(cancelled, r.ID)
				_, err = tx.ExecContext(ctx, `UPDATE runs SET state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL,
error = ?, log = ?, updated_at = ?, finished_at = ? WHERE id = ?`, "cancelled: "+req.Reason, logText, n, n, r.ID)
			} else {
				requeued = append(requeued, r.ID)
				_, err = tx.ExecContext(ctx, `UPDATE runs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL,
not_before = ?, max_attempts = max_attempts + 1, error = ?, log = ?, updated_at = ? WHERE id = ?`, n, req.Reason, logText, n, r.ID)
			}
			if err != nil {
				return err
			}
			deltas.move(r, RunRunning, to)
			r.State = string(to)
			events = append(events, runStateEvent(r, RunRunning, n, map[string]any{"reason": req.Reason, "requeued": to == RunQueued}))
		}
		bevs, err := c.applyBackfillDeltas(ctx, tx, deltas, n)
		if err != nil {
			return err
		}
		return c.appendEvents(ctx, tx, append(events, bevs...))
	})
	if err != nil {
		return nil, nil, fmt.Errorf("requeue runs of %s: %w", req.Owner, err)
	}
	return requeued, cancelled, nil
}
