package materializer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Failure kinds of a run, as data.
const (
	FailStart     = "start"     // the command could not be started
	FailExit      = "exit"      // exited with a non-zero code
	FailSignal    = "signal"    // killed by a signal it did not get from us
	FailTimeout   = "timeout"   // outlived its timeout
	FailCancelled = "cancelled" // the context was cancelled
	FailOutput    = "output"    // exited 0 but its output is unreadable
)

// Result is the outcome of one attempt of a job.
type Result struct {
	RunID   string `json:"run_id"`
	Attempt int    `json:"attempt"`
	// Failure is "" on success, else one of the Fail* kinds; Reason says
	// why in words ("timed out after 30s", "exited with code 3").
	Failure string `json:"failure,omitempty"`
	Reason  string `json:"reason,omitempty"`

	ExitCode int    `json:"exit_code"` // -1 when killed by a signal or not started
	Signal   string `json:"signal,omitempty"`

	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	Duration time.Duration `json:"duration"`
	// PeakRSS is the largest resident set of the job's process or of any
	// of its descendants it waited for (getrusage's maxrss), in bytes. It
	// is a maximum over processes, not the sum over the process group.
	PeakRSS int64         `json:"peak_rss"`
	UserCPU time.Duration `json:"user_cpu"`
	SysCPU  time.Duration `json:"sys_cpu"`

	// Log is the job's stdout and stderr, interleaved, bounded: when the
	// job wrote more than the cap, its head and tail are kept around a
	// marker line. LogBytes is how much the job wrote in all.
	Log       []byte `json:"-"`
	LogBytes  int64  `json:"log_bytes"`
	LogElided int64  `json:"log_elided"`

	// Messages is what the job reported in STRATA_MESSAGES.
	Messages Messages `json:"-"`
	// Outputs has one entry per partition of the run (one for an
	// unpartitioned asset), combining the output's inspection with the
	// job's reports.
	Outputs []PartitionResult `json:"outputs,omitempty"`
	// ContextFile and MessagesFile are the attempt's STRATA_CONTEXT and
	// STRATA_MESSAGES.
	ContextFile  string `json:"context_file"`
	MessagesFile string `json:"messages_file"`
}

// OK says the attempt succeeded.
func (r *Result) OK() bool { return r.Failure == "" }

// PartitionResult is what a run produced for one partition: the numbers the
// catalog records on its materialization.
type PartitionResult struct {
	Partition string `json:"partition"`
	Location  string `json:"location"`
	// Stats is the Parquet inspection; nil when the location held no
	// Parquet (the job may have written elsewhere).
	Stats *OutputStats `json:"stats,omitempty"`
	// Rows, Bytes and DataVersion come from the Parquet footers or, without
	// Parquet, from the job's reports; a data version the job reported wins
	// over the footers' hash. The *Source fields say which ("parquet",
	// "job" or "" for unknown).
	Rows              *int64         `json:"rows,omitempty"`
	Bytes             *int64         `json:"bytes,omitempty"`
	RowsSource        string         `json:"rows_source,omitempty"`
	DataVersion       string         `json:"data_version,omitempty"`
	DataVersionSource string         `json:"data_version_source,omitempty"`
	Metadata          map[string]any `json:"metadata,omitempty"`
}

