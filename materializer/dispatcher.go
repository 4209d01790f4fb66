package materializer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
)

// Catalog is what the dispatcher needs from the catalog. *catalog.Catalog
// satisfies it.
type Catalog interface {
	ClaimRuns(ctx context.Context, req catalog.ClaimRequest) ([]catalog.Run, error)
	Heartbeat(ctx context.Context, runID int64, owner string, lease time.Duration) (bool, error)
	FinishRun(ctx context.Context, res catalog.RunResult) (catalog.Run, error)
	FinishRuns(ctx context.Context, results []catalog.RunResult) ([]catalog.Run, []error, error)
	RequeueRuns(ctx context.Context, req catalog.RequeueRequest) (requeued, cancelled []int64, err error)
	SetRunSizing(ctx context.Context, runID int64, attempt int, sizing json.RawMessage) error
	SetRunSizings(ctx context.Context, sizings []catalog.RunSizing) ([]error, error)
	RequeueExpired(ctx context.Context, now time.Time) (requeued, failed []int64, err error)
	EnqueueRuns(ctx context.Context, specs []catalog.RunSpec) ([]int64, error)
	GetRun(ctx context.Context, id int64) (catalog.Run, error)
	ListRuns(ctx context.Context, f catalog.RunFilter) ([]catalog.Run, error)
	AppendRunLog(ctx context.Context, runID int64, chunk string) error
	MaterializationHistory(ctx context.Context, key asset.Key, partition string, limit int) ([]catalog.Materialization, error)
	LatestMaterializations(ctx context.Context, key asset.Key, fn func(*catalog.MaterializationSummary) error) error
	LatestOf(ctx context.Context, key asset.Key, partitions []string) ([]catalog.MaterializationSummary, error)
	DynamicKeysSnapshot(ctx context.Context) (catalog.DynamicKeys, error)
	CatalogRevision(ctx context.Context) (int64, error)
	CurrentAssets(ctx context.Context) ([]catalog.AssetRecord, error)
}

var _ Catalog = (*catalog.Catalog)(nil)

// Executor runs jobs. *LocalExecutor is one.
type Executor interface {
	Execute(ctx context.Context, job Job) (Result, error)
	Capacity() Capacity
	Admission() *Admission
}

var _ Executor = (*LocalExecutor)(nil)

// GraphSource gives the current asset graph.
type GraphSource interface {
	Graph(ctx context.Context) (*asset.Graph, error)
}

// Config configures a Dispatcher. Catalog and at least one executor are
// required; the zero values of the other fields are sensible defaults.
type Config struct {
	Catalog   Catalog
	Executors []Executor
	// Sizer sizes runs; nil means NewSizer(SizerConfig{}).
	Sizer  *Sizer
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DataDir holds the default output locations,
	// <DataDir>/assets/<asset key>/<partition key>/.
	DataDir string
	// Graph gives the asset graph; nil means the catalog's current assets,
	// rebuilt when the catalog revision moves.
	Graph GraphSource
	// Owner is the lease owner of this dispatcher's runs. It must be stable
	// across restarts of one server and differ between servers: on start,
	// runs still leased to Owner are orphans of a previous process and are
	// queued again at once. Empty means "local:" + the host name.
	Owner string
	// Lease is how long a claimed run stays leased without a heartbeat
	// [30s]; heartbeats go every Lease/3.
	Lease time.Duration
	// PollInterval is how often an idle dispatcher looks for queued runs
	// [1s]; Notify wakes it sooner.
	PollInterval time.Duration
	// RecoverInterval is how often expired leases are recovered [Lease/2].
	RecoverInterval time.Duration
	// Prefetch is how many claimed runs may wait for capacity beyond what
	// runs [four times the executors' slots, at least 32].
	Prefetch int
	// RecordDelay is how long the outcome of a finished attempt may wait
	// for others to be recorded with it in one transaction, when other runs
	// of this dispatcher are running or waiting [25ms]; negative records
	// each at once (still batching those that queued up behind a
	// transaction).
	RecordDelay time.Duration
	// MaxHeadWait is how long the first waiting run (highest priority,
	// earliest deadline) may be passed over by smaller runs that fit before
	// the dispatcher stops filling gaps and lets capacity drain for it [1m].
	MaxHeadWait time.Duration
	// RetryBackoff is the first retry delay when the asset's retry policy
	// names none [10s]; each attempt doubles it, up to MaxBackoff [1h], and
	// the delay is drawn uniformly from [d/2, d] (jitter).
	RetryBackoff time.Duration
	MaxBackoff   time.Duration
	// Seed seeds the jitter; 0 means the clock.
	Seed uint64
	// Inspect sets how deeply a sharded run's Parquet output is re-read
	// once all its shards finished.
	Inspect InspectOptions
}

// Dispatcher claims queued runs from the catalog in priority and deadline
// order, sizes them from their inputs, admits each when an executor has
// room for its grant (small runs fill the gaps a big one leaves), executes
// them with heartbeats renewing their leases, and records each attempt's
// outcome (state, usage, log, materializations with provenance, checks)
// with one FinishRun: exactly once per (run, attempt). Failed attempts are
// retried per the asset's policy with exponential backoff and jitter;
// expired leases and orphans of a previous process are recovered.
//
// The same dispatcher serves remote workers (ClaimForWorker and friends):
// it prepares their jobs, context included, so that workers need no
// catalog access.
type Dispatcher struct {
	cfg   Config
	cat   Catalog
	log   *slog.Logger
	now   func() time.Time
	sizer *Sizer
	graph GraphSource

	wake chan struct{}

	randMu sync.Mutex
	rand   *rand.Rand

	histMu  sync.Mutex
	history map[asset.Key][]Observation

	// recQueue holds results waiting to be recorded; recWriting says a
	// caller of record is writing them (group commit).
	recMu      sync.Mutex
	recQueue   []*pendingRecord
	recWriting bool

	mu   sync.Mutex
	held map[int64]*task // claimed by this dispatcher, waiting or running
	wait []*task         // claimed, waiting for capacity, in claim order
	// waitSince is when the first waiting run became first.
	headSince time.Time
	headID    int64
	wg        sync.WaitGroup
}

