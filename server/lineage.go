package server

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

type lineageService struct {
	stratav1.UnimplementedLineageServiceServer
	s *Server
}

// maxLineageStatusNodes bounds the nodes whose status counts GetLineage
// computes (each costs a catalog read until the planner keeps them).
const maxLineageStatusNodes = 500

func (l *lineageService) GetLineage(ctx context.Context, req *stratav1.GetLineageRequest) (*stratav1.GetLineageResponse, error) {
	s := l.s
	if d := req.GetUpstreamDepth(); d < -1 {
		return nil, InvalidArgument("upstream_depth", "must be -1 (no limit) or more, got %d", d)
	}
	if d := req.GetDownstreamDepth(); d < -1 {
		return nil, InvalidArgument("downstream_depth", "must be -1 (no limit) or more, got %d", d)
	}
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	ids, err := snap.selectIDs("selection", req.GetSelection())
	if err != nil {
		return nil, err
	}
	g := snap.graph
	selected := make(map[int]bool, len(ids))
	for _, id := range ids {
		selected[id] = true
	}
	in := map[int]bool{}
	for _, id := range ids {
		in[id] = true
	}
	if d := int(req.GetUpstreamDepth()); d != 0 {
		for _, r := range g.UpstreamClosure(ids, d) {
			in[r.ID] = true
		}
	}
	if d := int(req.GetDownstreamDepth()); d != 0 {
		for _, r := range g.DownstreamClosure(ids, d) {
			in[r.ID] = true
		}
	}
	resp := &stratav1.GetLineageResponse{}
	withStatus := len(in) <= maxLineageStatusNodes
	for id := 0; id < g.Len(); id++ {
		if !in[id] {
			continue
		}
		a := g.ByID(id)
		n := &stratav1.LineageNode{
			Key: string(a.Key), Group: a.Decl.Group, Description: a.Decl.Description,
			Owners: cloneStrings(a.Decl.Owners), Tags: cloneMap(a.Decl.Tags),
			PartitionsKind: a.Partitions.Kind().String(), Selected: selected[id],
		}
		if withStatus {
			st, err := s.status.AssetStatus(ctx, g, a, s.now())
			if err != nil {
				return nil, wrapf(err, "lineage: status of %s", a.Key)
			}
			n.StatusCounts = st.Counts
		}
		resp.Nodes = append(resp.Nodes, n)
		for _, dep := range a.Deps {
			if !in[dep.UpID] {
				continue
			}
			m := dep.Mapping.Decl()
			resp.Edges = append(resp.Edges, &stratav1.LineageEdge{
				Upstream: string(dep.Upstream), Downstream: string(a.Key),
				Mapping: MappingToProto(&m), DefaultMapping: dep.Decl.Mapping == nil,
			})
		}
	}
	return resp, nil
}

const maxProvenanceNodes = 10000

func (l *lineageService) GetProvenance(ctx context.Context, req *stratav1.GetProvenanceRequest) (*stratav1.GetProvenanceResponse, error) {
	s := l.s
	depth := int(req.GetDepth())
	switch {
	case depth < -1:
		return nil, InvalidArgument("depth", "must be -1 (no limit) or more, got %d", depth)
	case depth == 0:
		depth = 1
	}
	var rootID int64
	if req.GetMaterializationId() != "" {
		id, err := parseID("materialization_id", req.GetMaterializationId())
		if err != nil {
			return nil, err
		}
		rootID = id
	} else {
		if req.GetAsset() == "" {
			return nil, InvalidArgument("materialization_id", "set materialization_id, or asset (and partition_key)")
		}
		snap, err := s.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := snap.asset("asset", req.GetAsset()); err != nil {
			return nil, err
		}
		hist, err := s.cat.MaterializationHistory(ctx, asset.Key(req.GetAsset()), req.GetPartitionKey(), 1)
		if err != nil {
			return nil, wrapf(err, "provenance")
		}
		if len(hist) == 0 {
			return nil, status.Errorf(codes.NotFound, "asset %s partition %q was never materialized", req.GetAsset(), req.GetPartitionKey())
		}
		rootID = hist[0].ID
	}
	root, err := s.cat.GetMaterialization(ctx, rootID)
	if err != nil {
		return nil, wrapf(err, "provenance")
	}
	resp := &stratav1.GetProvenanceResponse{Root: materializationProto(&root)}
	seen := map[int64]bool{rootID: true}
	level := []catalog.Materialization{root}
	for d := 0; len(level) > 0; d++ {
		if depth >= 0 && d >= depth {
			for _, m := range level {
				for _, pe := range m.Provenance {
					if pe.UpstreamMaterializationID != 0 && !seen[pe.UpstreamMaterializationID] {
						resp.Truncated = true
					}
				}
			}
			break
		}
		var next []catalog.Materialization
		for _, m := range level {
			for _, pe := range m.Provenance {
				resp.Edges = append(resp.Edges, &stratav1.ProvenanceEdge{
					MaterializationId: formatID(m.ID), ConsumedMaterializationId: formatID(pe.UpstreamMaterializationID),
					Input: provenanceProto(pe),
				})
				id := pe.UpstreamMaterializationID
				if id == 0 || seen[id] {
					continue
				}
				if len(seen) >= maxProvenanceNodes {
					resp.Truncated = true
					continue
				}
				seen[id] = true
				um, err := s.cat.GetMaterialization(ctx, id)
				if err != nil {
					return nil, wrapf(err, "provenance")
				}
				resp.Materializations = append(resp.Materializations, materializationProto(&um))
				next = append(next, um)
			}
		}
		level = next
	}
	return resp, nil
}

