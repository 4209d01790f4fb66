package materializer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// Remote workers (`strata worker --server ADDR`) run jobs on other
// machines. They need no catalog access: the server does everything that
// reads the catalog. When a worker claims runs, the server's Dispatcher
// claims them in the catalog under the worker's lease owner
// (WorkerOwner), sizes them against the worker's capacity and builds each
// job, context included (the upstream inputs with their recorded
// locations, data versions, rows and bytes), and sends it as a JobSpec.
// The worker writes the context and messages files from it, runs the job
// with its own LocalExecutor (same protocol, same log bounds, timeouts and
// process-group kill), inspects the output, heartbeats, sends the job's
// output while it runs (every WorkerConfig.LogInterval) and finishes the run with its materializations; the server adds the
// provenance details and retry policy and records the attempt with one
// FinishRun, exactly once per (run, attempt).

// WorkerOwner is the lease owner of runs claimed by the worker with id.
func WorkerOwner(id string) string { return "worker:" + id }

// WorkerClaim is a remote worker's request for runs.
type WorkerClaim struct {
	WorkerID string
	// Capacity is the worker's total; Available what is free now.
	Capacity  Capacity
	Available Capacity
	// Labels are the worker's labels (runs cannot select workers by label
	// yet: every worker may run every run).
	Labels map[string]string
	// MaxRuns bounds the runs returned; 0 means as many as fit Available.
	MaxRuns int
	// Wait is how long to wait for a run when none is queued.
	Wait time.Duration
}

// Assignment is a run claimed for a remote worker with its job: the
// job of shard 0, whose Grant.Shards says how many processes to start.
type Assignment struct {
	Run          catalog.Run
	Job          Job
	LeaseExpires time.Time
}

// HeartbeatInterval is how often workers should heartbeat.
func (d *Dispatcher) HeartbeatInterval() time.Duration { return d.cfg.Lease / 3 }

// ClaimForWorker claims runs for a remote worker: it returns as soon as
// at least one is claimed, or empty after req.Wait. Runs it cannot prepare
// (asset gone, too big for the worker, split) are finished or replaced
// here and not returned.
func (d *Dispatcher) ClaimForWorker(ctx context.Context, req WorkerClaim) ([]Assignment, error) {
	if req.WorkerID == "" {
		return nil, fmt.Errorf("claim for worker: %w: worker id is empty", catalog.ErrInvalid)
	}
	owner := WorkerOwner(req.WorkerID)
	deadline := d.now().Add(req.Wait)
	avail := req.Available
	if avail == (Capacity{}) {
		avail = req.Capacity
	}
	for {
		var out []Assignment
		g, gerr := d.graph.Graph(ctx)
		for req.MaxRuns <= 0 || len(out) < req.MaxRuns {
			if len(out) > 0 && !roomFor(avail, d.sizer.cfg.MemoryFloor) {
				break
			}
			runs, err := d.cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: owner, Lease: d.cfg.Lease, Limit: 1})
			if err != nil {
				return out, fmt.Errorf("claim for worker %s: %w", req.WorkerID, err)
			}
			if len(runs) == 0 {
				break
			}
			r := runs[0]
			p := d.prepare(ctx, g, gerr, r, []Capacity{req.Capacity}, owner)
			d.recordSizings(ctx, []*prepared{p})
			if p.final != nil {
				d.record(ctx, *p.final)
				continue
			}
			g := p.decision.Grant
			n := max(g.Shards, 1)
			avail.MemoryBytes -= g.MemoryBytes * int64(n)
			avail.CPUs -= g.CPUs * float64(n)
			exp := d.now().Add(d.cfg.Lease)
			if r.LeaseExpiresAt != nil {
				exp = *r.LeaseExpiresAt
			}
			out = append(out, Assignment{Run: r, Job: p.jobs[0], LeaseExpires: exp})
		}
		if len(out) > 0 || !d.now().Before(deadline) {
			return out, nil
		}
		t := time.NewTimer(min(d.cfg.PollInterval, 250*time.Millisecond, deadline.Sub(d.now())))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// roomFor says whether a worker with avail free may take one more run.
