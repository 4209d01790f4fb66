package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/server"
)

const (
	adminToken  = "admin-secret"
	editorToken = "editor-secret"
	viewerToken = "viewer-secret"
)

func testTokens() []server.Token {
	return []server.Token{
		{Token: adminToken, Role: server.RoleAdmin, Name: "ada"},
		{Token: editorToken, Role: server.RoleEditor, Name: "ed"},
		{Token: viewerToken, Role: server.RoleViewer, Name: "vi"},
	}
}

type badCase struct {
	name  string
	grpc  func(ctx context.Context, b *testBundle) error
	rest  func(t *testing.T, b *testBundle) (int, map[string]any)
	code  codes.Code
	http  int
	field string // the BadRequest field to find; "" means no check
	msg   string // a substring of the message; "" means no check
}

func apply(assets ...*stratav1.AssetDecl) func(ctx context.Context, b *testBundle) error {
	return func(ctx context.Context, b *testBundle) error {
		_, err := b.assets.ApplyAssets(withToken(ctx, adminToken), &stratav1.ApplyAssetsRequest{Assets: assets})
		return err
	}
}

func hourly(key string, deps ...*stratav1.DepDecl) *stratav1.AssetDecl {
	return &stratav1.AssetDecl{Key: key, Deps: deps,
		Partitions: &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Schedule: "hourly", Start: "2026-01-01-00:00"}}}
}

func dep(key string) *stratav1.DepDecl { return &stratav1.DepDecl{Asset: key} }

