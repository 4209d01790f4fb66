package materializer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/strata-data/strata/catalog"
)

// RecoverOrphans queues again, at once, the runs still leased to this
// dispatcher's owner: they belong to a previous process of this server
// that died (kill -9, power loss) before recording them, so nothing runs
// them any more. The interrupted attempt is not counted against the
// asset's max_attempts (catalog.RequeueRuns): the server's death was not
// the job's fault, so an asset with one attempt survives a crash. A run
// whose cancellation had been requested is cancelled. Run calls it on
// start.
//
// Runs leased to other owners (remote workers, other servers) are left to
// their lease: RecoverExpired picks them up once it expires, and there an
// expired lease does count as an attempt: nobody can tell a worker that
// died from a job that killed its machine (out of memory, say), and
// counting keeps such a job from being retried forever.
func (d *Dispatcher) RecoverOrphans(ctx context.Context) error {
	d.mu.Lock()
	mine := len(d.held)
	d.mu.Unlock()
	if mine > 0 {
		return fmt.Errorf("recover orphans: the dispatcher holds %d runs; recover only on start", mine)
	}
	requeued, cancelled, err := d.cat.RequeueRuns(ctx, catalog.RequeueRequest{Owner: d.cfg.Owner,
		Reason: "orphaned: the server restarted while the run was running"})
	if err != nil {
		return fmt.Errorf("recover orphans: %w", err)
	}
	if n := len(requeued) + len(cancelled); n > 0 {
		d.log.Info("recovered orphaned runs", slog.Int("requeued", len(requeued)), slog.Int("cancelled", len(cancelled)),
			slog.String("owner", d.cfg.Owner))
		d.Notify()
	}
	return nil
}

// RecoverExpired queues again the runs whose lease expired (their worker
// or server died), or fails them when they are out of attempts.
func (d *Dispatcher) RecoverExpired(ctx context.Context) (requeued, failed []int64, err error) {
	requeued, failed, err = d.cat.RequeueExpired(ctx, d.now())
	if err != nil {
		return nil, nil, fmt.Errorf("recover expired leases: %w", err)
	}
	if len(requeued)+len(failed) > 0 {
		d.log.Info("recovered expired leases", slog.Int("requeued", len(requeued)), slog.Int("failed", len(failed)))
		d.Notify()
	}
	return requeued, failed, nil
}

// recoverLoop recovers expired leases every RecoverInterval.
func (d *Dispatcher) recoverLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.RecoverInterval)
	defer t.Stop()
	for {
		if _, _, err := d.RecoverExpired(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("recover expired leases", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
