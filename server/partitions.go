package server

import (
	"context"
	"sort"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-data/strata/asset"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

type partitionService struct {
	stratav1.UnimplementedPartitionServiceServer
	s *Server
}

func validStatuses(field string, ss []stratav1.PartitionStatus) (map[stratav1.PartitionStatus]bool, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	out := map[stratav1.PartitionStatus]bool{}
	for i, st := range ss {
		if _, ok := stratav1.PartitionStatus_name[int32(st)]; !ok || st == stratav1.PartitionStatus_PARTITION_STATUS_UNSPECIFIED {
			return nil, InvalidArgument(index(field, i), "unknown partition status %d", st)
		}
		out[st] = true
	}
	return out, nil
}

func (p *partitionService) ListPartitionStatuses(ctx context.Context, req *stratav1.ListPartitionStatusesRequest) (*stratav1.ListPartitionStatusesResponse, error) {
	s := p.s
	statuses, err := validStatuses("statuses", req.GetStatuses())
	if err != nil {
		return nil, err
	}
	fresh := map[stratav1.FreshnessState]bool{}
	for _, f := range req.GetFreshnessStates() {
		fresh[f] = true
	}
	limit, err := pageSize("page_size", req.GetPageSize(), 100, 10000)
	if err != nil {
		return nil, err
	}
	cursor, err := decodeIntToken("page_token", "parts", req.GetPageToken())
	if err != nil {
		return nil, err
	}
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	a, err := snap.asset("asset", req.GetAsset())
	if err != nil {
		return nil, err
	}
	st, err := s.status.AssetStatus(ctx, snap.graph, a, s.now())
	if err != nil {
		return nil, wrapf(err, "partition statuses of %s", a.Key)
	}
	n := st.Partitions.Len()
	resp := &stratav1.ListPartitionStatusesResponse{Counts: st.Counts}
	match := func(ps *stratav1.AssetPartitionStatus) bool {
		if statuses != nil && !statuses[ps.GetStatus()] {
			return false
		}
		if len(fresh) > 0 && !fresh[ps.GetFreshness().GetState()] {
			return false
		}
		return true
	}
	// cursor counts positions scanned in the requested order.
	pos := func(k int64) int64 {
		if req.GetDescending() {
			return n - 1 - k
		}
		return k
	}
	onlyKnown := statuses != nil && !statuses[stratav1.PartitionStatus_PARTITION_STATUS_MISSING]
	if onlyKnown {
		known := st.Known
		for k := cursor; k < int64(len(known)); k++ {
			i := known[k]
			if req.GetDescending() {
				i = known[int64(len(known))-1-k]
			}
			ps := st.State(i)
			if !match(ps) {
				continue
			}
			if len(resp.Partitions) == limit {
				resp.NextPageToken = encodeToken("parts", strconv.FormatInt(k, 10))
				break
			}
			resp.Partitions = append(resp.Partitions, ps)
		}
		if err := st.fill(ctx, resp.Partitions); err != nil {
			return nil, wrapf(err, "partition statuses of %s", a.Key)
		}
		return resp, nil
	}
	for k := cursor; k < n; k++ {
		ps := st.State(pos(k))
		if !match(ps) {
			continue
		}
		if len(resp.Partitions) == limit {
			resp.NextPageToken = encodeToken("parts", strconv.FormatInt(k, 10))
			break
		}
		resp.Partitions = append(resp.Partitions, ps)
	}
	if err := st.fill(ctx, resp.Partitions); err != nil {
		return nil, wrapf(err, "partition statuses of %s", a.Key)
	}
	return resp, nil
}

func (p *partitionService) GetPartitionHealth(ctx context.Context, req *stratav1.GetPartitionHealthRequest) (*stratav1.GetPartitionHealthResponse, error) {
	s := p.s
	maxRanges, err := pageSize("max_ranges", req.GetMaxRanges(), 1000, 100000)
	if err != nil {
		return nil, err
	}
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	a, err := snap.asset("asset", req.GetAsset())
	if err != nil {
		return nil, err
	}
	st, err := s.status.AssetStatus(ctx, snap.graph, a, s.now())
	if err != nil {
		return nil, wrapf(err, "partition health of %s", a.Key)
	}
	n := st.Partitions.Len()
	lo, hi := int64(0), n-1
	if req.StartIndex != nil {
		lo = req.GetStartIndex()
	}
	if req.EndIndex != nil {
		hi = req.GetEndIndex()
	}
	resp := &stratav1.GetPartitionHealthResponse{PartitionCount: n, Counts: &stratav1.PartitionStatusCounts{}}
	if n == 0 {
		return resp, nil
	}
	if lo < 0 || lo >= n {
		return nil, InvalidArgument("start_index", "%d is outside the partitions 0..%d", lo, n-1)
	}
	if hi < lo || hi >= n {
		return nil, InvalidArgument("end_index", "%d is outside the partitions %d..%d", hi, lo, n-1)
	}
	missing := stratav1.PartitionStatus_PARTITION_STATUS_MISSING
	var cur *stratav1.PartitionRange
	emit := func(i int64, stat stratav1.PartitionStatus, count int64) bool {
		if cur != nil && cur.Status == stat && cur.EndIndex == i-1 {
			cur.EndIndex = i + count - 1
			return true
		}
		if len(resp.Ranges) == maxRanges {
			resp.Truncated, resp.NextStartIndex = true, i
			return false
		}
		cur = &stratav1.PartitionRange{StartIndex: i, EndIndex: i + count - 1, Status: stat}
		resp.Ranges = append(resp.Ranges, cur)
		return true
	}
	counts := resp.Counts
	tally := func(stat stratav1.PartitionStatus, c int64) {
		counts.Total += c
		switch stat {
		case missing:
			counts.Missing += c
		case stratav1.PartitionStatus_PARTITION_STATUS_FRESH:
			counts.Fresh += c
		case stratav1.PartitionStatus_PARTITION_STATUS_STALE:
			counts.Stale += c
		case stratav1.PartitionStatus_PARTITION_STATUS_FAILED:
			counts.Failed += c
		case stratav1.PartitionStatus_PARTITION_STATUS_RUNNING:
			counts.Running += c
		}
	}
	if st.Ranges != nil {
		late, err := healthFromRanges(st, lo, hi, emit, tally)
		if err != nil {
			return nil, wrapf(err, "partition health of %s", a.Key)
		}
		counts.Late = late
		for _, r := range resp.Ranges {
			r.FirstKey = st.Partitions.Key(r.StartIndex)
			r.LastKey = st.Partitions.Key(r.EndIndex)
		}
		return resp, nil
	}
	next := lo
	ok := true
	for _, i := range st.Known {
		if i < lo || i > hi {
			continue
		}
		if i > next {
			if ok = emit(next, missing, i-next); !ok {
				break
			}
			tally(missing, i-next)
		}
		ps := st.State(i)
		stat := ps.Status
		if ok = emit(i, stat, 1); !ok {
			break
		}
		tally(stat, 1)
		if ps.GetFreshness().GetState() == stratav1.FreshnessState_FRESHNESS_STATE_FAIL {
			counts.Late++
		}
		next = i + 1
	}
	if ok && next <= hi {
		if emit(next, missing, hi-next+1) {
			tally(missing, hi-next+1)
		}
	}
	for _, r := range resp.Ranges {
		r.FirstKey = st.Partitions.Key(r.StartIndex)
		r.LastKey = st.Partitions.Key(r.EndIndex)
	}
	return resp, nil
}

// healthFromRanges emits partitions lo..hi (inclusive) from st.Ranges,
// missing between them, and returns how many of those emitted are late
// (st.Late). It stops where emit does (the response is full).
func healthFromRanges(st *AssetStatus, lo, hi int64, emit func(i int64, stat stratav1.PartitionStatus, count int64) bool,
	tally func(stat stratav1.PartitionStatus, c int64)) (int64, error) {
	lateTo := func(end int64) (int64, error) {
		if st.Late == nil || end <= lo {
			return 0, nil
		}
		return st.Late(lo, end)
	}
	missing := stratav1.PartitionStatus_PARTITION_STATUS_MISSING
	next := lo
	k := sort.Search(len(st.Ranges), func(k int) bool { return st.Ranges[k].Hi > lo })
	for ; k < len(st.Ranges) && st.Ranges[k].Lo <= hi; k++ {
		r := st.Ranges[k]
		a, b := max(r.Lo, lo), min(r.Hi, hi+1)
		if a > next {
			if !emit(next, missing, a-next) {
				return lateTo(next)
			}
			tally(missing, a-next)
		}
		if !emit(a, r.Status, b-a) {
			return lateTo(a)
		}
		tally(r.Status, b-a)
		next = b
	}
	if next <= hi {
		if !emit(next, missing, hi-next+1) {
			return lateTo(next)
		}
		tally(missing, hi-next+1)
	}
	return lateTo(hi + 1)
}

const maxExplainUpstreams = 100

func (p *partitionService) ExplainPartition(ctx context.Context, req *stratav1.ExplainPartitionRequest) (*stratav1.ExplainPartitionResponse, error) {
	s := p.s
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	a, err := snap.asset("asset", req.GetAsset())
	if err != nil {
		return nil, err
	}
	now := s.now()
	st, err := s.status.AssetStatus(ctx, snap.graph, a, now)
	if err != nil {
		return nil, wrapf(err, "explain %s", a.Key)
	}
	i, ok := st.Partitions.Index(req.GetPartitionKey())
	if !ok {
		if a.Partitions.Kind() == asset.KindUnpartitioned {
			return nil, InvalidArgument("partition_key", "asset %s is not partitioned: leave partition_key empty", a.Key)
		}
		return nil, InvalidArgument("partition_key", "%q is not a partition of %s (%s)", req.GetPartitionKey(), a.Key, a.Partitions)
	}
	ps := st.State(i)
	if err := st.fill(ctx, []*stratav1.AssetPartitionStatus{ps}); err != nil {
		return nil, wrapf(err, "explain %s", a.Key)
	}
	resp := &stratav1.ExplainPartitionResponse{Status: ps, CodeVersion: a.Decl.CodeVersion}
	consumed := map[[2]string]string{}
	if lm := ps.GetLatestMaterialization(); lm != nil {
		resp.MaterializedCodeVersion = lm.GetCodeVersion()
		if id, err := strconv.ParseInt(lm.GetId(), 10, 64); err == nil {
			if prov, err := s.cat.Provenance(ctx, id); err == nil {
				for _, pe := range prov {
					consumed[[2]string{string(pe.UpstreamAsset), pe.UpstreamPartition}] = pe.DataVersion
				}
			}
		}
	}
	for _, c := range ps.GetCauses() {
		resp.Explanation = append(resp.Explanation, c.GetMessage())
	}
	for _, dep := range a.Deps {
		up := snap.graph.ByID(dep.UpID)
		ust, err := s.status.AssetStatus(ctx, snap.graph, up, now)
		if err != nil {
			return nil, wrapf(err, "explain %s: upstream %s", a.Key, up.Key)
		}
		down := asset.NewSubset(st.Partitions)
		down.Add(i)
		mapped, err := dep.Mapping.Upstream(down, ust.Partitions)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "map %s partition %q to %s: %v", a.Key, req.GetPartitionKey(), up.Key, err)
		}
		var upstates []*stratav1.AssetPartitionStatus
		for ui := range mapped.Partitions.Indices() {
			if len(upstates) == maxExplainUpstreams {
				break
			}
			upstates = append(upstates, ust.State(ui))
		}
		if err := ust.fill(ctx, upstates); err != nil {
			return nil, wrapf(err, "explain %s: upstream %s", a.Key, up.Key)
		}
		for _, ups := range upstates {
			resp.Upstreams = append(resp.Upstreams, &stratav1.UpstreamPartitionState{
				Asset: string(up.Key), PartitionKey: ups.PartitionKey, Status: ups.Status,
				ConsumedDataVersion: consumed[[2]string{string(up.Key), ups.PartitionKey}],
				CurrentDataVersion:  ups.GetLatestMaterialization().GetDataVersion(),
			})
		}
		for _, k := range mapped.Missing {
			resp.Upstreams = append(resp.Upstreams, &stratav1.UpstreamPartitionState{
				Asset: string(up.Key), PartitionKey: k, Status: stratav1.PartitionStatus_PARTITION_STATUS_MISSING,
			})
			resp.Explanation = append(resp.Explanation, "upstream "+string(up.Key)+" partition "+strconv.Quote(k)+" does not exist yet")
		}
	}
	return resp, nil
}
