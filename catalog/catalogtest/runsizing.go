package catalogtest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
)

// both(a, b, err)(t) returns a and b, failing t on err.
func both[A, B any](a A, b B, err error) func(t *testing.T) (A, B) {
	return func(t *testing.T) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

// testRunSizing: the sizing decision made at claim time is recorded on the
// current attempt only, replaces the enqueue-time sizing, is validated, and
// a late write from an old attempt changes nothing.
func testRunSizing(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	ids := must(c.EnqueueRuns(ctx, []catalog.RunSpec{{Asset: "a", PartitionKeys: []string{"p"}, MaxAttempts: 2,
		Sizing: json.RawMessage(`{"reason":"at enqueue"}`)}}))(t)
	id := ids[0]

	// Queued: no attempt is running.
	if err := c.SetRunSizing(ctx, id, 1, json.RawMessage(`{"reason":"x"}`)); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("sizing a queued run: %v, want ErrConflict", err)
	}
	r := claimOne(t, c, "w", t0)
	for name, bad := range map[string]string{"empty": "", "not JSON": `{"a":`, "not an object": `[1,2]`, "a string": `"x"`} {
		if err := c.SetRunSizing(ctx, id, 1, json.RawMessage(bad)); !errors.Is(err, catalog.ErrInvalid) {
			t.Fatalf("%s sizing: %v, want ErrInvalid", name, err)
		}
	}
	if err := c.SetRunSizing(ctx, id, 0, json.RawMessage(`{}`)); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("attempt 0: %v, want ErrInvalid", err)
	}
	if err := c.SetRunSizing(ctx, 1<<40, 1, json.RawMessage(`{}`)); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("unknown run: %v, want ErrNotFound", err)
	}
	if err := c.SetRunSizing(ctx, id, 2, json.RawMessage(`{"reason":"x"}`)); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("sizing another attempt: %v, want ErrConflict", err)
	}
	got := must(c.GetRun(ctx, id))(t)
	if string(got.Sizing) != `{"reason":"at enqueue"}` {
		t.Fatalf("rejected writes changed the sizing: %s", got.Sizing)
	}

	first := `{"memory_bytes":268435456,"cpus":1,"shards":1,"inputs":[{"asset":"up","partition_count":1,"rows":10,"bytes":100}],"reason":"attempt 1"}`
	if err := c.SetRunSizing(ctx, id, r.Attempt, json.RawMessage(first)); err != nil {
		t.Fatal(err)
	}
	if got := must(c.GetRun(ctx, id))(t); string(got.Sizing) != first {
		t.Fatalf("GetRun sizing = %s, want %s", got.Sizing, first)
	}
	rs := must(c.ListRuns(ctx, catalog.RunFilter{Asset: "a"}))(t)
	if len(rs) != 1 || string(rs[0].Sizing) != first {
		t.Fatalf("ListRuns sizing = %+v", rs)
	}

	// A retry sizes its own attempt; the old attempt cannot overwrite it.
	must(c.FinishRun(ctx, catalog.RunResult{RunID: id, Attempt: 1, Owner: "w", State: catalog.RunFailed,
		Retry: &catalog.RetryAt{NotBefore: t0}}))(t)
	r = claimOne(t, c, "w", t0)
	if r.Attempt != 2 || string(r.Sizing) != first {
		t.Fatalf("retry claimed as %+v", r)
	}
	if err := c.SetRunSizing(ctx, id, 1, json.RawMessage(`{"reason":"late"}`)); !errors.Is(err, catalog.ErrConflict) ||
		!strings.Contains(err.Error(), "attempt") {
		t.Fatalf("late sizing of attempt 1: %v, want ErrConflict naming the attempt", err)
	}
	if err := c.SetRunSizing(ctx, id, 2, json.RawMessage(` {"reason":"attempt 2"}`)); err != nil {
		t.Fatal(err)
	}
	must(c.FinishRun(ctx, catalog.RunResult{RunID: id, Attempt: 2, Owner: "w", State: catalog.RunSucceeded}))(t)
	if got := must(c.GetRun(ctx, id))(t); string(got.Sizing) != ` {"reason":"attempt 2"}` {
		t.Fatalf("finished run sizing = %s", got.Sizing)
	}
	// Finished: nothing runs any more.
	if err := c.SetRunSizing(ctx, id, 2, json.RawMessage(`{}`)); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("sizing a finished run: %v, want ErrConflict", err)
	}
}

