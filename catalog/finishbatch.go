package catalog

import (
	"context"
	"fmt"
	"sort"

	"github.com/uptrace/bun"
)

// maxFinishBatch bounds the results of one FinishRuns call.
const maxFinishBatch = 1000

// FinishRuns records the outcomes of several attempts in one transaction:
// each result exactly as FinishRun would record it (same checks, same
// rows, same events), with the materializations of all results written by
// one set-based insert, backfill counters updated once, and the events
// appended once. It is FinishRun's group commit: a dispatcher finishing
// many short runs pays for one write transaction instead of one per run.
//
// A result that FinishRun would refuse (invalid, unknown run, a repeat, a
// stale attempt, a lost lease) gets its error in errs, at its index, and
// writes nothing; the others are recorded, and runs[i] is the run after
// result i. err is for the batch as a whole (the database failed, a
// constraint was violated): then nothing at all was written, and the
// caller may retry the results one by one with FinishRun.
func (c *Catalog) FinishRuns(ctx context.Context, results []RunResult) (runs []Run, errs []error, err error) {
	if len(results) > maxFinishBatch {
		return nil, nil, fmt.Errorf("finish %d runs: %w", len(results), invalidf("at most %d results per call", maxFinishBatch))
	}
	errs = make([]error, len(results))
	valid := make([]bool, len(results))
	ids := make([]int64, 0, len(results))
	for i, res := range results {
		switch {
		case !res.State.Terminal():
			errs[i] = invalidf("state %q is not succeeded, failed or cancelled", res.State)
		default:
			if e := validateMaterializations(res.Materializations, true); e != nil {
				errs[i] = e
			} else if e := validateObsChecks(res.Observations, res.Checks); e != nil {
				errs[i] = e
			}
		}
		if errs[i] != nil {
			errs[i] = fmt.Errorf("finish run %d attempt %d: %w", res.RunID, res.Attempt, errs[i])
			continue
		}
		valid[i] = true
		ids = append(ids, res.RunID)
	}
	if len(ids) == 0 {
		return make([]Run, len(results)), errs, nil
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] }) // lock order
	now := c.now()
	err = c.write(ctx, func(tx *txn) error {
		runs = make([]Run, len(results))
		batchErrs := make([]error, len(results))
		copy(batchErrs, errs)
		var rows []runModel
		if err := tx.NewRaw("SELECT "+runColumns+", log FROM runs WHERE id IN (?) ORDER BY id"+c.drv.forUpdate(), bun.In(ids)).Scan(ctx, &rows); err != nil {
			return err
		}
		byID := make(map[int64]*runModel, len(rows))
		for i := range rows {
			byID[rows[i].ID] = &rows[i]
		}
		var mats []Materialization
		var events []eventModel
		deltas := backfillDeltas{}
		for i := range results {
			if !valid[i] {
				continue
			}
			res := &results[i]
			n := micros(now)
			if !res.Now.IsZero() {
				n = micros(res.Now)
			}
			r := byID[res.RunID]
			if r == nil {
				batchErrs[i] = fmt.Errorf("finish run %d attempt %d: run %d: %w", res.RunID, res.Attempt, res.RunID, ErrNotFound)
				continue
			}
			owner := ""
			if r.LeaseOwner != nil {
				owner = *r.LeaseOwner
			}
			var conflict error
			switch {
			case r.Attempt != res.Attempt:
				conflict = fmt.Errorf("%w: run %d is at attempt %d, not %d", ErrConflict, r.ID, r.Attempt, res.Attempt)
			case RunState(r.State) != RunRunning:
				conflict = fmt.Errorf("%w: run %d attempt %d is already %s", ErrConflict, r.ID, r.Attempt, r.State)
			case res.Owner != "" && owner != res.Owner:
				conflict = fmt.Errorf("%w: run %d is leased to %q, not %q", ErrConflict, r.ID, owner, res.Owner)
			}
			if conflict != nil {
				batchErrs[i] = fmt.Errorf("finish run %d attempt %d: %w", res.RunID, res.Attempt, conflict)
				continue
			}
			ev, err := c.finishRow(ctx, tx, r, res, n)
			if err != nil {
				return err
			}
			deltas.move(r, RunRunning, RunState(r.State))
			events = append(events, ev...)
			for _, m := range res.Materializations {
				m.RunID, m.Attempt = r.ID, r.Attempt
				mats = append(mats, m)
			}
			if runs[i], err = r.run(); err != nil {
				return err
			}
		}
		_, mevs, err := c.recordMaterializations(ctx, tx, mats, micros(now))
		if err != nil {
			return err
		}
		bevs, err := c.applyBackfillDeltas(ctx, tx, deltas, micros(now))
		if err != nil {
			return err
		}
		events = append(append(mevs, events...), bevs...)
		if err := c.appendEvents(ctx, tx, events); err != nil {
			return err
		}
		errs = batchErrs
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("finish %s: %w", describeResults(results), err)
	}
	return runs, errs, nil
}

