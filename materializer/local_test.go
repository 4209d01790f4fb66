package materializer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pgregory.net/rapid"
)

type testBundle struct {
	exec    *LocalExecutor
	dataDir string
}

func setup(t *testing.T, cfg LocalConfig) *testBundle {
	t.Helper()
	if cfg.RunRoot == "" {
		cfg.RunRoot = filepath.Join(t.TempDir(), "runs")
	}
	if cfg.KillGrace == 0 {
		cfg.KillGrace = 500 * time.Millisecond
	}
	return &testBundle{exec: NewLocalExecutor(cfg), dataDir: t.TempDir()}
}

// job returns a job running script with sh, writing to the default output
// location of its one partition.
func (b *testBundle) job(t *testing.T, script string) Job {
	t.Helper()
	run, outs, err := OutputLocations(DefaultOutputTemplate(b.dataDir), "sales/orders", []string{"2024-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	return Job{
		RunID: "run-" + strings.ReplaceAll(t.Name(), "/", "_"), Attempt: 1, Asset: "sales/orders",
		PartitionKeys: []string{"2024-01-01"},
		Command:       []string{"sh", "-c", script},
		Output:        run, Outputs: outs,
		Timeout: time.Minute,
		Grant:   Grant{MemoryBytes: 512 << 20, CPUs: 1},
	}
}

func (b *testBundle) execute(t *testing.T, ctx context.Context, j Job) Result {
	t.Helper()
	res, err := b.exec.Execute(ctx, j)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return res
}

func TestExecuteSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t, LocalConfig{})
	j := b.job(t, `
set -e
fail() { echo "CHECK FAILED: $*" >&2; exit 99; }
[ "$STRATA_RUN_ID" = "$WANT_RUN" ] || fail run id
[ "$STRATA_ASSET" = sales/orders ] || fail asset
[ "$STRATA_PARTITION_KEYS" = 2024-01-01 ] || fail keys
[ "$STRATA_PARTITION_START" = 2024-01-01T00:00:00Z ] || fail start
[ "$STRATA_MEMORY_BYTES" = 536870912 ] || fail memory
[ "$STRATA_CPUS" = 1 ] || fail cpus
[ "$STRATA_SHARDS" = 1 ] || fail shards
[ "$FOO" = "bar baz" ] || fail declared env
[ -d "$STRATA_OUTPUT" ] || fail output dir
[ -f "$STRATA_CONTEXT" ] || fail context
grep -q '"data_version": "sha256:up"' "$STRATA_CONTEXT" || fail context input
grep -q '"location": "/lake/raw/2024-01-01/"' "$STRATA_CONTEXT" || fail context location
[ "$(pwd)" = "$WANT_DIR" ] || fail workdir
echo hello stdout
echo hello stderr >&2
echo '{"type":"metadata","metadata":{"source":"test"}}' >> "$STRATA_MESSAGES"
echo '{"type":"output","rows":42,"bytes":4200}' >> "$STRATA_MESSAGES"
echo '{"type":"check","name":"not_empty","passed":true}' >> "$STRATA_MESSAGES"
echo 'oops' >> "$STRATA_MESSAGES"
printf '{"type":"log","message":"cut' >> "$STRATA_MESSAGES"
`)
	workdir := t.TempDir()
	j.Workdir = workdir
	j.Env = map[string]string{"FOO": "bar baz", "WANT_RUN": j.RunID, "WANT_DIR": workdir}
	j.Window = &Window{Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
	j.Inputs = []Input{{Asset: "raw", Partition: "2024-01-01", Location: "/lake/raw/2024-01-01/", DataVersion: "sha256:up", Rows: 10, Bytes: 100}}

	res := b.execute(t, context.Background(), j)
	if !res.OK() {
		t.Fatalf("failed: %s: %s\n%s", res.Failure, res.Reason, res.Log)
	}
	if res.ExitCode != 0 || res.Duration <= 0 || res.PeakRSS <= 0 || res.UserCPU+res.SysCPU <= 0 {
		t.Errorf("exit %d duration %s rss %d cpu %s+%s", res.ExitCode, res.Duration, res.PeakRSS, res.UserCPU, res.SysCPU)
	}
	if !bytes.Contains(res.Log, []byte("hello stdout\nhello stderr\n")) || res.LogElided != 0 {
		t.Errorf("log %q", res.Log)
	}
	if len(res.Outputs) != 1 {
		t.Fatalf("outputs %+v", res.Outputs)
	}
	o := res.Outputs[0]
	if o.Partition != "2024-01-01" || o.Stats != nil || *o.Rows != 42 || *o.Bytes != 4200 || o.RowsSource != "job" || o.Metadata["source"] != "test" {
		t.Errorf("output %+v", o)
	}
	if len(res.Messages.Checks) != 1 || len(res.Messages.Warnings) != 2 ||
		!strings.HasPrefix(res.Messages.Warnings[1], "line 5: last line is incomplete") {
		t.Errorf("checks %+v warnings %q", res.Messages.Checks, res.Messages.Warnings)
	}
}

