package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/server"
)

func TestAssetRevisions(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			b := setup(t, testOpts{postgres: db == "postgres"})
			ctx := context.Background()
			b.applySample(t)
			decls := sampleDecls()
			decls[1].CodeVersion = "2"
			if _, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: decls}); err != nil {
				t.Fatal(err)
			}
			decls[1].Description = "Sessions per day, deduplicated"
			decls[1].Owners = []string{"web@example.com"}
			if _, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: decls}); err != nil {
				t.Fatal(err)
			}

			res, err := b.assets.ListAssetRevisions(ctx, &stratav1.ListAssetRevisionsRequest{Key: "analytics/sessions"})
			if err != nil {
				t.Fatal(err)
			}
			type row struct {
				rev     int64
				change  stratav1.AssetChangeKind
				changed string
				code    string
			}
			var got []row
			for _, r := range res.Revisions {
				got = append(got, row{r.Revision, r.Change, strings.Join(r.ChangedFields, ","), r.GetDecl().GetCodeVersion()})
				if r.CreateTime == nil || r.CatalogRevision == 0 || r.Hash == "" || r.GetDecl().GetKey() != "analytics/sessions" {
					t.Errorf("revision %d = %v", r.Revision, r)
				}
			}
			want := []row{
				{3, stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CHANGED, "description,owners", "2"},
				{2, stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CHANGED, "code_version", "2"},
				{1, stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CREATED, "", "1"},
			}
			if !slices.Equal(got, want) || res.NextPageToken != "" {
				t.Fatalf("revisions = %+v (next %q), want %+v", got, res.NextPageToken, want)
			}

			// Pages of one: the changed fields of a page's last revision
			// still name what it changed from the previous one.
			var paged []row
			tok := ""
			for range 4 {
				p, err := b.assets.ListAssetRevisions(ctx, &stratav1.ListAssetRevisionsRequest{Key: "analytics/sessions", PageSize: 1, PageToken: tok})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range p.Revisions {
					paged = append(paged, row{r.Revision, r.Change, strings.Join(r.ChangedFields, ","), r.GetDecl().GetCodeVersion()})
				}
				if tok = p.NextPageToken; tok == "" {
					break
				}
			}
			if !slices.Equal(paged, want) {
				t.Fatalf("paged revisions = %+v", paged)
			}

			// A deleted asset keeps its history, newest first.
			if _, err := b.assets.DeleteAsset(ctx, &stratav1.DeleteAssetRequest{Key: "analytics/weekly_report"}); err != nil {
				t.Fatal(err)
			}
			del, err := b.assets.ListAssetRevisions(ctx, &stratav1.ListAssetRevisionsRequest{Key: "analytics/weekly_report"})
			if err != nil {
				t.Fatal(err)
			}
			if len(del.Revisions) != 2 || del.Revisions[0].Change != stratav1.AssetChangeKind_ASSET_CHANGE_KIND_DELETED ||
				del.Revisions[0].Decl != nil || del.Revisions[1].Change != stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CREATED {
				t.Fatalf("deleted asset history = %v", del.Revisions)
			}

			// REST: the custom verb is not taken as part of the key.
			code, body := b.httpDo(t, "GET", "/v1/assets/analytics/sessions:revisions?page_size=2", "", nil)
			revs, _ := body["revisions"].([]any)
			if code != 200 || len(revs) != 2 || body["next_page_token"] == "" {
				t.Fatalf("REST revisions = %d %v", code, body)
			}
			first, _ := revs[0].(map[string]any)
			if first["revision"] != "3" || first["change"] != "ASSET_CHANGE_KIND_CHANGED" || fmt.Sprint(first["changed_fields"]) != "[description owners]" {
				t.Errorf("REST first revision = %v", first)
			}
			if code, _ := b.httpDo(t, "GET", "/v1/assets/analytics%2Fsessions:revisions", "", nil); code != 200 {
				t.Errorf("escaped key: %d", code)
			}
			if code, _ := b.httpDo(t, "GET", "/v1/assets/no/such:revisions", "", nil); code != 404 {
				t.Errorf("unknown asset: %d", code)
			}
			// The asset itself still answers at its key.
			if code, body := b.httpDo(t, "GET", "/v1/assets/analytics/sessions", "", nil); code != 200 || body["asset"] == nil {
				t.Errorf("GET asset = %d %v", code, body)
			}
		})
	}
}