func badCases() []badCase {
	admin := func(ctx context.Context) context.Context { return withToken(ctx, adminToken) }
	bigEnv := map[string]string{}
	for i := range 17 {
		bigEnv[fmt.Sprintf("V%d", i)] = strings.Repeat("x", 1<<20)
	}
	many := make([]*stratav1.AssetDecl, 10001)
	for i := range many {
		many[i] = &stratav1.AssetDecl{Key: fmt.Sprintf("bulk/a%d", i)}
	}
	breaking := sampleDecls()[0]
	breaking.Partitions = &stratav1.PartitionsDecl{Static: []string{"eu", "us"}}
	staticBad, _ := structpb.NewList([]any{1.0})

	return []badCase{
		{name: "cycle", grpc: apply(&stratav1.AssetDecl{Key: "c/a", Deps: []*stratav1.DepDecl{dep("c/b")}}, &stratav1.AssetDecl{Key: "c/b", Deps: []*stratav1.DepDecl{dep("c/a")}}),
			code: codes.InvalidArgument, field: "assets[0].deps[0].asset", msg: "cycle"},
		{name: "self dependency", grpc: apply(&stratav1.AssetDecl{Key: "c/self", Deps: []*stratav1.DepDecl{dep("c/self")}}),
			code: codes.InvalidArgument, field: "assets[0].deps[0].asset", msg: "itself"},
		{name: "unknown dep", grpc: apply(&stratav1.AssetDecl{Key: "c/x", Deps: []*stratav1.DepDecl{dep("c/nope")}}),
			code: codes.InvalidArgument, field: "assets[0].deps[0].asset", msg: "unknown asset"},
		{name: "bad cron", grpc: apply(&stratav1.AssetDecl{Key: "c/cron", Partitions: &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Cron: "61 * * * *", Start: "2026-01-01"}}}),
			code: codes.InvalidArgument, field: "assets[0].partitions.time_window.cron"},
		{name: "bad timezone", grpc: apply(&stratav1.AssetDecl{Key: "c/tz", Partitions: &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Schedule: "daily", Start: "2026-01-01", Timezone: "Mars/Base"}}}),
			code: codes.InvalidArgument, field: "assets[0].partitions.time_window.timezone"},
		{name: "bad key", grpc: apply(&stratav1.AssetDecl{Key: "Bad Key"}), code: codes.InvalidArgument, field: "assets[0].key"},
		{name: "empty key", grpc: apply(&stratav1.AssetDecl{Key: ""}), code: codes.InvalidArgument, field: "assets[0].key"},
		{name: "empty key segment", grpc: apply(&stratav1.AssetDecl{Key: "a//b"}), code: codes.InvalidArgument, field: "assets[0].key"},
		{name: "duplicate key", grpc: apply(&stratav1.AssetDecl{Key: "c/d"}, &stratav1.AssetDecl{Key: "c/d"}), code: codes.InvalidArgument, field: "assets[1].key"},
		{name: "bad duration", grpc: apply(&stratav1.AssetDecl{Key: "c/t", Compute: &stratav1.ComputeDecl{Command: []string{"true"}, Timeout: "soon"}}),
			code: codes.InvalidArgument, field: "assets[0].compute.timeout"},
		{name: "bad memory", grpc: apply(&stratav1.AssetDecl{Key: "c/m", Resources: &stratav1.ResourcesDecl{Memory: "lots"}}),
			code: codes.InvalidArgument, field: "assets[0].resources.memory"},
		{name: "mapping does not fit", grpc: apply(&stratav1.AssetDecl{Key: "c/up", Partitions: &stratav1.PartitionsDecl{Static: []string{"eu"}}},
			hourly("c/down", &stratav1.DepDecl{Asset: "c/up",
				Mapping: &stratav1.MappingDecl{TimeWindow: &stratav1.TimeWindowMappingDecl{StartOffset: -1}}})),
			code: codes.InvalidArgument, field: "assets[1].deps[0].mapping.time_window"},
		{name: "static mapping value not a string", grpc: apply(&stratav1.AssetDecl{Key: "c/s", Partitions: &stratav1.PartitionsDecl{Static: []string{"eu"}}},
			&stratav1.AssetDecl{Key: "c/s2", Partitions: &stratav1.PartitionsDecl{Static: []string{"eu"}},
				Deps: []*stratav1.DepDecl{{Asset: "c/s", Mapping: &stratav1.MappingDecl{Static: map[string]*structpb.ListValue{"eu": staticBad}}}}}),
			code: codes.InvalidArgument, field: `assets[1].deps[0].mapping.static["eu"][0]`},
		{name: "two partition kinds", grpc: apply(&stratav1.AssetDecl{Key: "c/two", Partitions: &stratav1.PartitionsDecl{Static: []string{"a"}, Dynamic: &stratav1.DynamicDecl{Name: "d"}}}),
			code: codes.InvalidArgument, field: "assets[0].partitions"},
		{name: "more than 10000 assets", grpc: apply(many...), code: codes.InvalidArgument, field: "assets", msg: "10001"},
		{name: "more than 16 MiB", grpc: apply(&stratav1.AssetDecl{Key: "c/big", Compute: &stratav1.ComputeDecl{Command: []string{"true"}, Env: bigEnv}}),
			code: codes.InvalidArgument, field: "assets", msg: "bytes"},
		{name: "breaks a catalog asset", grpc: apply(breaking), code: codes.InvalidArgument, field: "assets", msg: "analytics/sessions"},
		{name: "apply without token", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: []*stratav1.AssetDecl{{Key: "c/ok"}}})
			return err
		}, code: codes.Unauthenticated},
		{name: "apply with unknown token", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ApplyAssets(withToken(ctx, "guess"), &stratav1.ApplyAssetsRequest{Assets: []*stratav1.AssetDecl{{Key: "c/ok"}}})
			return err
		}, code: codes.Unauthenticated},
		{name: "apply with viewer token", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ApplyAssets(withToken(ctx, viewerToken), &stratav1.ApplyAssetsRequest{Assets: []*stratav1.AssetDecl{{Key: "c/ok"}}})
			return err
		}, code: codes.PermissionDenied},
		{name: "prune with editor token", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ApplyAssets(withToken(ctx, editorToken), &stratav1.ApplyAssetsRequest{Assets: sampleDecls(), Prune: true})
			return err
		}, code: codes.PermissionDenied},
		{name: "delete with editor token", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.DeleteAsset(withToken(ctx, editorToken), &stratav1.DeleteAssetRequest{Key: "dim/customers"})
			return err
		}, code: codes.PermissionDenied},
		{name: "backfill with viewer token", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.backfill.CreateBackfill(withToken(ctx, viewerToken), &stratav1.CreateBackfillRequest{Selection: "*"})
			return err
		}, code: codes.PermissionDenied},
		{name: "read without token", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListAssets(ctx, &stratav1.ListAssetsRequest{})
			return err
		}, code: codes.Unauthenticated},
		{name: "bad page token", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListAssets(admin(ctx), &stratav1.ListAssetsRequest{PageToken: "!!not-a-token"})
			return err
		}, code: codes.InvalidArgument, field: "page_token"},
		{name: "negative page size", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListAssets(admin(ctx), &stratav1.ListAssetsRequest{PageSize: -1})
			return err
		}, code: codes.InvalidArgument, field: "page_size"},
		{name: "bad selection syntax", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListAssets(admin(ctx), &stratav1.ListAssetsRequest{Selection: "analytics/* and (raw"})
			return err
		}, code: codes.InvalidArgument, field: "selection", msg: "position"},
		{name: "unknown asset", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.GetAsset(admin(ctx), &stratav1.GetAssetRequest{Key: "no/such"})
			return err
		}, code: codes.NotFound},
		{name: "get asset bad key", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.GetAsset(admin(ctx), &stratav1.GetAssetRequest{Key: "No Such"})
			return err
		}, code: codes.InvalidArgument, field: "key"},
		{name: "delete unknown asset", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.DeleteAsset(admin(ctx), &stratav1.DeleteAssetRequest{Key: "no/such"})
			return err
		}, code: codes.NotFound},
		{name: "delete asset with downstream", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.DeleteAsset(admin(ctx), &stratav1.DeleteAssetRequest{Key: "raw/events"})
			return err
		}, code: codes.FailedPrecondition},
		{name: "lineage of unknown asset", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.lineage.GetLineage(admin(ctx), &stratav1.GetLineageRequest{Selection: "+no/such"})
			return err
		}, code: codes.NotFound},
		{name: "backfill without selection", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.backfill.CreateBackfill(admin(ctx), &stratav1.CreateBackfillRequest{})
			return err
		}, code: codes.InvalidArgument, field: "selection"},
		{name: "backfill range and keys", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.backfill.CreateBackfill(admin(ctx), &stratav1.CreateBackfillRequest{Selection: "*",
				PartitionRange: &stratav1.PartitionKeyRange{Start: "2026-01-01", End: "2026-01-02"}, PartitionKeys: []string{"2026-01-01"}})
			return err
		}, code: codes.InvalidArgument, field: "partition_keys"},
		{name: "backfill bad range", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.backfill.CreateBackfill(admin(ctx), &stratav1.CreateBackfillRequest{Selection: "analytics/sessions",
				PartitionRange: &stratav1.PartitionKeyRange{Start: "yesterday", End: "today"}})
			return err
		}, code: codes.InvalidArgument, field: "partition_range.start"},
		{name: "backfill unknown key", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.backfill.CreateBackfill(admin(ctx), &stratav1.CreateBackfillRequest{Selection: "analytics/sessions", PartitionKeys: []string{"1999-01-01"}})
			return err
		}, code: codes.InvalidArgument, field: "partition_keys[0]"},
		{name: "backfill empty key", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.backfill.CreateBackfill(admin(ctx), &stratav1.CreateBackfillRequest{Selection: "*", PartitionKeys: []string{""}})
			return err
		}, code: codes.InvalidArgument, field: "partition_keys[0]"},
		{name: "backfill bad id", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.backfill.GetBackfill(admin(ctx), &stratav1.GetBackfillRequest{Id: "abc"})
			return err
		}, code: codes.InvalidArgument, field: "id"},
		{name: "unknown backfill", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.backfill.CancelBackfill(admin(ctx), &stratav1.CancelBackfillRequest{Id: "999"})
			return err
		}, code: codes.NotFound},
		{name: "revisions bad page token", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListAssetRevisions(admin(ctx), &stratav1.ListAssetRevisionsRequest{Key: "raw/events", PageToken: "!!not-a-token"})
			return err
		}, code: codes.InvalidArgument, field: "page_token"},
		{name: "revisions token of another list", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListAssetRevisions(admin(ctx), &stratav1.ListAssetRevisionsRequest{Key: "raw/events", PageToken: "bWF0ZXJpYWxpemF0aW9uczox"})
			return err
		}, code: codes.InvalidArgument, field: "page_token"},
		{name: "revisions of unknown asset", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListAssetRevisions(admin(ctx), &stratav1.ListAssetRevisionsRequest{Key: "no/such"})
			return err
		}, code: codes.NotFound},
		{name: "revisions bad key", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListAssetRevisions(admin(ctx), &stratav1.ListAssetRevisionsRequest{Key: "No Such"})
			return err
		}, code: codes.InvalidArgument, field: "key"},
		{name: "revisions negative page size", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListAssetRevisions(admin(ctx), &stratav1.ListAssetRevisionsRequest{Key: "raw/events", PageSize: -1})
			return err
		}, code: codes.InvalidArgument, field: "page_size"},
		{name: "materializations bad page token", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListMaterializations(admin(ctx), &stratav1.ListMaterializationsRequest{Asset: "raw/events", PageToken: "!!not-a-token"})
			return err
		}, code: codes.InvalidArgument, field: "page_token"},
		{name: "materializations of unknown asset", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListMaterializations(admin(ctx), &stratav1.ListMaterializationsRequest{Asset: "no/such"})
			return err
		}, code: codes.NotFound},
		{name: "materializations without asset", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListMaterializations(admin(ctx), &stratav1.ListMaterializationsRequest{})
			return err
		}, code: codes.InvalidArgument, field: "asset"},
		{name: "materializations bad partition key", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListMaterializations(admin(ctx), &stratav1.ListMaterializationsRequest{Asset: "raw/events", PartitionKey: "yesterday"})
			return err
		}, code: codes.InvalidArgument, field: "partition_key"},
		{name: "materializations partition of unpartitioned asset", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.ListMaterializations(admin(ctx), &stratav1.ListMaterializationsRequest{Asset: "dim/customers", PartitionKey: "eu"})
			return err
		}, code: codes.InvalidArgument, field: "partition_key"},
		{name: "report with reserved metadata key", grpc: func(ctx context.Context, b *testBundle) error {
			md, _ := structpb.NewStruct(map[string]any{"_strata": "x"})
			_, err := b.runs.ReportMaterialization(admin(ctx), &stratav1.ReportMaterializationRequest{ReportId: "m1",
				Materialization: &stratav1.MaterializationReport{Asset: "dim/customers", Metadata: md}})
			return err
		}, code: codes.InvalidArgument, field: "materialization.metadata", msg: "reserved"},
		{name: "unknown run", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.runs.CancelRun(admin(ctx), &stratav1.CancelRunRequest{Id: "999"})
			return err
		}, code: codes.NotFound},
		{name: "report without id", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.runs.ReportMaterialization(admin(ctx), &stratav1.ReportMaterializationRequest{
				Materialization: &stratav1.MaterializationReport{Asset: "dim/customers"}})
			return err
		}, code: codes.InvalidArgument, field: "report_id"},
		{name: "report unknown asset", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.runs.ReportMaterialization(admin(ctx), &stratav1.ReportMaterializationRequest{ReportId: "x",
				Materialization: &stratav1.MaterializationReport{Asset: "no/such"}})
			return err
		}, code: codes.NotFound},
		{name: "report negative rows", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.runs.ReportMaterialization(admin(ctx), &stratav1.ReportMaterializationRequest{ReportId: "x",
				Materialization: &stratav1.MaterializationReport{Asset: "dim/customers", RowCount: proto.Int64(-1)}})
			return err
		}, code: codes.InvalidArgument, field: "materialization.row_count"},
		{name: "explain bad partition", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.parts.ExplainPartition(admin(ctx), &stratav1.ExplainPartitionRequest{Asset: "analytics/sessions", PartitionKey: "someday"})
			return err
		}, code: codes.InvalidArgument, field: "partition_key"},
		{name: "statuses of unknown asset", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.parts.ListPartitionStatuses(admin(ctx), &stratav1.ListPartitionStatusesRequest{Asset: "no/such"})
			return err
		}, code: codes.NotFound},
		{name: "dynamic empty key", grpc: func(ctx context.Context, b *testBundle) error {
			_, err := b.assets.AddDynamicPartitions(admin(ctx), &stratav1.AddDynamicPartitionsRequest{Name: "d", Keys: []string{"a", ""}})
			return err
		}, code: codes.InvalidArgument, field: "keys[1]"},

		// REST: the same checks answered as HTTP statuses.
		{name: "rest wrong type", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "POST", "/v1/assets:apply", adminToken, `{"assets":[{"key":"c/a"},{"key":"c/b","partitions":{"time_window":{"schedule":"hourly","start":"2026-01-01-00:00","minute_offset":"soon"}}}]}`)
		}, http: http.StatusBadRequest, field: "assets[1].partitions.time_window.minute_offset"},
		{name: "rest list as string", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "POST", "/v1/assets:apply", adminToken, `{"assets":[{"key":"c/a","owners":"me"}]}`)
		}, http: http.StatusBadRequest, field: "assets[0].owners"},
		{name: "rest unknown field", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "POST", "/v1/assets:apply", adminToken, `{"assets":[{"key":"c/a","colour":"blue"}]}`)
		}, http: http.StatusBadRequest, field: "assets[0].colour"},
		{name: "rest not json", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "POST", "/v1/assets:apply", adminToken, `{"assets":[`)
		}, http: http.StatusBadRequest, field: "body"},
		{name: "rest body over 16 MiB", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "POST", "/v1/assets:apply", adminToken, `{"assets":[{"key":"c/a","description":"`+strings.Repeat("x", 17<<20)+`"}]}`)
		}, http: http.StatusBadRequest, field: "request"},
		{name: "rest cycle", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "POST", "/v1/assets:apply", adminToken, `{"assets":[{"key":"c/a","deps":[{"asset":"c/b"}]},{"key":"c/b","deps":[{"asset":"c/a"}]}]}`)
		}, http: http.StatusBadRequest, field: "assets[0].deps[0].asset"},
		{name: "rest apply without token", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "POST", "/v1/assets:apply", "", `{"assets":[{"key":"c/a"}]}`)
		}, http: http.StatusUnauthorized},
		{name: "rest apply with viewer token", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "POST", "/v1/assets:apply", viewerToken, `{"assets":[{"key":"c/a"}]}`)
		}, http: http.StatusForbidden},
		{name: "rest unknown asset", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "GET", "/v1/assets/no/such", viewerToken, nil)
		}, http: http.StatusNotFound},
		{name: "rest bad page size", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "GET", "/v1/assets?page_size=many", viewerToken, nil)
		}, http: http.StatusBadRequest},
		{name: "rest revisions of unknown asset", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "GET", "/v1/assets/no/such:revisions", viewerToken, nil)
		}, http: http.StatusNotFound},
		{name: "rest materializations bad page token", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "GET", "/v1/assets/raw/events:materializations?page_token=zz", viewerToken, nil)
		}, http: http.StatusBadRequest, field: "page_token"},
		{name: "rest materializations bad partition key", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "GET", "/v1/assets/raw/events:materializations?partition_key=2026", viewerToken, nil)
		}, http: http.StatusBadRequest, field: "partition_key"},
		{name: "rest delete with editor token", rest: func(t *testing.T, b *testBundle) (int, map[string]any) {
			return b.httpDo(t, "DELETE", "/v1/assets/dim/customers", editorToken, nil)
		}, http: http.StatusForbidden},
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			b := setup(t, testOpts{postgres: db == "postgres", tokens: testTokens()})
			ctx := context.Background()
			if _, err := b.assets.ApplyAssets(withToken(ctx, adminToken), &stratav1.ApplyAssetsRequest{Assets: sampleDecls()}); err != nil {
				t.Fatal(err)
			}
			before := b.state(t)
			cases := badCases()
			if len(cases) < 30 {
				t.Fatalf("only %d cases", len(cases))
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					if tc.grpc != nil {
						err := tc.grpc(ctx, b)
						if status.Code(err) != tc.code {
							t.Fatalf("code = %v (%v), want %v", status.Code(err), err, tc.code)
						}
						if tc.field != "" && !hasField(violations(err), tc.field) {
							t.Errorf("violations = %v, want field %s", violations(err), tc.field)
						}
						if tc.msg != "" && !strings.Contains(status.Convert(err).Message(), tc.msg) {
							t.Errorf("message %q does not mention %q", status.Convert(err).Message(), tc.msg)
						}
					} else {
						code, body := tc.rest(t, b)
						if code != tc.http {
							t.Fatalf("status = %d (%v), want %d", code, body, tc.http)
						}
						if tc.field != "" {
							fields := restViolationFields(body)
							found := false
							for _, f := range fields {
								found = found || f == tc.field
							}
							if !found {
								t.Errorf("fields = %v (%v), want %s", fields, body, tc.field)
							}
						}
					}
					if after := b.state(t); after != before {
						t.Fatalf("catalog changed: %+v -> %+v", before, after)
					}
				})
			}
		})
	}
}