// TestExecuteSameAttemptAgain: the context and messages files live in the
// run root (created when missing), named after the run and attempt; an
// attempt started again after an interruption (a requeue keeps its number;
// the interrupted start left its files, as KeepRunFiles does here) does not
// read the messages its first start wrote.
func TestExecuteSameAttemptAgain(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "not", "yet")
	b := setup(t, LocalConfig{RunRoot: root, KeepRunFiles: true})
	j := b.job(t, `[ -n "$FIRST" ] && echo '{"type":"metadata","metadata":{"start":"first"}}' >> "$STRATA_MESSAGES"; exit 0`)
	j.Env = map[string]string{"FIRST": "1"}
	res := b.execute(t, context.Background(), j)
	want := filepath.Join(root, pathSafeID(j.RunID)+".1.")
	if !res.OK() || res.ContextFile != want+ContextFileName || res.MessagesFile != want+MessagesFileName {
		t.Fatalf("first start: %s %s, files %q %q", res.Failure, res.Reason, res.ContextFile, res.MessagesFile)
	}
	if len(res.Outputs) != 1 || res.Outputs[0].Metadata["start"] != "first" {
		t.Fatalf("first start outputs %+v", res.Outputs)
	}
	j.Env = nil
	res = b.execute(t, context.Background(), j)
	if !res.OK() || len(res.Outputs) != 1 || res.Outputs[0].Metadata["start"] != nil {
		t.Fatalf("second start read the first's messages: %+v", res.Outputs)
	}
	if _, err := os.Stat(res.ContextFile); err != nil {
		t.Fatalf("context file: %v", err)
	}
}

// TestExecuteRemovesRunFiles: the context and messages files are gone
// once the attempt is over, whatever its outcome.
func TestExecuteRemovesRunFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	b := setup(t, LocalConfig{RunRoot: root})
	for _, script := range []string{
		`echo '{"type":"metadata","metadata":{"k":"v"}}' >> "$STRATA_MESSAGES"`,
		`echo '{"type":"log","message":"x"}' >> "$STRATA_MESSAGES"; exit 3`,
	} {
		res := b.execute(t, context.Background(), b.job(t, script))
		if res.ContextFile == "" || res.MessagesFile == "" {
			t.Fatalf("no run files named: %+v", res)
		}
		for _, p := range []string{res.ContextFile, res.MessagesFile} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after the attempt (%s): %v", p, res.Failure, err)
			}
		}
	}
	if left, _ := os.ReadDir(root); len(left) != 0 {
		t.Errorf("run root holds %d entries after the attempts", len(left))
	}
}