// testRequeueRuns: requeued runs go back to the queue at once without
// using an attempt, keep a reason, and the interrupted attempt can no
// longer finish; (run, attempt) stays unique; a run asked to stop is
// cancelled; named runs are checked all or nothing.
func testRequeueRuns(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	bf, _ := both(c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: []asset.Key{"a"},
		Runs: []catalog.RunSpec{{Asset: "a", PartitionKeys: []string{"p1"}, MaxAttempts: 1}, {Asset: "a", PartitionKeys: []string{"p2"}, MaxAttempts: 1}}}))(t)
	must(c.EnqueueRuns(ctx, []catalog.RunSpec{{Asset: "b", PartitionKeys: []string{"p"}}}))(t)
	runs := must(c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "server-1", Lease: time.Minute, Limit: 2, Now: t0}))(t)
	other := claimOne(t, c, "worker:w", t0)
	if len(runs) != 2 {
		t.Fatalf("claimed %d runs", len(runs))
	}
	if _, _, err := c.RequeueRuns(ctx, catalog.RequeueRequest{Reason: "x"}); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("no owner: %v", err)
	}
	if _, _, err := c.RequeueRuns(ctx, catalog.RequeueRequest{Owner: "server-1"}); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("no reason: %v", err)
	}
	// All or nothing: one named run is not ours.
	_, _, err := c.RequeueRuns(ctx, catalog.RequeueRequest{Owner: "server-1", Reason: "shutdown",
		Runs: []catalog.RequeueRun{{RunID: runs[0].ID, Attempt: 1}, {RunID: other.ID, Attempt: 1}}})
	if !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("requeue another owner's run: %v, want ErrConflict", err)
	}
	if got := must(c.GetRun(ctx, runs[0].ID))(t); got.State != catalog.RunRunning {
		t.Fatalf("a failed requeue changed run %d: %+v", got.ID, got)
	}
	if _, _, err := c.RequeueRuns(ctx, catalog.RequeueRequest{Owner: "server-1", Reason: "x",
		Runs: []catalog.RequeueRun{{RunID: runs[0].ID, Attempt: 2}}}); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("requeue another attempt: %v, want ErrConflict", err)
	}

	// Cancellation requested on the second: it is cancelled, not requeued.
	both(c.CancelRuns(ctx, []int64{runs[1].ID}))(t)
	req, canc := both(c.RequeueRuns(ctx, catalog.RequeueRequest{Owner: "server-1", Reason: "orphaned: the server restarted", Now: t0}))(t)
	if len(req) != 1 || req[0] != runs[0].ID || len(canc) != 1 || canc[0] != runs[1].ID {
		t.Fatalf("requeued %v, cancelled %v", req, canc)
	}
	if got := must(c.GetRun(ctx, other.ID))(t); got.State != catalog.RunRunning || got.LeaseOwner != "worker:w" {
		t.Fatalf("another owner's run was touched: %+v", got)
	}
	got := must(c.GetRun(ctx, runs[0].ID))(t)
	if got.State != catalog.RunQueued || got.LeaseOwner != "" || got.Error != "orphaned: the server restarted" || got.MaxAttempts != 2 {
		t.Fatalf("requeued run = %+v", got)
	}
	if log, _ := both(c.RunLog(ctx, runs[0].ID))(t); !strings.Contains(log, "attempt 1 requeued, not counted") {
		t.Fatalf("log = %q", log)
	}
	if got := must(c.GetRun(ctx, runs[1].ID))(t); got.State != catalog.RunCancelled {
		t.Fatalf("cancel-requested run = %+v", got)
	}
	b := must(c.GetBackfill(ctx, bf.ID))(t)
	if b.Counts.Queued != 1 || b.Counts.Running != 0 || b.Counts.Cancelled != 1 {
		t.Fatalf("backfill counts = %+v", b.Counts)
	}
	// The interrupted attempt cannot finish any more.
	if _, err := c.FinishRun(ctx, catalog.RunResult{RunID: runs[0].ID, Attempt: 1, Owner: "server-1", State: catalog.RunSucceeded}); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("late finish of the requeued attempt: %v, want ErrConflict", err)
	}
	// Runnable at once; the next attempt is 2 and, though the run was
	// declared with one attempt, a failure of it is its first.
	r := claimOne(t, c, "server-1", t0)
	if r.ID != runs[0].ID || r.Attempt != 2 || r.MaxAttempts != 2 {
		t.Fatalf("reclaimed %+v", r)
	}
	if _, err := c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: 1, Owner: "server-1", State: catalog.RunSucceeded}); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("finish of attempt 1 after the reclaim: %v, want ErrConflict", err)
	}
	fin := must(c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: 2, Owner: "server-1", State: catalog.RunFailed,
		Retry: &catalog.RetryAt{NotBefore: t0}}))(t)
	if fin.State != catalog.RunFailed {
		t.Fatalf("the job's first failure after a requeue: %s, want failed (1 attempt declared)", fin.State)
	}
	// Events say why.
	evs := must(c.Events(ctx, 0, 1000))(t)
	found := false
	for _, e := range evs {
		if e.Kind == catalog.EventRunState && e.RunID == runs[0].ID && strings.Contains(string(e.Payload), `"requeued":true`) &&
			strings.Contains(string(e.Payload), "orphaned") {
			found = true
		}
	}
	if !found {
		t.Fatal("no run_state event for the requeue")
	}
	// Nothing left for the owner: a no-op.
	if req, canc := both(c.RequeueRuns(ctx, catalog.RequeueRequest{Owner: "server-1", Reason: "again"}))(t); len(req)+len(canc) != 0 {
		t.Fatalf("second requeue: %v %v", req, canc)
	}
}

