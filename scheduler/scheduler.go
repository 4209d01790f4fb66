package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/planner"
)

// ErrNotReady is returned by queries before the first rebuild finished.
var ErrNotReady = errors.New("planner state is not built yet")

// ErrUnknownBackfill is returned for a backfill the planner does not run.
var ErrUnknownBackfill = errors.New("unknown backfill")

// Config configures a Scheduler. Catalog is required; the zero value of
// every other field is a sensible default.
type Config struct {
	Catalog *catalog.Catalog
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// TickInterval is how often the loop reads new events and (as leader)
	// ticks; 0 means one second. Wake runs the loop at once.
	TickInterval time.Duration
	// EventBatch is the number of catalog events read at once (0: 1000).
	EventBatch int
	// Notify, if set, is called after runs were enqueued (the
	// dispatcher's Notify, so it claims them without waiting).
	Notify func()
	// LeaderName names the leader lock (default "planner").
	LeaderName string
}

// Scheduler runs the planner loop (Run) and answers queries from the
// planner state. Its methods are safe for concurrent use.
type Scheduler struct {
	cat      *catalog.Catalog
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration
	batch    int
	notify   func()
	leader   *catalog.Leader
	wake     chan struct{}
	ready    chan struct{}
	readyOne sync.Once

	stepMu sync.Mutex // one Step at a time (the loop's, or a backfill start's)

	mu        sync.Mutex
	st        *planner.State
	lastEvent int64 // the last catalog event applied
	leading   bool
	resync    string                              // why the next step must rebuild
	reqOf     map[string]string                   // run id -> request id, runs enqueued but not yet seen
	finished  map[string]planner.BackfillProgress // final progress of backfills dropped from the state
	lastTick  TickInfo
	pending   int64 // numbers temporary backfill ids
}

// TickInfo describes the leader's last tick.
type TickInfo struct {
	At           time.Time      `json:"at"`
	Requests     int            `json:"requests"`
	Enqueued     int            `json:"enqueued"`
	SkippedTotal int            `json:"skipped_total"`
	Skipped      []planner.Skip `json:"skipped,omitempty"`
	Error        string         `json:"error,omitempty"`
}

// New returns a Scheduler; Run starts it.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Catalog == nil {
		return nil, fmt.Errorf("scheduler: catalog is required")
	}
	s := &Scheduler{cat: cfg.Catalog, log: cfg.Logger, now: cfg.Clock, interval: cfg.TickInterval, batch: cfg.EventBatch,
		notify: cfg.Notify, wake: make(chan struct{}, 1), ready: make(chan struct{}),
		reqOf: map[string]string{}, finished: map[string]planner.BackfillProgress{}}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.interval <= 0 {
		s.interval = time.Second
	}
	if s.batch <= 0 {
		s.batch = 1000
	}
	name := cfg.LeaderName
	if name == "" {
		name = "planner"
	}
	s.leader = cfg.Catalog.NewLeader(name)
	return s, nil
}

// Run runs the loop until ctx is done, then releases the leader lock. An
// error of one step is logged and the step retried at the next interval
// (after a rebuild, so a half-applied page cannot leave a wrong state); Run
// returns nil when ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	defer func() {
		if err := s.leader.Resign(context.WithoutCancel(ctx)); err != nil {
			s.log.Warn("planner: resign leadership", slog.Any("error", err))
		}
		s.mu.Lock()
		s.leading = false
		s.mu.Unlock()
	}()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
		if err := s.Step(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Error("planner: step", slog.Any("error", err))
			s.mu.Lock()
			if s.resync == "" {
				s.resync = "the previous step failed: " + err.Error()
			}
			s.mu.Unlock()
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(s.interval)
	}
}

// Close releases the leader lock if a Step (rather than Run, which
// releases it when it returns) took it.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	s.leading = false
	s.mu.Unlock()
	return s.leader.Close()
}

// Wake makes the loop run its next step now.
func (s *Scheduler) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// kick runs a step now when this scheduler leads, so a backfill just
// started has its first wave enqueued when the call returns; a follower
// leaves it to the leader's next tick.
func (s *Scheduler) kick(ctx context.Context) {
	if !s.Leading() {
		return
	}
	if err := s.Step(ctx); err != nil {
		s.log.Warn("planner: step after backfill start", slog.Any("error", err))
		s.Wake()
	}
}

// Ready is closed once the first rebuild finished.
func (s *Scheduler) Ready() <-chan struct{} { return s.ready }

// Leading reports whether this scheduler's loop was the leader at its last step.
func (s *Scheduler) Leading() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leading
}

// LastTick describes the last tick of this scheduler as leader.
func (s *Scheduler) LastTick() TickInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastTick
}