// TestDefaultRunRoot: the runtime directory when there is one, a private
// directory, and not one that others may write to.
func TestDefaultRunRoot(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	if got, want := DefaultRunRoot(), filepath.Join(rt, "strata-runs"); got != want {
		t.Fatalf("DefaultRunRoot() = %q, want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(rt, "strata-runs"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("run root %v, %v; want a 0700 directory", fi, err)
	}
	// A run root others can write to is not used.
	shared := t.TempDir()
	if err := os.Mkdir(filepath.Join(shared, "strata-runs"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(shared, "strata-runs"), 0o777); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", shared)
	if got := DefaultRunRoot(); got == filepath.Join(shared, "strata-runs") {
		t.Fatalf("DefaultRunRoot() = %q, a directory others may write to", got)
	}
	// Nor a symbolic link to one.
	linked := t.TempDir()
	if err := os.Symlink(t.TempDir(), filepath.Join(linked, "strata-runs")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", linked)
	if got := DefaultRunRoot(); got == filepath.Join(linked, "strata-runs") {
		t.Fatalf("DefaultRunRoot() = %q, a symbolic link", got)
	}
}

func TestExecuteParquetOutput(t *testing.T) {
	t.Parallel()
	b := setup(t, LocalConfig{})
	src := filepath.Join(t.TempDir(), "src.parquet")
	writeTestParquet(t, src, 250, 0)
	j := b.job(t, `cp "$SRC" "$STRATA_OUTPUT/part-0.parquet" && echo '{"type":"output","rows":1}' >> "$STRATA_MESSAGES"`)
	j.Env = map[string]string{"SRC": src}
	res := b.execute(t, context.Background(), j)
	if !res.OK() {
		t.Fatalf("%s: %s", res.Failure, res.Reason)
	}
	o := res.Outputs[0]
	if o.Stats == nil || *o.Rows != 250 || o.RowsSource != "parquet" || o.DataVersionSource != "parquet" || !strings.HasPrefix(o.DataVersion, "sha256:") {
		t.Errorf("output %+v", o)
	}
	if len(res.Messages.Warnings) != 1 || !strings.Contains(res.Messages.Warnings[0], "job reported 1 rows, the Parquet footers say 250") {
		t.Errorf("warnings %q", res.Messages.Warnings)
	}
}

func TestExecuteGarbageParquetFails(t *testing.T) {
	t.Parallel()
	b := setup(t, LocalConfig{})
	j := b.job(t, `echo "definitely not parquet" > "$STRATA_OUTPUT/part-0.parquet"; exit 0`)
	res := b.execute(t, context.Background(), j)
	if res.Failure != FailOutput || res.ExitCode != 0 ||
		!strings.Contains(res.Reason, "exited with code 0 but its output is unreadable") || !strings.Contains(res.Reason, "part-0.parquet") {
		t.Errorf("failure %q reason %q", res.Failure, res.Reason)
	}
}

func TestExecuteFileOutputTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t, LocalConfig{})
	lake := t.TempDir()
	src := filepath.Join(t.TempDir(), "src.parquet")
	writeTestParquet(t, src, 7, 0)
	run, outs, err := OutputLocations("file://"+lake+"/{asset}/{partition}.parquet", "sales/orders", []string{"2024-01-01-13:00"})
	if err != nil {
		t.Fatal(err)
	}
	j := b.job(t, `cp "$SRC" "$STRATA_OUTPUT" && echo '{"type":"data_version","data_version":"mine"}' >> "$STRATA_MESSAGES"`)
	j.PartitionKeys, j.Output, j.Outputs = []string{"2024-01-01-13:00"}, run, outs
	j.Env = map[string]string{"SRC": src}
	res := b.execute(t, context.Background(), j)
	if !res.OK() {
		t.Fatalf("%s: %s\n%s", res.Failure, res.Reason, res.Log)
	}
	// The job saw a path; the result keeps the location as declared.
	o := res.Outputs[0]
	if o.Location != "file://"+lake+"/sales/orders/2024-01-01-13%253A00.parquet" || o.Stats == nil || *o.Rows != 7 ||
		o.DataVersion != "mine" || o.DataVersionSource != "job" {
		t.Errorf("output %+v", o)
	}
	if _, err := os.Stat(filepath.Join(lake, "sales/orders/2024-01-01-13%3A00.parquet")); err != nil {
		t.Error(err)
	}
}

func TestExecuteNonZeroExit(t *testing.T) {
	t.Parallel()
	b := setup(t, LocalConfig{})
	res := b.execute(t, context.Background(), b.job(t, `echo bad input >&2; exit 3`))
	if res.Failure != FailExit || res.Reason != "exited with code 3" || res.ExitCode != 3 || !bytes.Contains(res.Log, []byte("bad input")) {
		t.Errorf("%+v", res)
	}
	if res.Outputs != nil {
		t.Errorf("failed run has outputs %+v", res.Outputs)
	}
}

func TestExecuteKilledBySignal(t *testing.T) {
	t.Parallel()
	b := setup(t, LocalConfig{})
	res := b.execute(t, context.Background(), b.job(t, `kill -9 $$`))
	if res.Failure != FailSignal || res.Reason != "killed by signal 9 (killed)" || res.ExitCode != -1 {
		t.Errorf("failure %q reason %q exit %d", res.Failure, res.Reason, res.ExitCode)
	}
}

func TestExecuteStartFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, LocalConfig{})
	j := b.job(t, "")
	j.Command = []string{"/nonexistent/strata-job"}
	res := b.execute(t, context.Background(), j)
	if res.Failure != FailStart || !strings.Contains(res.Reason, "could not start") {
		t.Errorf("failure %q reason %q", res.Failure, res.Reason)
	}
	if _, err := b.exec.Execute(context.Background(), Job{}); err == nil {
		t.Error("invalid job accepted")
	}
}