// NewDispatcher returns a dispatcher for cfg.
func NewDispatcher(cfg Config) (*Dispatcher, error) {
	if cfg.Catalog == nil {
		return nil, errors.New("new dispatcher: no catalog")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sizer == nil {
		cfg.Sizer = NewSizer(SizerConfig{})
	}
	if cfg.Owner == "" {
		h, _ := os.Hostname()
		cfg.Owner = "local:" + h
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.RecoverInterval <= 0 {
		cfg.RecoverInterval = cfg.Lease / 2
	}
	if cfg.Prefetch <= 0 {
		// Enough to keep the executors busy between claims, to let small
		// runs behind a big one fill the gaps, and to claim (and size) in
		// batches of at least 16: a claim is a write transaction.
		for _, e := range cfg.Executors {
			cfg.Prefetch += 4 * e.Capacity().Slots
		}
		cfg.Prefetch = max(cfg.Prefetch, 32)
	}
	if cfg.RecordDelay == 0 {
		cfg.RecordDelay = 25 * time.Millisecond
	}
	if cfg.MaxHeadWait <= 0 {
		cfg.MaxHeadWait = time.Minute
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 10 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(cfg.Now().UnixNano())
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(os.TempDir(), "strata")
	}
	d := &Dispatcher{cfg: cfg, cat: cfg.Catalog, log: cfg.Logger, now: cfg.Now, sizer: cfg.Sizer,
		graph: cfg.Graph, wake: make(chan struct{}, 1), rand: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		history: map[asset.Key][]Observation{}, held: map[int64]*task{}}
	if d.graph == nil {
		d.graph = &CatalogGraph{Catalog: cfg.Catalog}
	}
	return d, nil
}

// Owner is the lease owner of the dispatcher's local runs.
func (d *Dispatcher) Owner() string { return d.cfg.Owner }

// Notify wakes the dispatcher to look for queued runs now (after an
// enqueue, say). It never blocks.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// CatalogGraph is a GraphSource over the catalog's current assets, rebuilt
// when the catalog revision moves.
type CatalogGraph struct {
	Catalog interface {
		CatalogRevision(ctx context.Context) (int64, error)
		CurrentAssets(ctx context.Context) ([]catalog.AssetRecord, error)
	}
	mu  sync.Mutex
	rev int64
	g   *asset.Graph
}

// Graph returns the graph of the current assets.
func (c *CatalogGraph) Graph(ctx context.Context) (*asset.Graph, error) {
	rev, err := c.Catalog.CatalogRevision(ctx)
	if err != nil {
		return nil, fmt.Errorf("asset graph: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.g != nil && c.rev == rev {
		return c.g, nil
	}
	recs, err := c.Catalog.CurrentAssets(ctx)
	if err != nil {
		return nil, fmt.Errorf("asset graph: %w", err)
	}
	decls := make([]asset.AssetDecl, len(recs))
	for i := range recs {
		decls[i] = recs[i].Decl
	}
	g, err := asset.NewGraph(decls)
	if err != nil {
		return nil, fmt.Errorf("asset graph at revision %d: %w", rev, err)
	}
	c.g, c.rev = g, rev
	return g, nil
}

// task is one claimed run: its prepared jobs (one per shard) and their
// progress.
type task struct {
	p *prepared
	shardRun
	started time.Time

	ctx context.Context

	claimedAt time.Time
	lastBeat  time.Time
	// stop is why the task was stopped: errCancelRequested, errLeaseLost
	// or errShutdown.
	stop error
}

// shardRun is the shards of one run an executor is given: those not
// started (in order), how many are running, each one's outcome, and the
// cancellation of them all. Its owner's mutex guards it.
type shardRun struct {
	pending []int
	running int
	results []Result
	errs    []error
	cancel  context.CancelCauseFunc
}

// finish records the outcome of a shard that ran. One shard failed: the run
// failed, and the others are stopped. It says whether the run is over: no
// shard running or left to start.
func (s *shardRun) finish(shard int, res Result, err error) bool {
	s.results[shard], s.errs[shard] = res, err
	s.running--
	if !res.OK() || err != nil {
		s.pending = nil
		s.cancel(errors.New("another shard failed"))
	}
	return s.running == 0 && len(s.pending) == 0
}

var (
	errCancelRequested = errors.New("cancel requested")
	errLeaseLost       = errors.New("lease lost")
	errShutdown        = errors.New("the server shut down")
)

// Run dispatches until ctx is done: it recovers orphans of a previous
// process first, then claims, admits, executes and records runs, renews
// leases and recovers expired ones. Without executors it only renews and
// recovers (a server whose runs all go to remote workers). On return the
// jobs it started were stopped and their runs queued again (or failed when
// out of attempts).
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.RecoverOrphans(ctx); err != nil && ctx.Err() == nil {
		d.log.Warn("recover orphaned runs", slog.String("error", err.Error()))
	}
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); d.heartbeatLoop(ctx) }()
	go func() { defer bg.Done(); d.recoverLoop(ctx) }()
	defer bg.Wait()
	if len(d.cfg.Executors) == 0 {
		// Remote workers only: recover leases, run nothing here.
		<-ctx.Done()
		return nil
	}

	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		claimed, err := d.fill(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Warn("claim runs", slog.String("error", err.Error()))
		}
		if ctx.Err() != nil {
			break
		}
		d.admit(ctx)
		if claimed {
			// More may be queued: claim again as soon as there is room.
			continue
		}
		poll.Reset(d.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-poll.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	d.shutdown()
	return nil
}

// shutdown stops running jobs and releases waiting runs.
func (d *Dispatcher) shutdown() {
	d.mu.Lock()
	waiting := d.wait
	d.wait = nil
	for _, t := range d.held {
		t.stop = errShutdown
		t.cancel(errShutdown)
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, t := range waiting {
		d.mu.Lock()
		started := !t.started.IsZero()
		t.pending = nil
		if !started {
			delete(d.held, t.p.run.ID)
		}
		d.mu.Unlock()
		if !started {
			d.requeue(ctx, t.p.run, "interrupted before it started: "+errShutdown.Error(), "")
		}
	}
	d.wg.Wait()
}

// capacities are the executors' capacities, for sizing.
func (d *Dispatcher) capacities() []Capacity {
	caps := make([]Capacity, len(d.cfg.Executors))
	for i, e := range d.cfg.Executors {
		caps[i] = e.Capacity()
	}
	return caps
}

// fill claims runs while fewer than Prefetch wait for capacity. It reports
// whether it claimed a full batch (more may be queued).
func (d *Dispatcher) fill(ctx context.Context) (bool, error) {
	d.mu.Lock()
	room := d.cfg.Prefetch - len(d.wait)
	d.mu.Unlock()
	// Claim in batches: a claim is a write transaction, so wait until half
	// the prefetch is free rather than claiming one run per finished run.
	if room <= 0 || (room < d.cfg.Prefetch/2 && len(d.wait) > 0) {
		return false, nil
	}
	runs, err := d.cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: d.cfg.Owner, Lease: d.cfg.Lease, Limit: room})
	if err != nil {
		return false, err
	}
	// The runs are ours now: prepare and hold them even if ctx ends
	// meanwhile (shutdown then queues them again), rather than failing
	// them half prepared.
	ctx = context.WithoutCancel(ctx)
	caps := d.capacities()
	g, gerr := d.graph.Graph(ctx)
	ps := make([]*prepared, len(runs))
	for i, r := range runs {
		ps[i] = d.prepare(ctx, g, gerr, r, caps, d.cfg.Owner)
	}
	d.recordSizings(ctx, ps)
	for i, r := range runs {
		p := ps[i]
		if p.final != nil {
			d.record(ctx, *p.final)
			continue
		}
		tctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		now := d.now()
		t := &task{p: p, ctx: tctx, claimedAt: now, lastBeat: now, shardRun: shardRun{cancel: cancel,
			results: make([]Result, len(p.jobs)), errs: make([]error, len(p.jobs))}}
		for i := range p.jobs {
			t.pending = append(t.pending, i)
		}
		d.mu.Lock()
		d.held[r.ID] = t
		d.wait = append(d.wait, t)
		d.mu.Unlock()
	}
	if len(runs) > 0 {
		// Runs claimed now may come before runs claimed earlier (a
		// scheduled run behind a backfill): keep the claim order.
		d.mu.Lock()
		slices.SortStableFunc(d.wait, func(a, b *task) int { return claimOrder(&a.p.run, &b.p.run) })
		d.mu.Unlock()
	}
	return len(runs) == room, nil
}

