package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

func TestAssetsLifecycle(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			b := setup(t, testOpts{postgres: db == "postgres"})
			ctx := context.Background()

			// Dry run: the diff, nothing written.
			dry, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: sampleDecls(), DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(dry.Changes) != 4 || !dry.DryRun {
				t.Fatalf("dry run changes = %v", dry.Changes)
			}
			for _, c := range dry.Changes {
				if c.Kind != stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CREATED {
					t.Errorf("dry run %s: %v, want created", c.Key, c.Kind)
				}
			}
			if st := b.state(t); st.rev != 0 || st.keys != "" {
				t.Fatalf("dry run wrote: %+v", st)
			}

			res, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: sampleDecls()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Revision == 0 {
				t.Fatal("no revision after apply")
			}
			// Idempotent.
			again, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: sampleDecls()})
			if err != nil {
				t.Fatal(err)
			}
			if again.Revision != res.Revision {
				t.Errorf("re-apply moved the revision %d -> %d", res.Revision, again.Revision)
			}
			for _, c := range again.Changes {
				if c.Kind != stratav1.AssetChangeKind_ASSET_CHANGE_KIND_UNCHANGED {
					t.Errorf("re-apply %s: %v", c.Key, c.Kind)
				}
			}
			// Changed fields.
			decls := sampleDecls()
			decls[1].CodeVersion = "2"
			changed, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: decls, DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range changed.Changes {
				if c.Key == "analytics/sessions" && (c.Kind != stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CHANGED ||
					strings.Join(c.ChangedFields, ",") != "code_version") {
					t.Errorf("sessions change = %v", c)
				}
			}

			got, err := b.assets.GetAsset(ctx, &stratav1.GetAssetRequest{Key: "analytics/sessions"})
			if err != nil {
				t.Fatal(err)
			}
			a := got.Asset
			if a.Decl.GetDescription() != "Sessions per day" || strings.Join(a.Upstream, ",") != "raw/events" ||
				strings.Join(a.Downstream, ",") != "analytics/weekly_report" {
				t.Errorf("asset = %v", a)
			}
			// 59 full days of January and February plus... the daily partitions up to fixedNow.
			if a.StatusCounts.GetTotal() != 59 || a.StatusCounts.GetMissing() != 59 {
				t.Errorf("status counts = %v", a.StatusCounts)
			}

			// List: selection, query, pages.
			list, err := b.assets.ListAssets(ctx, &stratav1.ListAssetsRequest{Selection: "analytics/*"})
			if err != nil {
				t.Fatal(err)
			}
			if list.TotalSize != 2 || len(list.Assets) != 2 {
				t.Errorf("analytics/* = %d assets", list.TotalSize)
			}
			q, err := b.assets.ListAssets(ctx, &stratav1.ListAssetsRequest{Query: "FINANCE"})
			if err != nil {
				t.Fatal(err)
			}
			if len(q.Assets) != 1 || q.Assets[0].Decl.Key != "analytics/weekly_report" {
				t.Errorf("query finance = %v", q.Assets)
			}
			q, err = b.assets.ListAssets(ctx, &stratav1.ListAssetsRequest{Query: "pii"})
			if err != nil || len(q.Assets) != 1 || q.Assets[0].Decl.Key != "dim/customers" {
				t.Errorf("query pii = %v, %v", q.GetAssets(), err)
			}
			var keys []string
			tok := ""
			for range 10 {
				page, err := b.assets.ListAssets(ctx, &stratav1.ListAssetsRequest{PageSize: 3, PageToken: tok})
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range page.Assets {
					keys = append(keys, a.Decl.Key)
				}
				if tok = page.NextPageToken; tok == "" {
					break
				}
			}
			if strings.Join(keys, ",") != "analytics/sessions,analytics/weekly_report,dim/customers,raw/events" {
				t.Errorf("paged keys = %v", keys)
			}

			// Lineage.
			lin, err := b.lineage.GetLineage(ctx, &stratav1.GetLineageRequest{Selection: "analytics/sessions", UpstreamDepth: -1, DownstreamDepth: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(lin.Nodes) != 3 || len(lin.Edges) != 2 {
				t.Errorf("lineage = %v", lin)
			}

			// Delete: refused while a downstream exists, then allowed.
			_, err = b.assets.DeleteAsset(ctx, &stratav1.DeleteAssetRequest{Key: "raw/events"})
			wantCode(t, err, codes.FailedPrecondition)
			del, err := b.assets.DeleteAsset(ctx, &stratav1.DeleteAssetRequest{Key: "dim/customers"})
			if err != nil {
				t.Fatal(err)
			}
			if del.Revision <= res.Revision {
				t.Errorf("delete revision %d", del.Revision)
			}
			_, err = b.assets.GetAsset(ctx, &stratav1.GetAssetRequest{Key: "dim/customers"})
			wantCode(t, err, codes.NotFound)

			// Prune.
			pr, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: sampleDecls()[:2], Prune: true})
			if err != nil {
				t.Fatal(err)
			}
			var deleted []string
			for _, c := range pr.Changes {
				if c.Kind == stratav1.AssetChangeKind_ASSET_CHANGE_KIND_DELETED {
					deleted = append(deleted, c.Key)
				}
			}
			if strings.Join(deleted, ",") != "analytics/weekly_report" {
				t.Errorf("pruned = %v", deleted)
			}

			// Dynamic partitions.
			add, err := b.assets.AddDynamicPartitions(ctx, &stratav1.AddDynamicPartitionsRequest{Name: "customers", Keys: []string{"acme", "globex"}})
			if err != nil || add.AddedCount != 2 {
				t.Fatalf("add dynamic = %v, %v", add, err)
			}
			ld, err := b.assets.ListDynamicPartitions(ctx, &stratav1.ListDynamicPartitionsRequest{Name: "customers"})
			if err != nil || strings.Join(ld.Keys, ",") != "acme,globex" {
				t.Fatalf("list dynamic = %v, %v", ld, err)
			}

			hc := grpc_health_v1.NewHealthClient(b.conn)
			hr, err := hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{})
			if err != nil || hr.Status != grpc_health_v1.HealthCheckResponse_SERVING {
				t.Errorf("health = %v, %v", hr, err)
			}
		})
	}
}