func roomFor(avail Capacity, floor int64) bool {
	return avail.MemoryBytes >= floor && avail.CPUs > 1e-9
}

// HeartbeatForWorker renews the leases of a worker's runs and returns
// those it must stop: cancelled, or whose lease it lost.
func (d *Dispatcher) HeartbeatForWorker(ctx context.Context, workerID string, runIDs []int64) (stop []int64, err error) {
	owner := WorkerOwner(workerID)
	for _, id := range runIDs {
		cancel, err := d.cat.Heartbeat(ctx, id, owner, d.cfg.Lease)
		switch {
		case errors.Is(err, catalog.ErrConflict), errors.Is(err, catalog.ErrNotFound):
			stop = append(stop, id)
		case err != nil:
			return stop, fmt.Errorf("heartbeat for worker %s: %w", workerID, err)
		case cancel:
			stop = append(stop, id)
		}
	}
	return stop, nil
}

// checkLease says whether the run's attempt is leased to owner.
func (d *Dispatcher) checkLease(ctx context.Context, runID int64, attempt int, owner string) (catalog.Run, error) {
	r, err := d.cat.GetRun(ctx, runID)
	if err != nil {
		return r, err
	}
	if r.State != catalog.RunRunning || r.Attempt != attempt || r.LeaseOwner != owner {
		return r, fmt.Errorf("%w: run %d attempt %d is not running under %s (state %s, attempt %d)",
			catalog.ErrConflict, runID, attempt, owner, r.State, r.Attempt)
	}
	return r, nil
}

// AppendLogForWorker appends to the log of a run attempt the worker holds.
func (d *Dispatcher) AppendLogForWorker(ctx context.Context, workerID string, runID int64, attempt int, text string) error {
	if _, err := d.checkLease(ctx, runID, attempt, WorkerOwner(workerID)); err != nil {
		return fmt.Errorf("append log for worker %s: %w", workerID, err)
	}
	if err := d.cat.AppendRunLog(ctx, runID, text); err != nil {
		return fmt.Errorf("append log for worker %s: %w", workerID, err)
	}
	return nil
}

// WorkerResult is what a worker reports about a run attempt.
type WorkerResult struct {
	State            catalog.RunState
	ExitCode         *int
	Error            string
	Usage            *catalog.Usage
	Materializations []catalog.Materialization
	Checks           []catalog.CheckResult
}

// FinishForWorker records a worker's run attempt: a failed attempt is
// queued again per the asset's retry policy; each materialization's
// provenance keeps the upstream partitions mapped from its partition, with
// their materialization ids. It succeeds once per (run, attempt); a repeat
// gives catalog.ErrConflict.
func (d *Dispatcher) FinishForWorker(ctx context.Context, workerID string, runID int64, attempt int, wr WorkerResult) (catalog.Run, error) {
	owner := WorkerOwner(workerID)
	if !wr.State.Terminal() {
		return catalog.Run{}, fmt.Errorf("finish for worker %s: %w: state %q is not terminal", workerID, catalog.ErrInvalid, wr.State)
	}
	run, err := d.checkLease(ctx, runID, attempt, owner)
	if err != nil {
		return run, fmt.Errorf("finish for worker %s: %w", workerID, err)
	}
	res := catalog.RunResult{RunID: runID, Attempt: attempt, Owner: owner, State: wr.State, ExitCode: wr.ExitCode,
		Error: wr.Error, Usage: wr.Usage, Checks: wr.Checks}
	g, gerr := d.graph.Graph(ctx)
	var a *asset.Asset
	if gerr == nil {
		a, _ = g.Asset(run.Asset)
	}
	if wr.State == catalog.RunFailed && attempt < run.MaxAttempts {
		res.Retry = &catalog.RetryAt{NotBefore: d.now().Add(d.backoff(a, attempt))}
	}
	if wr.State == catalog.RunSucceeded {
		res.Materializations = d.workerProvenance(ctx, g, a, run, wr.Materializations)
	}
	for i := range res.Checks {
		res.Checks[i].Asset = run.Asset
	}
	out, err := d.cat.FinishRun(ctx, res)
	if err != nil {
		return out, fmt.Errorf("finish for worker %s: %w", workerID, err)
	}
	return out, nil
}