// claimOrder is the catalog's claim order: priority (higher first), then
// deadline (earlier first, none last), then id.
func claimOrder(a, b *catalog.Run) int {
	if a.Priority != b.Priority {
		return cmp.Compare(b.Priority, a.Priority)
	}
	switch {
	case a.Deadline != nil && b.Deadline == nil:
		return -1
	case a.Deadline == nil && b.Deadline != nil:
		return 1
	case a.Deadline != nil && !a.Deadline.Equal(*b.Deadline):
		return a.Deadline.Compare(*b.Deadline)
	}
	return cmp.Compare(a.ID, b.ID)
}

// admit starts every waiting job that fits an executor, in claim order
// (priority, then deadline). A job that does not fit waits; later, smaller
// ones may start in the gap, unless the first waiting run has waited longer
// than MaxHeadWait: then nothing else starts until it does.
func (d *Dispatcher) admit(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	keep := d.wait[:0]
	blocked := false
	for _, t := range d.wait {
		if t.stop != nil {
			continue // stopped while waiting; its recorder removes it
		}
		for len(t.pending) > 0 && !blocked {
			shard := t.pending[0]
			job := t.p.jobs[shard]
			release, ex, ok := d.tryAdmit(job.Grant)
			if !ok {
				if len(keep) == 0 {
					// t is the head of the line.
					if d.headID != t.p.run.ID {
						d.headID, d.headSince = t.p.run.ID, now
					} else if now.Sub(d.headSince) > d.cfg.MaxHeadWait {
						blocked = true
					}
				}
				break
			}
			t.pending = t.pending[1:]
			t.running++
			if t.started.IsZero() {
				t.started = now
			}
			d.wg.Add(1)
			go d.execute(ctx, t, shard, ex, release)
		}
		if len(t.pending) > 0 {
			keep = append(keep, t)
		}
	}
	clear(d.wait[len(keep):])
	d.wait = keep
}

func (d *Dispatcher) tryAdmit(g Grant) (func(), Executor, bool) {
	for _, e := range d.cfg.Executors {
		if !e.Capacity().Fits(g) {
			continue
		}
		if release, ok := e.Admission().TryAdmit(g); ok {
			return release, e, true
		}
	}
	return nil, nil, false
}

// execute runs one shard of t and, when it is the last to finish, records
// the run's outcome.
func (d *Dispatcher) execute(ctx context.Context, t *task, shard int, ex Executor, release func()) {
	defer d.wg.Done()
	res, err := ex.Execute(t.ctx, t.p.jobs[shard])
	release()
	// Start the next waiting job now, before this one is recorded.
	d.admit(ctx)
	d.Notify()
	d.mu.Lock()
	last := t.finish(shard, res, err)
	stop := t.stop
	d.mu.Unlock()
	if !last {
		d.Notify()
		return
	}
	rctx := context.WithoutCancel(ctx)
	switch stop {
	case errLeaseLost:
	case errShutdown:
		if !succeeded(t) {
			d.requeue(rctx, t.p.run, "interrupted: "+errShutdown.Error(), joinLogs(t.p, t.results))
			break
		}
		// It finished before the shutdown reached it: keep its result.
		d.record(rctx, d.outcome(t, nil))
	default:
		d.record(rctx, d.outcome(t, stop))
	}
	d.mu.Lock()
	delete(d.held, t.p.run.ID)
	d.mu.Unlock()
	t.cancel(nil)
	d.Notify()
}

// succeeded says whether every shard of t ran and succeeded.
func succeeded(t *task) bool {
	for i := range t.results {
		if t.errs[i] != nil || !t.results[i].OK() || t.results[i].Started.IsZero() {
			return false
		}
	}
	return true
}

