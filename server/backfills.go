package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// BackfillPlanner turns a backfill request into runs. The planner package
// will satisfy it; interimPlanner selects partitions with the asset
// package and filters them by the StatusSource.
type BackfillPlanner interface {
	PlanBackfill(ctx context.Context, in BackfillInput) (*BackfillPlan, error)
}

// BackfillInput is a validated backfill request.
type BackfillInput struct {
	Graph  *asset.Graph
	Assets []*asset.Asset // the selection, in topological order
	// At most one of Range and Keys; neither means every partition.
	Range  *stratav1.PartitionKeyRange
	Keys   []string
	Filter stratav1.BackfillFilter
	Now    time.Time
	Status StatusSource
}

// BackfillPlan is what a backfill runs, per asset.
type BackfillPlan struct {
	Assets []AssetBackfillPlan
}

// AssetBackfillPlan is the part of a backfill for one asset.
type AssetBackfillPlan struct {
	Asset *asset.Asset
	// Skipped counts selected partitions the filter left out.
	Skipped int64
	// Runs are the partition keys of each run to enqueue.
	Runs [][]string
}

func (p *AssetBackfillPlan) partitions() int64 {
	var n int64
	for _, r := range p.Runs {
		n += int64(len(r))
	}
	return n
}

// maxBackfillPartitions bounds one backfill.
const maxBackfillPartitions = 2_000_000

// backfillMeta is kept in the catalog's opaque partitions JSON of a backfill.
type backfillMeta struct {
	Selection   string                      `json:"selection"`
	Range       *backfillRange              `json:"range,omitempty"`
	Keys        []string                    `json:"keys,omitempty"`
	Filter      string                      `json:"filter"`
	Description string                      `json:"description,omitempty"`
	RequestID   string                      `json:"request_id,omitempty"`
	RetryOf     string                      `json:"retry_of,omitempty"`
	Assets      map[string]backfillMetaUnit `json:"assets,omitempty"`
}

type backfillRange struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type backfillMetaUnit struct {
	Skipped int64 `json:"skipped"`
}

type backfillService struct {
	stratav1.UnimplementedBackfillServiceServer
	s *Server
}

func validateBackfillRequest(req *stratav1.CreateBackfillRequest) error {
	var ve asset.ValidationError
	if req.GetSelection() == "" {
		ve.Add("selection", "is required (e.g. \"analytics/*\" or \"*\")")
	}
	if req.GetPartitionRange() != nil && len(req.GetPartitionKeys()) > 0 {
		ve.Add("partition_keys", "set either partition_range or partition_keys, not both")
	}
	if r := req.GetPartitionRange(); r != nil {
		if r.GetStart() == "" {
			ve.Add("partition_range.start", "is empty")
		}
		if r.GetEnd() == "" {
			ve.Add("partition_range.end", "is empty")
		}
	}
	if len(req.GetPartitionKeys()) > maxBackfillPartitions {
		ve.Add("partition_keys", "%d keys, more than the limit of %d", len(req.GetPartitionKeys()), maxBackfillPartitions)
	}
	for i, k := range req.GetPartitionKeys() {
		if k == "" {
			ve.Add(index("partition_keys", i), "partition key is empty")
			break
		}
	}
	if _, ok := stratav1.BackfillFilter_name[int32(req.GetFilter())]; !ok {
		ve.Add("filter", "unknown filter %d", req.GetFilter())
	}
	if len(req.GetDescription()) > 10000 {
		ve.Add("description", "is %d bytes long, more than 10000", len(req.GetDescription()))
	}
	if len(req.GetRequestId()) > 200 {
		ve.Add("request_id", "is %d bytes long, more than 200", len(req.GetRequestId()))
	}
	return ve.Err()
}