// describeResults names the results of a finish call for an error message:
// the run and attempt of a single result, else their number.
func describeResults(results []RunResult) string {
	if len(results) == 1 {
		return fmt.Sprintf("run %d attempt %d", results[0].RunID, results[0].Attempt)
	}
	return fmt.Sprintf("%d runs", len(results))
}

// finishRow writes one attempt's outcome to its run row (already checked:
// running, at res.Attempt, under res.Owner) with its observations and
// checks, as FinishRun does, and updates r to match. It returns the events
// to append: the checks' and observations', then the run_state event.
func (c *Catalog) finishRow(ctx context.Context, tx *txn, r *runModel, res *RunResult, n int64) ([]eventModel, error) {
	from := RunState(r.State)
	state := res.State
	// A run asked to stop is not retried.
	if res.Retry != nil && state == RunFailed && r.Attempt < r.MaxAttempts && !r.CancelRequested {
		state = RunQueued
		r.NotBefore = micros(res.Retry.NotBefore)
	}
	logText := ""
	if r.Log != nil {
		logText = *r.Log
	}
	if res.Log != "" {
		logText = boundLog(logText, res.Log, c.maxLog)
	}
	r.State = string(state)
	r.ExitCode = res.ExitCode
	r.Error = res.Error
	r.LeaseOwner, r.LeaseExpiresAt = nil, nil
	r.UpdatedAt = n
	if state.Terminal() {
		r.FinishedAt = &n
	}
	if res.LogPath != "" {
		lp := res.LogPath
		r.LogPath = &lp
	}
	if res.Usage != nil {
		d := res.Usage.Duration.Microseconds()
		rss, cpu := res.Usage.PeakRSS, res.Usage.CPUSeconds
		r.DurationUS, r.PeakRSS, r.CPUSeconds = &d, &rss, &cpu
	}
	var logArg *string
	if r.Log != nil || logText != "" {
		logArg = &logText
		r.Log = &logText
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = ?, not_before = ?, exit_code = ?, error = ?,
lease_owner = NULL, lease_expires_at = NULL, updated_at = ?, finished_at = ?, log_path = ?, log = ?,
duration_us = ?, peak_rss = ?, cpu_seconds = ? WHERE id = ?`,
		r.State, r.NotBefore, r.ExitCode, r.Error, n, r.FinishedAt, r.LogPath, logArg,
		r.DurationUS, r.PeakRSS, r.CPUSeconds, r.ID); err != nil {
		return nil, err
	}
	var events []eventModel
	if len(res.Observations) > 0 || len(res.Checks) > 0 {
		oevs, err := c.recordObsChecks(ctx, tx, res.Observations, res.Checks, r.ID, r.Attempt, n)
		if err != nil {
			return nil, err
		}
		events = oevs
	}
	extra := map[string]any{"materializations": len(res.Materializations)}
	if res.ExitCode != nil {
		extra["exit_code"] = *res.ExitCode
	}
	return append(events, runStateEvent(r, from, n, extra)), nil
}