// gone says whether pid no longer runs: no such process, or a zombie
// waiting for its new parent to reap it.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] == 'Z' || b[i+2] == 'X'
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		<-time.After(5 * time.Millisecond) // poll interval
	}
}

func readPid(t *testing.T, p string) int {
	t.Helper()
	var pid int
	waitFor(t, "pid file "+p, func() bool {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

func TestExecuteTimeoutKillsGroup(t *testing.T) {
	t.Parallel()
	for name, script := range map[string]string{
		// sh dies on SIGTERM; the grandchild sleep too.
		"obeys SIGTERM": `sleep 1000 & echo $! > "$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE"; wait`,
		// Everything ignores SIGTERM: SIGKILL after the grace period.
		"ignores SIGTERM": `trap '' TERM; sleep 1000 & echo $! > "$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE"; while :; do wait; done`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, LocalConfig{KillGrace: 300 * time.Millisecond})
			pidFile := filepath.Join(t.TempDir(), "gc.pid")
			j := b.job(t, script)
			j.Env = map[string]string{"PIDFILE": pidFile}
			j.Timeout = time.Second
			res := b.execute(t, context.Background(), j)
			if res.Failure != FailTimeout || res.Reason != "timed out after 1s" {
				t.Errorf("failure %q reason %q log %q", res.Failure, res.Reason, res.Log)
			}
			pid := readPid(t, pidFile)
			waitFor(t, fmt.Sprintf("grandchild %d to go", pid), func() bool { return gone(pid) })
		})
	}
}

func TestExecuteKillsLeftoversOnExit(t *testing.T) {
	t.Parallel()
	b := setup(t, LocalConfig{})
	pidFile := filepath.Join(t.TempDir(), "gc.pid")
	// The job exits 0 at once, leaving a background process that holds
	// the log pipe open.
	j := b.job(t, `sleep 1000 & echo $! > "$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE"; echo done`)
	j.Env = map[string]string{"PIDFILE": pidFile}
	res := b.execute(t, context.Background(), j)
	if !res.OK() || !bytes.Contains(res.Log, []byte("done")) {
		t.Fatalf("%s %s %q", res.Failure, res.Reason, res.Log)
	}
	pid := readPid(t, pidFile)
	waitFor(t, fmt.Sprintf("leftover %d to go", pid), func() bool { return gone(pid) })
}

func TestExecuteEscapedDescendant(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	b := setup(t, LocalConfig{KillGrace: 300 * time.Millisecond})
	pidFile := filepath.Join(t.TempDir(), "escaped.pid")
	// The descendant leaves the process group, so it is beyond the
	// executor's reach (only a cgroup would catch it), and it holds the log
	// pipe open: Execute must still return, after the grace period.
	j := b.job(t, `setsid sh -c 'echo $$ > "$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE"; exec sleep 1000' &
while [ ! -f "$PIDFILE" ]; do sleep 0.01; done; echo bye`)
	j.Env = map[string]string{"PIDFILE": pidFile}
	res := b.execute(t, context.Background(), j)
	pid := readPid(t, pidFile)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if !res.OK() || !bytes.Contains(res.Log, []byte("bye")) {
		t.Errorf("%s %s %q", res.Failure, res.Reason, res.Log)
	}
}

func TestExecuteCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, LocalConfig{})
	ready := filepath.Join(t.TempDir(), "ready")
	j := b.job(t, `echo started; touch "$READY"; sleep 1000`)
	j.Env = map[string]string{"READY": ready}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan Result, 1)
	go func() {
		res, _ := b.exec.Execute(ctx, j)
		done <- res
	}()
	waitFor(t, "job to start", func() bool { _, err := os.Stat(ready); return err == nil })
	cancel()
	res := <-done
	if res.Failure != FailCancelled || res.Reason != "cancelled" || res.Signal != "terminated" {
		t.Errorf("failure %q reason %q signal %q", res.Failure, res.Reason, res.Signal)
	}
	if !bytes.Contains(res.Log, []byte("started")) {
		t.Errorf("log %q", res.Log)
	}

	// Already cancelled: the job does not start.
	ctx3, cancel3 := context.WithCancel(context.Background())
	cancel3()
	marker := filepath.Join(t.TempDir(), "started")
	j3 := b.job(t, `touch "$MARKER"`)
	j3.Env = map[string]string{"MARKER": marker}
	if res := b.execute(t, ctx3, j3); res.Failure != FailCancelled {
		t.Errorf("failure %q", res.Failure)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a job cancelled before it started ran")
	}

	// A cause is kept.
	ctx2, cancel2 := context.WithCancelCause(context.Background())
	cancel2(errors.New("backfill b-7 cancelled by alice"))
	res = b.execute(t, ctx2, b.job(t, "sleep 1000"))
	if res.Failure != FailCancelled || res.Reason != "cancelled: backfill b-7 cancelled by alice" {
		t.Errorf("failure %q reason %q", res.Failure, res.Reason)
	}
}

func TestExecuteFloodBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, LocalConfig{}) // 10 MiB: 1 MiB head, 9 MiB tail
	res := b.execute(t, context.Background(), b.job(t, `echo START; yes | head -c 50000000; echo; echo THE-END`))
	if !res.OK() {
		t.Fatalf("%s: %s", res.Failure, res.Reason)
	}
	total := int64(len("START\n") + 50000000 + len("\nTHE-END\n"))
	if res.LogBytes != total {
		t.Errorf("LogBytes = %d, want %d", res.LogBytes, total)
	}
	if want := total - 10<<20; res.LogElided != want {
		t.Errorf("LogElided = %d, want %d", res.LogElided, want)
	}
	if len(res.Log) > 10<<20+100 || !bytes.HasPrefix(res.Log, []byte("START\ny\n")) || !bytes.HasSuffix(res.Log, []byte("y\n\nTHE-END\n")) {
		t.Errorf("log is %d bytes, head %q tail %q", len(res.Log), res.Log[:20], res.Log[len(res.Log)-20:])
	}
	marker := fmt.Sprintf("\n... %d bytes elided ...\n", res.LogElided)
	if !bytes.Contains(res.Log, []byte(marker)) {
		t.Errorf("no marker %q", marker)
	}
}

func TestExecuteMultiPartition(t *testing.T) {
	t.Parallel()
	b := setup(t, LocalConfig{})
	keys := []string{"2024-01-01", "2024-01-02"}
	run, outs, err := OutputLocations(DefaultOutputTemplate(b.dataDir), "sales/orders", keys)
	if err != nil {
		t.Fatal(err)
	}
	j := b.job(t, `
printf '%s\n' "$STRATA_PARTITION_KEYS" | while read -r k; do
  echo "{\"type\":\"output\",\"partition\":\"$k\",\"rows\":${#k}}" >> "$STRATA_MESSAGES"
  [ -d "$STRATA_OUTPUT/$k" ] || exit 7
done
echo '{"type":"metadata","metadata":{"batch":true}}' >> "$STRATA_MESSAGES"
echo '{"type":"output","rows":5}' >> "$STRATA_MESSAGES"`)
	j.PartitionKeys, j.Output, j.Outputs = keys, run, outs
	res := b.execute(t, context.Background(), j)
	if !res.OK() {
		t.Fatalf("%s: %s", res.Failure, res.Reason)
	}
	if len(res.Outputs) != 2 || *res.Outputs[1].Rows != 10 || res.Outputs[1].Partition != "2024-01-02" || res.Outputs[0].Metadata["batch"] != true {
		t.Errorf("outputs %+v", res.Outputs)
	}
	if len(res.Messages.Warnings) != 1 || !strings.Contains(res.Messages.Warnings[0], "without a partition in a run over 2 partitions") {
		t.Errorf("warnings %q", res.Messages.Warnings)
	}
}

