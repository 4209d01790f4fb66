package server

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/materializer"
)

// Workers is what the WorkerService needs: the materializer's dispatcher,
// which claims, sizes and prepares runs for remote workers and records
// their results. *materializer.Dispatcher satisfies it.
type Workers interface {
	ClaimForWorker(ctx context.Context, req materializer.WorkerClaim) ([]materializer.Assignment, error)
	HeartbeatForWorker(ctx context.Context, workerID string, runIDs []int64) ([]int64, error)
	AppendLogForWorker(ctx context.Context, workerID string, runID int64, attempt int, text string) error
	FinishForWorker(ctx context.Context, workerID string, runID int64, attempt int, res materializer.WorkerResult) (catalog.Run, error)
	HeartbeatInterval() time.Duration
}

var _ Workers = (*materializer.Dispatcher)(nil)

// Bounds of the worker API.
const (
	maxClaimWait       = 60 * time.Second
	defaultClaimWait   = 30 * time.Second
	maxLogAppendBytes  = 4 << 20
	maxHeartbeatRuns   = 10000
	maxWorkerIDLength  = 256
	maxClaimRunsPerRPC = 1000
)

// workerService implements stratav1.WorkerServiceServer over Workers.
type workerService struct {
	stratav1.UnimplementedWorkerServiceServer
	w   Workers
	now func() time.Time
}

// NewWorkerService returns the WorkerService implementation over w, for
// registration on a gRPC server.
func NewWorkerService(w Workers, now func() time.Time) stratav1.WorkerServiceServer {
	if now == nil {
		now = time.Now
	}
	return &workerService{w: w, now: now}
}

func validWorkerID(id string) error {
	switch {
	case id == "":
		return InvalidArgument("worker_id", "is empty")
	case len(id) > maxWorkerIDLength:
		return InvalidArgument("worker_id", "is %d bytes long, more than %d", len(id), maxWorkerIDLength)
	}
	return nil
}

func capacityFromProto(field string, c *stratav1.WorkerCapacity) (materializer.Capacity, error) {
	if c == nil {
		return materializer.Capacity{}, nil
	}
	if c.GetMemoryBytes() < 0 {
		return materializer.Capacity{}, InvalidArgument(field+".memory_bytes", "must not be negative, got %d", c.GetMemoryBytes())
	}
	if c.GetCpus() < 0 {
		return materializer.Capacity{}, InvalidArgument(field+".cpus", "must not be negative, got %g", c.GetCpus())
	}
	return materializer.Capacity{MemoryBytes: c.GetMemoryBytes(), CPUs: c.GetCpus()}, nil
}

func parseRunID(field, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, InvalidArgument(field, "%q is not a run id", s)
	}
	return id, nil
}

func (ws *workerService) ClaimRuns(ctx context.Context, req *stratav1.ClaimRunsRequest) (*stratav1.ClaimRunsResponse, error) {
	if err := validWorkerID(req.GetWorkerId()); err != nil {
		return nil, err
	}
	total, err := capacityFromProto("capacity", req.GetCapacity())
	if err != nil {
		return nil, err
	}
	avail, err := capacityFromProto("available", req.GetAvailable())
	if err != nil {
		return nil, err
	}
	if req.GetMaxRuns() < 0 || req.GetMaxRuns() > maxClaimRunsPerRPC {
		return nil, InvalidArgument("max_runs", "must be in [0, %d], got %d", maxClaimRunsPerRPC, req.GetMaxRuns())
	}
	wait := defaultClaimWait
	if w := req.GetWaitTimeout(); w != nil {
		if err := w.CheckValid(); err != nil || w.AsDuration() < 0 {
			return nil, InvalidArgument("wait_timeout", "is not a valid non-negative duration")
		}
		if w.AsDuration() > 0 {
			wait = min(w.AsDuration(), maxClaimWait)
		}
	}
	as, err := ws.w.ClaimForWorker(ctx, materializer.WorkerClaim{WorkerID: req.GetWorkerId(), Capacity: total, Available: avail,
		Labels: req.GetLabels(), MaxRuns: int(req.GetMaxRuns()), Wait: wait})
	resp := &stratav1.ClaimRunsResponse{HeartbeatInterval: durationpb.New(ws.w.HeartbeatInterval())}
	// Runs already claimed are returned even when a later claim failed:
	// dropping them would leave them leased to a worker that never heard
	// of them until the lease expires.
	for i := range as {
		spec, serr := materializer.JobSpecProto(as[i].Job)
		if serr != nil {
			return nil, StatusError(serr)
		}
		resp.Assignments = append(resp.Assignments, &stratav1.RunAssignment{Run: runProto(&as[i].Run),
			Attempt: int32(as[i].Run.Attempt), Job: spec, LeaseExpireTime: timestamppb.New(as[i].LeaseExpires)})
	}
	if err != nil && len(resp.Assignments) == 0 {
		return nil, StatusError(wrapf(err, "claim runs"))
	}
	return resp, nil
}