// heartbeatLoop renews the leases of held runs every Lease/3 and stops
// the runs whose cancellation was requested or whose lease was lost.
func (d *Dispatcher) heartbeatLoop(ctx context.Context) {
	every := d.cfg.Lease / 3
	tick := time.NewTicker(max(every/2, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := d.now()
		d.mu.Lock()
		var due []*task
		for _, t := range d.held {
			if t.stop == nil && now.Sub(t.lastBeat) >= every {
				due = append(due, t)
			}
		}
		d.mu.Unlock()
		for _, t := range due {
			stop, err := d.cat.Heartbeat(ctx, t.p.run.ID, d.cfg.Owner, d.cfg.Lease)
			var why error
			switch {
			case errors.Is(err, catalog.ErrConflict), errors.Is(err, catalog.ErrNotFound):
				why = errLeaseLost
			case err != nil:
				if ctx.Err() == nil {
					d.log.Warn("heartbeat", slog.Int64("run_id", t.p.run.ID), slog.String("error", err.Error()))
				}
				continue
			case stop:
				why = errCancelRequested
			}
			d.mu.Lock()
			t.lastBeat = now
			if why != nil && t.stop == nil {
				t.stop = why
			}
			started := !t.started.IsZero()
			if why != nil && started {
				t.pending = nil // the shards running record the run
			}
			d.mu.Unlock()
			if why == nil {
				continue
			}
			d.log.Info("stopping run", slog.Int64("run_id", t.p.run.ID), slog.String("reason", why.Error()))
			t.cancel(why)
			if !started {
				// Waiting for capacity: finish it here; admit drops it.
				d.mu.Lock()
				delete(d.held, t.p.run.ID)
				d.mu.Unlock()
				if why == errCancelRequested {
					d.record(ctx, catalog.RunResult{RunID: t.p.run.ID, Attempt: t.p.run.Attempt, Owner: d.cfg.Owner,
						State: catalog.RunCancelled, Error: "cancelled before it started"})
				}
				d.Notify()
			}
		}
	}
}

// recordOne calls FinishRun, retrying transient errors for a while. A
// conflict means the attempt was already recorded or the lease was lost:
// either way there is nothing left to do.
func (d *Dispatcher) recordOne(ctx context.Context, res catalog.RunResult) {
	backoff := 50 * time.Millisecond
	deadline := d.now().Add(d.cfg.Lease)
	for {
		_, err := d.cat.FinishRun(ctx, res)
		switch {
		case err == nil:
			return
		case errors.Is(err, catalog.ErrConflict), errors.Is(err, catalog.ErrNotFound), errors.Is(err, catalog.ErrInvalid):
			d.log.Warn("record run", slog.Int64("run_id", res.RunID), slog.Int("attempt", res.Attempt), slog.String("error", err.Error()))
			return
		}
		if ctx.Err() != nil || d.now().After(deadline) {
			d.log.Error("record run: giving up; its lease will expire and it will be retried",
				slog.Int64("run_id", res.RunID), slog.Int("attempt", res.Attempt), slog.String("error", err.Error()))
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff = min(backoff*2, 2*time.Second)
	}
}

// requeue puts a run this dispatcher holds back in the queue at once
// after an interruption that was not the job's fault (the server shut
// down), without counting the attempt: see catalog.RequeueRuns. log is
// what the interrupted attempt wrote.
func (d *Dispatcher) requeue(ctx context.Context, run catalog.Run, why, log string) {
	_, _, err := d.cat.RequeueRuns(ctx, catalog.RequeueRequest{Owner: d.cfg.Owner, Reason: why,
		Runs: []catalog.RequeueRun{{RunID: run.ID, Attempt: run.Attempt, Log: log}}})
	if err != nil {
		// The lease expires and RequeueExpired retries it (as an attempt).
		d.log.Warn("requeue run", slog.Int64("run_id", run.ID), slog.Int("attempt", run.Attempt), slog.String("error", err.Error()))
	}
}

// Backoff is the delay before the attempt after attempt (1-based) failed:
// base x 2^(attempt-1), capped at max, drawn uniformly from [d/2, d].
func Backoff(base, maxDelay time.Duration, attempt int, r *rand.Rand) time.Duration {
	if base <= 0 {
		return 0
	}
	dl := float64(base) * math.Pow(2, float64(max(attempt, 1)-1))
	dl = min(dl, float64(maxDelay))
	return time.Duration(dl/2 + r.Float64()*dl/2)
}

func (d *Dispatcher) backoff(a *asset.Asset, attempt int) time.Duration {
	base := d.cfg.RetryBackoff
	if a != nil && a.Decl.Retry != nil && a.Decl.Retry.Backoff > 0 {
		base = a.Decl.Retry.Backoff.Std()
	}
	d.randMu.Lock()
	defer d.randMu.Unlock()
	return Backoff(base, d.cfg.MaxBackoff, attempt, d.rand)
}

// retryable says whether a failure kind is worth another attempt.
func retryable(kind string) bool {
	switch kind {
	case FailExit, FailSignal, FailTimeout, FailOutput, FailStart:
		return true
	}
	return false
}

// outcome turns the results of a task's shards into the run's result.
func (d *Dispatcher) outcome(t *task, stop error) catalog.RunResult {
	p := t.p
	res := catalog.RunResult{RunID: p.run.ID, Attempt: p.run.Attempt, Owner: d.cfg.Owner}
	// The first failure explains the run; an executor error is a failure
	// to start.
	var fail *Result
	for i := range t.results {
		r := &t.results[i]
		if err := t.errs[i]; err != nil {
			r.Failure, r.Reason = FailStart, err.Error()
		}
		if !r.OK() && (fail == nil || fail.Failure == FailCancelled) {
			fail = r
		}
	}
	res.Usage = usageOf(t.results)
	res.Log = joinLogs(p, t.results)
	if code := exitCodeOf(t.results, fail); code != nil {
		res.ExitCode = code
	}
	switch {
	case stop == errCancelRequested:
		res.State, res.Error = catalog.RunCancelled, "cancelled"
	case fail != nil:
		res.State, res.Error = catalog.RunFailed, fail.Reason
		if retryable(fail.Failure) && p.run.Attempt < p.run.MaxAttempts {
			res.Retry = &catalog.RetryAt{NotBefore: d.now().Add(d.backoff(p.asset, p.run.Attempt))}
		}
	default:
		outs := t.results[len(t.results)-1].Outputs
		if len(t.results) > 1 {
			outs = d.reinspect(outs)
		}
		res.State = catalog.RunSucceeded
		res.Materializations = materializations(p, outs)
		res.Checks = checks(p, t.results)
		d.observe(p, res.Usage)
	}
	return res
}

// reinspect reads a sharded run's outputs again once every shard finished.
func (d *Dispatcher) reinspect(outs []PartitionResult) []PartitionResult {
	out := slices.Clone(outs)
	for i := range out {
		pth, ok := localOutputPath(out[i].Location)
		if !ok {
			continue
		}
		st, err := InspectOutput(pth, d.cfg.Inspect)
		if err != nil {
			continue
		}
		out[i].Stats = &st
		out[i].Rows, out[i].Bytes, out[i].RowsSource = &st.Rows, &st.Bytes, "parquet"
		if out[i].DataVersionSource != "job" {
			out[i].DataVersion, out[i].DataVersionSource = st.DataVersion, "parquet"
		}
	}
	return out
}

func usageOf(rs []Result) *catalog.Usage {
	u := &catalog.Usage{}
	var first, last time.Time
	for _, r := range rs {
		if r.Started.IsZero() {
			continue
		}
		if first.IsZero() || r.Started.Before(first) {
			first = r.Started
		}
		if r.Finished.After(last) {
			last = r.Finished
		}
		u.PeakRSS = max(u.PeakRSS, r.PeakRSS)
		u.CPUSeconds += (r.UserCPU + r.SysCPU).Seconds()
	}
	if !first.IsZero() {
		u.Duration = last.Sub(first)
	}
	return u
}

func exitCodeOf(rs []Result, fail *Result) *int {
	r := fail
	if r == nil && len(rs) > 0 {
		r = &rs[0]
	}
	if r == nil || r.ExitCode < 0 {
		return nil
	}
	c := r.ExitCode
	return &c
}

// joinLogs is the run's log: each shard's output, then the job's
// structured log lines and the warnings about its messages.
func joinLogs(p *prepared, rs []Result) string {
	var b strings.Builder
	if p != nil {
		b.WriteString(sizingLine(p))
	}
	for i, r := range rs {
		if len(rs) > 1 {
			fmt.Fprintf(&b, "=== shard %d of %d ===\n", i, len(rs))
		}
		b.Write(r.Log)
		if len(r.Log) > 0 && r.Log[len(r.Log)-1] != '\n' {
			b.WriteByte('\n')
		}
		for _, l := range r.Messages.Logs {
			fmt.Fprintf(&b, "[%s] %s\n", l.Level, l.Message)
		}
		for _, w := range r.Messages.Warnings {
			fmt.Fprintf(&b, "[strata] messages: %s\n", w)
		}
		if !r.OK() && r.Reason != "" {
			fmt.Fprintf(&b, "[strata] %s\n", r.Reason)
		}
	}
	return b.String()
}

// sizingLine is the sizing decision in words, for the head of the log of
// its attempt (the decision itself is recorded on the run).
func sizingLine(p *prepared) string {
	return fmt.Sprintf("[strata] attempt %d sizing (%s): %s\n", p.run.Attempt, p.decision.Action, p.decision.Reason)
}

// materializations builds the run's materializations, each with the
// upstream data versions its partition was given (its provenance).
func materializations(p *prepared, outs []PartitionResult) []catalog.Materialization {
	ms := make([]catalog.Materialization, 0, len(outs))
	for _, o := range outs {
		var mb json.RawMessage
		if len(o.Metadata) > 0 {
			if b, err := json.Marshal(o.Metadata); err == nil {
				mb = b
			}
		}
		m := catalog.Materialization{Asset: p.run.Asset, Partition: o.Partition, DataVersion: o.DataVersion,
			CodeVersion: p.asset.Decl.CodeVersion, RowCount: o.Rows, ByteCount: o.Bytes, Metadata: mb, Location: o.Location,
			Provenance: provenance(p.parts, p.matIDs, o.Partition)}
		if o.Stats != nil && len(o.Stats.SchemaJSON) > 0 {
			m.Schema = o.Stats.SchemaJSON
		}
		ms = append(ms, m)
	}
	return ms
}

// provenance lists the upstream asset partitions partition was given.
func provenance(parts []PartitionInputs, ids map[inputKey]int64, partition string) []catalog.ProvenanceEntry {
	for _, pi := range parts {
		if pi.Partition != partition && len(parts) > 1 {
			continue
		}
		out := make([]catalog.ProvenanceEntry, 0, len(pi.Inputs))
		for _, in := range pi.Inputs {
			id := ids[inputKey{in.Asset, in.Partition}]
			if in.DataVersion == "" && id == 0 {
				continue // never materialized: nothing was consumed
			}
			out = append(out, catalog.ProvenanceEntry{UpstreamAsset: in.Asset, UpstreamPartition: in.Partition,
				UpstreamMaterializationID: id, DataVersion: in.DataVersion})
		}
		return out
	}
	return nil
}

func checks(p *prepared, rs []Result) []catalog.CheckResult {
	var out []catalog.CheckResult
	for _, r := range rs {
		for _, c := range r.Messages.Checks {
			part := c.Partition
			if part == "" && len(p.run.PartitionKeys) == 1 {
				part = p.run.PartitionKeys[0]
			}
			var meta json.RawMessage
			if len(c.Metadata) > 0 {
				meta, _ = json.Marshal(c.Metadata)
			}
			out = append(out, catalog.CheckResult{Asset: p.run.Asset, Partition: part, Check: c.Name, Passed: c.Passed,
				Severity: c.Severity, Description: c.Description, Metadata: meta})
		}
	}
	return out
}

// observe adds a successful run to its asset's sizing history.
func (d *Dispatcher) observe(p *prepared, u *catalog.Usage) {
	if u == nil || u.PeakRSS <= 0 {
		return
	}
	o := Observation{InputRows: p.decision.Inputs.Rows, InputBytes: p.decision.Inputs.Bytes, PeakRSS: u.PeakRSS, Duration: u.Duration}
	if s := max(p.decision.Grant.Shards, 1); s > 1 {
		// Each shard read about 1/s of the input.
		o.InputRows, o.InputBytes = o.InputRows/int64(s), o.InputBytes/int64(s)
	}
	d.histMu.Lock()
	defer d.histMu.Unlock()
	h := append(d.history[p.run.Asset], o)
	if len(h) > 200 {
		h = h[len(h)-100:]
	}
	d.history[p.run.Asset] = h
}

// historyOf returns an asset's past runs, oldest first: those recorded in
// the catalog with their sizing (read once per asset), then those this
// dispatcher saw.
func (d *Dispatcher) historyOf(ctx context.Context, key asset.Key) []Observation {
	d.histMu.Lock()
	h, ok := d.history[key]
	d.histMu.Unlock()
	if ok {
		return slices.Clone(h)
	}
	runs, err := d.cat.ListRuns(ctx, catalog.RunFilter{Asset: key, States: []catalog.RunState{catalog.RunSucceeded}, Limit: 100})
	if err != nil {
		d.log.Warn("sizing history", slog.String("asset_key", string(key)), slog.String("error", err.Error()))
		return nil
	}
	var obs []Observation
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.Usage == nil || r.Usage.PeakRSS <= 0 || len(r.Sizing) == 0 {
			continue
		}
		var s sizingRecord
		if json.Unmarshal(r.Sizing, &s) != nil {
			continue
		}
		sh := int64(max(s.Shards, 1))
		obs = append(obs, Observation{InputRows: s.InputRows / sh, InputBytes: s.InputBytes / sh, PeakRSS: r.Usage.PeakRSS, Duration: r.Usage.Duration})
	}
	d.histMu.Lock()
	defer d.histMu.Unlock()
	if cur, ok := d.history[key]; ok {
		return slices.Clone(cur)
	}
	d.history[key] = obs
	return slices.Clone(obs)
}

// prepared is a claimed run made ready to execute: its asset, its inputs,
// its sizing decision and its jobs (one per shard). A run that cannot
// execute has final set instead: the result to record.
type prepared struct {
	run      catalog.Run
	asset    *asset.Asset
	parts    []PartitionInputs
	matIDs   map[inputKey]int64 // upstream materializations of the inputs
	decision Decision
	sizing   json.RawMessage
	jobs     []Job
	final    *catalog.RunResult
	owner    string // lease owner
}

// prepare resolves a claimed run into jobs sized for executors of caps. A
// run whose asset is gone or has no command fails; one too big for any
// executor fails with the sizer's reason; one that must be split is
// replaced by runs for its batches.
func (d *Dispatcher) prepare(ctx context.Context, g *asset.Graph, gerr error, run catalog.Run, caps []Capacity, owner string) *prepared {
	p := &prepared{run: run, owner: owner}
	fail := func(msg string, retry bool) *prepared {
		r := catalog.RunResult{RunID: run.ID, Attempt: run.Attempt, Owner: owner, State: catalog.RunFailed, Error: msg, Log: "[strata] " + msg + "\n"}
		if retry && run.Attempt < run.MaxAttempts {
			r.Retry = &catalog.RetryAt{NotBefore: d.now().Add(d.backoff(p.asset, run.Attempt))}
		}
		p.final = &r
		return p
	}
	if gerr != nil {
		return fail("prepare: "+gerr.Error(), true)
	}
	a, ok := g.Asset(run.Asset)
	if !ok {
		return fail(fmt.Sprintf("asset %s is not declared any more", run.Asset), false)
	}
	p.asset = a
	if a.Decl.Compute == nil || len(a.Decl.Compute.Command) == 0 {
		what := "no compute command"
		if a.Decl.Compute != nil && a.Decl.Compute.Image != "" {
			what = "a container image (" + a.Decl.Compute.Image + ") and no command; this executor runs commands"
		}
		return fail(fmt.Sprintf("asset %s has %s", run.Asset, what), false)
	}
	now := d.now()
	parts, ids, window, err := d.inputs(ctx, g, a, run.PartitionKeys, now)
	if err != nil {
		return fail("prepare inputs: "+err.Error(), true)
	}
	p.parts, p.matIDs = parts, ids
	var res *asset.ResourcesDecl
	if a.Decl.Resources != nil {
		res = a.Decl.Resources
	}
	dec := d.sizer.Decide(SizeRequest{Asset: a.Key, Partitions: parts, History: d.historyOf(ctx, a.Key),
		Resources: res, Shardable: a.Decl.Compute.Shardable, Executors: caps})
	// A batch of a split run keeps saying where it came from.
	from := splitFromOf(run.Sizing)
	if from != 0 {
		dec.Reason = fmt.Sprintf("batch split from run %d: %s", from, dec.Reason)
	}
	p.decision = dec
	p.sizing = sizingJSON(dec, from)
	switch dec.Action {
	case ActionRefuse:
		return fail("sizing: "+dec.Reason, false)
	case ActionSplit:
		return d.split(ctx, p)
	}
	jobs, err := d.jobs(p, window)
	if err != nil {
		return fail("prepare job: "+err.Error(), false)
	}
	p.jobs = jobs
	return p
}

// recordSizings records the sizing decision of each prepared run on its
// attempt, in one write: every decision, refusals and splits too, for
// local and remote runs alike, so that the API and the UI show it. It
// runs before any of the runs is finished.
func (d *Dispatcher) recordSizings(ctx context.Context, ps []*prepared) {
	var ss []catalog.RunSizing
	for _, p := range ps {
		if len(p.sizing) > 0 {
			ss = append(ss, catalog.RunSizing{RunID: p.run.ID, Attempt: p.run.Attempt, Sizing: p.sizing})
		}
	}
	var errs []error
	var err error
	switch len(ss) {
	case 0:
		return
	case 1:
		errs = []error{d.cat.SetRunSizing(ctx, ss[0].RunID, ss[0].Attempt, ss[0].Sizing)}
	default:
		errs, err = d.cat.SetRunSizings(ctx, ss)
	}
	if err != nil {
		d.log.Warn("record sizing", slog.Int("runs", len(ss)), slog.String("error", err.Error()))
		return
	}
	for i, e := range errs {
		if e != nil {
			d.log.Warn("record sizing", slog.Int64("run_id", ss[i].RunID), slog.Int("attempt", ss[i].Attempt), slog.String("error", e.Error()))
		}
	}
}

// split replaces a run too big for one job by one run per batch of its
// partitions, each carrying its own sizing, and finishes the original as
// cancelled, naming the new runs. (Two writes: a crash in between gives a
// retry of the original that splits again; execution is at-least-once.)
func (d *Dispatcher) split(ctx context.Context, p *prepared) *prepared {
	run := p.run
	specs := make([]catalog.RunSpec, len(p.decision.Batches))
	for i, b := range p.decision.Batches {
		bd := p.decision
		bd.Action, bd.Grant, bd.Batches = ActionRun, b.Grant, nil
		if b.Grant.Shards > 1 {
			bd.Action = ActionShard
		}
		bd.Inputs = InputSummary{Rows: b.InputRows, Bytes: b.InputBytes}
		bd.Reason = fmt.Sprintf("batch %d of %d split from run %d: %s", i+1, len(p.decision.Batches), run.ID, p.decision.Reason)
		specs[i] = catalog.RunSpec{Asset: run.Asset, PartitionKeys: b.Partitions, Reason: run.Reason, Priority: run.Priority,
			Deadline: run.Deadline, BackfillID: run.BackfillID, MaxAttempts: run.MaxAttempts, Sizing: sizingJSON(bd, run.ID)}
	}
	ids, err := d.cat.EnqueueRuns(ctx, specs)
	if err != nil {
		r := catalog.RunResult{RunID: run.ID, Attempt: run.Attempt, Owner: p.owner, State: catalog.RunFailed,
			Error: "split: " + err.Error(), Retry: &catalog.RetryAt{NotBefore: d.now().Add(d.backoff(p.asset, run.Attempt))}}
		p.final = &r
		return p
	}
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = strconv.FormatInt(id, 10)
	}
	msg := fmt.Sprintf("split into %d runs (%s): %s", len(ids), strings.Join(strs, ", "), p.decision.Reason)
	d.Notify()
	p.final = &catalog.RunResult{RunID: run.ID, Attempt: run.Attempt, Owner: p.owner, State: catalog.RunCancelled,
		Error: msg, Log: "[strata] " + msg + "\n"}
	return p
}