func TestMaterializationHistoryAndRunMaterializations(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			b := setup(t, testOpts{postgres: db == "postgres"})
			ctx := context.Background()
			b.applySample(t)

			report := func(id, pk string, rows int64, loc string) *stratav1.Materialization {
				t.Helper()
				md, _ := structpb.NewStruct(map[string]any{"source": id})
				r, err := b.runs.ReportMaterialization(ctx, &stratav1.ReportMaterializationRequest{ReportId: id,
					Materialization: &stratav1.MaterializationReport{Asset: "analytics/sessions", PartitionKey: pk,
						RowCount: proto.Int64(rows), Bytes: proto.Int64(rows * 100), Location: loc, Metadata: md}})
				if err != nil {
					t.Fatal(err)
				}
				return r.Materialization
			}
			m1 := report("r1", "2026-01-02", 10, "file:///lake/s/2026-01-02/a.parquet")
			m2 := report("r2", "2026-01-03", 20, "file:///lake/s/2026-01-03/a.parquet")
			m3 := report("r3", "2026-01-02", 30, "file:///lake/s/2026-01-02/b.parquet")
			// A legacy row: the location kept in metadata (the materializer's
			// current form), read back as the location, stripped from metadata.
			legacy, err := b.cat.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "analytics/sessions", Partition: "2026-01-04",
				Metadata: json.RawMessage(`{"_strata":{"location":"file:///lake/legacy.parquet"},"team":"web"}`)}})
			if err != nil {
				t.Fatal(err)
			}

			all, err := b.assets.ListMaterializations(ctx, &stratav1.ListMaterializationsRequest{Asset: "analytics/sessions"})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range all.Materializations {
				ids = append(ids, m.Id)
			}
			if want := []string{fmt.Sprint(legacy[0]), m3.Id, m2.Id, m1.Id}; !slices.Equal(ids, want) || all.NextPageToken != "" {
				t.Fatalf("history ids = %v, want %v", ids, want)
			}
			lm := all.Materializations[0]
			if lm.Location != "file:///lake/legacy.parquet" || lm.Metadata.AsMap()["team"] != "web" || lm.Metadata.AsMap()["_strata"] != nil {
				t.Errorf("legacy materialization = %v", lm)
			}
			top := all.Materializations[1]
			if top.Location != "file:///lake/s/2026-01-02/b.parquet" || top.GetRowCount() != 30 || top.GetBytes() != 3000 ||
				top.ReportId != "r3" || len(top.Metadata.AsMap()) != 1 {
				t.Errorf("newest report = %v", top)
			}
			// The location is a column now: metadata holds only the user's.
			stored, err := b.cat.GetMaterialization(ctx, mustID(t, m3.Id))
			if err != nil || stored.Location != "file:///lake/s/2026-01-02/b.parquet" || string(stored.Metadata) != `{"source":"r3"}` {
				t.Errorf("stored = %+v, %v", stored, err)
			}

			one, err := b.assets.ListMaterializations(ctx, &stratav1.ListMaterializationsRequest{Asset: "analytics/sessions", PartitionKey: "2026-01-02"})
			if err != nil || len(one.Materializations) != 2 || one.Materializations[0].Id != m3.Id || one.Materializations[1].Id != m1.Id {
				t.Fatalf("partition history = %v, %v", one, err)
			}
			var paged []string
			tok := ""
			for range 5 {
				p, err := b.assets.ListMaterializations(ctx, &stratav1.ListMaterializationsRequest{Asset: "analytics/sessions", PageSize: 3, PageToken: tok})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range p.Materializations {
					paged = append(paged, m.Id)
				}
				if tok = p.NextPageToken; tok == "" {
					break
				}
			}
			if !slices.Equal(paged, ids) {
				t.Fatalf("paged = %v, want %v", paged, ids)
			}
			// The latest materialization's summary carries the location.
			ga, err := b.assets.GetAsset(ctx, &stratav1.GetAssetRequest{Key: "analytics/sessions"})
			if err != nil || ga.Asset.LatestMaterialization.GetLocation() != "file:///lake/legacy.parquet" {
				t.Errorf("latest = %v, %v", ga.GetAsset().GetLatestMaterialization(), err)
			}

			code, body := b.httpDo(t, "GET", "/v1/assets/analytics/sessions:materializations?partition_key=2026-01-03", "", nil)
			ms, _ := body["materializations"].([]any)
			if code != 200 || len(ms) != 1 || ms[0].(map[string]any)["row_count"] != "20" || ms[0].(map[string]any)["location"] != "file:///lake/s/2026-01-03/a.parquet" {
				t.Fatalf("REST materializations = %d %v", code, body)
			}
			if code, body := b.httpDo(t, "GET", "/v1/assets/analytics/sessions:materializations?partition_key=yesterday", "", nil); code != 400 ||
				!slices.Contains(restViolationFields(body), "partition_key") {
				t.Errorf("REST bad partition = %d %v", code, body)
			}

			// A run's materializations.
			if _, err := b.cat.EnqueueRuns(ctx, []catalog.RunSpec{{Asset: "raw/events", PartitionKeys: []string{"2026-01-05-00:00", "2026-01-05-01:00"}}}); err != nil {
				t.Fatal(err)
			}
			claimed, err := b.cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w1", Lease: time.Minute})
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim = %v, %v", claimed, err)
			}
			r := claimed[0]
			if _, err := b.cat.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: r.Attempt, Owner: "w1", State: catalog.RunSucceeded,
				Materializations: []catalog.Materialization{{Asset: "raw/events", Partition: "2026-01-05-00:00"}, {Asset: "raw/events", Partition: "2026-01-05-01:00"}}}); err != nil {
				t.Fatal(err)
			}
			want, err := b.cat.RunMaterializationIDs(ctx, r.ID)
			if err != nil || len(want) != 2 {
				t.Fatalf("catalog ids = %v, %v", want, err)
			}
			gr, err := b.runs.GetRun(ctx, &stratav1.GetRunRequest{Id: fmt.Sprint(r.ID)})
			if err != nil || !slices.Equal(gr.Run.MaterializationIds, []string{fmt.Sprint(want[0]), fmt.Sprint(want[1])}) {
				t.Fatalf("run materialization ids = %v, want %v (%v)", gr.GetRun().GetMaterializationIds(), want, err)
			}
			code, body = b.httpDo(t, "GET", fmt.Sprintf("/v1/runs/%d", r.ID), "", nil)
			if run, _ := body["run"].(map[string]any); code != 200 || fmt.Sprint(run["materialization_ids"]) != fmt.Sprintf("[%d %d]", want[0], want[1]) {
				t.Errorf("REST run = %d %v", code, body)
			}
			if code, _ := b.httpDo(t, "GET", "/v1/assets/raw/events:materializations?page_size=1", "", nil); code != 200 {
				t.Errorf("REST raw/events materializations: %d", code)
			}
		})
	}
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	var id int64
	if _, err := fmt.Sscan(s, &id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestReportsUseColumns(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	ctx := context.Background()
	b.applySample(t)

	obs := &stratav1.ReportObservationRequest{ReportId: "o1", Asset: "dim/customers", DataVersion: "d1",
		RowCount: proto.Int64(5), Bytes: proto.Int64(500)}
	o1, err := b.runs.ReportObservation(ctx, obs)
	if err != nil || o1.Duplicate || o1.Observation.GetRowCount() != 5 || o1.Observation.GetBytes() != 500 || o1.Observation.ReportId != "o1" {
		t.Fatalf("observation = %v, %v", o1, err)
	}
	stored, err := b.cat.ObservationByClientID(ctx, "dim/customers", "", "o1")
	if err != nil || stored.RowCount == nil || *stored.RowCount != 5 || *stored.ByteCount != 500 || stored.Metadata != nil {
		t.Fatalf("stored observation = %+v, %v", stored, err)
	}
	o2, err := b.runs.ReportObservation(ctx, obs)
	if err != nil || !o2.Duplicate || o2.Observation.Id != o1.Observation.Id {
		t.Fatalf("repeated observation = %v, %v", o2, err)
	}
	chk := &stratav1.ReportCheckResultRequest{ReportId: "c1", Asset: "dim/customers", CheckName: "unique_id", Passed: false,
		Severity: stratav1.CheckSeverity_CHECK_SEVERITY_WARN}
	c1, err := b.runs.ReportCheckResult(ctx, chk)
	if err != nil || c1.Duplicate || c1.Result.ReportId != "c1" {
		t.Fatalf("check = %v, %v", c1, err)
	}
	sc, err := b.cat.CheckResultByClientID(ctx, "dim/customers", "", "c1")
	if err != nil || sc.Metadata != nil || sc.Severity != "warn" {
		t.Fatalf("stored check = %+v, %v", sc, err)
	}
	c2, err := b.runs.ReportCheckResult(ctx, chk)
	if err != nil || !c2.Duplicate || c2.Result.Id != c1.Result.Id {
		t.Fatalf("repeated check = %v, %v", c2, err)
	}
	// User metadata may not use the reserved key.
	md, _ := structpb.NewStruct(map[string]any{"_strata": map[string]any{"location": "x"}})
	_, err = b.runs.ReportMaterialization(ctx, &stratav1.ReportMaterializationRequest{ReportId: "m9",
		Materialization: &stratav1.MaterializationReport{Asset: "dim/customers", Metadata: md}})
	wantCode(t, err, codes.InvalidArgument)
	if !hasField(violations(err), "materialization.metadata") {
		t.Errorf("violations = %v", violations(err))
	}
}

func TestListRunsFiltersInCatalog(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			b := setup(t, testOpts{postgres: db == "postgres"})
			ctx := context.Background()
			b.applySample(t)
			start := time.Now().Add(-time.Minute)
			ids, err := b.cat.EnqueueRuns(ctx, []catalog.RunSpec{
				{Asset: "analytics/sessions", PartitionKeys: []string{"2026-01-02"}},
				{Asset: "analytics/sessions", PartitionKeys: []string{"2026-01-03", "2026-01-02"}},
				{Asset: "analytics/sessions", PartitionKeys: []string{"2026-01-04"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			end := time.Now().Add(time.Minute)
			claimed, err := b.cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "worker-a", Lease: time.Minute})
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim = %v, %v", claimed, err)
			}
			list := func(req *stratav1.ListRunsRequest) []string {
				t.Helper()
				res, err := b.runs.ListRuns(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, r := range res.Runs {
					out = append(out, r.Id)
				}
				return out
			}
			id := func(i int) string { return fmt.Sprint(ids[i]) }
			if got := list(&stratav1.ListRunsRequest{PartitionKey: "2026-01-02"}); !slices.Equal(got, []string{id(1), id(0)}) {
				t.Errorf("by partition = %v", got)
			}
			if got := list(&stratav1.ListRunsRequest{WorkerId: "worker-a"}); !slices.Equal(got, []string{fmt.Sprint(claimed[0].ID)}) {
				t.Errorf("by worker = %v", got)
			}
			if got := list(&stratav1.ListRunsRequest{CreatedAfter: timestamppb.New(start), CreatedBefore: timestamppb.New(end)}); len(got) != 3 {
				t.Errorf("in time range = %v", got)
			}
			if got := list(&stratav1.ListRunsRequest{CreatedAfter: timestamppb.New(end)}); len(got) != 0 {
				t.Errorf("after = %v", got)
			}
			if got := list(&stratav1.ListRunsRequest{PartitionKey: "2026-01-02", PageSize: 1}); len(got) != 1 || got[0] != id(1) {
				t.Errorf("page = %v", got)
			}
			code, body := b.httpDo(t, "GET", "/v1/runs?partition_key=2026-01-04&asset=analytics/sessions", "", nil)
			if runs, _ := body["runs"].([]any); code != 200 || len(runs) != 1 {
				t.Errorf("REST = %d %v", code, body)
			}
		})
	}
}