func TestPartitionStatusesAndReports(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	ctx := context.Background()
	b.applySample(t)

	rep := &stratav1.ReportMaterializationRequest{ReportId: "r1", Materialization: &stratav1.MaterializationReport{
		Asset: "analytics/sessions", PartitionKey: "2026-01-02", DataVersion: "v1", RowCount: proto.Int64(10),
		Location:   "file:///lake/x.parquet",
		Provenance: []*stratav1.ProvenanceInput{{Asset: "raw/events", PartitionKey: "2026-01-02-00:00", DataVersion: "e1"}},
	}}
	m1, err := b.runs.ReportMaterialization(ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if m1.Duplicate || m1.Materialization.GetLocation() != "file:///lake/x.parquet" || m1.Materialization.GetCodeVersion() != "1" {
		t.Errorf("report = %v", m1)
	}
	m2, err := b.runs.ReportMaterialization(ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if !m2.Duplicate || m2.Materialization.GetId() != m1.Materialization.GetId() {
		t.Errorf("second report recorded a new materialization %s != %s", m2.Materialization.GetId(), m1.Materialization.GetId())
	}
	// Bad partition key.
	bad := proto.Clone(rep).(*stratav1.ReportMaterializationRequest)
	bad.ReportId = "r2"
	bad.Materialization.PartitionKey = "yesterday"
	_, err = b.runs.ReportMaterialization(ctx, bad)
	wantCode(t, err, codes.InvalidArgument)
	if !hasField(violations(err), "materialization.partition_key") {
		t.Errorf("violations = %v", violations(err))
	}

	ls, err := b.parts.ListPartitionStatuses(ctx, &stratav1.ListPartitionStatusesRequest{Asset: "analytics/sessions",
		Statuses: []stratav1.PartitionStatus{stratav1.PartitionStatus_PARTITION_STATUS_FRESH}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Partitions) != 1 || ls.Partitions[0].PartitionKey != "2026-01-02" || ls.Counts.Fresh != 1 || ls.Counts.Missing != 58 {
		t.Errorf("statuses = %v", ls)
	}
	all, err := b.parts.ListPartitionStatuses(ctx, &stratav1.ListPartitionStatusesRequest{Asset: "analytics/sessions", PageSize: 2})
	if err != nil || len(all.Partitions) != 2 || all.NextPageToken == "" || all.Partitions[1].Status != stratav1.PartitionStatus_PARTITION_STATUS_FRESH {
		t.Errorf("page = %v, %v", all, err)
	}
	h, err := b.parts.GetPartitionHealth(ctx, &stratav1.GetPartitionHealthRequest{Asset: "analytics/sessions"})
	if err != nil || len(h.Ranges) != 3 || h.Counts.Total != 59 {
		t.Errorf("health = %v, %v", h, err)
	}
	ex, err := b.parts.ExplainPartition(ctx, &stratav1.ExplainPartitionRequest{Asset: "analytics/sessions", PartitionKey: "2026-01-02"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Upstreams) != 24 || ex.Upstreams[0].ConsumedDataVersion != "e1" {
		t.Errorf("explain upstreams = %d, first %v", len(ex.Upstreams), ex.GetUpstreams())
	}
	// Code version change makes it stale.
	decls := sampleDecls()
	decls[1].CodeVersion = "2"
	if _, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: decls}); err != nil {
		t.Fatal(err)
	}
	ex, err = b.parts.ExplainPartition(ctx, &stratav1.ExplainPartitionRequest{Asset: "analytics/sessions", PartitionKey: "2026-01-02"})
	if err != nil || ex.Status.Status != stratav1.PartitionStatus_PARTITION_STATUS_STALE {
		t.Errorf("explain after code change = %v, %v", ex, err)
	}

	prov, err := b.lineage.GetProvenance(ctx, &stratav1.GetProvenanceRequest{Asset: "analytics/sessions", PartitionKey: "2026-01-02"})
	if err != nil || prov.Root.GetId() != m1.Materialization.GetId() || len(prov.Edges) != 1 {
		t.Errorf("provenance = %v, %v", prov, err)
	}

	obs := &stratav1.ReportObservationRequest{ReportId: "o1", Asset: "dim/customers", DataVersion: "d1", RowCount: proto.Int64(5)}
	o1, err := b.runs.ReportObservation(ctx, obs)
	if err != nil || o1.Duplicate || o1.Observation.GetRowCount() != 5 {
		t.Fatalf("observation = %v, %v", o1, err)
	}
	o2, err := b.runs.ReportObservation(ctx, obs)
	if err != nil || !o2.Duplicate || o2.Observation.GetId() != o1.Observation.GetId() {
		t.Errorf("repeated observation = %v, %v", o2, err)
	}
	chk := &stratav1.ReportCheckResultRequest{ReportId: "c1", Asset: "dim/customers", CheckName: "not_null", Passed: true}
	c1, err := b.runs.ReportCheckResult(ctx, chk)
	if err != nil || c1.Duplicate {
		t.Fatalf("check = %v, %v", c1, err)
	}
	c2, err := b.runs.ReportCheckResult(ctx, chk)
	if err != nil || !c2.Duplicate || c2.Result.GetId() != c1.Result.GetId() {
		t.Errorf("repeated check = %v, %v", c2, err)
	}
}

func TestBackfills(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			b := setup(t, testOpts{postgres: db == "postgres"})
			ctx := context.Background()
			b.applySample(t)

			// A week of daily keys maps to 168 hourly partitions (7 runs of
			// 24), 7 daily ones and the 2 weekly ones (from Sundays) that overlap it.
			req := &stratav1.CreateBackfillRequest{Selection: "*", DryRun: true,
				PartitionRange: &stratav1.PartitionKeyRange{Start: "2026-01-05", End: "2026-01-11"}}
			dry, err := b.backfill.CreateBackfill(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, a := range dry.Backfill.Assets {
				got[a.Asset] = fmt.Sprintf("%d/%d", a.Progress.Queued, a.Progress.Runs)
			}
			want := map[string]string{"raw/events": "168/7", "analytics/sessions": "7/7", "analytics/weekly_report": "2/2", "dim/customers": "1/1"}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("dry run %s = %s, want %s (all: %v)", k, got[k], v, got)
				}
			}
			if st := b.state(t); st.runs != 0 || st.bfs != 0 {
				t.Fatalf("dry run enqueued: %+v", st)
			}
			// RFC 3339 span: the same.
			dry2, err := b.backfill.CreateBackfill(ctx, &stratav1.CreateBackfillRequest{Selection: "raw/events", DryRun: true,
				PartitionRange: &stratav1.PartitionKeyRange{Start: "2026-01-05T00:00:00Z", End: "2026-01-05T06:00:00Z"}})
			if err != nil || dry2.Backfill.Progress.Queued != 6 {
				t.Errorf("rfc3339 dry run = %v, %v", dry2, err)
			}

			req.DryRun = false
			req.Priority = 5
			req.RequestId = "req-1"
			cr, err := b.backfill.CreateBackfill(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			bf := cr.Backfill
			if bf.Id == "" || bf.State != stratav1.BackfillState_BACKFILL_STATE_RUNNING || bf.Progress.Queued != 178 || bf.Progress.Runs != 17 {
				t.Fatalf("backfill = %v", bf)
			}
			again, err := b.backfill.CreateBackfill(ctx, req)
			if err != nil || again.Backfill.Id != bf.Id {
				t.Errorf("same request id made a new backfill: %v, %v", again.GetBackfill().GetId(), err)
			}

			// A worker fails one run.
			claimed, err := b.cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w1", Lease: 60e9, Limit: 1})
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim = %v, %v", claimed, err)
			}
			if _, err := b.cat.FinishRun(ctx, catalog.RunResult{RunID: claimed[0].ID, Attempt: claimed[0].Attempt, Owner: "w1",
				State: catalog.RunFailed, Error: "boom", Log: "line one\nline two\n"}); err != nil {
				t.Fatal(err)
			}
			runID := fmt.Sprint(claimed[0].ID)
			logs, err := b.runs.GetRunLogs(ctx, &stratav1.GetRunLogsRequest{Id: runID})
			if err != nil || len(logs.Lines) != 2 || logs.Lines[1].Text != "line two" {
				t.Errorf("logs = %v, %v", logs, err)
			}
			run, err := b.runs.GetRun(ctx, &stratav1.GetRunRequest{Id: runID})
			if err != nil || run.Run.State != stratav1.RunState_RUN_STATE_FAILED || run.Run.BackfillId != bf.Id {
				t.Errorf("run = %v, %v", run, err)
			}
			lr, err := b.runs.ListRuns(ctx, &stratav1.ListRunsRequest{BackfillId: bf.Id, States: []stratav1.RunState{stratav1.RunState_RUN_STATE_QUEUED}, PageSize: 10})
			if err != nil || len(lr.Runs) != 10 || lr.NextPageToken == "" {
				t.Errorf("list runs = %d, %v", len(lr.GetRuns()), err)
			}

			gb, err := b.backfill.GetBackfill(ctx, &stratav1.GetBackfillRequest{Id: bf.Id})
			if err != nil {
				t.Fatal(err)
			}
			failed := claimed[0].PartitionKeys
			if gb.Backfill.Progress.Failed != int64(len(failed)) {
				t.Errorf("progress = %v", gb.Backfill.Progress)
			}

			cb, err := b.backfill.CancelBackfill(ctx, &stratav1.CancelBackfillRequest{Id: bf.Id})
			if err != nil {
				t.Fatal(err)
			}
			if cb.Backfill.State != stratav1.BackfillState_BACKFILL_STATE_CANCELED || cb.Backfill.Progress.Queued != 0 {
				t.Errorf("cancelled = %v", cb.Backfill)
			}
			rb, err := b.backfill.RetryBackfill(ctx, &stratav1.RetryBackfillRequest{Id: bf.Id})
			if err != nil {
				t.Fatal(err)
			}
			if rb.Backfill.RetryOfId != bf.Id || rb.Backfill.Progress.Queued != int64(len(failed)) {
				t.Errorf("retry = %v", rb.Backfill)
			}
			list, err := b.backfill.ListBackfills(ctx, &stratav1.ListBackfillsRequest{})
			if err != nil || len(list.Backfills) != 2 || list.Backfills[0].Id != rb.Backfill.Id {
				t.Errorf("list backfills = %v, %v", list, err)
			}
			// Failed filter picks the failed partitions.
			fd, err := b.backfill.CreateBackfill(ctx, &stratav1.CreateBackfillRequest{Selection: string(claimed[0].Asset), DryRun: true,
				Filter: stratav1.BackfillFilter_BACKFILL_FILTER_FAILED})
			if err != nil {
				t.Fatal(err)
			}
			_ = fd // the retry's runs are queued now: running partitions are skipped
		})
	}
}