// workerProvenance keeps, for each materialization of a run over several
// partitions, the upstream partitions mapped from its partition, and fills
// in the upstream materialization ids where the data version matches.
func (d *Dispatcher) workerProvenance(ctx context.Context, g *asset.Graph, a *asset.Asset, run catalog.Run, ms []catalog.Materialization) []catalog.Materialization {
	var mapped map[string]map[inputKey]bool
	if a != nil && len(run.PartitionKeys) > 1 {
		parts, _, _, err := d.mapInputs(ctx, g, a, run.PartitionKeys, d.now())
		if err == nil {
			mapped = map[string]map[inputKey]bool{}
			for _, p := range parts {
				set := map[inputKey]bool{}
				for _, in := range p.Inputs {
					set[inputKey{in.Asset, in.Partition}] = true
				}
				mapped[p.Partition] = set
			}
		}
	}
	ids := map[inputKey]int64{}
	out := make([]catalog.Materialization, len(ms))
	for i, m := range ms {
		m.Asset = run.Asset
		if m.CodeVersion == "" && a != nil {
			m.CodeVersion = a.Decl.CodeVersion
		}
		var prov []catalog.ProvenanceEntry
		for _, pe := range m.Provenance {
			k := inputKey{pe.UpstreamAsset, pe.UpstreamPartition}
			if set, ok := mapped[m.Partition]; ok && !set[k] {
				continue
			}
			if pe.UpstreamMaterializationID == 0 && len(m.Provenance) <= directLookups {
				id, ok := ids[k]
				if !ok {
					if h, err := d.cat.MaterializationHistory(ctx, pe.UpstreamAsset, pe.UpstreamPartition, 1); err == nil && len(h) == 1 && h[0].DataVersion == pe.DataVersion {
						id = h[0].ID
					}
					ids[k] = id
				}
				pe.UpstreamMaterializationID = id
			}
			prov = append(prov, pe)
		}
		m.Provenance = prov
		out[i] = m
	}
	return out
}

// JobSpecProto is the JobSpec of a job for a remote worker: its command,
// declared env, workdir, timeout, output and context file.
func JobSpecProto(j Job) (*stratav1.JobSpec, error) {
	ctxJSON, err := json.Marshal(j.Context(""))
	if err != nil {
		return nil, fmt.Errorf("encode context of run %s: %w", j.RunID, err)
	}
	var m map[string]any
	if err := json.Unmarshal(ctxJSON, &m); err != nil {
		return nil, fmt.Errorf("encode context of run %s: %w", j.RunID, err)
	}
	// Locations go as the server recorded them (file:// URLs included).
	m["output"] = j.Output
	outs := make([]any, len(j.Outputs))
	for i, o := range j.Outputs {
		outs[i] = map[string]any{"partition": o.Partition, "location": o.Location}
	}
	m["outputs"] = outs
	st, err := structpb.NewStruct(m)
	if err != nil {
		return nil, fmt.Errorf("encode context of run %s: %w", j.RunID, err)
	}
	spec := &stratav1.JobSpec{Command: j.Command, Env: j.Env, Workdir: j.Workdir, Output: j.Output, Context: st}
	if j.Timeout > 0 {
		spec.Timeout = durationpb.New(j.Timeout)
	}
	return spec, nil
}

// JobFromSpec rebuilds the job of a JobSpec on a worker.
func JobFromSpec(spec *stratav1.JobSpec) (Job, error) {
	if spec == nil || spec.GetContext() == nil {
		return Job{}, errors.New("job spec has no context")
	}
	raw, err := spec.GetContext().MarshalJSON()
	if err != nil {
		return Job{}, fmt.Errorf("decode job context: %w", err)
	}
	var c ContextFile
	if err := json.Unmarshal(raw, &c); err != nil {
		return Job{}, fmt.Errorf("decode job context: %w", err)
	}
	j := Job{RunID: c.RunID, Attempt: c.Attempt, Asset: c.Asset, PartitionKeys: c.PartitionKeys, Window: c.Window,
		Command: spec.GetCommand(), Env: spec.GetEnv(), Workdir: spec.GetWorkdir(), Output: c.Output,
		Outputs: c.Outputs, Inputs: c.Inputs, CodeVersion: c.CodeVersion,
		Grant: Grant{MemoryBytes: c.Resources.MemoryBytes, CPUs: c.Resources.CPUs, Shards: c.Resources.Shards}}
	if len(j.PartitionKeys) == 0 {
		j.PartitionKeys = nil
	}
	if len(j.Outputs) == 0 {
		j.Outputs = nil
	}
	if spec.GetTimeout() != nil {
		j.Timeout = spec.GetTimeout().AsDuration()
	}
	return j, j.Validate()
}