func TestBackfillColumnsAndAssetCounters(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			b := setup(t, testOpts{postgres: db == "postgres"})
			ctx := context.Background()
			b.applySample(t)
			req := &stratav1.CreateBackfillRequest{Selection: "raw/events", RequestId: "req-7", Description: "January, hour by hour",
				PartitionRange: &stratav1.PartitionKeyRange{Start: "2026-01-05T00:00:00Z", End: "2026-01-07T00:00:00Z"}}
			cr, err := b.backfill.CreateBackfill(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			bf := cr.Backfill
			// raw/events batches 24 partitions per run: 48 partitions, 2 runs.
			if bf.Description != "January, hour by hour" || bf.Progress.Queued != 48 || bf.Progress.Runs != 2 || len(bf.Assets) != 1 {
				t.Fatalf("backfill = %v", bf)
			}
			stored, err := b.cat.BackfillByRequestID(ctx, "req-7")
			if err != nil || fmt.Sprint(stored.ID) != bf.Id || stored.Description != req.Description {
				t.Fatalf("stored = %+v, %v", stored, err)
			}
			again, err := b.backfill.CreateBackfill(ctx, req)
			if err != nil || again.Backfill.Id != bf.Id {
				t.Fatalf("retry = %v, %v", again, err)
			}
			claimed, err := b.cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w", Lease: time.Minute})
			if err != nil || len(claimed) != 1 {
				t.Fatal(err)
			}
			if _, err := b.cat.FinishRun(ctx, catalog.RunResult{RunID: claimed[0].ID, Attempt: 1, State: catalog.RunSucceeded}); err != nil {
				t.Fatal(err)
			}
			gb, err := b.backfill.GetBackfill(ctx, &stratav1.GetBackfillRequest{Id: bf.Id})
			if err != nil {
				t.Fatal(err)
			}
			p := gb.Backfill.Assets[0].Progress
			if gb.Backfill.Assets[0].Asset != "raw/events" || p.Succeeded != 24 || p.Queued != 24 || p.Runs != 2 || p.Total != 48 {
				t.Fatalf("per-asset progress = %v", gb.Backfill.Assets)
			}
			if n, err := b.cat.ListRuns(ctx, catalog.RunFilter{BackfillID: mustID(t, bf.Id)}); err != nil || len(n) != 2 {
				t.Fatalf("runs = %d, %v", len(n), err)
			}
		})
	}
}

