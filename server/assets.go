package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

type assetService struct {
	stratav1.UnimplementedAssetServiceServer
	s *Server
}

func (a *assetService) ApplyAssets(ctx context.Context, req *stratav1.ApplyAssetsRequest) (*stratav1.ApplyAssetsResponse, error) {
	s := a.s
	if n := len(req.GetAssets()); n > s.cfg.MaxAssets {
		return nil, InvalidArgument("assets", "%d assets in one request, more than the limit of %d", n, s.cfg.MaxAssets)
	}
	decls, err := DeclsFromProto(req.GetAssets())
	if err != nil {
		return nil, err
	}
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if err := validateApply(snap, decls, req.GetPrune()); err != nil {
		return nil, err
	}
	res, err := s.cat.ApplyAssets(ctx, decls, catalog.ApplyOptions{
		Actor: actor(ctx), Prune: req.GetPrune(), DryRun: req.GetDryRun(), ExpectedRevision: snap.rev,
	})
	if err != nil {
		return nil, wrapf(err, "apply assets")
	}
	byKey := make(map[string]*asset.AssetDecl, len(decls))
	for i := range decls {
		byKey[decls[i].Key] = &decls[i]
	}
	var changes []*stratav1.AssetChange
	add := func(keys []asset.Key, kind stratav1.AssetChangeKind) {
		for _, k := range keys {
			c := &stratav1.AssetChange{Key: string(k), Kind: kind}
			if kind == stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CHANGED {
				if old, ok := snap.byKey[k]; ok && byKey[string(k)] != nil {
					c.ChangedFields = changedFields(&old.Decl, byKey[string(k)])
				}
			}
			changes = append(changes, c)
		}
	}
	add(res.Created, stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CREATED)
	add(res.Changed, stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CHANGED)
	add(res.Unchanged, stratav1.AssetChangeKind_ASSET_CHANGE_KIND_UNCHANGED)
	add(res.Deleted, stratav1.AssetChangeKind_ASSET_CHANGE_KIND_DELETED)
	sort.Slice(changes, func(i, j int) bool { return changes[i].Key < changes[j].Key })
	return &stratav1.ApplyAssetsResponse{Changes: changes, Revision: res.Revision, DryRun: req.GetDryRun()}, nil
}

var assetIndexRE = regexp.MustCompile(`^assets\[(\d+)\]`)

// validateApply checks the graph the catalog would hold after the apply:
// the request's assets, plus the current ones not in the request (unless
// pruned). The request's assets come first so that field paths name them
// as in the request; a problem in an asset the request does not declare
// (e.g. a downstream asset whose mapping no longer fits) is reported on
// "assets" with the asset's key.
func validateApply(snap *snapshot, decls []asset.AssetDecl, prune bool) error {
	all := decls
	if !prune {
		inReq := make(map[string]bool, len(decls))
		for _, d := range decls {
			inReq[d.Key] = true
		}
		all = append(make([]asset.AssetDecl, 0, len(decls)+len(snap.records)), decls...)
		for _, r := range snap.records {
			if !inReq[string(r.Key)] {
				all = append(all, r.Decl)
			}
		}
	}
	_, err := asset.NewGraph(all)
	if err == nil {
		return nil
	}
	fes := asset.FieldErrors(err)
	if len(fes) == 0 {
		return err
	}
	var ve asset.ValidationError
	for _, fe := range fes {
		m := assetIndexRE.FindStringSubmatch(fe.Field)
		if m != nil {
			i, _ := strconv.Atoi(m[1])
			if i >= len(decls) {
				rest := strings.TrimPrefix(strings.TrimPrefix(fe.Field, m[0]), ".")
				where := fmt.Sprintf("catalog asset %q", all[i].Key)
				if rest != "" {
					where += " at " + rest
				}
				ve.Add("assets", "the request breaks %s: %s", where, fe.Problem)
				continue
			}
		}
		ve.Errors = append(ve.Errors, fe)
	}
	return ve.Err()
}