// WorkerConfig configures a Worker. Client and Executor are required.
type WorkerConfig struct {
	Client stratav1.WorkerServiceClient
	// ID identifies the worker; empty means host name and process id.
	ID       string
	Hostname string
	Labels   map[string]string
	// Executor runs the jobs; its capacity is the worker's.
	Executor *LocalExecutor
	Logger   *slog.Logger
	// Wait is the long poll of ClaimRuns [30s].
	Wait time.Duration
	// Prefetch is how many claimed runs may wait for capacity [1].
	Prefetch int
	// LogInterval is how often the output of a running job is sent to
	// the server, so that its log is live there too [1s].
	LogInterval time.Duration
}

// Worker is the loop of `strata worker`: it claims runs from the server,
// runs them, heartbeats, sends their logs and results.
type Worker struct {
	cfg  WorkerConfig
	log  *slog.Logger
	wake chan struct{}

	mu       sync.Mutex
	held     map[int64]*workerTask
	wait     []*workerTask
	interval time.Duration
	wg       sync.WaitGroup
}

type workerTask struct {
	run  int64
	jobs []Job
	shardRun
	started bool
	stopped bool
	ctx     context.Context
	// live is the output not sent yet; liveStop ends its sender, which
	// closes liveDone.
	live     *liveBuffer
	liveStop chan struct{}
	liveDone chan struct{}
}

// maxLiveBuffer bounds the output a worker holds between two sends.
const maxLiveBuffer = 1 << 20

// liveBuffer collects a running job's output between sends. Safe for
// concurrent use.
type liveBuffer struct {
	mu     sync.Mutex
	b      []byte
	elided int64
}

func (l *liveBuffer) add(p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := min(len(p), maxLiveBuffer-len(l.b))
	l.b = append(l.b, p[:k]...)
	l.elided += int64(len(p) - k)
}

// take returns what was collected since the last take: whole lines only
// (the server ends every chunk with a newline) unless all is set or the
// buffer is full.
func (l *liveBuffer) take(all bool) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.b)
	if !all && l.elided == 0 && n < maxLiveBuffer {
		n = bytes.LastIndexByte(l.b, '\n') + 1
	}
	out := string(l.b[:n])
	if l.elided > 0 {
		if out != "" && out[len(out)-1] != '\n' {
			out += "\n"
		}
		out += fmt.Sprintf("... %d bytes elided ...\n", l.elided)
	}
	l.b, l.elided = append(l.b[:0], l.b[n:]...), 0
	return out
}

// NewWorker returns a worker for cfg.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Client == nil || cfg.Executor == nil {
		return nil, errors.New("new worker: client and executor are required")
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.ID == "" {
		cfg.ID = cfg.Hostname + "-" + strconv.Itoa(os.Getpid())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 30 * time.Second
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 1
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = time.Second
	}
	return &Worker{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), held: map[int64]*workerTask{}, interval: 10 * time.Second}, nil
}

// ID is the worker's id.
func (w *Worker) ID() string { return w.cfg.ID }

func (w *Worker) notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func capacityProto(c Capacity) *stratav1.WorkerCapacity {
	return &stratav1.WorkerCapacity{MemoryBytes: c.MemoryBytes, Cpus: c.CPUs}
}