func (b *backfillService) CreateBackfill(ctx context.Context, req *stratav1.CreateBackfillRequest) (*stratav1.CreateBackfillResponse, error) {
	s := b.s
	if err := validateBackfillRequest(req); err != nil {
		return nil, err
	}
	if id := req.GetRequestId(); id != "" && !req.GetDryRun() {
		if bf, ok, err := s.findBackfillByRequest(ctx, id); err != nil {
			return nil, err
		} else if ok {
			p, err := s.backfillProto(ctx, bf, true)
			if err != nil {
				return nil, err
			}
			return &stratav1.CreateBackfillResponse{Backfill: p}, nil
		}
	}
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	ids, err := snap.selectIDs("selection", req.GetSelection())
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, InvalidArgument("selection", "selects no asset")
	}
	in := BackfillInput{Graph: snap.graph, Range: req.GetPartitionRange(), Keys: req.GetPartitionKeys(),
		Filter: req.GetFilter(), Now: s.now(), Status: s.status}
	for _, id := range ids {
		in.Assets = append(in.Assets, snap.graph.ByID(id))
	}
	plan, err := s.planner.PlanBackfill(ctx, in)
	if err != nil {
		return nil, err
	}
	filter := req.GetFilter()
	if filter == stratav1.BackfillFilter_BACKFILL_FILTER_UNSPECIFIED {
		filter = stratav1.BackfillFilter_BACKFILL_FILTER_MISSING
	}
	meta := backfillMeta{Selection: req.GetSelection(), Keys: req.GetPartitionKeys(), Filter: filter.String(),
		Description: req.GetDescription(), RequestID: req.GetRequestId(), Assets: map[string]backfillMetaUnit{}}
	if r := req.GetPartitionRange(); r != nil {
		meta.Range = &backfillRange{Start: r.GetStart(), End: r.GetEnd()}
	}
	if req.GetDryRun() {
		return &stratav1.CreateBackfillResponse{Backfill: dryRunProto(req, filter, plan)}, nil
	}
	spec := catalog.BackfillSpec{Filter: catalogFilter(filter), Priority: int(req.GetPriority()), Actor: actor(ctx),
		RequestID: req.GetRequestId(), Description: req.GetDescription()}
	for i := range plan.Assets {
		ap := &plan.Assets[i]
		spec.Selection = append(spec.Selection, ap.Asset.Key)
		meta.Assets[string(ap.Asset.Key)] = backfillMetaUnit{Skipped: ap.Skipped}
		spec.Runs = append(spec.Runs, runSpecs(ap, int(req.GetPriority()))...)
	}
	if spec.Partitions, err = json.Marshal(meta); err != nil {
		return nil, err
	}
	bf, err := s.createBackfill(ctx, spec)
	if err != nil {
		return nil, wrapf(err, "create backfill")
	}
	p, err := s.backfillProto(ctx, bf, true)
	if err != nil {
		return nil, err
	}
	return &stratav1.CreateBackfillResponse{Backfill: p}, nil
}

func runSpecs(ap *AssetBackfillPlan, priority int) []catalog.RunSpec {
	maxAttempts := 1
	if r := ap.Asset.Decl.Retry; r != nil && r.MaxAttempts > 0 {
		maxAttempts = r.MaxAttempts
	}
	out := make([]catalog.RunSpec, 0, len(ap.Runs))
	for _, keys := range ap.Runs {
		out = append(out, catalog.RunSpec{Asset: ap.Asset.Key, PartitionKeys: keys, Reason: "backfill",
			Priority: priority, MaxAttempts: maxAttempts})
	}
	return out
}

// catalogFilter is the catalog's word for a filter; "" is every partition.
func catalogFilter(f stratav1.BackfillFilter) string {
	switch f {
	case stratav1.BackfillFilter_BACKFILL_FILTER_STALE:
		return "stale"
	case stratav1.BackfillFilter_BACKFILL_FILTER_FAILED:
		return "failed"
	case stratav1.BackfillFilter_BACKFILL_FILTER_ALL:
		return ""
	}
	return "missing"
}

