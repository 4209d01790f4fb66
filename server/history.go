package server

import (
	"context"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// The history of an asset: the revisions of its declaration and every
// materialization over time.

func changeKindProto(change string) stratav1.AssetChangeKind {
	switch change {
	case catalog.ChangeCreated:
		return stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CREATED
	case catalog.ChangeChanged:
		return stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CHANGED
	case catalog.ChangeDeleted:
		return stratav1.AssetChangeKind_ASSET_CHANGE_KIND_DELETED
	}
	return stratav1.AssetChangeKind_ASSET_CHANGE_KIND_UNSPECIFIED
}

// revisionProto converts r; prev is the revision before it (nil for the
// first one), to name the fields r changed.
func revisionProto(r, prev *catalog.AssetRevision) *stratav1.AssetRevision {
	out := &stratav1.AssetRevision{Revision: r.Revision, CatalogRevision: r.CatalogRevision, Change: changeKindProto(r.Change),
		Actor: r.Actor, CreateTime: timestamppb.New(r.CreatedAt), Hash: r.Hash}
	if r.Decl != nil {
		out.Decl = DeclToProto(r.Decl)
		if prev != nil && prev.Decl != nil && r.Change == catalog.ChangeChanged {
			out.ChangedFields = changedFields(prev.Decl, r.Decl)
		}
	}
	return out
}

func (a *assetService) ListAssetRevisions(ctx context.Context, req *stratav1.ListAssetRevisionsRequest) (*stratav1.ListAssetRevisionsResponse, error) {
	s := a.s
	key := req.GetKey()
	if key == "" {
		return nil, InvalidArgument("key", "asset key is empty")
	}
	if _, err := asset.ParseKey(key); err != nil {
		return nil, InvalidArgument("key", "%v", err)
	}
	limit, err := pageSize("page_size", req.GetPageSize(), 50, 1000)
	if err != nil {
		return nil, err
	}
	before, err := decodeIntToken("page_token", "revisions", req.GetPageToken())
	if err != nil {
		return nil, err
	}
	if req.GetPageToken() != "" && before == 0 {
		return nil, InvalidArgument("page_token", "not a page token of this list")
	}
	// One more than the page: the previous revision of the page's last,
	// and whether there is a next page.
	revs, err := s.cat.AssetRevisions(ctx, asset.Key(key), before, limit+1)
	if err != nil {
		return nil, wrapf(err, "revisions of %s", key)
	}
	resp := &stratav1.ListAssetRevisionsResponse{}
	for i := range revs[:min(limit, len(revs))] {
		var prev *catalog.AssetRevision
		if i+1 < len(revs) {
			prev = &revs[i+1]
		}
		resp.Revisions = append(resp.Revisions, revisionProto(&revs[i], prev))
	}
	if len(revs) > limit {
		resp.NextPageToken = encodeToken("revisions", strconv.FormatInt(revs[limit-1].Revision, 10))
	}
	return resp, nil
}

func (a *assetService) ListMaterializations(ctx context.Context, req *stratav1.ListMaterializationsRequest) (*stratav1.ListMaterializationsResponse, error) {
	s := a.s
	limit, err := pageSize("page_size", req.GetPageSize(), 100, 1000)
	if err != nil {
		return nil, err
	}
	before, err := decodeIntToken("page_token", "materializations", req.GetPageToken())
	if err != nil {
		return nil, err
	}
	if req.GetPageToken() != "" && before == 0 {
		return nil, InvalidArgument("page_token", "not a page token of this list")
	}
	q := catalog.MaterializationQuery{BeforeID: before, Limit: limit + 1}
	if pk := req.GetPartitionKey(); pk != "" {
		as, err := s.reportTarget(ctx, "asset", "partition_key", req.GetAsset(), pk)
		if err != nil {
			return nil, err
		}
		q.Asset, q.Partition = as.Key, &pk
	} else {
		snap, err := s.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		as, err := snap.asset("asset", req.GetAsset())
		if err != nil {
			return nil, err
		}
		q.Asset = as.Key
	}
	ms, err := s.cat.ListMaterializations(ctx, q)
	if err != nil {
		return nil, wrapf(err, "materializations of %s", q.Asset)
	}
	resp := &stratav1.ListMaterializationsResponse{}
	for i := range ms[:min(limit, len(ms))] {
		resp.Materializations = append(resp.Materializations, materializationProto(&ms[i]))
	}
	if len(ms) > limit {
		resp.NextPageToken = encodeToken("materializations", strconv.FormatInt(ms[limit-1].ID, 10))
	}
	return resp, nil
}
