package materializer

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/strata-data/strata/catalog"
)

// maxRecordBatch bounds the results recorded by one FinishRuns.
const maxRecordBatch = 256

// pendingRecord is one attempt's result waiting to be recorded.
type pendingRecord struct {
	ctx  context.Context
	res  catalog.RunResult
	done chan struct{}
}

// record records an attempt's outcome with FinishRun semantics (exactly
// once per (run, attempt); a conflict means it was already recorded or the
// lease was lost, and is logged) and returns once it is recorded or given
// up on.
//
// Results are group-committed: the first caller to find no batch being
// written becomes the writer; when other runs are held (running or
// waiting) it waits Config.RecordDelay (25ms) for the outcomes of those
// finishing about now, then records, with one
// catalog.FinishRuns per batch, every result that arrived, until none is
// left; the others wait for theirs. Results arriving while a batch is
// written form the next one. A batch that fails as a whole (the database)
// is retried result by result with FinishRun.
func (d *Dispatcher) record(ctx context.Context, res catalog.RunResult) {
	p := &pendingRecord{ctx: ctx, res: res, done: make(chan struct{})}
	d.recMu.Lock()
	d.recQueue = append(d.recQueue, p)
	lead := !d.recWriting
	d.recWriting = true
	d.recMu.Unlock()
	if !lead {
		<-p.done
		return
	}
	d.mu.Lock()
	others := len(d.held) > 1 // more outcomes to come (this run is still held)
	d.mu.Unlock()
	if d.cfg.RecordDelay > 0 && others {
		// Let the outcomes of runs finishing about now join this one.
		t := time.NewTimer(d.cfg.RecordDelay)
		<-t.C
	}
	for {
		d.recMu.Lock()
		n := min(len(d.recQueue), maxRecordBatch)
		batch := d.recQueue[:n:n]
		d.recQueue = d.recQueue[n:]
		if n == 0 {
			d.recQueue = nil
			d.recWriting = false
			d.recMu.Unlock()
			break
		}
		d.recMu.Unlock()
		d.writeBatch(batch)
	}
	<-p.done
}

// writeBatch records batch with one FinishRuns, or one by one when that
// fails as a whole.
func (d *Dispatcher) writeBatch(batch []*pendingRecord) {
	defer func() {
		for _, p := range batch {
			close(p.done)
		}
	}()
	if len(batch) == 1 {
		d.recordOne(batch[0].ctx, batch[0].res)
		return
	}
	results := make([]catalog.RunResult, len(batch))
	for i, p := range batch {
		results[i] = p.res
	}
	// The batch outlives any one caller's cancellation: each result is
	// the last word of an attempt.
	_, errs, err := d.cat.FinishRuns(context.WithoutCancel(batch[0].ctx), results)
	if err != nil {
		for _, p := range batch {
			d.recordOne(p.ctx, p.res)
		}
		return
	}
	for i, e := range errs {
		if e == nil {
			continue
		}
		if errors.Is(e, catalog.ErrConflict) || errors.Is(e, catalog.ErrNotFound) || errors.Is(e, catalog.ErrInvalid) {
			d.log.Warn("record run", slog.Int64("run_id", results[i].RunID), slog.Int("attempt", results[i].Attempt), slog.String("error", e.Error()))
			continue
		}
		d.recordOne(batch[i].ctx, batch[i].res)
	}
}