func TestInheritedEnv(t *testing.T) {
	t.Parallel()
	got := inheritedEnv([]string{"PATH=/bin", "LC_ALL=C", "LCX=1", "SECRET=x", "STRATA_OUTPUT=/leak", "HOME=/h"}, []string{"PATH", "LC_*", "HOME", "STRATA_*"})
	if strings.Join(got, " ") != "PATH=/bin LC_ALL=C HOME=/h" {
		t.Errorf("inheritedEnv = %q", got)
	}
}

func TestHeadTail(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		head := rapid.IntRange(0, 20).Draw(t, "head")
		tail := rapid.IntRange(0, 20).Draw(t, "tail")
		h := newHeadTail(head, tail)
		var all []byte
		for _, n := range rapid.SliceOf(rapid.IntRange(0, 50)).Draw(t, "writes") {
			p := make([]byte, n)
			for i := range p {
				p[i] = byte('a' + (len(all)+i)%26)
			}
			if k, err := h.Write(p); k != n || err != nil {
				t.Fatalf("Write = %d, %v", k, err)
			}
			all = append(all, p...)
		}
		var want []byte
		if len(all) <= head+tail {
			want = all
		} else {
			want = append(want, all[:head]...)
			if head > 0 {
				want = append(want, '\n')
			}
			want = fmt.Appendf(want, "... %d bytes elided ...\n", len(all)-head-tail)
			want = append(want, all[len(all)-tail:]...)
		}
		if got := h.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("Bytes() = %q, want %q", got, want)
		}
		if h.total != int64(len(all)) {
			t.Fatalf("total %d", h.total)
		}
	})
}

func TestDefaultCapacity(t *testing.T) {
	t.Parallel()
	c := DefaultCapacity()
	if c.CPUs < 1 || c.Slots < 2 || c.MemoryBytes < 64<<20 {
		t.Errorf("DefaultCapacity() = %+v", c)
	}
}

func TestAdmission(t *testing.T) {
	t.Parallel()
	a := NewAdmission(Capacity{MemoryBytes: 8 << 30, CPUs: 4, Slots: 3})
	big, ok := a.TryAdmit(Grant{MemoryBytes: 6 << 30, CPUs: 2})
	if !ok {
		t.Fatal("big job not admitted on an idle executor")
	}
	if _, ok := a.TryAdmit(Grant{MemoryBytes: 4 << 30, CPUs: 1}); ok {
		t.Error("admitted past memory")
	}
	// Small jobs fill the gap the big one left.
	small1, ok1 := a.TryAdmit(Grant{MemoryBytes: 1 << 30, CPUs: 1})
	small2, ok2 := a.TryAdmit(Grant{MemoryBytes: 1 << 30, CPUs: 0.5})
	if !ok1 || !ok2 {
		t.Fatal("small jobs not admitted")
	}
	if _, ok := a.TryAdmit(Grant{MemoryBytes: 1, CPUs: 0.1}); ok {
		t.Error("admitted past slots")
	}
	if got := a.InUse(); got.MemoryBytes != 8<<30 || got.CPUs != 3.5 || got.Slots != 3 {
		t.Errorf("in use %+v", got)
	}
	big()
	big() // harmless
	small1()
	small2()
	if got := a.InUse(); got != (Capacity{}) {
		t.Errorf("after release %+v", got)
	}
	if _, ok := a.TryAdmit(Grant{MemoryBytes: 9 << 30}); ok {
		t.Error("admitted a grant bigger than the capacity")
	}

	// Concurrent admits never exceed the capacity.
	a = NewAdmission(Capacity{MemoryBytes: 10, Slots: 100})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var held, peak int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if rel, ok := a.TryAdmit(Grant{MemoryBytes: 3}); ok {
					mu.Lock()
					held += 3
					peak = max(peak, held)
					held -= 3
					mu.Unlock()
					rel()
				}
			}
		}()
	}
	wg.Wait()
	if peak > 10 || a.InUse() != (Capacity{}) {
		t.Errorf("peak %d in use %+v", peak, a.InUse())
	}
}