// lateStatus reports a late count over the catalog's statuses, as the
// planner-backed status source will.
type lateStatus struct {
	server.StatusSource
	late int64
}

func (l lateStatus) AssetStatus(ctx context.Context, g *asset.Graph, a *asset.Asset, now time.Time) (*server.AssetStatus, error) {
	st, err := l.StatusSource.AssetStatus(ctx, g, a, now)
	if err != nil {
		return nil, err
	}
	if a.Key == "analytics/sessions" {
		st.Counts.Late = l.late
	}
	return st, nil
}

func TestLateCount(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{status: func(c *catalog.Catalog) server.StatusSource {
		return lateStatus{StatusSource: &server.CatalogStatus{Catalog: c}, late: 3}
	}})
	ctx := context.Background()
	b.applySample(t)
	ga, err := b.assets.GetAsset(ctx, &stratav1.GetAssetRequest{Key: "analytics/sessions"})
	if err != nil || ga.Asset.StatusCounts.Late != 3 {
		t.Fatalf("late = %v, %v", ga.GetAsset().GetStatusCounts(), err)
	}
	code, body := b.httpDo(t, "GET", "/v1/assets?selection=analytics/*", "", nil)
	assets, _ := body["assets"].([]any)
	late := map[string]any{}
	for _, a := range assets {
		m := a.(map[string]any)
		late[m["decl"].(map[string]any)["key"].(string)] = m["status_counts"].(map[string]any)["late"]
	}
	if code != 200 || late["analytics/sessions"] != "3" || late["analytics/weekly_report"] != nil {
		t.Fatalf("REST late = %v (%d)", late, code)
	}
	// The interim catalog source cannot tell: 0.
	plain := setup(t, testOpts{})
	plain.applySample(t)
	ga, err = plain.assets.GetAsset(ctx, &stratav1.GetAssetRequest{Key: "analytics/sessions"})
	if err != nil || ga.Asset.StatusCounts.Late != 0 {
		t.Fatalf("interim late = %v, %v", ga.GetAsset().GetStatusCounts(), err)
	}
}