// LocalConfig configures a LocalExecutor. Zero values are sensible.
type LocalConfig struct {
	// RunRoot is the directory that holds each attempt's context and
	// messages files, RunRoot/<run id>.<attempt>.context.json and
	// .messages.jsonl (.shard-<i> after the attempt for a shard), created
	// when missing. They are runtime state, deleted when the attempt ends,
	// so the default (DefaultRunRoot) is in memory where the system has a
	// runtime directory: creating a file on a disk file system costs more
	// than starting a small job. Executors that may run the same run ids
	// (two catalogs) need run roots of their own.
	RunRoot string
	// KeepRunFiles keeps the context and messages files after the attempt
	// (for debugging a job's protocol).
	KeepRunFiles bool
	// Capacity is what the executor may run at once (DefaultCapacity() if
	// zero).
	Capacity Capacity
	// DefaultTimeout applies to jobs without one (24h if 0).
	DefaultTimeout time.Duration
	// KillGrace is how long a job has to exit after SIGTERM before its
	// process group gets SIGKILL (10s if 0).
	KillGrace time.Duration
	// LogLimit caps the captured log (10 MiB if 0); LogHead is how much of
	// it is the head (a tenth of LogLimit if 0); the rest is the tail.
	LogLimit int
	LogHead  int
	// InheritEnv lists the variables of the server's environment a job
	// gets; a trailing "*" matches a prefix. DefaultInheritEnv() if nil.
	InheritEnv []string
	// MaxMessagesBytes bounds the messages file read (16 MiB if 0).
	MaxMessagesBytes int64
	// Inspect sets how deeply Parquet output is read.
	Inspect InspectOptions
	// InspectCommand, when set, is the argv of a helper process that
	// inspects Parquet output with a memory limit: a binary whose
	// main calls RunInspectHelperIfRequested first (cmd/strata: its own
	// executable). A corrupt file can then not exhaust the server's memory.
	// Nil inspects in the server's process.
	InspectCommand []string
	// InspectMemory limits the helper's data memory (4 GiB if 0);
	// InspectTimeout bounds it (10m if 0).
	InspectMemory  int64
	InspectTimeout time.Duration
	// Logger gets one line per finished attempt (discarded if nil).
	Logger *slog.Logger
}

// DefaultInheritEnv returns the part of the server's environment a job
// gets by default. STRATA_* variables of the server are never passed on.
func DefaultInheritEnv() []string {
	return []string{
		"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_*", "TZ", "TMPDIR",
		"SSL_CERT_FILE", "SSL_CERT_DIR",
	}
}

// LocalExecutor runs jobs as child processes of the server, each in its own
// process group.
type LocalExecutor struct {
	cfg       LocalConfig
	env       []string
	admission *Admission
	log       *slog.Logger

	pathMu sync.Mutex
	paths  map[string]lookedUp
}

// NewLocalExecutor returns an executor with cfg's defaults filled in.
func NewLocalExecutor(cfg LocalConfig) *LocalExecutor {
	if cfg.RunRoot == "" {
		cfg.RunRoot = DefaultRunRoot()
	}
	if cfg.Capacity == (Capacity{}) {
		cfg.Capacity = DefaultCapacity()
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = 24 * time.Hour
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = 10 * time.Second
	}
	if cfg.LogLimit <= 0 {
		cfg.LogLimit = 10 << 20
	}
	if cfg.LogHead <= 0 || cfg.LogHead > cfg.LogLimit {
		cfg.LogHead = cfg.LogLimit / 10
	}
	if cfg.InheritEnv == nil {
		cfg.InheritEnv = DefaultInheritEnv()
	}
	if cfg.InspectMemory <= 0 {
		cfg.InspectMemory = 4 << 30
	}
	if cfg.InspectTimeout <= 0 {
		cfg.InspectTimeout = 10 * time.Minute
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &LocalExecutor{
		cfg:       cfg,
		env:       inheritedEnv(os.Environ(), cfg.InheritEnv),
		admission: NewAdmission(cfg.Capacity),
		log:       logger,
	}
}

// Capacity is what the executor can run at once.
func (e *LocalExecutor) Capacity() Capacity { return e.cfg.Capacity }

// Admission is the executor's admission controller: the dispatcher admits a
// run only when TryAdmit says there is room for its grant.
func (e *LocalExecutor) Admission() *Admission { return e.admission }

func inheritedEnv(environ, names []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || strings.HasPrefix(name, "STRATA_") {
			continue
		}
		for _, n := range names {
			if p, isPrefix := strings.CutSuffix(n, "*"); (isPrefix && strings.HasPrefix(name, p)) || n == name {
				out = append(out, kv)
				break
			}
		}
	}
	return out
}