func TestREST(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})

	code, body := b.httpDo(t, "POST", "/v1/assets:apply", "", map[string]any{"assets": []any{
		map[string]any{"key": "raw/orders", "partitions": map[string]any{"static": []string{"eu", "us"}}},
		map[string]any{"key": "kafka/partitions", "deps": []any{map[string]any{"asset": "raw/orders"}}},
	}})
	if code != http.StatusOK {
		t.Fatalf("apply = %d %v", code, body)
	}
	changes, _ := body["changes"].([]any)
	if len(changes) != 2 {
		t.Fatalf("changes = %v", body)
	}
	code, body = b.httpDo(t, "GET", "/v1/assets/kafka/partitions", "", nil)
	if code != http.StatusOK || body["asset"].(map[string]any)["decl"].(map[string]any)["key"] != "kafka/partitions" {
		t.Errorf("get = %d %v", code, body)
	}
	code, body = b.httpDo(t, "GET", "/v1/assets/raw%2Forders", "", nil)
	if code != http.StatusOK {
		t.Errorf("get escaped = %d %v", code, body)
	}
	code, body = b.httpDo(t, "GET", "/v1/assets/raw/orders:partitions", "", nil)
	if code != http.StatusOK || len(body["partitions"].([]any)) != 2 {
		t.Errorf("partitions = %d %v", code, body)
	}
	code, _ = b.httpDo(t, "GET", "/v1/assets/no/such", "", nil)
	if code != http.StatusNotFound {
		t.Errorf("unknown asset = %d", code)
	}
	code, body = b.httpDo(t, "GET", "/v1/assets?selection=raw/*", "", nil)
	if code != http.StatusOK || body["total_size"] != float64(1) {
		t.Errorf("list = %d %v", code, body)
	}
	code, body = b.httpDo(t, "GET", "/v1/lineage?selection=raw/orders&downstream_depth=1", "", nil)
	if code != http.StatusOK || len(body["edges"].([]any)) != 1 {
		t.Errorf("lineage = %d %v", code, body)
	}
	code, body = b.httpDo(t, "POST", "/v1/backfills", "", map[string]any{"selection": "raw/orders", "partition_keys": []string{"eu"}})
	if code != http.StatusOK {
		t.Fatalf("backfill = %d %v", code, body)
	}
	id := body["backfill"].(map[string]any)["id"].(string)
	code, body = b.httpDo(t, "GET", "/v1/backfills/"+id, "", nil)
	if code != http.StatusOK || body["backfill"].(map[string]any)["state"] != "BACKFILL_STATE_RUNNING" {
		t.Errorf("get backfill = %d %v", code, body)
	}
	code, body = b.httpDo(t, "GET", "/v1/runs?backfill_id="+id, "", nil)
	runs, _ := body["runs"].([]any)
	if code != http.StatusOK || len(runs) != 1 {
		t.Fatalf("runs = %d %v", code, body)
	}
	runID := runs[0].(map[string]any)["id"].(string)
	code, body = b.httpDo(t, "GET", "/v1/runs/"+runID+"/logs", "", nil)
	if code != http.StatusOK {
		t.Errorf("logs = %d %v", code, body)
	}
	code, body = b.httpDo(t, "GET", "/v1/runs/"+runID+"/logs:stream", "", nil)
	if code != http.StatusOK {
		t.Errorf("log stream = %d %v", code, body)
	}

	code, body = b.httpDo(t, "GET", "/openapi.json", "", nil)
	if code != http.StatusOK || body["swagger"] == nil {
		t.Errorf("openapi = %d", code)
	}
	code, body = b.httpDo(t, "GET", "/healthz", "", nil)
	if code != http.StatusOK {
		t.Errorf("healthz = %d %v", code, body)
	}
	code, body = b.httpDo(t, "GET", "/metrics", "", nil)
	raw, _ := body["_raw"].(string)
	if code != http.StatusOK || !strings.Contains(raw, `strata_api_requests_total{code="OK",method="/strata.v1.AssetService/ApplyAssets"} 1`) {
		t.Errorf("metrics = %d %s", code, raw)
	}
	code, _ = b.httpDo(t, "GET", "/", "", nil)
	if code != http.StatusNotFound {
		t.Errorf("ui = %d", code)
	}
}