// jobs builds the run's jobs: one, or one per shard.
func (d *Dispatcher) jobs(p *prepared, window *Window) ([]Job, error) {
	a, run := p.asset, p.run
	keys := run.PartitionKeys
	if len(keys) == 1 && keys[0] == asset.UnpartitionedKey && a.Partitions.Kind() == asset.KindUnpartitioned {
		keys = nil
	}
	tmpl := a.Decl.Output
	if tmpl == "" {
		tmpl = DefaultOutputTemplate(d.cfg.DataDir)
	}
	out, outs, err := OutputLocations(tmpl, a.Key, keys)
	if err != nil {
		return nil, err
	}
	var inputs []Input
	seen := map[[2]string]bool{}
	for _, pi := range p.parts {
		for _, in := range pi.Inputs {
			k := [2]string{string(in.Asset), in.Partition}
			if !seen[k] {
				seen[k] = true
				inputs = append(inputs, in)
			}
		}
	}
	c := a.Decl.Compute
	base := Job{RunID: strconv.FormatInt(run.ID, 10), Attempt: run.Attempt, Asset: a.Key, PartitionKeys: keys,
		Window: window, Command: slices.Clone(c.Command), Env: c.Env, Workdir: c.Workdir, Timeout: c.Timeout.Std(),
		Output: out, Outputs: outs, Inputs: inputs, Grant: p.decision.Grant, CodeVersion: a.Decl.CodeVersion}
	n := max(p.decision.Grant.Shards, 1)
	jobs := make([]Job, n)
	for i := range jobs {
		jobs[i] = base
		jobs[i].Shard = i
	}
	return jobs, nil
}