// Step runs one pass of the loop: elect, rebuild if needed, apply new
// events, then tick (leader) or advance (follower). Run calls it; tests may
// call it directly instead of running the loop.
func (s *Scheduler) Step(ctx context.Context) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	leading, err := s.leader.TryLead(ctx)
	if err != nil {
		s.log.Warn("planner: leader election", slog.Any("error", err))
	}
	s.mu.Lock()
	why := s.resync
	switch {
	case s.st == nil:
		why = "start"
	case leading && !s.leading:
		why = "became leader"
	}
	changed := leading != s.leading
	s.mu.Unlock()
	if why != "" {
		if err := s.rebuild(ctx, why); err != nil {
			return err
		}
	}
	// Set only after a successful rebuild: a new leader that failed to
	// rebuild tries again at the next step.
	s.mu.Lock()
	s.leading = leading
	s.mu.Unlock()
	if changed {
		s.log.Info("planner: leadership changed", slog.Bool("leading", leading))
	}
	if err := s.catchUp(ctx); err != nil {
		return err
	}
	now := s.now()
	if !leading {
		s.mu.Lock()
		s.st.Advance(now)
		s.mu.Unlock()
		return nil
	}
	return s.tick(ctx, now)
}

// rebuild builds a new state from a snapshot and swaps it in.
func (s *Scheduler) rebuild(ctx context.Context, why string) error {
	v, err := s.cat.OpenPlannerView(ctx)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	defer v.Close()
	start := s.now()
	st, err := planner.Build(v.Graph(), v, start)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	restored := 0
	for _, b := range v.Backfills() {
		bs, err := decodeBackfill(b)
		if err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		if err := st.RestoreBackfill(bs); err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		restored++
	}
	cursor := catalog.EventIDOfSeq(st.Cursor())
	s.mu.Lock()
	s.st, s.lastEvent, s.resync = st, cursor, ""
	s.reqOf = map[string]string{}
	s.mu.Unlock()
	s.readyOne.Do(func() { close(s.ready) })
	s.log.Info("planner: rebuilt state", slog.String("why", why), slog.Int64("cursor", cursor),
		slog.Int("assets", len(v.Graph().Assets())), slog.Int("backfills", restored),
		slog.Duration("took", s.now().Sub(start)))
	return nil
}

func decodeBackfill(b catalog.PlannerBackfill) (planner.BackfillState, error) {
	var bs planner.BackfillState
	if err := json.Unmarshal(b.State, &bs); err != nil {
		return bs, fmt.Errorf("planner state of backfill %d: %w", b.ID, err)
	}
	bs.Spec.ID = strconv.FormatInt(b.ID, 10)
	return bs, nil
}

// catchUp applies every event after the last one applied.
func (s *Scheduler) catchUp(ctx context.Context) error {
	for {
		s.mu.Lock()
		after := s.lastEvent
		s.mu.Unlock()
		b, err := s.cat.PlannerEvents(ctx, after, s.batch)
		if err != nil {
			return fmt.Errorf("read events after %d: %w", after, err)
		}
		if b.Resync != "" {
			if err := s.rebuild(ctx, b.Resync); err != nil {
				return err
			}
			continue
		}
		started := make(map[int64]planner.BackfillState, len(b.BackfillsStarted))
		for _, id := range b.BackfillsStarted {
			pb, err := s.cat.GetPlannerBackfill(ctx, id)
			if err != nil {
				return fmt.Errorf("backfill %d: %w", id, err)
			}
			if pb.Done {
				continue
			}
			bs, err := decodeBackfill(pb)
			if err != nil {
				return err
			}
			started[id] = bs
		}
		if err := s.apply(b, started); err != nil {
			return err
		}
		if s.Leading() {
			// Cancelled through the catalog alone (the API's
			// CancelBackfill): mark the planner's state done so a
			// restart does not take it up.
			for _, id := range b.BackfillsStopped {
				if err := s.cat.FinishPlannerBackfill(ctx, id); err != nil {
					return fmt.Errorf("finish cancelled backfill %d: %w", id, err)
				}
			}
		}
		if b.Read < s.batch {
			return nil
		}
	}
}