// Run claims and runs jobs until ctx is done; then it stops its jobs,
// reports them as interrupted (the server queues them again when they have
// attempts left) and returns.
func (w *Worker) Run(ctx context.Context) error {
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { defer bg.Done(); w.heartbeatLoop(ctx) }()
	defer bg.Wait()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		w.mu.Lock()
		full := len(w.wait) >= w.cfg.Prefetch
		w.mu.Unlock()
		if full {
			select {
			case <-ctx.Done():
			case <-w.wake:
			}
			continue
		}
		ex := w.cfg.Executor
		total := ex.Capacity()
		inUse := ex.Admission().InUse()
		avail := Capacity{MemoryBytes: total.MemoryBytes - inUse.MemoryBytes, CPUs: total.CPUs - inUse.CPUs}
		resp, err := w.cfg.Client.ClaimRuns(ctx, &stratav1.ClaimRunsRequest{WorkerId: w.cfg.ID, Hostname: w.cfg.Hostname,
			Capacity: capacityProto(total), Available: capacityProto(avail), Labels: w.cfg.Labels,
			WaitTimeout: durationpb.New(w.cfg.Wait)})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.log.Warn("claim runs", slog.String("error", err.Error()))
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if hi := resp.GetHeartbeatInterval(); hi != nil && hi.AsDuration() > 0 {
			w.mu.Lock()
			w.interval = hi.AsDuration()
			w.mu.Unlock()
		}
		for _, as := range resp.GetAssignments() {
			w.add(ctx, as)
		}
		w.admit(ctx)
	}
	w.mu.Lock()
	for _, t := range w.held {
		t.stopped = true
		t.cancel(errShutdown)
	}
	w.mu.Unlock()
	w.wg.Wait()
	return nil
}

func (w *Worker) add(ctx context.Context, as *stratav1.RunAssignment) {
	id, err := strconv.ParseInt(as.GetRun().GetId(), 10, 64)
	if err != nil {
		w.log.Error("bad assignment", slog.String("run_id", as.GetRun().GetId()))
		return
	}
	job, err := JobFromSpec(as.GetJob())
	if err != nil {
		w.finish(ctx, id, int(as.GetAttempt()), &stratav1.RunResult{State: stratav1.RunState_RUN_STATE_FAILED,
			Error: "worker " + w.cfg.ID + ": " + err.Error(), ExitCode: -1})
		return
	}
	n := max(job.Grant.Shards, 1)
	t := &workerTask{run: id, jobs: make([]Job, n), shardRun: shardRun{results: make([]Result, n), errs: make([]error, n)}}
	for i := range t.jobs {
		t.jobs[i] = job
		t.jobs[i].Shard = i
		t.pending = append(t.pending, i)
	}
	t.ctx, t.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	w.mu.Lock()
	w.held[id] = t
	w.wait = append(w.wait, t)
	w.mu.Unlock()
}

func (w *Worker) admit(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	keep := w.wait[:0]
	for _, t := range w.wait {
		for len(t.pending) > 0 && !t.stopped {
			shard := t.pending[0]
			release, ok := w.cfg.Executor.Admission().TryAdmit(t.jobs[shard].Grant)
			if !ok {
				break
			}
			t.pending = t.pending[1:]
			t.running++
			if !t.started {
				t.started = true
				t.live = &liveBuffer{}
				t.liveStop, t.liveDone = make(chan struct{}), make(chan struct{})
				t.live.add([]byte("[strata] on worker " + w.cfg.ID + "\n"))
				w.wg.Add(1)
				go w.streamLog(ctx, t)
			}
			w.wg.Add(1)
			go w.execute(ctx, t, shard, release)
		}
		if len(t.pending) > 0 && !t.stopped {
			keep = append(keep, t)
		}
	}
	clear(w.wait[len(keep):])
	w.wait = keep
}

func (w *Worker) execute(ctx context.Context, t *workerTask, shard int, release func()) {
	defer w.wg.Done()
	res, err := w.cfg.Executor.ExecuteLive(t.ctx, t.jobs[shard], t.live.add)
	release()
	w.mu.Lock()
	last := t.finish(shard, res, err)
	w.mu.Unlock()
	defer func() { w.notify(); w.admit(ctx) }()
	if !last {
		return
	}
	rctx := context.WithoutCancel(ctx)
	cause := context.Cause(t.ctx)
	close(t.liveStop)
	<-t.liveDone
	w.sendLog(rctx, t)
	w.finish(rctx, t.run, t.jobs[0].Attempt, w.result(t, cause))
	w.mu.Lock()
	delete(w.held, t.run)
	w.mu.Unlock()
	t.cancel(nil)
}