func provenanceProto(pe catalog.ProvenanceEntry) *stratav1.ProvenanceInput {
	return &stratav1.ProvenanceInput{Asset: string(pe.UpstreamAsset), PartitionKey: pe.UpstreamPartition,
		DataVersion: pe.DataVersion, MaterializationId: formatID(pe.UpstreamMaterializationID)}
}

func materializationProto(m *catalog.Materialization) *stratav1.Materialization {
	out := &stratav1.Materialization{
		Id: formatID(m.ID), Asset: string(m.Asset), PartitionKey: m.Partition, RunId: formatID(m.RunID),
		Attempt: int32(m.Attempt), CreateTime: timestamppb.New(m.CreatedAt), DataVersion: m.DataVersion,
		CodeVersion: m.CodeVersion, RowCount: m.RowCount, Bytes: m.ByteCount, ReportId: m.ClientID,
	}
	if len(m.Schema) > 0 {
		out.SchemaJson = string(m.Schema)
	}
	// The catalog reads the location column, falling back to the legacy
	// reserved key; the reserved key is still stripped from metadata.
	meta, loc := splitMetadata(m.Metadata)
	out.Metadata = meta
	out.Location = m.Location
	if out.Location == "" {
		out.Location = loc
	}
	for _, pe := range m.Provenance {
		out.Provenance = append(out.Provenance, provenanceProto(pe))
	}
	return out
}

// reservedMeta is the key under which the server kept, inside a record's
// metadata object, the fields of a report the catalog had no column for
// (location, report id, counts), and under which the materializer still
// keeps a location. The catalog has columns for them now; the key is read
// for rows written before and removed before metadata is shown.
const reservedMeta = "_strata"

type reservedFields struct {
	Location string `json:"location,omitempty"`
	ReportID string `json:"report_id,omitempty"`
	RowCount *int64 `json:"row_count,omitempty"`
	Bytes    *int64 `json:"bytes,omitempty"`
}

// joinMetadata stores user metadata and reserved fields as one JSON object.
// Reports now write their fields to catalog columns and pass no reserved
// fields; user metadata may not use the reserved key (it would read as a
// legacy location).
func joinMetadata(user *structpb.Struct, r reservedFields) (json.RawMessage, error) {
	m := map[string]any{}
	if user != nil {
		m = user.AsMap()
	}
	if _, ok := m[reservedMeta]; ok {
		return nil, fmt.Errorf("key %q is reserved", reservedMeta)
	}
	if r != (reservedFields{}) {
		m[reservedMeta] = r
	}
	if len(m) == 0 {
		return nil, nil
	}
	return json.Marshal(m)
}

func readMetadata(raw json.RawMessage) (*structpb.Struct, reservedFields) {
	var r reservedFields
	if len(raw) == 0 {
		return nil, r
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, r
	}
	if res, ok := m[reservedMeta]; ok {
		b, _ := json.Marshal(res)
		_ = json.Unmarshal(b, &r)
		delete(m, reservedMeta)
	}
	if len(m) == 0 {
		return nil, r
	}
	st, err := structpb.NewStruct(m)
	if err != nil {
		return nil, r
	}
	return st, r
}

func splitMetadata(raw json.RawMessage) (*structpb.Struct, string) {
	st, r := readMetadata(raw)
	return st, r.Location
}