// apply applies one page of events under the lock; then takes up the
// backfills it started and drops those it stopped (their state is computed
// from the facts, so doing it after the page is the same as in between).
func (s *Scheduler) apply(b *catalog.PlannerBatch, started map[int64]planner.BackfillState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range b.Events {
		if r, ok := e.(planner.RunStateChanged); ok && r.State == planner.RunQueued {
			if q, ok := s.reqOf[r.RunID]; ok {
				r.RequestID = q
				delete(s.reqOf, r.RunID)
				e = r
			}
		}
		if err := s.st.Apply(e); err != nil {
			return fmt.Errorf("apply event %d: %w", catalog.EventIDOfSeq(e.EventSeq()), err)
		}
	}
	for _, id := range b.BackfillsStarted {
		bs, ok := started[id]
		if !ok {
			continue
		}
		if err := s.st.RestoreBackfill(bs); err != nil && !errors.Is(err, planner.ErrBackfillExists) {
			return fmt.Errorf("take up backfill %d: %w", id, err)
		}
	}
	for _, id := range b.BackfillsStopped {
		s.dropBackfillLocked(strconv.FormatInt(id, 10))
	}
	if b.LastEventID > s.lastEvent {
		s.lastEvent = b.LastEventID
	}
	return nil
}

// dropBackfillLocked forgets a backfill, keeping its final progress.
func (s *Scheduler) dropBackfillLocked(id string) {
	if p, ok := s.st.BackfillProgress(id); ok {
		s.finished[id] = p
	}
	s.st.CancelBackfill(id)
}

// tick runs the automation conditions and the backfills, and enqueues what
// they request.
func (s *Scheduler) tick(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	res := s.st.Tick(now)
	assets := map[asset.Key]*asset.Asset{}
	if len(res.Requests) > 0 {
		for _, a := range s.st.Graph().Assets() {
			assets[a.Key] = a
		}
	}
	var done []string
	for _, id := range s.st.Backfills() {
		if p, ok := s.st.BackfillProgress(id); ok && p.Done {
			done = append(done, id)
		}
	}
	info := TickInfo{At: now, Requests: len(res.Requests), SkippedTotal: res.SkippedTotal, Skipped: res.Skipped}
	if len(info.Skipped) > 100 {
		info.Skipped = info.Skipped[:100]
	}
	s.mu.Unlock()

	var tickErr error
	if len(res.Requests) > 0 {
		specs := make([]catalog.RunSpec, len(res.Requests))
		for i, r := range res.Requests {
			specs[i] = runSpec(r, assets[r.Asset])
		}
		ids, err := s.cat.EnqueueRuns(ctx, specs)
		s.mu.Lock()
		if err != nil {
			// Nothing was written: give the requests back so a later tick
			// asks again.
			for _, r := range res.Requests {
				_ = s.st.Apply(planner.RequestDropped{RequestID: r.ID, Why: "enqueue failed: " + err.Error()})
			}
			tickErr = fmt.Errorf("enqueue %d runs: %w", len(specs), err)
			info.Error = tickErr.Error()
		} else {
			for i, id := range ids {
				s.reqOf[strconv.FormatInt(id, 10)] = res.Requests[i].ID
			}
			info.Enqueued = len(ids)
		}
		s.mu.Unlock()
		if err == nil {
			for _, r := range res.Requests {
				s.log.Debug("planner: requested run", slog.String("asset_key", string(r.Asset)),
					slog.Any("partitions", r.PartitionKeys), slog.String("reason", catalog.PlannerReason(r.Reason)),
					slog.String("backfill_id", r.BackfillID))
			}
			if s.notify != nil {
				s.notify()
			}
		}
	}
	for _, id := range done {
		n, err := strconv.ParseInt(id, 10, 64)
		if err == nil {
			err = s.cat.FinishPlannerBackfill(ctx, n)
		}
		if err != nil {
			s.log.Warn("planner: finish backfill", slog.String("backfill_id", id), slog.Any("error", err))
			continue
		}
		s.mu.Lock()
		s.dropBackfillLocked(id)
		s.mu.Unlock()
		s.log.Info("planner: backfill done", slog.String("backfill_id", id))
	}
	s.mu.Lock()
	s.lastTick = info
	s.mu.Unlock()
	return tickErr
}

// runSpec turns a planner request into a run to enqueue.
func runSpec(r planner.RunRequest, a *asset.Asset) catalog.RunSpec {
	spec := catalog.RunSpec{Asset: r.Asset, PartitionKeys: r.PartitionKeys, Reason: catalog.PlannerReason(r.Reason),
		Priority: r.Priority, Deadline: r.Deadline}
	if len(spec.PartitionKeys) == 0 {
		spec.PartitionKeys = []string{""}
	}
	if r.BackfillID != "" {
		spec.BackfillID, _ = strconv.ParseInt(r.BackfillID, 10, 64)
	}
	if a != nil && a.Decl.Retry != nil && a.Decl.Retry.MaxAttempts > 0 {
		spec.MaxAttempts = a.Decl.Retry.MaxAttempts
	}
	return spec
}