// streamLog sends a running task's output every LogInterval, so that
// `strata runs logs -f` and the UI follow remote runs live; on liveStop
// it sends what is left and closes liveDone.
func (w *Worker) streamLog(ctx context.Context, t *workerTask) {
	defer w.wg.Done()
	defer close(t.liveDone)
	tick := time.NewTicker(w.cfg.LogInterval)
	defer tick.Stop()
	rctx := context.WithoutCancel(ctx)
	for {
		select {
		case <-t.liveStop:
			w.appendLog(rctx, t, t.live.take(true))
			return
		case <-tick.C:
			w.appendLog(rctx, t, t.live.take(false))
		}
	}
}

// sendLog sends the rest of the attempt's log: the output went live
// (streamLog); what is left is the job's structured log lines, the
// warnings about its messages and why it failed.
func (w *Worker) sendLog(ctx context.Context, t *workerTask) {
	var b strings.Builder
	for i, r := range t.results {
		r.Log = nil
		if len(t.results) > 1 && (len(r.Messages.Logs) > 0 || len(r.Messages.Warnings) > 0 || !r.OK()) {
			fmt.Fprintf(&b, "=== shard %d of %d ===\n", i, len(t.results))
		}
		b.WriteString(joinLogs(nil, []Result{r}))
	}
	w.appendLog(ctx, t, b.String())
}

// appendLog sends log to the server in chunks.
func (w *Worker) appendLog(ctx context.Context, t *workerTask, log string) {
	const chunk = 1 << 20
	for len(log) > 0 {
		n := min(len(log), chunk)
		_, err := w.cfg.Client.AppendRunLog(ctx, &stratav1.AppendRunLogRequest{WorkerId: w.cfg.ID, RunId: strconv.FormatInt(t.run, 10),
			Attempt: int32(t.jobs[0].Attempt), Lines: []*stratav1.RunLogLine{{Attempt: int32(t.jobs[0].Attempt), Text: log[:n],
				Stream: stratav1.LogStream_LOG_STREAM_STDOUT}}})
		if err != nil {
			w.log.Warn("send log", slog.Int64("run_id", t.run), slog.String("error", err.Error()))
			return
		}
		log = log[n:]
	}
}

// result turns a task's shard results into the RunResult the worker sends.
func (w *Worker) result(t *workerTask, cause error) *stratav1.RunResult {
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
	u := usageOf(t.results)
	out := &stratav1.RunResult{ExitCode: -1, Usage: &stratav1.ResourceUsage{Duration: durationpb.New(u.Duration),
		PeakRssBytes: u.PeakRSS, CpuTime: durationpb.New(time.Duration(u.CPUSeconds * float64(time.Second)))}}
	if c := exitCodeOf(t.results, fail); c != nil {
		out.ExitCode = int32(*c)
	}
	switch {
	case errors.Is(cause, errCancelRequested):
		out.State, out.Error = stratav1.RunState_RUN_STATE_CANCELED, "cancelled"
	case errors.Is(cause, errShutdown):
		out.State, out.Error = stratav1.RunState_RUN_STATE_FAILED, "interrupted: worker "+w.cfg.ID+" shut down"
	case fail != nil:
		out.State, out.Error = stratav1.RunState_RUN_STATE_FAILED, fail.Reason
	default:
		out.State = stratav1.RunState_RUN_STATE_SUCCEEDED
		outs := t.results[len(t.results)-1].Outputs
		job := t.jobs[0]
		for _, o := range outs {
			rep := &stratav1.MaterializationReport{Asset: string(job.Asset), PartitionKey: o.Partition, DataVersion: o.DataVersion,
				CodeVersion: job.CodeVersion, RowCount: o.Rows, Bytes: o.Bytes, Location: o.Location}
			if o.Stats != nil && len(o.Stats.SchemaJSON) > 0 {
				rep.SchemaJson = string(o.Stats.SchemaJSON)
			}
			if len(o.Metadata) > 0 {
				if st, err := structpb.NewStruct(o.Metadata); err == nil {
					rep.Metadata = st
				}
			}
			for _, in := range job.Inputs {
				if in.DataVersion == "" {
					continue
				}
				rep.Provenance = append(rep.Provenance, &stratav1.ProvenanceInput{Asset: string(in.Asset), PartitionKey: in.Partition, DataVersion: in.DataVersion})
			}
			out.Materializations = append(out.Materializations, rep)
		}
		for _, r := range t.results {
			for _, c := range r.Messages.Checks {
				part := c.Partition
				if part == "" && len(job.PartitionKeys) == 1 {
					part = job.PartitionKeys[0]
				}
				cr := &stratav1.CheckResult{Asset: string(job.Asset), PartitionKey: part, CheckName: c.Name, Passed: c.Passed,
					Description: c.Description, Severity: stratav1.CheckSeverity_CHECK_SEVERITY_ERROR}
				if c.Severity == SeverityWarn {
					cr.Severity = stratav1.CheckSeverity_CHECK_SEVERITY_WARN
				}
				if len(c.Metadata) > 0 {
					if st, err := structpb.NewStruct(c.Metadata); err == nil {
						cr.Metadata = st
					}
				}
				out.Checks = append(out.Checks, cr)
			}
		}
	}
	return out
}