// Execute runs one attempt of job and waits for it. A job that fails (does
// not start, exits non-zero, is killed, times out, is cancelled through
// ctx, or writes unreadable Parquet) gives a Result saying why and a nil
// error; the error is for the executor's own failures (an invalid job, a
// run directory it cannot write).
func (e *LocalExecutor) Execute(ctx context.Context, job Job) (Result, error) {
	return e.ExecuteLive(ctx, job, nil)
}

// ExecuteLive is Execute with a live view of the job's output: onLog, when
// not nil, gets each chunk of the job's stdout and stderr as it is read,
// before bounding (the Result's Log is still the bounded whole). It is
// called from one goroutine, in order; it must not keep the slice and
// should not block (a remote worker buffers the chunks and sends them
// every second).
func (e *LocalExecutor) ExecuteLive(ctx context.Context, job Job, onLog func([]byte)) (Result, error) {
	if err := job.Validate(); err != nil {
		return Result{}, err
	}
	res := Result{RunID: job.RunID, Attempt: job.Attempt, ExitCode: -1}
	st := e.stage(job)
	res.ContextFile, res.MessagesFile = st.contextPath, st.messagesPath
	if st.err != nil {
		return res, st.err
	}
	contextPath, messagesPath := st.contextPath, st.messagesPath

	env := make([]string, 0, len(e.env)+len(job.Env)+16)
	env = append(env, e.env...)
	for k, v := range job.Env {
		env = append(env, k+"="+v)
	}
	env = append(env, job.ProtocolEnv(contextPath, messagesPath)...)

	timeout := job.Timeout
	if timeout <= 0 {
		timeout = e.cfg.DefaultTimeout
	}

	if ctx.Err() != nil {
		// Cancelled before it started: do not start it at all.
		res.Started, res.Finished = time.Now(), time.Now()
		res.Failure, res.Reason = FailCancelled, cancelReason(ctx)
	} else {
		e.run(ctx, &job, env, timeout, &res, onLog)
	}

	msgs, err := ReadMessages(messagesPath, e.cfg.MaxMessagesBytes)
	if err != nil {
		msgs.warn(err.Error())
	}
	res.Messages = msgs
	if !e.cfg.KeepRunFiles {
		for _, p := range []string{messagesPath, contextPath} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				e.log.Warn("remove run file", slog.String("path", p), slog.String("error", err.Error()))
			}
		}
	}
	if res.OK() {
		e.collectOutputs(ctx, &job, &res)
	}
	e.log.LogAttrs(ctx, slog.LevelInfo, "run finished",
		slog.String("run_id", job.RunID), slog.Int("attempt", job.Attempt),
		slog.String("asset_key", string(job.Asset)), slog.String("failure", res.Failure),
		slog.String("reason", res.Reason), slog.Duration("duration", res.Duration),
		slog.Int64("peak_rss", res.PeakRSS))
	return res, nil
}

// staged is an attempt's files, made ready before it runs: its context
// file and output directories.
type staged struct {
	contextPath, messagesPath string
	err                       error
}

// stage prepares job's files: its context file (one create and write, in
// RunRoot itself: a directory per attempt would cost a mkdir, the
// executor's main cost on a busy disk), its output directories (one mkdir
// each, when their parent exists). The messages file is left to the job.
func (e *LocalExecutor) stage(job Job) *staged {
	name := pathSafeID(job.RunID) + "." + strconv.Itoa(job.Attempt)
	if job.Grant.shards() > 1 {
		name += ".shard-" + strconv.Itoa(job.Shard)
	}
	st := &staged{}
	var err error
	if st.contextPath, st.messagesPath, err = job.writeContextFile(e.cfg.RunRoot, name); err != nil {
		st.err = fmt.Errorf("run %s: %w", job.RunID, err)
		return st
	}
	if err := prepareOutputs(&job); err != nil {
		st.err = fmt.Errorf("run %s: %w", job.RunID, err)
	}
	return st
}