func (ws *workerService) Heartbeat(ctx context.Context, req *stratav1.HeartbeatRequest) (*stratav1.HeartbeatResponse, error) {
	if err := validWorkerID(req.GetWorkerId()); err != nil {
		return nil, err
	}
	if len(req.GetRuns()) > maxHeartbeatRuns {
		return nil, InvalidArgument("runs", "has %d runs, more than %d", len(req.GetRuns()), maxHeartbeatRuns)
	}
	ids := make([]int64, len(req.GetRuns()))
	attempts := map[int64]int32{}
	for i, r := range req.GetRuns() {
		id, err := parseRunID(index("runs", i)+".run_id", r.GetRunId())
		if err != nil {
			return nil, err
		}
		ids[i] = id
		attempts[id] = r.GetAttempt()
	}
	stop, err := ws.w.HeartbeatForWorker(ctx, req.GetWorkerId(), ids)
	if err != nil {
		return nil, StatusError(wrapf(err, "heartbeat"))
	}
	interval := ws.w.HeartbeatInterval()
	resp := &stratav1.HeartbeatResponse{HeartbeatInterval: durationpb.New(interval),
		LeaseExpireTime: timestamppb.New(ws.now().Add(3 * interval))}
	for _, id := range stop {
		resp.CancelRuns = append(resp.CancelRuns, &stratav1.RunAttemptRef{RunId: strconv.FormatInt(id, 10), Attempt: attempts[id]})
	}
	return resp, nil
}

func (ws *workerService) AppendRunLog(ctx context.Context, req *stratav1.AppendRunLogRequest) (*stratav1.AppendRunLogResponse, error) {
	if err := validWorkerID(req.GetWorkerId()); err != nil {
		return nil, err
	}
	id, err := parseRunID("run_id", req.GetRunId())
	if err != nil {
		return nil, err
	}
	if req.GetAttempt() < 1 {
		return nil, InvalidArgument("attempt", "must be at least 1, got %d", req.GetAttempt())
	}
	n := 0
	text := make([]byte, 0, 1024)
	for _, l := range req.GetLines() {
		n += len(l.GetText()) + 1
		if n > maxLogAppendBytes {
			return nil, InvalidArgument("lines", "hold more than %d bytes; send them in several calls", maxLogAppendBytes)
		}
		text = append(text, l.GetText()...)
		if len(l.GetText()) > 0 && l.GetText()[len(l.GetText())-1] != '\n' {
			text = append(text, '\n')
		}
	}
	if len(text) == 0 {
		return &stratav1.AppendRunLogResponse{}, nil
	}
	if err := ws.w.AppendLogForWorker(ctx, req.GetWorkerId(), id, int(req.GetAttempt()), string(text)); err != nil {
		return nil, StatusError(wrapf(err, "append run log"))
	}
	return &stratav1.AppendRunLogResponse{}, nil
}

