package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/materializer"
)

// fakeWorkers records what the WorkerService passed on.
type fakeWorkers struct {
	claim  materializer.WorkerClaim
	finish materializer.WorkerResult
	stop   []int64
}

func (f *fakeWorkers) ClaimForWorker(_ context.Context, req materializer.WorkerClaim) ([]materializer.Assignment, error) {
	f.claim = req
	return []materializer.Assignment{{Run: catalog.Run{ID: 7, Asset: "a/b", PartitionKeys: []string{"p"}, State: catalog.RunRunning, Attempt: 2},
		Job: materializer.Job{RunID: "7", Attempt: 2, Asset: "a/b", PartitionKeys: []string{"p"}, Command: []string{"true"},
			Output: "/data/a/b/p/", Inputs: []materializer.Input{{Asset: "up", Partition: "p", DataVersion: "v1", Rows: 3}}}}}, nil
}

func (f *fakeWorkers) HeartbeatForWorker(_ context.Context, _ string, ids []int64) ([]int64, error) {
	return f.stop, nil
}

func (f *fakeWorkers) AppendLogForWorker(context.Context, string, int64, int, string) error {
	return nil
}

func (f *fakeWorkers) FinishForWorker(_ context.Context, _ string, id int64, attempt int, res materializer.WorkerResult) (catalog.Run, error) {
	f.finish = res
	return catalog.Run{ID: id, Attempt: attempt, State: res.State}, nil
}

func (f *fakeWorkers) HeartbeatInterval() time.Duration { return 10 * time.Second }

func wantCode(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	if msg := status.Convert(err).Message(); !strings.Contains(msg, field) {
		t.Fatalf("message %q does not name %s", msg, field)
	}
}

func TestWorkerServiceValidatesAndConverts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := &fakeWorkers{stop: []int64{9}}
	ws := NewWorkerService(f, nil)

	_, err := ws.ClaimRuns(ctx, &stratav1.ClaimRunsRequest{})
	wantCode(t, err, codes.InvalidArgument, "worker_id")
	_, err = ws.ClaimRuns(ctx, &stratav1.ClaimRunsRequest{WorkerId: "w", Capacity: &stratav1.WorkerCapacity{MemoryBytes: -1}})
	wantCode(t, err, codes.InvalidArgument, "capacity.memory_bytes")
	resp, err := ws.ClaimRuns(ctx, &stratav1.ClaimRunsRequest{WorkerId: "w", Capacity: &stratav1.WorkerCapacity{MemoryBytes: 8 << 30, Cpus: 4},
		WaitTimeout: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if f.claim.Wait != maxClaimWait || f.claim.Capacity.CPUs != 4 || len(resp.GetAssignments()) != 1 {
		t.Fatalf("claim = %+v, resp = %v", f.claim, resp)
	}
	as := resp.GetAssignments()[0]
	job, err := materializer.JobFromSpec(as.GetJob())
	if err != nil {
		t.Fatal(err)
	}
	if as.GetRun().GetId() != "7" || as.GetAttempt() != 2 || job.Output != "/data/a/b/p/" || len(job.Inputs) != 1 || job.Inputs[0].DataVersion != "v1" || job.Inputs[0].Rows != 3 {
		t.Fatalf("assignment = %v, job = %+v", as, job)
	}

	_, err = ws.Heartbeat(ctx, &stratav1.HeartbeatRequest{WorkerId: "w", Runs: []*stratav1.RunAttemptRef{{RunId: "x"}}})
	wantCode(t, err, codes.InvalidArgument, "runs[0].run_id")
	hb, err := ws.Heartbeat(ctx, &stratav1.HeartbeatRequest{WorkerId: "w", Runs: []*stratav1.RunAttemptRef{{RunId: "9", Attempt: 1}}})
	if err != nil || len(hb.GetCancelRuns()) != 1 || hb.GetCancelRuns()[0].GetRunId() != "9" {
		t.Fatalf("heartbeat = %v, %v", hb, err)
	}

	_, err = ws.FinishRun(ctx, &stratav1.FinishRunRequest{WorkerId: "w", RunId: "7", Attempt: 2, Result: &stratav1.RunResult{State: stratav1.RunState_RUN_STATE_RUNNING}})
	wantCode(t, err, codes.InvalidArgument, "result.state")
	_, err = ws.FinishRun(ctx, &stratav1.FinishRunRequest{WorkerId: "w", RunId: "7", Attempt: 0, Result: &stratav1.RunResult{}})
	wantCode(t, err, codes.InvalidArgument, "attempt")
	rows := int64(5)
	_, err = ws.FinishRun(ctx, &stratav1.FinishRunRequest{WorkerId: "w", RunId: "7", Attempt: 2, Result: &stratav1.RunResult{
		State: stratav1.RunState_RUN_STATE_SUCCEEDED, ExitCode: 0,
		Materializations: []*stratav1.MaterializationReport{{PartitionKey: "p", RowCount: &rows, Location: "/data/a/b/p/",
			Provenance: []*stratav1.ProvenanceInput{{Asset: "up", PartitionKey: "p", DataVersion: "v1"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := f.finish.Materializations
	if f.finish.State != catalog.RunSucceeded || f.finish.ExitCode == nil || len(m) != 1 || *m[0].RowCount != 5 ||
		len(m[0].Provenance) != 1 || m[0].Location != "/data/a/b/p/" || m[0].Metadata != nil {
		t.Fatalf("finish = %+v", f.finish)
	}
}