// pathSafeID keeps a run id usable as one directory name, with no "." so
// that the attempt suffix is unambiguous.
func pathSafeID(id string) string { return strings.ReplaceAll(escapeSegment(id), ".", "%2E") }

// mkdir creates dir with one system call when its parent exists, else
// with its missing parents. It returns an error satisfying
// errors.Is(err, os.ErrExist) when dir already exists.
func mkdir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if err == nil || errors.Is(err, os.ErrExist) || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}

// prepareOutputs creates the directories the job writes into: the location
// itself when it ends in "/", else its parent.
func prepareOutputs(job *Job) error {
	locs := make([]string, 0, len(job.Outputs)+1)
	locs = append(locs, job.Output)
	for _, o := range job.Outputs {
		if o.Location != job.Output {
			locs = append(locs, o.Location)
		}
	}
	for _, loc := range locs {
		p, ok, err := LocalPath(loc)
		if err != nil {
			return err
		}
		if !ok || p == "" {
			continue
		}
		dir := p
		if !strings.HasSuffix(p, "/") {
			dir = filepath.Dir(p)
		}
		if err := mkdir(dir); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create output directory: %w", err)
		}
	}
	return nil
}

// run starts the process and waits for it, filling res.
func (e *LocalExecutor) run(ctx context.Context, job *Job, env []string, timeout time.Duration, res *Result, onLog func([]byte)) {
	pr, pw, err := os.Pipe()
	if err != nil {
		res.Failure, res.Reason = FailStart, "could not create the log pipe: "+err.Error()
		return
	}
	cmd := e.command(job.Command)
	cmd.Env = env
	cmd.Dir = job.Workdir
	cmd.Stdin = nil // /dev/null
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = jobProcAttr()

	logBuf := newHeadTail(e.cfg.LogHead, e.cfg.LogLimit-e.cfg.LogHead)
	res.Started = time.Now()
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		res.Finished = time.Now()
		res.Failure, res.Reason = FailStart, "could not start: "+err.Error()
		return
	}
	pw.Close()
	pgid := cmd.Process.Pid

	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		var w io.Writer = logBuf
		if onLog != nil {
			w = liveLog{logBuf, onLog}
		}
		_, _ = io.Copy(w, pr)
	}()

	waitDone := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(waitDone)
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var stopped string // FailTimeout or FailCancelled once we signalled
	var killTimer <-chan time.Time
	done := ctx.Done()
wait:
	for {
		select {
		case <-waitDone:
			break wait
		case <-timer.C:
			if stopped == "" {
				stopped = FailTimeout
				killTimer = terminate(pgid, e.cfg.KillGrace)
			}
		case <-done:
			done = nil // a closed channel stays ready: stop selecting it
			if stopped == "" {
				stopped = FailCancelled
				killTimer = terminate(pgid, e.cfg.KillGrace)
			}
		case <-killTimer:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			killTimer = nil
		}
	}
	res.Finished = time.Now()
	res.Duration = res.Finished.Sub(res.Started)

	// The job's process has exited: whatever it left running in its group
	// goes too, so nothing outlives the run and the log pipe closes.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-logDone:
	case <-time.After(e.cfg.KillGrace):
		// A descendant left the group (setsid) and holds the pipe open.
	}
	pr.Close()
	<-logDone
	res.Log, res.LogBytes, res.LogElided = logBuf.Bytes(), logBuf.total, logBuf.elided()

	st := cmd.ProcessState
	if st != nil {
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok && ru != nil {
			res.PeakRSS = maxrssBytes(ru.Maxrss)
			res.UserCPU = time.Duration(ru.Utime.Nano())
			res.SysCPU = time.Duration(ru.Stime.Nano())
		}
		res.ExitCode = st.ExitCode()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal().String()
			res.ExitCode = -1
		}
	}
	switch {
	case stopped == FailTimeout:
		res.Failure, res.Reason = FailTimeout, "timed out after "+timeout.String()
	case stopped == FailCancelled:
		res.Failure, res.Reason = FailCancelled, cancelReason(ctx)
	case st == nil:
		res.Failure, res.Reason = FailStart, "could not wait: "+fmt.Sprint(waitErr)
	case res.Signal != "":
		ws := st.Sys().(syscall.WaitStatus)
		res.Failure, res.Reason = FailSignal, fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), res.Signal)
	case res.ExitCode != 0:
		res.Failure, res.Reason = FailExit, fmt.Sprintf("exited with code %d", res.ExitCode)
	}
}