// BenchmarkSpawnTrue compares spawning `true` through Execute (run
// directory, context and messages files, process group, log pipe, rusage,
// output inspection and messages parsing) with a bare exec.Command. Each
// iteration spawns 1,000 of each, interleaved; ratio is bare time over
// Execute time (1 = no overhead).
func BenchmarkSpawnTrue(b *testing.B) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Skip("no true")
	}
	e := NewLocalExecutor(LocalConfig{RunRoot: b.TempDir()})
	dataDir := b.TempDir()
	const n = 1000
	var bare, full time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range n {
			t0 := time.Now()
			if err := exec.Command(truePath).Run(); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			run, outs, _ := OutputLocations(DefaultOutputTemplate(dataDir), "bench/true", []string{strconv.Itoa(k)})
			res, err := e.Execute(context.Background(), Job{
				RunID: fmt.Sprintf("r%d-%d", i, k), Attempt: 1, Asset: "bench/true", PartitionKeys: []string{strconv.Itoa(k)},
				Command: []string{truePath}, Output: run, Outputs: outs, Grant: Grant{MemoryBytes: 256 << 20, CPUs: 1},
			})
			if err != nil || !res.OK() {
				b.Fatal(err, res.Reason)
			}
			bare += t1.Sub(t0)
			full += time.Since(t1)
		}
	}
	spawns := float64(b.N * n)
	b.ReportMetric(float64(bare.Microseconds())/spawns, "bare-µs/spawn")
	b.ReportMetric(float64(full.Microseconds())/spawns, "execute-µs/spawn")
	b.ReportMetric(float64(bare)/float64(full), "ratio")
}

// TestInspectHelperProcess is the inspection helper when the executor
// starts this test binary as one; run normally, it does nothing.
func TestInspectHelperProcess(t *testing.T) {
	RunInspectHelperIfRequested()
}

// rleBomb returns nested_lists.snappy.parquet from parquet-testing with a
// data page's run-length header corrupted so that decoding it allocates
// over a gigabyte (found by fuzzing).
func rleBomb(t *testing.T) []byte {
	t.Helper()
	b := mustRead(t, filepath.Join(parquetTesting(t), "data", "nested_lists.snappy.parquet"))
	for off, v := range map[int]byte{101: 0o376, 121: 0o142, 442: 0o245, 839: 0o146} {
		b[off] = v
	}
	return b
}

// raceEnabled says whether this test binary was built with -race: its race
// runtime maps terabytes of shadow memory, so it cannot run under a memory
// limit.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

func TestExecuteInspectHelper(t *testing.T) {
	t.Parallel()
	memory := int64(1 << 30)
	if raceEnabled() {
		memory = 1 << 50
	}
	src := filepath.Join(t.TempDir(), "src.parquet")
	writeTestParquet(t, src, 33, 0)
	bomb := filepath.Join(t.TempDir(), "bomb.parquet")
	if err := os.WriteFile(bomb, rleBomb(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		script  string
		failure string
		reason  string
	}{
		"good":    {`cp "$SRC" "$STRATA_OUTPUT/p.parquet"`, "", ""},
		"none":    {`echo '{"type":"output","rows":5}' >> "$STRATA_MESSAGES"`, "", ""},
		"garbage": {`echo not parquet, just some text > "$STRATA_OUTPUT/p.parquet"`, FailOutput, "p.parquet: no Parquet magic"},
		// Depending on the build, the limit shows as an out-of-memory
		// error or a crash; either way the server is unharmed.
		"bomb": {`cp "$BOMB" "$STRATA_OUTPUT/p.parquet"`, FailOutput, "1GiB"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, LocalConfig{
				InspectCommand: []string{os.Args[0], "-test.run=^TestInspectHelperProcess$"},
				InspectMemory:  memory,
			})
			if name == "bomb" && raceEnabled() {
				t.Skip("no memory limit under the race detector")
			}
			j := b.job(t, tc.script)
			j.Env = map[string]string{"SRC": src, "BOMB": bomb}
			res := b.execute(t, context.Background(), j)
			if res.Failure != tc.failure || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("failure %q reason %q, want %q %q", res.Failure, res.Reason, tc.failure, tc.reason)
			}
			if name == "good" && (res.Outputs[0].Stats == nil || *res.Outputs[0].Rows != 33) {
				t.Errorf("outputs %+v", res.Outputs)
			}
			if name == "none" && (res.Outputs[0].Stats != nil || *res.Outputs[0].Rows != 5) {
				t.Errorf("outputs %+v", res.Outputs)
			}
		})
	}
}