func (ws *workerService) FinishRun(ctx context.Context, req *stratav1.FinishRunRequest) (*stratav1.FinishRunResponse, error) {
	if err := validWorkerID(req.GetWorkerId()); err != nil {
		return nil, err
	}
	id, err := parseRunID("run_id", req.GetRunId())
	if err != nil {
		return nil, err
	}
	if req.GetAttempt() < 1 {
		return nil, InvalidArgument("attempt", "must be at least 1, got %d", req.GetAttempt())
	}
	res := req.GetResult()
	if res == nil {
		return nil, InvalidArgument("result", "is required")
	}
	wr := materializer.WorkerResult{Error: res.GetError()}
	switch res.GetState() {
	case stratav1.RunState_RUN_STATE_SUCCEEDED:
		wr.State = catalog.RunSucceeded
	case stratav1.RunState_RUN_STATE_FAILED:
		wr.State = catalog.RunFailed
	case stratav1.RunState_RUN_STATE_CANCELED:
		wr.State = catalog.RunCancelled
	default:
		return nil, InvalidArgument("result.state", "must be RUN_STATE_SUCCEEDED, RUN_STATE_FAILED or RUN_STATE_CANCELED, got %s", res.GetState())
	}
	if res.GetExitCode() >= 0 {
		c := int(res.GetExitCode())
		wr.ExitCode = &c
	}
	if u := res.GetUsage(); u != nil {
		wr.Usage = &catalog.Usage{Duration: u.GetDuration().AsDuration(), PeakRSS: u.GetPeakRssBytes(),
			CPUSeconds: u.GetCpuTime().AsDuration().Seconds()}
	}
	for i, m := range res.GetMaterializations() {
		f := index("result.materializations", i)
		if m.GetAsset() != "" {
			if _, err := asset.ParseKey(m.GetAsset()); err != nil {
				return nil, InvalidArgument(f+".asset", "%v", err)
			}
		}
		if m.RowCount != nil && m.GetRowCount() < 0 {
			return nil, InvalidArgument(f+".row_count", "must not be negative")
		}
		if m.Bytes != nil && m.GetBytes() < 0 {
			return nil, InvalidArgument(f+".bytes", "must not be negative")
		}
		if sj := m.GetSchemaJson(); sj != "" && !json.Valid([]byte(sj)) {
			return nil, InvalidArgument(f+".schema_json", "is not valid JSON")
		}
		cm := catalog.Materialization{Asset: asset.Key(m.GetAsset()), Partition: m.GetPartitionKey(), DataVersion: m.GetDataVersion(),
			CodeVersion: m.GetCodeVersion(), RowCount: m.RowCount, ByteCount: m.Bytes, Location: m.GetLocation()}
		if sj := m.GetSchemaJson(); sj != "" {
			cm.Schema = json.RawMessage(sj)
		}
		if cm.Metadata, err = joinMetadata(m.GetMetadata(), reservedFields{}); err != nil {
			return nil, InvalidArgument(f+".metadata", "%v", err)
		}
		for j, p := range m.GetProvenance() {
			if _, err := asset.ParseKey(p.GetAsset()); err != nil {
				return nil, InvalidArgument(index(f+".provenance", j)+".asset", "%v", err)
			}
			pe := catalog.ProvenanceEntry{UpstreamAsset: asset.Key(p.GetAsset()), UpstreamPartition: p.GetPartitionKey(), DataVersion: p.GetDataVersion()}
			if mid := p.GetMaterializationId(); mid != "" {
				n, err := strconv.ParseInt(mid, 10, 64)
				if err != nil || n <= 0 {
					return nil, InvalidArgument(index(f+".provenance", j)+".materialization_id", "%q is not an id", mid)
				}
				pe.UpstreamMaterializationID = n
			}
			cm.Provenance = append(cm.Provenance, pe)
		}
		wr.Materializations = append(wr.Materializations, cm)
	}
	for i, c := range res.GetChecks() {
		if c.GetCheckName() == "" {
			return nil, InvalidArgument(index("result.checks", i)+".check_name", "is empty")
		}
		cr := catalog.CheckResult{Partition: c.GetPartitionKey(), Check: c.GetCheckName(), Passed: c.GetPassed(),
			Severity: "error", Description: c.GetDescription()}
		if c.GetSeverity() == stratav1.CheckSeverity_CHECK_SEVERITY_WARN {
			cr.Severity = "warn"
		}
		if md := c.GetMetadata(); md != nil {
			b, err := json.Marshal(md.AsMap())
			if err != nil {
				return nil, InvalidArgument(index("result.checks", i)+".metadata", "%v", err)
			}
			cr.Metadata = b
		}
		wr.Checks = append(wr.Checks, cr)
	}
	run, err := ws.w.FinishForWorker(ctx, req.GetWorkerId(), id, int(req.GetAttempt()), wr)
	if err != nil {
		return nil, StatusError(wrapf(err, "finish run"))
	}
	return &stratav1.FinishRunResponse{Run: runProto(&run)}, nil
}