// inputKey names an upstream asset partition.
type inputKey struct {
	asset     asset.Key
	partition string
}

// mapInputs maps each of the run's partitions to the upstream asset
// partitions it reads (without their data), and the keys to the time
// window they cover.
func (d *Dispatcher) mapInputs(ctx context.Context, g *asset.Graph, a *asset.Asset, keys []string, now time.Time) ([]PartitionInputs, map[asset.Key]map[string]bool, *Window, error) {
	var dyn asset.DynamicKeys
	needDyn := usesDynamic(a.Partitions)
	for _, dep := range a.Deps {
		if up := g.ByID(dep.UpID); up != nil && usesDynamic(up.Partitions) {
			needDyn = true
		}
	}
	if needDyn {
		snap, err := d.cat.DynamicKeysSnapshot(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		dyn = snap
	}
	down := a.Partitions.At(now, dyn)
	if len(keys) == 0 {
		keys = []string{asset.UnpartitionedKey}
	}
	var window *Window
	if w, ok := down.(asset.Windowed); ok && a.Partitions.Kind() != asset.KindUnpartitioned {
		for _, k := range keys {
			i, ok := down.Index(k)
			if !ok {
				continue
			}
			tw := w.Window(i)
			if window == nil {
				window = &Window{Start: tw.Start, End: tw.End}
				continue
			}
			if tw.Start.Before(window.Start) {
				window.Start = tw.Start
			}
			if tw.End.After(window.End) {
				window.End = tw.End
			}
		}
	}
	parts := make([]PartitionInputs, len(keys))
	wanted := map[asset.Key]map[string]bool{}
	for i, k := range keys {
		parts[i] = PartitionInputs{Partition: k, Inputs: []Input{}}
		for _, dep := range a.Deps {
			up := g.ByID(dep.UpID)
			upParts := up.Partitions.At(now, dyn)
			sub := asset.NewSubset(down)
			if !sub.AddKey(k) {
				return nil, nil, nil, fmt.Errorf("partition %q of %s does not exist", k, a.Key)
			}
			m, err := dep.Mapping.Upstream(sub, upParts)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("map partition %q of %s to %s: %w", k, a.Key, up.Key, err)
			}
			for uk := range m.Partitions.Keys() {
				parts[i].Inputs = append(parts[i].Inputs, Input{Asset: up.Key, Partition: uk})
				if wanted[up.Key] == nil {
					wanted[up.Key] = map[string]bool{}
				}
				wanted[up.Key][uk] = true
			}
		}
	}
	return parts, wanted, window, nil
}