// changedFields lists the top-level declaration fields that differ.
func changedFields(old, cur *asset.AssetDecl) []string {
	a, b := declFields(old), declFields(cur)
	names := map[string]bool{}
	for k := range a {
		names[k] = true
	}
	for k := range b {
		names[k] = true
	}
	var out []string
	for k := range names {
		if !bytes.Equal(a[k], b[k]) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func declFields(d *asset.AssetDecl) map[string]json.RawMessage {
	b, err := json.Marshal(d)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	return m
}

func (a *assetService) GetAsset(ctx context.Context, req *stratav1.GetAssetRequest) (*stratav1.GetAssetResponse, error) {
	s := a.s
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	as, err := snap.asset("key", req.GetKey())
	if err != nil {
		return nil, err
	}
	p, err := s.assetProto(ctx, snap, as)
	if err != nil {
		return nil, err
	}
	return &stratav1.GetAssetResponse{Asset: p}, nil
}

func (s *Server) assetProto(ctx context.Context, snap *snapshot, as *asset.Asset) (*stratav1.Asset, error) {
	rec := snap.byKey[as.Key]
	out := &stratav1.Asset{Decl: DeclToProto(&as.Decl)}
	if rec != nil {
		out.Revision = rec.CatalogRevision
		out.CreateTime = timestamppb.New(rec.CreatedAt)
		out.UpdateTime = timestamppb.New(rec.UpdatedAt)
	}
	for _, id := range snap.graph.Upstream(as.ID) {
		out.Upstream = append(out.Upstream, string(snap.graph.ByID(id).Key))
	}
	for _, id := range snap.graph.Downstream(as.ID) {
		out.Downstream = append(out.Downstream, string(snap.graph.ByID(id).Key))
	}
	st, err := s.status.AssetStatus(ctx, snap.graph, as, s.now())
	if err != nil {
		return nil, wrapf(err, "status of %s", as.Key)
	}
	out.StatusCounts = st.Counts
	out.LatestMaterialization = st.Latest
	return out, nil
}

func (a *assetService) ListAssets(ctx context.Context, req *stratav1.ListAssetsRequest) (*stratav1.ListAssetsResponse, error) {
	s := a.s
	limit, err := pageSize("page_size", req.GetPageSize(), 100, 1000)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken("page_token", "assets", req.GetPageToken())
	if err != nil {
		return nil, err
	}
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	ids, err := snap.selectIDs("selection", req.GetSelection())
	if err != nil {
		return nil, err
	}
	q := strings.ToLower(strings.TrimSpace(req.GetQuery()))
	matched := make([]*asset.Asset, 0, len(ids))
	for _, id := range ids {
		as := snap.graph.ByID(id)
		if q == "" || matchesQuery(&as.Decl, q) {
			matched = append(matched, as)
		}
	}
	sort.Slice(matched, func(i, j int) bool { return matched[i].Key < matched[j].Key })
	start := sort.Search(len(matched), func(i int) bool { return string(matched[i].Key) > after })
	if after == "" {
		start = 0
	}
	end := min(start+limit, len(matched))
	resp := &stratav1.ListAssetsResponse{TotalSize: int32(len(matched))}
	for _, as := range matched[start:end] {
		p, err := s.assetProto(ctx, snap, as)
		if err != nil {
			return nil, err
		}
		resp.Assets = append(resp.Assets, p)
	}
	if end < len(matched) {
		resp.NextPageToken = encodeToken("assets", string(matched[end-1].Key))
	}
	return resp, nil
}

// matchesQuery is the text search of ListAssets: a case-insensitive
// substring of the key, description, an owner, a tag name or value.
func matchesQuery(d *asset.AssetDecl, q string) bool {
	if strings.Contains(strings.ToLower(d.Key), q) || strings.Contains(strings.ToLower(d.Description), q) {
		return true
	}
	for _, o := range d.Owners {
		if strings.Contains(strings.ToLower(o), q) {
			return true
		}
	}
	for k, v := range d.Tags {
		if strings.Contains(strings.ToLower(k), q) || strings.Contains(strings.ToLower(v), q) ||
			strings.Contains(strings.ToLower(k+"="+v), q) {
			return true
		}
	}
	return false
}

func (a *assetService) DeleteAsset(ctx context.Context, req *stratav1.DeleteAssetRequest) (*stratav1.DeleteAssetResponse, error) {
	s := a.s
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	as, err := snap.asset("key", req.GetKey())
	if err != nil {
		return nil, err
	}
	var downs []string
	for _, id := range snap.graph.Downstream(as.ID) {
		if id != as.ID {
			downs = append(downs, string(snap.graph.ByID(id).Key))
		}
	}
	if len(downs) > 0 {
		return nil, status.Errorf(codes.FailedPrecondition,
			"asset %s has downstream assets (%s): delete them first, or apply without them with prune", as.Key, strings.Join(downs, ", "))
	}
	rev, err := s.cat.DeleteAsset(ctx, as.Key, actor(ctx))
	if err != nil {
		return nil, wrapf(err, "delete asset")
	}
	return &stratav1.DeleteAssetResponse{Revision: rev}, nil
}

const maxDynamicKeys = 100000

func validateDynamic(name string, keys []string) error {
	var ve asset.ValidationError
	if name == "" {
		ve.Add("name", "is empty")
	}
	if len(keys) > maxDynamicKeys {
		ve.Add("keys", "%d keys in one request, more than the limit of %d", len(keys), maxDynamicKeys)
	}
	for i, k := range keys {
		switch {
		case k == "":
			ve.Add(index("keys", i), "partition key is empty")
		case len(k) > 1024:
			ve.Add(index("keys", i), "partition key is %d bytes long, more than 1024", len(k))
		case strings.ContainsAny(k, "\x00\n\r"):
			ve.Add(index("keys", i), "partition key %q has a control character", k)
		}
		if len(ve.Errors) >= 20 {
			break
		}
	}
	return ve.Err()
}

func (a *assetService) ListDynamicPartitions(ctx context.Context, req *stratav1.ListDynamicPartitionsRequest) (*stratav1.ListDynamicPartitionsResponse, error) {
	if req.GetName() == "" {
		return nil, InvalidArgument("name", "is empty")
	}
	limit, err := pageSize("page_size", req.GetPageSize(), 1000, 10000)
	if err != nil {
		return nil, err
	}
	off, err := decodeIntToken("page_token", "dyn", req.GetPageToken())
	if err != nil {
		return nil, err
	}
	keys, err := a.s.cat.DynamicPartitionKeys(ctx, req.GetName())
	if err != nil {
		return nil, wrapf(err, "list dynamic partitions")
	}
	start := min(int(off), len(keys))
	end := min(start+limit, len(keys))
	resp := &stratav1.ListDynamicPartitionsResponse{Keys: keys[start:end]}
	if end < len(keys) {
		resp.NextPageToken = encodeToken("dyn", strconv.Itoa(end))
	}
	return resp, nil
}

func (a *assetService) AddDynamicPartitions(ctx context.Context, req *stratav1.AddDynamicPartitionsRequest) (*stratav1.AddDynamicPartitionsResponse, error) {
	if err := validateDynamic(req.GetName(), req.GetKeys()); err != nil {
		return nil, err
	}
	n, err := a.s.cat.AddDynamicPartitions(ctx, req.GetName(), req.GetKeys())
	if err != nil {
		return nil, wrapf(err, "add dynamic partitions")
	}
	return &stratav1.AddDynamicPartitionsResponse{AddedCount: int32(n)}, nil
}

func (a *assetService) DeleteDynamicPartitions(ctx context.Context, req *stratav1.DeleteDynamicPartitionsRequest) (*stratav1.DeleteDynamicPartitionsResponse, error) {
	if err := validateDynamic(req.GetName(), req.GetKeys()); err != nil {
		return nil, err
	}
	n, err := a.s.cat.DeleteDynamicPartitions(ctx, req.GetName(), req.GetKeys())
	if err != nil {
		return nil, wrapf(err, "delete dynamic partitions")
	}
	return &stratav1.DeleteDynamicPartitionsResponse{DeletedCount: int32(n)}, nil
}