// lookPathTTL is how long a command name resolved through PATH is
// reused without looking again.
const lookPathTTL = 2 * time.Second

type lookedUp struct {
	path string
	at   time.Time
}

// command is exec.Command(argv...), reusing for lookPathTTL where a
// command name without a slash was found in PATH: backfills run one
// command thousands of times, and each PATH search costs a stat per PATH
// entry.
func (e *LocalExecutor) command(argv []string) *exec.Cmd {
	name := argv[0]
	if strings.Contains(name, "/") {
		return exec.Command(name, argv[1:]...)
	}
	now := time.Now()
	e.pathMu.Lock()
	l, ok := e.paths[name]
	e.pathMu.Unlock()
	if ok && now.Sub(l.at) < lookPathTTL {
		cmd := exec.Command(l.path, argv[1:]...)
		cmd.Args[0] = name
		return cmd
	}
	cmd := exec.Command(name, argv[1:]...)
	if cmd.Err == nil && filepath.IsAbs(cmd.Path) {
		e.pathMu.Lock()
		if e.paths == nil || len(e.paths) > 1000 {
			e.paths = map[string]lookedUp{}
		}
		e.paths[name] = lookedUp{cmd.Path, now}
		e.pathMu.Unlock()
	}
	return cmd
}

// cancelReason says why ctx ended, keeping a cause given with
// context.WithCancelCause.
func cancelReason(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return "cancelled: " + cause.Error()
	}
	return "cancelled"
}

// terminate sends SIGTERM to the process group and returns the channel that
// fires when it is time for SIGKILL.
func terminate(pgid int, grace time.Duration) <-chan time.Time {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	return time.After(grace)
}

// maxrssBytes converts getrusage's maxrss, in KiB on Linux, to bytes.
func maxrssBytes(v int64) int64 {
	if runtime.GOOS == "darwin" {
		return v // bytes on macOS
	}
	return v * 1024
}

// collectOutputs inspects each partition's output and merges the job's
// reports; unreadable Parquet fails the run.
func (e *LocalExecutor) collectOutputs(ctx context.Context, job *Job, res *Result) {
	outs := job.Outputs
	if len(outs) == 0 {
		p := ""
		if len(job.PartitionKeys) == 1 {
			p = job.PartitionKeys[0]
		}
		outs = []PartitionOutputLocation{{Partition: p, Location: job.Output}}
	}
	reports := res.Messages.Reports
	runReport := reports[""]
	if runReport != nil && len(outs) > 1 && (runReport.Rows != nil || runReport.Bytes != nil || runReport.DataVersion != "") {
		res.Messages.warn(fmt.Sprintf("rows, bytes or a data version reported without a partition in a run over %d partitions; ignored", len(outs)))
	}
	for _, o := range outs {
		pr := PartitionResult{Partition: o.Partition, Location: o.Location}
		var rep Report
		if runReport != nil {
			rep.Metadata = runReport.Metadata
			if len(outs) == 1 {
				rep = *runReport
			}
		}
		if r := reports[o.Partition]; r != nil && o.Partition != "" {
			rep.Metadata = mergeMetadata(rep.Metadata, r.Metadata)
			if r.Rows != nil {
				rep.Rows = r.Rows
			}
			if r.Bytes != nil {
				rep.Bytes = r.Bytes
			}
			if r.DataVersion != "" {
				rep.DataVersion = r.DataVersion
			}
		}
		pr.Metadata = rep.Metadata
		if p, ok := localOutputPath(o.Location); ok {
			st, err := e.inspect(ctx, p)
			switch {
			case errors.Is(err, ErrNoOutput):
			case err != nil:
				res.Failure, res.Reason = FailOutput, "exited with code 0 but its output is unreadable: "+err.Error()
				return
			default:
				pr.Stats = &st
				pr.Rows, pr.Bytes, pr.RowsSource = &st.Rows, &st.Bytes, "parquet"
				pr.DataVersion, pr.DataVersionSource = st.DataVersion, "parquet"
				if rep.Rows != nil && *rep.Rows != st.Rows {
					res.Messages.warn(fmt.Sprintf("partition %q: job reported %d rows, the Parquet footers say %d; the footers win", o.Partition, *rep.Rows, st.Rows))
				}
			}
		}
		if pr.Stats == nil && (rep.Rows != nil || rep.Bytes != nil) {
			pr.Rows, pr.Bytes, pr.RowsSource = rep.Rows, rep.Bytes, "job"
		}
		if rep.DataVersion != "" {
			pr.DataVersion, pr.DataVersionSource = rep.DataVersion, "job"
		}
		res.Outputs = append(res.Outputs, pr)
	}
}

