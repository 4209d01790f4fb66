package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// maxSizingBytes bounds a recorded sizing decision.
const maxSizingBytes = 1 << 20

// SetRunSizing records the sizing decision of a run's current attempt: the
// materializer sizes a run when it claims it (from the upstream partitions
// it will read and the asset's history) and records the decision, with its
// inputs, model and reason, on the run, replacing the sizing given at
// enqueue. sizing must be a JSON object (at most 1 MiB). The run must be
// running at that attempt: a run at another attempt or not running gives
// ErrConflict (a late write from an attempt that lost its lease changes
// nothing), an unknown run ErrNotFound.
func (c *Catalog) SetRunSizing(ctx context.Context, runID int64, attempt int, sizing json.RawMessage) error {
	if err := validSizing(sizing); err != nil {
		return fmt.Errorf("set sizing of run %d attempt %d: %w", runID, attempt, err)
	}
	if attempt < 1 {
		return fmt.Errorf("set sizing of run %d attempt %d: %w", runID, attempt, invalidf("attempt must be at least 1"))
	}
	err := c.write(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET sizing = ?, updated_at = ? WHERE id = ? AND attempt = ? AND state = 'running'`,
			string(sizing), micros(c.now()), runID, attempt)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			return nil
		}
		return c.runConflict(ctx, tx, runID, fmt.Sprintf("is not running at attempt %d", attempt))
	})
	if err != nil {
		return fmt.Errorf("set sizing of run %d attempt %d: %w", runID, attempt, err)
	}
	return nil
}

// validSizing checks that b is one JSON object of bounded size.
func validSizing(b json.RawMessage) error {
	switch {
	case len(b) == 0:
		return invalidf("sizing is empty")
	case len(b) > maxSizingBytes:
		return invalidf("sizing is %d bytes, more than %d", len(b), maxSizingBytes)
	case !json.Valid(b):
		return invalidf("sizing is not valid JSON")
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return invalidf("sizing is not a JSON object")
	}
	return nil
}

// RunSizing is the sizing decision of one running attempt, for
// SetRunSizings.
type RunSizing struct {
	RunID   int64
	Attempt int
	Sizing  json.RawMessage
}

// SetRunSizings is SetRunSizing for several runs in one transaction (a
// dispatcher sizes the runs of one claim together). errs[i] is result i's
// own error (ErrInvalid, ErrConflict, ErrNotFound), which writes nothing
// for it; err is for the whole call, which then wrote nothing.
func (c *Catalog) SetRunSizings(ctx context.Context, sizings []RunSizing) (errs []error, err error) {
	errs = make([]error, len(sizings))
	ok := 0
	for i, s := range sizings {
		if e := validSizing(s.Sizing); e != nil {
			errs[i] = fmt.Errorf("set sizing of run %d attempt %d: %w", s.RunID, s.Attempt, e)
		} else if s.Attempt < 1 {
			errs[i] = fmt.Errorf("set sizing of run %d attempt %d: %w", s.RunID, s.Attempt, invalidf("attempt must be at least 1"))
		} else {
			ok++
		}
	}
	if ok == 0 {
		return errs, nil
	}
	n := micros(c.now())
	err = c.write(ctx, func(tx *txn) error {
		out := make([]error, len(sizings))
		copy(out, errs)
		for i, s := range sizings {
			if out[i] != nil {
				continue
			}
			res, err := tx.ExecContext(ctx, `UPDATE runs SET sizing = ?, updated_at = ? WHERE id = ? AND attempt = ? AND state = 'running'`,
				string(s.Sizing), n, s.RunID, s.Attempt)
			if err != nil {
				return err
			}
			if k, err := res.RowsAffected(); err != nil {
				return err
			} else if k != 1 {
				cerr := c.runConflict(ctx, tx, s.RunID, fmt.Sprintf("is not running at attempt %d", s.Attempt))
				if !errors.Is(cerr, ErrConflict) && !errors.Is(cerr, ErrNotFound) {
					return cerr
				}
				out[i] = fmt.Errorf("set sizing of run %d attempt %d: %w", s.RunID, s.Attempt, cerr)
			}
		}
		errs = out
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set sizing of %d runs: %w", len(sizings), err)
	}
	return errs, nil
}