func dryRunProto(req *stratav1.CreateBackfillRequest, filter stratav1.BackfillFilter, plan *BackfillPlan) *stratav1.Backfill {
	out := &stratav1.Backfill{Selection: req.GetSelection(), PartitionRange: req.GetPartitionRange(),
		PartitionKeys: req.GetPartitionKeys(), Filter: filter, Priority: req.GetPriority(),
		State: stratav1.BackfillState_BACKFILL_STATE_UNSPECIFIED, Description: req.GetDescription(),
		Progress: &stratav1.BackfillProgress{}}
	for i := range plan.Assets {
		ap := &plan.Assets[i]
		n := ap.partitions()
		pr := &stratav1.BackfillProgress{Total: n + ap.Skipped, Skipped: ap.Skipped, Queued: n, Runs: int64(len(ap.Runs))}
		out.Assets = append(out.Assets, &stratav1.BackfillAssetProgress{Asset: string(ap.Asset.Key), Progress: pr})
		addProgress(out.Progress, pr)
	}
	return out
}

func addProgress(dst, src *stratav1.BackfillProgress) {
	dst.Total += src.Total
	dst.Skipped += src.Skipped
	dst.Queued += src.Queued
	dst.Running += src.Running
	dst.Succeeded += src.Succeeded
	dst.Failed += src.Failed
	dst.Canceled += src.Canceled
	dst.Runs += src.Runs
}

func backfillState(s string) stratav1.BackfillState {
	switch s {
	case catalog.BackfillRunning:
		return stratav1.BackfillState_BACKFILL_STATE_RUNNING
	case catalog.BackfillCompleted:
		return stratav1.BackfillState_BACKFILL_STATE_COMPLETED
	case catalog.BackfillFailed:
		return stratav1.BackfillState_BACKFILL_STATE_FAILED
	case catalog.BackfillCancelling:
		return stratav1.BackfillState_BACKFILL_STATE_CANCELING
	case catalog.BackfillCancelled:
		return stratav1.BackfillState_BACKFILL_STATE_CANCELED
	}
	return stratav1.BackfillState_BACKFILL_STATE_UNSPECIFIED
}

func readBackfillMeta(bf *catalog.Backfill) backfillMeta {
	var m backfillMeta
	if len(bf.Partitions) > 0 {
		_ = json.Unmarshal(bf.Partitions, &m)
	}
	return m
}