// testFinishRuns: a batch records each result as FinishRun would, refuses
// the bad ones alone, and keeps exactly-once per (run, attempt).
func testFinishRuns(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	specs := make([]catalog.RunSpec, 4)
	for i := range specs {
		specs[i] = catalog.RunSpec{Asset: "a", PartitionKeys: []string{string(rune('p' + i))}, MaxAttempts: 2}
	}
	bf, _ := both(c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: []asset.Key{"a"}, Runs: specs}))(t)
	runs := must(c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w", Lease: time.Minute, Limit: 4, Now: t0}))(t)
	if len(runs) != 4 {
		t.Fatalf("claimed %d", len(runs))
	}
	rows := int64(7)
	ok := catalog.RunResult{RunID: runs[0].ID, Attempt: 1, Owner: "w", State: catalog.RunSucceeded, Log: "hello\n",
		Materializations: []catalog.Materialization{{Asset: "a", Partition: runs[0].PartitionKeys[0], DataVersion: "v1", RowCount: &rows}},
		Checks:           []catalog.CheckResult{{Asset: "a", Partition: runs[0].PartitionKeys[0], Check: "c", Passed: true, Severity: "error"}}}
	retry := catalog.RunResult{RunID: runs[1].ID, Attempt: 1, Owner: "w", State: catalog.RunFailed, Retry: &catalog.RetryAt{NotBefore: t0}}
	lost := catalog.RunResult{RunID: runs[2].ID, Attempt: 1, Owner: "other", State: catalog.RunSucceeded}
	bad := catalog.RunResult{RunID: runs[3].ID, Attempt: 1, Owner: "w", State: catalog.RunRunning}
	gone := catalog.RunResult{RunID: 1 << 40, Attempt: 1, State: catalog.RunFailed}
	got, errs, err := c.FinishRuns(ctx, []catalog.RunResult{ok, retry, lost, bad, gone, ok})
	if err != nil {
		t.Fatal(err)
	}
	want := []error{nil, nil, catalog.ErrConflict, catalog.ErrInvalid, catalog.ErrNotFound, catalog.ErrConflict}
	for i, w := range want {
		if (w == nil) != (errs[i] == nil) || (w != nil && !errors.Is(errs[i], w)) {
			t.Fatalf("result %d: error %v, want %v", i, errs[i], w)
		}
	}
	if got[0].State != catalog.RunSucceeded || got[1].State != catalog.RunQueued {
		t.Fatalf("runs = %+v", got[:2])
	}
	if ms := must(c.MaterializationHistory(ctx, "a", runs[0].PartitionKeys[0], 10))(t); len(ms) != 1 || ms[0].RunID != runs[0].ID ||
		ms[0].Attempt != 1 || ms[0].DataVersion != "v1" {
		t.Fatalf("materializations = %+v", ms)
	}
	if log, _ := both(c.RunLog(ctx, runs[0].ID))(t); log != "hello\n" {
		t.Fatalf("log = %q", log)
	}
	for _, r := range runs[2:] {
		if g := must(c.GetRun(ctx, r.ID))(t); g.State != catalog.RunRunning {
			t.Fatalf("refused result changed run %d: %+v", r.ID, g)
		}
	}
	b := must(c.GetBackfill(ctx, bf.ID))(t)
	if b.Counts.Succeeded != 1 || b.Counts.Queued != 1 || b.Counts.Running != 2 {
		t.Fatalf("backfill counts = %+v", b.Counts)
	}
	// Exactly once: the same batch again records nothing.
	_, errs, err = c.FinishRuns(ctx, []catalog.RunResult{ok, retry})
	if err != nil || !errors.Is(errs[0], catalog.ErrConflict) || !errors.Is(errs[1], catalog.ErrConflict) {
		t.Fatalf("repeat: %v %v", errs, err)
	}
	if ms := must(c.MaterializationHistory(ctx, "a", runs[0].PartitionKeys[0], 10))(t); len(ms) != 1 {
		t.Fatalf("repeat recorded again: %+v", ms)
	}
	// Empty and all-invalid batches write nothing.
	if _, _, err := c.FinishRuns(ctx, nil); err != nil {
		t.Fatal(err)
	}
}