// inputs maps each of the run's partitions to the upstream asset
// partitions it reads, with what their latest materializations recorded:
// location, data version, rows and bytes.
func (d *Dispatcher) inputs(ctx context.Context, g *asset.Graph, a *asset.Asset, keys []string, now time.Time) ([]PartitionInputs, map[inputKey]int64, *Window, error) {
	parts, wanted, window, err := d.mapInputs(ctx, g, a, keys, now)
	if err != nil {
		return nil, nil, nil, err
	}
	found := map[inputKey]Input{}
	ids := map[inputKey]int64{}
	for key, set := range wanted {
		if err := d.lookupInputs(ctx, g, key, set, found, ids); err != nil {
			return nil, nil, nil, err
		}
	}
	for i := range parts {
		for j, in := range parts[i].Inputs {
			if f, ok := found[inputKey{in.Asset, in.Partition}]; ok {
				parts[i].Inputs[j] = f
			}
		}
	}
	return parts, ids, window, nil
}

func usesDynamic(def asset.PartitionsDef) bool {
	k := def.Kind()
	return k == asset.KindDynamic || k == asset.KindMulti
}

// directLookups is the most upstream partitions of one asset looked up by
// key (one query); beyond it the latest materializations of the asset are
// streamed. Either way a location missing from them (a legacy row) is
// computed from the upstream's output template.
const directLookups = 64