// backfillProto converts a backfill. With perAsset, progress counts
// partitions exactly, per asset, from the catalog's per-asset counters
// (bf.Assets, filled by GetBackfill: one row per asset); without, it comes
// from the backfill's counters, which count runs (equal to partitions
// unless an asset's backfill_policy batches them).
func (s *Server) backfillProto(ctx context.Context, bf catalog.Backfill, perAsset bool) (*stratav1.Backfill, error) {
	meta := readBackfillMeta(&bf)
	out := &stratav1.Backfill{
		Id: formatID(bf.ID), Selection: meta.Selection, PartitionKeys: meta.Keys,
		Filter:   stratav1.BackfillFilter(stratav1.BackfillFilter_value[meta.Filter]),
		Priority: int32(bf.Priority), State: backfillState(bf.State), Description: bf.Description,
		RetryOfId: meta.RetryOf, CreateTime: timestamppb.New(bf.CreatedAt), UpdateTime: timestamppb.New(bf.UpdatedAt),
	}
	if out.Description == "" {
		out.Description = meta.Description // created before the description column
	}
	if meta.Selection == "" {
		for i, k := range bf.Selection {
			if i > 0 {
				out.Selection += " or "
			}
			out.Selection += "key:" + string(k)
		}
	}
	if meta.Range != nil {
		out.PartitionRange = &stratav1.PartitionKeyRange{Start: meta.Range.Start, End: meta.Range.End}
	}
	if bf.FinishedAt != nil {
		out.EndTime = timestamppb.New(*bf.FinishedAt)
	}
	var skipped int64
	for _, u := range meta.Assets {
		skipped += u.Skipped
	}
	if !perAsset {
		c := bf.Counts
		out.Progress = &stratav1.BackfillProgress{Total: c.Total + skipped, Skipped: skipped, Queued: c.Queued,
			Running: c.Running, Succeeded: c.Succeeded, Failed: c.Failed, Canceled: c.Cancelled, Runs: c.Total}
		return out, nil
	}
	per := map[string]*stratav1.BackfillProgress{}
	for _, k := range bf.Selection {
		per[string(k)] = &stratav1.BackfillProgress{Skipped: meta.Assets[string(k)].Skipped}
	}
	for _, a := range bf.Assets {
		p := per[string(a.Asset)]
		if p == nil {
			p = &stratav1.BackfillProgress{}
			per[string(a.Asset)] = p
		}
		p.Runs, p.Queued, p.Running, p.Succeeded, p.Failed, p.Canceled = a.Runs, a.Queued, a.Running, a.Succeeded, a.Failed, a.Cancelled
	}
	keys := make([]string, 0, len(per))
	for k := range per {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out.Progress = &stratav1.BackfillProgress{}
	for _, k := range keys {
		p := per[k]
		p.Total = p.Skipped + p.Queued + p.Running + p.Succeeded + p.Failed + p.Canceled
		out.Assets = append(out.Assets, &stratav1.BackfillAssetProgress{Asset: k, Progress: p})
		addProgress(out.Progress, p)
	}
	return out, nil
}

func (s *Server) getBackfill(ctx context.Context, field, sid string) (catalog.Backfill, error) {
	id, err := parseID(field, sid)
	if err != nil {
		return catalog.Backfill{}, err
	}
	bf, err := s.cat.GetBackfill(ctx, id)
	if err != nil {
		return catalog.Backfill{}, wrapf(err, "backfill")
	}
	return bf, nil
}

// findBackfillByRequest finds the backfill created with request id (the
// catalog's unique request_id column).
func (s *Server) findBackfillByRequest(ctx context.Context, id string) (catalog.Backfill, bool, error) {
	bf, err := s.cat.BackfillByRequestID(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return catalog.Backfill{}, false, nil
	}
	if err != nil {
		return catalog.Backfill{}, false, wrapf(err, "find backfill by request id")
	}
	return bf, true, nil
}

func (b *backfillService) GetBackfill(ctx context.Context, req *stratav1.GetBackfillRequest) (*stratav1.GetBackfillResponse, error) {
	bf, err := b.s.getBackfill(ctx, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	p, err := b.s.backfillProto(ctx, bf, true)
	if err != nil {
		return nil, err
	}
	return &stratav1.GetBackfillResponse{Backfill: p}, nil
}

func (b *backfillService) ListBackfills(ctx context.Context, req *stratav1.ListBackfillsRequest) (*stratav1.ListBackfillsResponse, error) {
	s := b.s
	limit, err := pageSize("page_size", req.GetPageSize(), 50, 1000)
	if err != nil {
		return nil, err
	}
	before, err := decodeIntToken("page_token", "backfills", req.GetPageToken())
	if err != nil {
		return nil, err
	}
	states := map[stratav1.BackfillState]bool{}
	for i, st := range req.GetStates() {
		if _, ok := stratav1.BackfillState_name[int32(st)]; !ok || st == stratav1.BackfillState_BACKFILL_STATE_UNSPECIFIED {
			return nil, InvalidArgument(index("states", i), "unknown backfill state %d", st)
		}
		states[st] = true
	}
	resp := &stratav1.ListBackfillsResponse{}
	for scanned := 0; scanned < 100000; {
		bfs, err := s.cat.ListBackfills(ctx, before, 1000)
		if err != nil {
			return nil, wrapf(err, "list backfills")
		}
		for _, bf := range bfs {
			scanned++
			before = bf.ID
			if len(states) > 0 && !states[backfillState(bf.State)] {
				continue
			}
			p, err := s.backfillProto(ctx, bf, false)
			if err != nil {
				return nil, err
			}
			resp.Backfills = append(resp.Backfills, p)
			if len(resp.Backfills) == limit {
				if bf.ID > 1 {
					resp.NextPageToken = encodeToken("backfills", strconv.FormatInt(bf.ID, 10))
				}
				return resp, nil
			}
		}
		if len(bfs) < 1000 {
			break
		}
	}
	return resp, nil
}

func (b *backfillService) CancelBackfill(ctx context.Context, req *stratav1.CancelBackfillRequest) (*stratav1.CancelBackfillResponse, error) {
	s := b.s
	bf, err := s.getBackfill(ctx, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	bf, err = s.cat.CancelBackfill(ctx, bf.ID)
	if err != nil {
		return nil, wrapf(err, "cancel backfill")
	}
	p, err := s.backfillProto(ctx, bf, true)
	if err != nil {
		return nil, err
	}
	return &stratav1.CancelBackfillResponse{Backfill: p}, nil
}

func (b *backfillService) RetryBackfill(ctx context.Context, req *stratav1.RetryBackfillRequest) (*stratav1.RetryBackfillResponse, error) {
	s := b.s
	bf, err := s.getBackfill(ctx, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	perAsset := map[asset.Key][]string{}
	var before int64
	for {
		runs, err := s.cat.ListRuns(ctx, catalog.RunFilter{BackfillID: bf.ID, States: []catalog.RunState{catalog.RunFailed}, BeforeID: before, Limit: 10000})
		if err != nil {
			return nil, wrapf(err, "retry backfill")
		}
		for _, r := range runs {
			perAsset[r.Asset] = append(perAsset[r.Asset], r.PartitionKeys...)
		}
		if len(runs) < 10000 {
			break
		}
		before = runs[len(runs)-1].ID
	}
	if len(perAsset) == 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "backfill %d has no failed partitions to retry", bf.ID)
	}
	old := readBackfillMeta(&bf)
	plan := &BackfillPlan{}
	keys := make([]asset.Key, 0, len(perAsset))
	for k := range perAsset {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		a, ok := snap.graph.Asset(k)
		if !ok {
			continue // deleted since
		}
		ap := AssetBackfillPlan{Asset: a}
		parts := perAsset[k]
		sort.Strings(parts)
		ap.Runs = batch(parts, maxPerRun(a))
		plan.Assets = append(plan.Assets, ap)
	}
	if len(plan.Assets) == 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "the assets of backfill %d's failed partitions no longer exist", bf.ID)
	}
	if req.GetDryRun() {
		cr := &stratav1.CreateBackfillRequest{Selection: old.Selection, Priority: int32(bf.Priority)}
		p := dryRunProto(cr, stratav1.BackfillFilter_BACKFILL_FILTER_ALL, plan)
		p.RetryOfId = formatID(bf.ID)
		return &stratav1.RetryBackfillResponse{Backfill: p}, nil
	}
	meta := backfillMeta{Selection: old.Selection, Filter: stratav1.BackfillFilter_BACKFILL_FILTER_ALL.String(),
		Description: fmt.Sprintf("retry of backfill %d (failed partitions)", bf.ID), RetryOf: formatID(bf.ID),
		Assets: map[string]backfillMetaUnit{}}
	spec := catalog.BackfillSpec{Priority: bf.Priority, Actor: actor(ctx), Description: meta.Description}
	for i := range plan.Assets {
		ap := &plan.Assets[i]
		spec.Selection = append(spec.Selection, ap.Asset.Key)
		meta.Assets[string(ap.Asset.Key)] = backfillMetaUnit{}
		spec.Runs = append(spec.Runs, runSpecs(ap, bf.Priority)...)
	}
	if spec.Partitions, err = json.Marshal(meta); err != nil {
		return nil, err
	}
	nbf, err := s.createBackfill(ctx, spec)
	if err != nil {
		return nil, wrapf(err, "retry backfill")
	}
	p, err := s.backfillProto(ctx, nbf, true)
	if err != nil {
		return nil, err
	}
	return &stratav1.RetryBackfillResponse{Backfill: p}, nil
}

func maxPerRun(a *asset.Asset) int {
	if bp := a.Decl.BackfillPolicy; bp != nil && bp.MaxPartitionsPerRun > 0 {
		return bp.MaxPartitionsPerRun
	}
	return 1
}

func batch(keys []string, n int) [][]string {
	out := make([][]string, 0, (len(keys)+n-1)/n)
	for i := 0; i < len(keys); i += n {
		out = append(out, keys[i:min(i+n, len(keys))])
	}
	return out
}