// inspect reads the Parquet output at p, in a helper process when one is
// configured.
func (e *LocalExecutor) inspect(ctx context.Context, p string) (OutputStats, error) {
	if len(e.cfg.InspectCommand) == 0 {
		return InspectOutput(p, e.cfg.Inspect)
	}
	if !hasParquetFiles(p) {
		return OutputStats{}, ErrNoOutput
	}
	return inspectInHelper(ctx, e.cfg.InspectCommand, p, e.cfg.Inspect, e.cfg.InspectMemory, e.cfg.InspectTimeout)
}

func mergeMetadata(a, b map[string]any) map[string]any {
	if len(b) == 0 {
		return a
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// liveLog passes what the job writes to a hook and to the bounded log.
type liveLog struct {
	buf   *headTail
	onLog func([]byte)
}

func (l liveLog) Write(p []byte) (int, error) {
	l.onLog(p)
	return l.buf.Write(p)
}

// headTail keeps the first head bytes and the last tail bytes written to
// it, counting the bytes in between.
type headTail struct {
	head      []byte
	headCap   int
	ring      []byte // tail ring buffer, allocated as it fills
	tailCap   int
	ringStart int // index of the oldest byte when the ring is full
	total     int64
}

func newHeadTail(head, tail int) *headTail {
	return &headTail{headCap: head, tailCap: tail}
}

func (h *headTail) Write(p []byte) (int, error) {
	n := len(p)
	h.total += int64(n)
	if room := h.headCap - len(h.head); room > 0 {
		k := min(room, len(p))
		h.head = append(h.head, p[:k]...)
		p = p[k:]
	}
	if len(p) == 0 || h.tailCap == 0 {
		return n, nil
	}
	if len(p) >= h.tailCap {
		h.ring = append(h.ring[:0], p[len(p)-h.tailCap:]...)
		h.ringStart = 0
		return n, nil
	}
	if room := h.tailCap - len(h.ring); room > 0 {
		k := min(room, len(p))
		h.ring = append(h.ring, p[:k]...)
		p = p[k:]
	}
	for len(p) > 0 {
		k := copy(h.ring[h.ringStart:], p)
		p = p[k:]
		h.ringStart = (h.ringStart + k) % h.tailCap
	}
	return n, nil
}

func (h *headTail) elided() int64 {
	return h.total - int64(len(h.head)) - int64(len(h.ring))
}

// Bytes returns the head, a marker line when bytes were elided, and the
// tail, oldest first.
func (h *headTail) Bytes() []byte {
	out := make([]byte, 0, len(h.head)+len(h.ring)+64)
	out = append(out, h.head...)
	if el := h.elided(); el > 0 {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = fmt.Appendf(out, "... %d bytes elided ...\n", el)
	}
	out = append(out, h.ring[h.ringStart:]...)
	out = append(out, h.ring[:h.ringStart]...)
	return out
}

// Capacity is what an executor can run at once: memory, CPUs and a number
// of concurrent jobs (slots). A zero field means no limit of that kind.
type Capacity struct {
	MemoryBytes int64   `json:"memory_bytes"`
	CPUs        float64 `json:"cpus"`
	Slots       int     `json:"slots"`
}

// DefaultCapacity is for running jobs on this machine: 80% of its memory,
// its CPUs, and twice as many slots as CPUs (jobs often wait on I/O).
// Memory is read from /proc/meminfo; where that is missing it is left 0
// (no limit).
func DefaultCapacity() Capacity {
	c := Capacity{CPUs: float64(runtime.NumCPU()), Slots: 2 * runtime.NumCPU()}
	c.MemoryBytes = totalMemory() / 10 * 8
	return c
}

func totalMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kib * 1024
		}
	}
	return 0
}

