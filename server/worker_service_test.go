package server

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/strata-data/strata/asset"
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

// TestRunSizingOverAPI: runs dispatched by the real dispatcher, one to a
// remote worker (ClaimRuns on the WorkerService) and one to a local
// executor, show the sizing decided at claim time, with its inputs per
// upstream, in GetRun and ListRuns.
func TestRunSizingOverAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := catalog.Open(ctx, "sqlite://"+filepath.Join(dir, "strata.db"), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	up := asset.AssetDecl{Key: "sz/up", Partitions: &asset.PartitionsDecl{Static: []string{"a", "b"}}}
	down := asset.AssetDecl{Key: "sz/down", Partitions: &asset.PartitionsDecl{Static: []string{"a", "b"}},
		Compute: &asset.ComputeDecl{Command: []string{"true"}}, Deps: []asset.DepDecl{{Asset: "sz/up"}}}
	if _, err := cat.ApplyAssets(ctx, []asset.AssetDecl{up, down}, catalog.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, size := int64(1000), int64(4096)
	if _, err := cat.RecordMaterializations(ctx, []catalog.Materialization{
		{Asset: "sz/up", Partition: "a", DataVersion: "a1", RowCount: &rows, ByteCount: &size},
		{Asset: "sz/up", Partition: "b", DataVersion: "b1", RowCount: &rows, ByteCount: &size}}); err != nil {
		t.Fatal(err)
	}
	ids, err := cat.EnqueueRuns(ctx, []catalog.RunSpec{{Asset: "sz/down", PartitionKeys: []string{"a"}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := materializer.NewDispatcher(materializer.Config{Catalog: cat, DataDir: filepath.Join(dir, "data"),
		Lease: 10 * time.Second, Owner: "local:sizing-test"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Catalog: cat, Workers: d})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(sctx, ln) }()
	t.Cleanup(func() { stop(); <-served })
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	// Remote: a worker claims run a.
	claim, err := stratav1.NewWorkerServiceClient(conn).ClaimRuns(ctx, &stratav1.ClaimRunsRequest{WorkerId: "w",
		Capacity: &stratav1.WorkerCapacity{MemoryBytes: 8 << 30, Cpus: 4}, MaxRuns: 1, WaitTimeout: durationpb.New(5 * time.Second)})
	if err != nil || len(claim.GetAssignments()) != 1 {
		t.Fatalf("claim: %v %v", claim, err)
	}
	// Local: a dispatcher with an executor runs b to the end.
	more, err := cat.EnqueueRuns(ctx, []catalog.RunSpec{{Asset: "sz/down", PartitionKeys: []string{"b"}}})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, more...)
	ex := materializer.NewLocalExecutor(materializer.LocalConfig{RunRoot: filepath.Join(dir, "runs"),
		Capacity: materializer.Capacity{MemoryBytes: 8 << 30, CPUs: 2, Slots: 2}})
	ld, err := materializer.NewDispatcher(materializer.Config{Catalog: cat, Executors: []materializer.Executor{ex},
		DataDir: filepath.Join(dir, "data"), Owner: "local:sizing-test-2", PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	lctx, lstop := context.WithCancel(ctx)
	ldone := make(chan struct{})
	go func() { defer close(ldone); _ = ld.Run(lctx) }()
	t.Cleanup(func() { lstop(); <-ldone })
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := cat.GetRun(ctx, ids[1])
		if err != nil {
			t.Fatal(err)
		}
		if r.State.Terminal() {
			if r.State != catalog.RunSucceeded {
				t.Fatalf("local run %s: %s", r.State, r.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the local run")
		}
		tm := time.NewTimer(20 * time.Millisecond)
		<-tm.C
	}

	rc := stratav1.NewRunServiceClient(conn)
	check := func(where string, sz *stratav1.RunSizing) {
		t.Helper()
		if sz == nil {
			t.Fatalf("%s: no sizing", where)
		}
		in := sz.GetInputs()
		if sz.GetMemoryBytes() < 256<<20 || sz.GetCpus() != 1 || sz.GetShards() != 1 || sz.GetModel() != "default" ||
			sz.GetInputRows() != 1000 || sz.GetInputBytes() != 4096 || sz.GetReason() == "" || sz.GetPredictedDuration() == nil ||
			len(in) != 1 || in[0].GetAsset() != "sz/up" || in[0].GetPartitionCount() != 1 || in[0].GetRows() != 1000 || in[0].GetBytes() != 4096 {
			t.Fatalf("%s: sizing = %v", where, sz)
		}
	}
	for _, id := range ids {
		got, err := rc.GetRun(ctx, &stratav1.GetRunRequest{Id: strconv.FormatInt(id, 10)})
		if err != nil {
			t.Fatal(err)
		}
		check("GetRun "+got.GetRun().GetId(), got.GetRun().GetSizing())
	}
	list, err := rc.ListRuns(ctx, &stratav1.ListRunsRequest{Asset: "sz/down"})
	if err != nil || len(list.GetRuns()) != 2 {
		t.Fatalf("list runs: %v %v", list, err)
	}
	for _, r := range list.GetRuns() {
		check("ListRuns "+r.GetId(), r.GetSizing())
	}
}
