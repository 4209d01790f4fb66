package server

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

type runService struct {
	stratav1.UnimplementedRunServiceServer
	s *Server
}

func runStateProto(r *catalog.Run) stratav1.RunState {
	switch r.State {
	case catalog.RunQueued:
		return stratav1.RunState_RUN_STATE_QUEUED
	case catalog.RunRunning:
		if r.CancelRequested {
			return stratav1.RunState_RUN_STATE_CANCELING
		}
		return stratav1.RunState_RUN_STATE_RUNNING
	case catalog.RunSucceeded:
		return stratav1.RunState_RUN_STATE_SUCCEEDED
	case catalog.RunFailed:
		return stratav1.RunState_RUN_STATE_FAILED
	case catalog.RunCancelled:
		return stratav1.RunState_RUN_STATE_CANCELED
	}
	return stratav1.RunState_RUN_STATE_UNSPECIFIED
}

func catalogRunStates(ss []stratav1.RunState) ([]catalog.RunState, error) {
	var out []catalog.RunState
	seen := map[catalog.RunState]bool{}
	for i, s := range ss {
		var c catalog.RunState
		switch s {
		case stratav1.RunState_RUN_STATE_QUEUED:
			c = catalog.RunQueued
		case stratav1.RunState_RUN_STATE_STARTING, stratav1.RunState_RUN_STATE_RUNNING, stratav1.RunState_RUN_STATE_CANCELING:
			c = catalog.RunRunning
		case stratav1.RunState_RUN_STATE_SUCCEEDED:
			c = catalog.RunSucceeded
		case stratav1.RunState_RUN_STATE_FAILED:
			c = catalog.RunFailed
		case stratav1.RunState_RUN_STATE_CANCELED:
			c = catalog.RunCancelled
		default:
			return nil, InvalidArgument(index("states", i), "unknown run state %d", s)
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out, nil
}

func reasonProto(s string) (stratav1.RunReason, string) {
	head, detail, _ := strings.Cut(s, ":")
	switch strings.TrimSpace(head) {
	case "automation", "eager", "on_cron", "on_missing":
		return stratav1.RunReason_RUN_REASON_AUTOMATION, s
	case "backfill":
		return stratav1.RunReason_RUN_REASON_BACKFILL, strings.TrimSpace(detail)
	case "manual":
		return stratav1.RunReason_RUN_REASON_MANUAL, strings.TrimSpace(detail)
	case "retry":
		return stratav1.RunReason_RUN_REASON_RETRY, strings.TrimSpace(detail)
	case "freshness":
		return stratav1.RunReason_RUN_REASON_FRESHNESS, strings.TrimSpace(detail)
	}
	return stratav1.RunReason_RUN_REASON_UNSPECIFIED, s
}

func runProto(r *catalog.Run) *stratav1.Run {
	reason, detail := reasonProto(r.Reason)
	out := &stratav1.Run{
		Id: formatID(r.ID), Asset: string(r.Asset), PartitionKeys: r.PartitionKeys, State: runStateProto(r),
		Reason: reason, ReasonDetail: detail, Priority: int32(r.Priority), BackfillId: formatID(r.BackfillID),
		Attempt: int32(r.Attempt), MaxAttempts: int32(r.MaxAttempts), WorkerId: r.LeaseOwner,
		CreateTime: timestamppb.New(r.CreatedAt), Error: r.Error,
	}
	if r.Deadline != nil {
		out.Deadline = timestamppb.New(*r.Deadline)
	}
	if r.StartedAt != nil {
		out.StartTime = timestamppb.New(*r.StartedAt)
	}
	if r.FinishedAt != nil {
		out.EndTime = timestamppb.New(*r.FinishedAt)
	}
	if r.ExitCode != nil {
		out.ExitCode = int32(*r.ExitCode)
	}
	if r.Usage != nil {
		out.Usage = &stratav1.ResourceUsage{Duration: durationpb.New(r.Usage.Duration), PeakRssBytes: r.Usage.PeakRSS,
			CpuTime: durationpb.New(time.Duration(r.Usage.CPUSeconds * float64(time.Second)))}
	}
	if len(r.Sizing) > 0 {
		var sz stratav1.RunSizing
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(r.Sizing, &sz); err == nil {
			out.Sizing = &sz
		}
	}
	if r.Attempt > 0 {
		at := &stratav1.RunAttempt{Attempt: int32(r.Attempt), State: out.State, WorkerId: r.LeaseOwner,
			StartTime: out.StartTime, EndTime: out.EndTime, ExitCode: out.ExitCode, Error: r.Error, Usage: out.Usage}
		out.Attempts = []*stratav1.RunAttempt{at}
	}
	return out
}

func (rs *runService) ListRuns(ctx context.Context, req *stratav1.ListRunsRequest) (*stratav1.ListRunsResponse, error) {
	s := rs.s
	limit, err := pageSize("page_size", req.GetPageSize(), 100, 1000)
	if err != nil {
		return nil, err
	}
	before, err := decodeIntToken("page_token", "runs", req.GetPageToken())
	if err != nil {
		return nil, err
	}
	states, err := catalogRunStates(req.GetStates())
	if err != nil {
		return nil, err
	}
	f := catalog.RunFilter{States: states, BeforeID: before, Limit: 1000}
	if k := req.GetAsset(); k != "" {
		if _, err := asset.ParseKey(k); err != nil {
			return nil, InvalidArgument("asset", "%v", err)
		}
		f.Asset = asset.Key(k)
	}
	if b := req.GetBackfillId(); b != "" {
		if f.BackfillID, err = parseID("backfill_id", b); err != nil {
			return nil, err
		}
	}
	if t := req.GetCreatedAfter(); t != nil {
		if err := t.CheckValid(); err != nil {
			return nil, InvalidArgument("created_after", "%v", err)
		}
		f.CreatedAfter = t.AsTime()
	}
	if t := req.GetCreatedBefore(); t != nil {
		if err := t.CheckValid(); err != nil {
			return nil, InvalidArgument("created_before", "%v", err)
		}
		f.CreatedBefore = t.AsTime()
	}
	f.Worker = req.GetWorkerId()
	f.PartitionKey = req.GetPartitionKey()
	wantStates := map[stratav1.RunState]bool{}
	for _, st := range req.GetStates() {
		wantStates[st] = true
	}
	resp := &stratav1.ListRunsResponse{}
	// The catalog filters by asset, state, backfill, partition, worker and
	// creation time; only the finer run states (running vs canceling) are
	// told apart here, scanning at most maxScan runs per page.
	const maxScan = 20000
	for scanned := 0; scanned < maxScan; {
		runs, err := s.cat.ListRuns(ctx, f)
		if err != nil {
			return nil, wrapf(err, "list runs")
		}
		for i := range runs {
			r := &runs[i]
			scanned++
			f.BeforeID = r.ID
			p := runProto(r)
			if len(wantStates) > 0 && !wantStates[p.State] {
				continue
			}
			resp.Runs = append(resp.Runs, p)
			if len(resp.Runs) == limit {
				if r.ID > 1 {
					resp.NextPageToken = encodeToken("runs", strconv.FormatInt(r.ID, 10))
				}
				return resp, nil
			}
		}
		if len(runs) < f.Limit {
			return resp, nil
		}
	}
	if f.BeforeID > 1 {
		resp.NextPageToken = encodeToken("runs", strconv.FormatInt(f.BeforeID, 10))
	}
	return resp, nil
}

func (s *Server) getRun(ctx context.Context, field, sid string) (catalog.Run, error) {
	id, err := parseID(field, sid)
	if err != nil {
		return catalog.Run{}, err
	}
	r, err := s.cat.GetRun(ctx, id)
	if err != nil {
		return catalog.Run{}, wrapf(err, "run")
	}
	return r, nil
}

func (rs *runService) GetRun(ctx context.Context, req *stratav1.GetRunRequest) (*stratav1.GetRunResponse, error) {
	r, err := rs.s.getRun(ctx, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	ids, err := rs.s.cat.RunMaterializationIDs(ctx, r.ID)
	if err != nil {
		return nil, wrapf(err, "run")
	}
	p := runProto(&r)
	for _, id := range ids {
		p.MaterializationIds = append(p.MaterializationIds, formatID(id))
	}
	return &stratav1.GetRunResponse{Run: p}, nil
}

// logLines splits a run's bounded log into numbered lines (seq from 1).
func logLines(log string, r *catalog.Run, afterSeq int64, limit int) (lines []*stratav1.RunLogLine, hasMore bool, next int64) {
	if log == "" {
		return nil, false, afterSeq + 1
	}
	text := strings.TrimSuffix(log, "\n")
	all := strings.Split(text, "\n")
	next = afterSeq + 1
	for i := afterSeq; i < int64(len(all)); i++ {
		if limit > 0 && len(lines) == limit {
			return lines, true, i + 1
		}
		if i < 0 {
			continue
		}
		lines = append(lines, &stratav1.RunLogLine{Seq: i + 1, Attempt: int32(r.Attempt), Text: all[i],
			Stream: stratav1.LogStream_LOG_STREAM_UNSPECIFIED})
		next = i + 2
	}
	return lines, false, next
}

func (rs *runService) GetRunLogs(ctx context.Context, req *stratav1.GetRunLogsRequest) (*stratav1.GetRunLogsResponse, error) {
	s := rs.s
	if req.GetAfterSeq() < 0 {
		return nil, InvalidArgument("after_seq", "must not be negative")
	}
	limit, err := pageSize("limit", req.GetLimit(), 1000, 100000)
	if err != nil {
		return nil, err
	}
	r, err := s.getRun(ctx, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	log, _, err := s.cat.RunLog(ctx, r.ID)
	if err != nil {
		return nil, wrapf(err, "run log")
	}
	lines, more, next := logLines(log, &r, req.GetAfterSeq(), limit)
	return &stratav1.GetRunLogsResponse{Lines: lines, HasMore: more, NextSeq: next}, nil
}

func (rs *runService) StreamRunLogs(req *stratav1.StreamRunLogsRequest, stream stratav1.RunService_StreamRunLogsServer) error {
	s := rs.s
	ctx := stream.Context()
	if req.GetAfterSeq() < 0 {
		return InvalidArgument("after_seq", "must not be negative")
	}
	r, err := s.getRun(ctx, "id", req.GetId())
	if err != nil {
		return err
	}
	after := req.GetAfterSeq()
	var ticker *time.Ticker
	for {
		log, _, err := s.cat.RunLog(ctx, r.ID)
		if err != nil {
			return wrapf(err, "run log")
		}
		lines, _, _ := logLines(log, &r, after, 0)
		for len(lines) > 0 {
			chunk := lines[:min(len(lines), 500)]
			lines = lines[len(chunk):]
			if err := stream.Send(&stratav1.StreamRunLogsResponse{Lines: chunk}); err != nil {
				return err
			}
			after = chunk[len(chunk)-1].Seq
		}
		if !req.GetFollow() || r.State.Terminal() {
			return nil
		}
		if ticker == nil {
			ticker = time.NewTicker(s.cfg.LogPollInterval)
			defer ticker.Stop()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stopping:
			return status.Error(codes.Unavailable, "server shutting down")
		case <-ticker.C:
		}
		if r, err = s.cat.GetRun(ctx, r.ID); err != nil {
			return wrapf(err, "run")
		}
	}
}

func (rs *runService) CancelRun(ctx context.Context, req *stratav1.CancelRunRequest) (*stratav1.CancelRunResponse, error) {
	s := rs.s
	r, err := s.getRun(ctx, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	if _, _, err := s.cat.CancelRuns(ctx, []int64{r.ID}); err != nil {
		return nil, wrapf(err, "cancel run")
	}
	if r, err = s.cat.GetRun(ctx, r.ID); err != nil {
		return nil, wrapf(err, "cancel run")
	}
	return &stratav1.CancelRunResponse{Run: runProto(&r)}, nil
}

func validReportID(id string) error {
	switch {
	case id == "":
		return InvalidArgument("report_id", "is required: a client-supplied id that makes the report idempotent")
	case len(id) > 200:
		return InvalidArgument("report_id", "is %d bytes long, more than 200", len(id))
	}
	return nil
}

// reportTarget checks that asset exists and partition is one of its
// partitions (at now).
func (s *Server) reportTarget(ctx context.Context, assetField, partField, key, partition string) (*asset.Asset, error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	a, err := snap.asset(assetField, key)
	if err != nil {
		return nil, err
	}
	var dyn asset.DynamicKeys
	if kindNeedsDynamic(a.Partitions) {
		d, err := s.cat.DynamicKeysSnapshot(ctx)
		if err != nil {
			return nil, err
		}
		dyn = d
	}
	if _, ok := a.Partitions.At(s.now(), dyn).Index(partition); !ok {
		if a.Partitions.Kind() == asset.KindUnpartitioned {
			return nil, InvalidArgument(partField, "asset %s is not partitioned: leave the partition key empty", a.Key)
		}
		if partition == "" {
			return nil, InvalidArgument(partField, "is empty; asset %s is partitioned (%s)", a.Key, a.Partitions)
		}
		return nil, InvalidArgument(partField, "%q is not a partition of %s (%s)", partition, a.Key, a.Partitions)
	}
	return a, nil
}

func (rs *runService) ReportMaterialization(ctx context.Context, req *stratav1.ReportMaterializationRequest) (*stratav1.ReportMaterializationResponse, error) {
	s := rs.s
	if err := validReportID(req.GetReportId()); err != nil {
		return nil, err
	}
	rep := req.GetMaterialization()
	if rep == nil {
		return nil, InvalidArgument("materialization", "is required")
	}
	var run *catalog.Run
	if req.GetRunId() != "" {
		r, err := s.getRun(ctx, "run_id", req.GetRunId())
		if err != nil {
			return nil, err
		}
		if r.Attempt == 0 {
			return nil, status.Errorf(codes.FailedPrecondition, "run %d has not started: a materialization needs a run attempt", r.ID)
		}
		run = &r
	}
	key := rep.GetAsset()
	if key == "" && run != nil {
		key = string(run.Asset)
	}
	if key == "" {
		return nil, InvalidArgument("materialization.asset", "is required without run_id")
	}
	a, err := s.reportTarget(ctx, "materialization.asset", "materialization.partition_key", key, rep.GetPartitionKey())
	if err != nil {
		return nil, err
	}
	var ve asset.ValidationError
	if rep.RowCount != nil && rep.GetRowCount() < 0 {
		ve.Add("materialization.row_count", "must not be negative, got %d", rep.GetRowCount())
	}
	if rep.Bytes != nil && rep.GetBytes() < 0 {
		ve.Add("materialization.bytes", "must not be negative, got %d", rep.GetBytes())
	}
	if sj := rep.GetSchemaJson(); sj != "" && !json.Valid([]byte(sj)) {
		ve.Add("materialization.schema_json", "is not valid JSON")
	}
	m := catalog.Materialization{Asset: a.Key, Partition: rep.GetPartitionKey(), ClientID: req.GetReportId(),
		DataVersion: rep.GetDataVersion(), CodeVersion: rep.GetCodeVersion(), RowCount: rep.RowCount, ByteCount: rep.Bytes,
		Location: rep.GetLocation()}
	if m.CodeVersion == "" {
		m.CodeVersion = a.Decl.CodeVersion
	}
	if run != nil {
		m.RunID, m.Attempt = run.ID, run.Attempt
	}
	if sj := rep.GetSchemaJson(); sj != "" {
		m.Schema = json.RawMessage(sj)
	}
	seen := map[[2]string]bool{}
	for i, p := range rep.GetProvenance() {
		f := index("materialization.provenance", i)
		if _, err := asset.ParseKey(p.GetAsset()); err != nil {
			ve.Add(f+".asset", "%v", err)
			continue
		}
		k := [2]string{p.GetAsset(), p.GetPartitionKey()}
		if seen[k] {
			ve.Add(f, "asset %s partition %q is listed twice", p.GetAsset(), p.GetPartitionKey())
			continue
		}
		seen[k] = true
		pe := catalog.ProvenanceEntry{UpstreamAsset: asset.Key(p.GetAsset()), UpstreamPartition: p.GetPartitionKey(), DataVersion: p.GetDataVersion()}
		if id := p.GetMaterializationId(); id != "" {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil || n <= 0 {
				ve.Add(f+".materialization_id", "%q is not an id", id)
				continue
			}
			pe.UpstreamMaterializationID = n
		}
		m.Provenance = append(m.Provenance, pe)
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	if m.Metadata, err = joinMetadata(rep.GetMetadata(), reservedFields{}); err != nil {
		return nil, InvalidArgument("materialization.metadata", "%v", err)
	}
	// The catalog records a report id once (and returns the id recorded
	// first); look for it to answer duplicate = true.
	dup := false
	if _, err := s.cat.MaterializationByClientID(ctx, a.Key, m.Partition, req.GetReportId()); err == nil {
		dup = true
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return nil, wrapf(err, "report materialization")
	}
	ids, err := s.cat.RecordMaterializations(ctx, []catalog.Materialization{m})
	if err != nil {
		return nil, wrapf(err, "report materialization")
	}
	got, err := s.cat.GetMaterialization(ctx, ids[0])
	if err != nil {
		return nil, wrapf(err, "report materialization")
	}
	return &stratav1.ReportMaterializationResponse{Materialization: materializationProto(&got), Duplicate: dup}, nil
}

func observationProto(o *catalog.Observation) *stratav1.Observation {
	// Columns first; observations recorded before the columns existed keep
	// these fields under the reserved metadata key.
	meta, r := readMetadata(o.Metadata)
	out := &stratav1.Observation{Id: formatID(o.ID), Asset: string(o.Asset), PartitionKey: o.Partition,
		DataVersion: o.DataVersion, RowCount: o.RowCount, Bytes: o.ByteCount, Metadata: meta,
		CreateTime: timestamppb.New(o.CreatedAt), ReportId: o.ClientID}
	if out.RowCount == nil {
		out.RowCount = r.RowCount
	}
	if out.Bytes == nil {
		out.Bytes = r.Bytes
	}
	if out.ReportId == "" {
		out.ReportId = r.ReportID
	}
	return out
}

func (rs *runService) ReportObservation(ctx context.Context, req *stratav1.ReportObservationRequest) (*stratav1.ReportObservationResponse, error) {
	s := rs.s
	if err := validReportID(req.GetReportId()); err != nil {
		return nil, err
	}
	a, err := s.reportTarget(ctx, "asset", "partition_key", req.GetAsset(), req.GetPartitionKey())
	if err != nil {
		return nil, err
	}
	if req.RowCount != nil && req.GetRowCount() < 0 {
		return nil, InvalidArgument("row_count", "must not be negative, got %d", req.GetRowCount())
	}
	if req.Bytes != nil && req.GetBytes() < 0 {
		return nil, InvalidArgument("bytes", "must not be negative, got %d", req.GetBytes())
	}
	if t := req.GetObserveTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			return nil, InvalidArgument("observe_time", "%v", err)
		}
	}
	meta, err := joinMetadata(req.GetMetadata(), reservedFields{})
	if err != nil {
		return nil, InvalidArgument("metadata", "%v", err)
	}
	o := catalog.Observation{Asset: a.Key, Partition: req.GetPartitionKey(), ClientID: req.GetReportId(),
		DataVersion: req.GetDataVersion(), RowCount: req.RowCount, ByteCount: req.Bytes, Metadata: meta}
	if t := req.GetObserveTime(); t != nil {
		o.CreatedAt = t.AsTime()
	}
	// Idempotent by report id (a column with a unique index).
	if got, err := s.cat.ObservationByClientID(ctx, a.Key, o.Partition, o.ClientID); err == nil {
		return &stratav1.ReportObservationResponse{Observation: observationProto(&got), Duplicate: true}, nil
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return nil, wrapf(err, "report observation")
	}
	err = s.cat.RecordObservations(ctx, []catalog.Observation{o})
	dup := errors.Is(err, catalog.ErrAlreadyExists) // a concurrent report with the same id won
	if err != nil && !dup {
		return nil, wrapf(err, "report observation")
	}
	got, err := s.cat.ObservationByClientID(ctx, a.Key, o.Partition, o.ClientID)
	if err != nil {
		return nil, wrapf(err, "report observation")
	}
	return &stratav1.ReportObservationResponse{Observation: observationProto(&got), Duplicate: dup}, nil
}

func checkProto(c *catalog.CheckResult) *stratav1.CheckResult {
	meta, r := readMetadata(c.Metadata)
	sev := stratav1.CheckSeverity_CHECK_SEVERITY_UNSPECIFIED
	switch c.Severity {
	case "warn":
		sev = stratav1.CheckSeverity_CHECK_SEVERITY_WARN
	case "error":
		sev = stratav1.CheckSeverity_CHECK_SEVERITY_ERROR
	}
	id := c.ClientID
	if id == "" {
		id = r.ReportID // recorded before the client_id column
	}
	return &stratav1.CheckResult{Id: formatID(c.ID), Asset: string(c.Asset), PartitionKey: c.Partition, CheckName: c.Check,
		Passed: c.Passed, Severity: sev, Description: c.Description, Metadata: meta, RunId: formatID(c.RunID),
		MaterializationId: formatID(c.MaterializationID), CreateTime: timestamppb.New(c.CreatedAt), ReportId: id}
}

func (rs *runService) ReportCheckResult(ctx context.Context, req *stratav1.ReportCheckResultRequest) (*stratav1.ReportCheckResultResponse, error) {
	s := rs.s
	if err := validReportID(req.GetReportId()); err != nil {
		return nil, err
	}
	if req.GetCheckName() == "" {
		return nil, InvalidArgument("check_name", "is empty")
	}
	a, err := s.reportTarget(ctx, "asset", "partition_key", req.GetAsset(), req.GetPartitionKey())
	if err != nil {
		return nil, err
	}
	c := catalog.CheckResult{Asset: a.Key, Partition: req.GetPartitionKey(), Check: req.GetCheckName(), Passed: req.GetPassed(),
		Description: req.GetDescription()}
	switch req.GetSeverity() {
	case stratav1.CheckSeverity_CHECK_SEVERITY_WARN:
		c.Severity = "warn"
	case stratav1.CheckSeverity_CHECK_SEVERITY_ERROR, stratav1.CheckSeverity_CHECK_SEVERITY_UNSPECIFIED:
		c.Severity = "error"
	default:
		return nil, InvalidArgument("severity", "unknown severity %d", req.GetSeverity())
	}
	if id := req.GetRunId(); id != "" {
		r, err := s.getRun(ctx, "run_id", id)
		if err != nil {
			return nil, err
		}
		c.RunID, c.Attempt = r.ID, r.Attempt
	}
	if id := req.GetMaterializationId(); id != "" {
		if c.MaterializationID, err = parseID("materialization_id", id); err != nil {
			return nil, err
		}
	}
	if c.Metadata, err = joinMetadata(req.GetMetadata(), reservedFields{}); err != nil {
		return nil, InvalidArgument("metadata", "%v", err)
	}
	c.ClientID = req.GetReportId()
	// Idempotent by report id (a column with a unique index).
	if got, err := s.cat.CheckResultByClientID(ctx, a.Key, c.Partition, c.ClientID); err == nil {
		return &stratav1.ReportCheckResultResponse{Result: checkProto(&got), Duplicate: true}, nil
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return nil, wrapf(err, "report check result")
	}
	err = s.cat.RecordCheckResults(ctx, []catalog.CheckResult{c})
	dup := errors.Is(err, catalog.ErrAlreadyExists) // a concurrent report with the same id won
	if err != nil && !dup {
		return nil, wrapf(err, "report check result")
	}
	got, err := s.cat.CheckResultByClientID(ctx, a.Key, c.Partition, c.ClientID)
	if err != nil {
		return nil, wrapf(err, "report check result")
	}
	return &stratav1.ReportCheckResultResponse{Result: checkProto(&got), Duplicate: dup}, nil
}