// Fits says whether g could run on an executor of capacity c when it is
// idle.
func (c Capacity) Fits(g Grant) bool {
	return (c.MemoryBytes == 0 || g.MemoryBytes <= c.MemoryBytes) &&
		(c.CPUs == 0 || g.CPUs <= c.CPUs) && c.Slots >= 0
}

// Admission tracks what an executor's running jobs hold and admits a new
// one only when it fits in what is left. It never blocks: the dispatcher
// tries the next queued job when one does not fit, so small jobs fill the
// gaps left by big ones. Safe for concurrent use.
type Admission struct {
	mu    sync.Mutex
	cap   Capacity
	inUse Capacity
}

// NewAdmission returns an admission controller for capacity c.
func NewAdmission(c Capacity) *Admission { return &Admission{cap: c} }

// Capacity is the total the controller admits against.
func (a *Admission) Capacity() Capacity { return a.cap }

// InUse is what the admitted jobs hold now.
func (a *Admission) InUse() Capacity {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse
}

// TryAdmit reserves g if it fits in what is free; release gives it back
// (calling it more than once is harmless). A grant that can never fit
// (bigger than the capacity) is never admitted: the sizer splits or refuses
// such runs before they reach the queue.
func (a *Admission) TryAdmit(g Grant) (release func(), ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cap.MemoryBytes > 0 && a.inUse.MemoryBytes+g.MemoryBytes > a.cap.MemoryBytes {
		return nil, false
	}
	if a.cap.CPUs > 0 && a.inUse.CPUs+g.CPUs > a.cap.CPUs+1e-9 {
		return nil, false
	}
	if a.cap.Slots > 0 && a.inUse.Slots+1 > a.cap.Slots {
		return nil, false
	}
	a.inUse.MemoryBytes += g.MemoryBytes
	a.inUse.CPUs += g.CPUs
	a.inUse.Slots++
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.inUse.MemoryBytes -= g.MemoryBytes
			a.inUse.CPUs -= g.CPUs
			a.inUse.Slots--
		})
	}, true
}

// DefaultRunRoot is where attempts' context and messages files go by
// default: a directory of this user's in memory ($XDG_RUNTIME_DIR/strata-runs,
// else /dev/shm/strata-runs-<uid>), else os.TempDir()/strata-runs-<uid>. A
// directory that exists must be this user's and not writable by others;
// when none is, a new private directory in os.TempDir().
func DefaultRunRoot() string {
	uid := strconv.Itoa(os.Getuid())
	var candidates []string
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		candidates = append(candidates, filepath.Join(d, "strata-runs"))
	}
	candidates = append(candidates, filepath.Join("/dev/shm", "strata-runs-"+uid), filepath.Join(os.TempDir(), "strata-runs-"+uid))
	for _, dir := range candidates {
		if privateDir(dir) {
			return dir
		}
	}
	if dir, err := os.MkdirTemp("", "strata-runs-"+uid+"-"); err == nil {
		return dir
	}
	return candidates[len(candidates)-1] // the error shows when a run is staged
}

// privateDir creates dir (mode 0700, its parent must exist) or checks the
// one there: a directory, not a symbolic link, owned by this user, not
// writable by group or others.
func privateDir(dir string) bool {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return false
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