func (d *Dispatcher) lookupInputs(ctx context.Context, g *asset.Graph, key asset.Key, set map[string]bool, found map[inputKey]Input, ids map[inputKey]int64) error {
	var tmpl string
	if up, ok := g.Asset(key); ok {
		tmpl = up.Decl.Output
	}
	if tmpl == "" {
		tmpl = DefaultOutputTemplate(d.cfg.DataDir)
	}
	add := func(s *catalog.MaterializationSummary) error {
		if !set[s.Partition] {
			return nil
		}
		in := Input{Asset: key, Partition: s.Partition, DataVersion: s.DataVersion, Rows: max(s.RowCount, 0), Bytes: max(s.ByteCount, 0),
			Location: s.Location}
		ids[inputKey{key, s.Partition}] = s.ID
		if in.Location == "" {
			if loc, err := ExpandOutput(tmpl, key, s.Partition); err == nil {
				in.Location = loc
			}
		}
		found[inputKey{key, s.Partition}] = in
		return nil
	}
	if len(set) > directLookups {
		return d.cat.LatestMaterializations(ctx, key, add)
	}
	parts := make([]string, 0, len(set))
	for part := range set {
		parts = append(parts, part)
		found[inputKey{key, part}] = Input{Asset: key, Partition: part} // never materialized, unless found
	}
	ms, err := d.cat.LatestOf(ctx, key, parts)
	if err != nil {
		return err
	}
	for i := range ms {
		if err := add(&ms[i]); err != nil {
			return err
		}
	}
	return nil
}

// sizingRecord is the sizing decision as recorded on a run: the API's
// RunSizing fields (read by the server with protojson, which ignores the
// rest), plus the whole Decision.
type sizingRecord struct {
	MemoryBytes       int64         `json:"memory_bytes"`
	CPUs              float64       `json:"cpus"`
	Shards            int           `json:"shards"`
	InputRows         int64         `json:"input_rows"`
	InputBytes        int64         `json:"input_bytes"`
	Inputs            []sizingInput `json:"inputs"`
	Model             string        `json:"model"`
	HistorySamples    int           `json:"history_samples"`
	PredictedPeakRSS  int64         `json:"predicted_peak_rss_bytes"`
	PredictedDuration string        `json:"predicted_duration"`
	Reason            string        `json:"reason"`
	Action            string        `json:"action"`
	// SplitFrom is the run a batch was split from.
	SplitFrom int64     `json:"split_from,omitempty"`
	Decision  *Decision `json:"decision,omitempty"`
}

type sizingInput struct {
	Asset          string `json:"asset"`
	PartitionCount int64  `json:"partition_count"`
	Rows           int64  `json:"rows"`
	Bytes          int64  `json:"bytes"`
}

// splitFromOf reads the run a batch was split from out of its recorded
// sizing (0: none).
func splitFromOf(sizing json.RawMessage) int64 {
	if len(sizing) == 0 {
		return 0
	}
	var s struct {
		SplitFrom int64 `json:"split_from"`
	}
	if json.Unmarshal(sizing, &s) != nil {
		return 0
	}
	return s.SplitFrom
}

// sizingJSON is the one conversion of a sizing Decision to what is
// recorded on the run: the API's RunSizing fields by their proto names
// (memory_bytes, cpus, shards, input_rows, input_bytes, inputs per
// upstream, model, history_samples, predicted_peak_rss_bytes,
// predicted_duration, reason), which the server reads with protojson,
// ignoring the rest, then the action, the batch's origin and the whole
// Decision.
func sizingJSON(dec Decision, splitFrom int64) json.RawMessage {
	model := dec.Model.Kind
	if dec.Model.MemoryOverride > 0 {
		model = "override"
	}
	s := sizingRecord{MemoryBytes: dec.Grant.MemoryBytes, CPUs: dec.Grant.CPUs, Shards: max(dec.Grant.Shards, 1),
		InputRows: dec.Inputs.Rows, InputBytes: dec.Inputs.Bytes, Model: model, HistorySamples: dec.Model.Observations,
		PredictedPeakRSS: dec.Predicted.MemoryBytes, PredictedDuration: fmt.Sprintf("%.3fs", dec.Predicted.Duration.Seconds()),
		Reason: dec.Reason, Action: dec.Action, SplitFrom: splitFrom, Decision: &dec}
	s.Inputs = make([]sizingInput, 0, len(dec.Inputs.PerUpstream))
	for _, u := range dec.Inputs.PerUpstream {
		s.Inputs = append(s.Inputs, sizingInput{Asset: string(u.Asset), PartitionCount: int64(u.Partitions), Rows: u.Rows, Bytes: u.Bytes})
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil
	}
	return b
}