// finish sends a run's result, retrying while the server is unreachable
// (for up to a few minutes: after that its lease has expired anyway).
func (w *Worker) finish(ctx context.Context, runID int64, attempt int, res *stratav1.RunResult) {
	backoff := 100 * time.Millisecond
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, err := w.cfg.Client.FinishRun(ctx, &stratav1.FinishRunRequest{WorkerId: w.cfg.ID, RunId: strconv.FormatInt(runID, 10),
			Attempt: int32(attempt), Result: res})
		if err == nil {
			return
		}
		code := status.Code(err)
		if (code != codes.Unavailable && code != codes.DeadlineExceeded && code != codes.Internal) || time.Now().After(deadline) || ctx.Err() != nil {
			w.log.Warn("finish run", slog.Int64("run_id", runID), slog.Int("attempt", attempt), slog.String("error", err.Error()))
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff = min(backoff*2, 5*time.Second)
	}
}

// heartbeatLoop renews the leases of the worker's runs and stops those the
// server says to stop.
func (w *Worker) heartbeatLoop(ctx context.Context) {
	for {
		w.mu.Lock()
		every := w.interval
		w.mu.Unlock()
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		w.mu.Lock()
		var refs []*stratav1.RunAttemptRef
		for id, t := range w.held {
			refs = append(refs, &stratav1.RunAttemptRef{RunId: strconv.FormatInt(id, 10), Attempt: int32(t.jobs[0].Attempt)})
		}
		w.mu.Unlock()
		if len(refs) == 0 {
			continue
		}
		resp, err := w.cfg.Client.Heartbeat(ctx, &stratav1.HeartbeatRequest{WorkerId: w.cfg.ID, Runs: refs})
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("heartbeat", slog.String("error", err.Error()))
			}
			continue
		}
		if hi := resp.GetHeartbeatInterval(); hi != nil && hi.AsDuration() > 0 {
			w.mu.Lock()
			w.interval = hi.AsDuration()
			w.mu.Unlock()
		}
		for _, c := range resp.GetCancelRuns() {
			id, err := strconv.ParseInt(c.GetRunId(), 10, 64)
			if err != nil {
				continue
			}
			w.mu.Lock()
			t := w.held[id]
			var notStarted bool
			if t != nil && !t.stopped {
				t.stopped = true
				notStarted = !t.started
				t.pending = nil
				t.cancel(errCancelRequested)
				if notStarted {
					delete(w.held, id)
				}
			}
			w.mu.Unlock()
			if t != nil && notStarted {
				w.finish(ctx, id, t.jobs[0].Attempt, &stratav1.RunResult{State: stratav1.RunState_RUN_STATE_CANCELED,
					Error: "cancelled before it started", ExitCode: -1})
				w.notify()
			}
		}
	}
}
