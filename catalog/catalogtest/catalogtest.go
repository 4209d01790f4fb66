// Package catalogtest is the catalog's conformance suite: every behaviour of
// package catalog, run against each database (River's riverdrivertest
// pattern). Exercise is called by the catalog's own tests once per dialect.
package catalogtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
)

// Opener returns a fresh, empty catalog for one test; it registers its own
// cleanup (Close, dropping the schema or removing the file).
type Opener func(t *testing.T) *catalog.Catalog

// Exercise runs the conformance suite against catalogs made by open.
func Exercise(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c *catalog.Catalog)
	}{
		{"ApplyIdempotentAndRevisions", testApplyIdempotent},
		{"ApplyExpectedRevision", testApplyExpectedRevision},
		{"ApplyDryRun", testApplyDryRun},
		{"ApplyInvalidWritesNothing", testApplyInvalid},
		{"PruneAndDeleteKeepHistory", testPruneAndDelete},
		{"ListAssets", testListAssets},
		{"Edges", testEdges},
		{"DynamicPartitions", testDynamicPartitions},
		{"EnqueueInvalidWritesNothing", testEnqueueInvalid},
		{"ClaimOrder", testClaimOrder},
		{"ClaimConcurrentExactlyOnce", testClaimConcurrent},
		{"FinishRunExactlyOnce", testFinishExactlyOnce},
		{"FinishRunRetry", testFinishRetry},
		{"LeaseExpiryRequeue", testLeaseExpiry},
		{"CancelRuns", testCancelRuns},
		{"RunLogBounded", testRunLog},
		{"ListRuns", testListRuns},
		{"RecordMaterializations", testRecordMaterializations},
		{"MaterializationDuplicateWritesNothing", testMaterializationDuplicate},
		{"LatestStreamsSeeNewWritesNestAndCancel", testLatestStreams},
		{"MaterializationClientIDIdempotent", testClientID},
		{"ObservationsAndChecks", testObservationsAndChecks},
		{"BackfillCounters", testBackfillCounters},
		{"BackfillCancel", testBackfillCancel},
		{"BackfillCountersUnderConcurrency", testBackfillConcurrent},
		{"EventCursor", testEventCursor},
		{"EventCursorConcurrentWriters", testEventCursorConcurrent},
		{"Retention", testRetention},
		{"ErrorsHideDriverTypes", testErrorsHideDriverTypes},
		{"AssetRevisionsPaged", testAssetRevisions},
		{"ListMaterializations", testListMaterializations},
		{"RunMaterializationIDs", testRunMaterializationIDs},
		{"MaterializationLocation", testMaterializationLocation},
		{"ObservationCheckClientIDs", testObservationCheckClientIDs},
		{"BackfillAssetCounters", testBackfillAssetCounters},
		{"ListRunsFilters", testListRunsFilters},
		{"RunSizing", testRunSizing}, {"RequeueRuns", testRequeueRuns}, {"FinishRuns", testFinishRuns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// must(v, err)(t) returns v, failing t on err.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("got error %v, want %v", err, sentinel)
	}
	assertNoDriverTypes(t, err)
}

// assertNoDriverTypes checks that no error in err's chain comes from a
// database driver package.
func assertNoDriverTypes(t *testing.T, err error) {
	t.Helper()
	var walk func(e error)
	walk = func(e error) {
		if e == nil {
			return
		}
		typ := reflect.TypeOf(e)
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if p := typ.PkgPath(); strings.Contains(p, "pgx") || strings.Contains(p, "pgconn") || strings.Contains(p, "modernc.org") || strings.Contains(p, "uptrace") {
			t.Fatalf("error %q leaks driver type %s.%s", err, p, typ.Name())
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
}

func decl(key string, deps ...string) asset.AssetDecl {
	d := asset.AssetDecl{Key: key, Group: "core", CodeVersion: "v1", Description: "asset " + key}
	for _, dep := range deps {
		d.Deps = append(d.Deps, asset.DepDecl{Asset: dep})
	}
	return d
}

func keys(ks ...string) []asset.Key {
	out := make([]asset.Key, len(ks))
	for i, k := range ks {
		out[i] = asset.Key(k)
	}
	return out
}

func sortedKeys(ks []asset.Key) []asset.Key {
	out := append([]asset.Key(nil), ks...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func eqKeys(t *testing.T, what string, got []asset.Key, want ...string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(sortedKeys(got), keys(want...)) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func testApplyIdempotent(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	decls := []asset.AssetDecl{decl("raw/orders"), decl("raw/customers"), decl("analytics/revenue", "raw/orders", "raw/customers")}
	r := must(c.ApplyAssets(ctx, decls, catalog.ApplyOptions{Actor: "alice"}))(t)
	eqKeys(t, "created", r.Created, "analytics/revenue", "raw/customers", "raw/orders")
	if r.Revision != 1 {
		t.Fatalf("revision = %d, want 1", r.Revision)
	}
	r = must(c.ApplyAssets(ctx, decls, catalog.ApplyOptions{Actor: "alice"}))(t)
	eqKeys(t, "unchanged", r.Unchanged, "analytics/revenue", "raw/customers", "raw/orders")
	if r.Revision != 1 || len(r.Created)+len(r.Changed)+len(r.Deleted) != 0 {
		t.Fatalf("second apply = %+v, want no change at revision 1", r)
	}
	decls[2].CodeVersion = "v2"
	r = must(c.ApplyAssets(ctx, decls, catalog.ApplyOptions{Actor: "bob"}))(t)
	eqKeys(t, "changed", r.Changed, "analytics/revenue")
	if r.Revision != 2 {
		t.Fatalf("revision = %d, want 2", r.Revision)
	}
	if rev := must(c.CatalogRevision(ctx))(t); rev != 2 {
		t.Fatalf("catalog revision = %d, want 2", rev)
	}
	rec := must(c.GetAsset(ctx, "analytics/revenue"))(t)
	if rec.Revision != 2 || rec.CatalogRevision != 2 || rec.UpdatedBy != "bob" || rec.Decl.CodeVersion != "v2" || len(rec.Decl.Deps) != 2 {
		t.Fatalf("record = %+v", rec)
	}
	hist := must(c.AssetHistory(ctx, "analytics/revenue"))(t)
	if len(hist) != 2 || hist[0].Change != catalog.ChangeCreated || hist[1].Change != catalog.ChangeChanged ||
		hist[0].Decl.CodeVersion != "v1" || hist[1].Actor != "bob" || hist[0].Hash == hist[1].Hash {
		t.Fatalf("history = %+v", hist)
	}
	if h := must(c.AssetHistory(ctx, "raw/orders"))(t); len(h) != 1 {
		t.Fatalf("unchanged asset has %d revisions, want 1", len(h))
	}
	all := must(c.CurrentAssets(ctx))(t)
	if len(all) != 3 || all[0].Key != "analytics/revenue" {
		t.Fatalf("current assets = %v", all)
	}
	_, err := c.GetAsset(ctx, "nope")
	wantErr(t, err, catalog.ErrNotFound)
	_, err = c.AssetHistory(ctx, "nope")
	wantErr(t, err, catalog.ErrNotFound)
}

func testApplyExpectedRevision(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	r := must(c.ApplyAssets(ctx, []asset.AssetDecl{decl("a")}, catalog.ApplyOptions{ExpectedRevision: 0}))(t)
	_, err := c.ApplyAssets(ctx, []asset.AssetDecl{decl("a"), decl("b")}, catalog.ApplyOptions{ExpectedRevision: r.Revision + 5})
	wantErr(t, err, catalog.ErrConflict)
	if _, err := c.GetAsset(ctx, "b"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("conflicting apply wrote b: %v", err)
	}
	r2 := must(c.ApplyAssets(ctx, []asset.AssetDecl{decl("a"), decl("b")}, catalog.ApplyOptions{ExpectedRevision: r.Revision}))(t)
	if r2.Revision != r.Revision+1 {
		t.Fatalf("revision = %d, want %d", r2.Revision, r.Revision+1)
	}
}

func testApplyDryRun(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	must(c.ApplyAssets(ctx, []asset.AssetDecl{decl("a"), decl("b")}, catalog.ApplyOptions{}))(t)
	changed := decl("a")
	changed.Description = "new"
	r := must(c.ApplyAssets(ctx, []asset.AssetDecl{changed, decl("c")}, catalog.ApplyOptions{DryRun: true, Prune: true}))(t)
	eqKeys(t, "changed", r.Changed, "a")
	eqKeys(t, "created", r.Created, "c")
	eqKeys(t, "deleted", r.Deleted, "b")
	if rev := must(c.CatalogRevision(ctx))(t); rev != 1 {
		t.Fatalf("dry run changed the revision to %d", rev)
	}
	if a := must(c.GetAsset(ctx, "a"))(t); a.Decl.Description != "asset a" {
		t.Fatalf("dry run changed a: %+v", a.Decl)
	}
	if _, err := c.GetAsset(ctx, "c"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("dry run created c: %v", err)
	}
}

func testApplyInvalid(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	for name, decls := range map[string][]asset.AssetDecl{
		"bad key":       {decl("ok"), decl("Bad Key")},
		"duplicate key": {decl("a"), decl("a")},
		"bad dep":       {decl("a", "not/OK")},
		"dep twice":     {decl("a", "b", "b")},
	} {
		_, err := c.ApplyAssets(ctx, decls, catalog.ApplyOptions{})
		if !errors.Is(err, catalog.ErrInvalid) {
			t.Fatalf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if rev := must(c.CatalogRevision(ctx))(t); rev != 0 {
		t.Fatalf("invalid applies wrote revision %d", rev)
	}
	if all := must(c.CurrentAssets(ctx))(t); len(all) != 0 {
		t.Fatalf("invalid applies wrote %v", all)
	}
	if ev := must(c.Events(ctx, 0, 10))(t); len(ev) != 0 {
		t.Fatalf("invalid applies wrote events %v", ev)
	}
}

func testPruneAndDelete(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	must(c.ApplyAssets(ctx, []asset.AssetDecl{decl("a"), decl("b", "a"), decl("c")}, catalog.ApplyOptions{Actor: "x"}))(t)
	// Without Prune, absent assets stay.
	r := must(c.ApplyAssets(ctx, []asset.AssetDecl{decl("a")}, catalog.ApplyOptions{}))(t)
	if len(r.Deleted) != 0 {
		t.Fatalf("apply without prune deleted %v", r.Deleted)
	}
	r = must(c.ApplyAssets(ctx, []asset.AssetDecl{decl("a"), decl("c")}, catalog.ApplyOptions{Prune: true, Actor: "pruner"}))(t)
	eqKeys(t, "deleted", r.Deleted, "b")
	if _, err := c.GetAsset(ctx, "b"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("pruned asset still current: %v", err)
	}
	hist := must(c.AssetHistory(ctx, "b"))(t)
	if len(hist) != 2 || hist[1].Change != catalog.ChangeDeleted || hist[1].Decl != nil || hist[1].Actor != "pruner" {
		t.Fatalf("history after prune = %+v", hist)
	}
	if edges := must(c.Edges(ctx))(t); len(edges) != 0 {
		t.Fatalf("deleted asset kept current edges %v", edges)
	}
	rev := must(c.DeleteAsset(ctx, "c", "carol"))(t)
	if rev != r.Revision+1 {
		t.Fatalf("delete revision = %d, want %d", rev, r.Revision+1)
	}
	_, err := c.DeleteAsset(ctx, "c", "carol")
	wantErr(t, err, catalog.ErrNotFound)
	// Re-creating a deleted asset continues its history.
	r = must(c.ApplyAssets(ctx, []asset.AssetDecl{decl("a"), decl("b", "a")}, catalog.ApplyOptions{}))(t)
	eqKeys(t, "created", r.Created, "b")
	if b := must(c.GetAsset(ctx, "b"))(t); b.Revision != 3 {
		t.Fatalf("re-created asset revision = %d, want 3", b.Revision)
	}
}

func testListAssets(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	var decls []asset.AssetDecl
	for i := 0; i < 25; i++ {
		d := decl(fmt.Sprintf("g/a%02d", i))
		if i%2 == 1 {
			d.Group = "odd"
		}
		decls = append(decls, d)
	}
	decls[7].Description = "The 100% REVENUE table"
	must(c.ApplyAssets(ctx, decls, catalog.ApplyOptions{}))(t)
	var all []catalog.AssetRecord
	token := ""
	for pages := 0; ; pages++ {
		page, next := must2(t)(c.ListAssets(ctx, catalog.ListAssetsQuery{Limit: 10, PageToken: token}))
		all = append(all, page...)
		if next == "" {
			if pages != 2 {
				t.Fatalf("got %d pages, want 3", pages+1)
			}
			break
		}
		token = next
	}
	if len(all) != 25 || all[0].Key != "g/a00" || all[24].Key != "g/a24" {
		t.Fatalf("paged list = %d assets", len(all))
	}
	odd, _ := must2(t)(c.ListAssets(ctx, catalog.ListAssetsQuery{Group: "odd"}))
	if len(odd) != 12 {
		t.Fatalf("group odd has %d, want 12", len(odd))
	}
	found, _ := must2(t)(c.ListAssets(ctx, catalog.ListAssetsQuery{Search: "100% revenue"}))
	if len(found) != 1 || found[0].Key != "g/a07" {
		t.Fatalf("search = %v", found)
	}
	found, _ = must2(t)(c.ListAssets(ctx, catalog.ListAssetsQuery{Search: "A1"}))
	if len(found) != 10 {
		t.Fatalf("search a1 found %d, want 10", len(found))
	}
	found, _ = must2(t)(c.ListAssets(ctx, catalog.ListAssetsQuery{Keys: keys("g/a03", "g/a04", "missing")}))
	if len(found) != 2 {
		t.Fatalf("keys filter = %v", found)
	}
}

func must2(t *testing.T) func([]catalog.AssetRecord, string, error) ([]catalog.AssetRecord, string) {
	return func(r []catalog.AssetRecord, s string, err error) ([]catalog.AssetRecord, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r, s
	}
}

func testEdges(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	daily := decl("daily", "hourly")
	daily.Deps[0].Mapping = &asset.MappingDecl{TimeWindow: &asset.TimeWindowMappingDecl{StartOffset: -1}}
	r1 := must(c.ApplyAssets(ctx, []asset.AssetDecl{decl("hourly"), daily}, catalog.ApplyOptions{}))(t)
	daily2 := decl("daily", "hourly", "other")
	r2 := must(c.ApplyAssets(ctx, []asset.AssetDecl{decl("hourly"), decl("other"), daily2}, catalog.ApplyOptions{}))(t)
	cur := must(c.Edges(ctx))(t)
	if len(cur) != 2 || cur[0].Upstream != "hourly" || cur[1].Upstream != "other" || cur[0].Mapping != nil || cur[0].FromRevision != r2.Revision {
		t.Fatalf("current edges = %+v", cur)
	}
	old := must(c.EdgesAt(ctx, r1.Revision))(t)
	if len(old) != 1 || old[0].ToRevision != r2.Revision {
		t.Fatalf("edges at %d = %+v", r1.Revision, old)
	}
	var m asset.MappingDecl
	if err := json.Unmarshal(old[0].Mapping, &m); err != nil || m.TimeWindow == nil || m.TimeWindow.StartOffset != -1 {
		t.Fatalf("historical mapping = %s (%v)", old[0].Mapping, err)
	}
}

func testDynamicPartitions(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	if n := must(c.AddDynamicPartitions(ctx, "customers", []string{"c", "a", "b"}))(t); n != 3 {
		t.Fatalf("added %d, want 3", n)
	}
	if n := must(c.AddDynamicPartitions(ctx, "customers", []string{"a", "d", "d"}))(t); n != 1 {
		t.Fatalf("added %d, want 1 (idempotent)", n)
	}
	must(c.AddDynamicPartitions(ctx, "regions", []string{"eu"}))(t)
	if got := must(c.DynamicPartitionKeys(ctx, "customers"))(t); !reflect.DeepEqual(got, []string{"c", "a", "b", "d"}) {
		t.Fatalf("keys = %v, want insertion order", got)
	}
	if n := must(c.DeleteDynamicPartitions(ctx, "customers", []string{"a", "zz"}))(t); n != 1 {
		t.Fatalf("removed %d, want 1", n)
	}
	if n := must(c.DeleteDynamicPartitions(ctx, "customers", []string{"a"}))(t); n != 0 {
		t.Fatalf("removed %d again, want 0", n)
	}
	snap := must(c.DynamicKeysSnapshot(ctx))(t)
	if !reflect.DeepEqual(snap.DynamicPartitionKeys("customers"), []string{"c", "b", "d"}) || len(snap.DynamicPartitionKeys("regions")) != 1 {
		t.Fatalf("snapshot = %v", snap)
	}
	var _ asset.DynamicKeys = snap
	if got := must(c.DynamicPartitionKeys(ctx, "none"))(t); len(got) != 0 {
		t.Fatalf("unknown definition has keys %v", got)
	}
	_, err := c.AddDynamicPartitions(ctx, "customers", []string{"x", ""})
	wantErr(t, err, catalog.ErrInvalid)
	if got := must(c.DynamicPartitionKeys(ctx, "customers"))(t); len(got) != 3 {
		t.Fatalf("a rejected add wrote keys: %v", got)
	}
}

func spec(a string, prio int, deadline *time.Time, parts ...string) catalog.RunSpec {
	if len(parts) == 0 {
		parts = []string{""}
	}
	return catalog.RunSpec{Asset: asset.Key(a), PartitionKeys: parts, Priority: prio, Deadline: deadline, Reason: "test"}
}

func tp(t time.Time) *time.Time { return &t }

func testEnqueueInvalid(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	for name, specs := range map[string][]catalog.RunSpec{
		"bad asset":     {spec("ok", 0, nil), spec("NOT OK", 0, nil)},
		"no partitions": {spec("ok", 0, nil), {Asset: "a"}},
		"bad sizing":    {{Asset: "a", PartitionKeys: []string{"p"}, Sizing: json.RawMessage("{")}},
	} {
		_, err := c.EnqueueRuns(ctx, specs)
		if !errors.Is(err, catalog.ErrInvalid) {
			t.Fatalf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	_, err := c.EnqueueRuns(ctx, []catalog.RunSpec{spec("a", 0, nil), {Asset: "a", PartitionKeys: []string{"x"}, BackfillID: 999}})
	wantErr(t, err, catalog.ErrNotFound)
	if runs := must(c.ListRuns(ctx, catalog.RunFilter{}))(t); len(runs) != 0 {
		t.Fatalf("rejected enqueues wrote %d runs", len(runs))
	}
}

func testClaimOrder(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	d1, d2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	ids := must(c.EnqueueRuns(ctx, []catalog.RunSpec{
		spec("a", 0, nil, "p0"), // 0
		spec("a", 5, &d2, "p1"), // 1
		spec("a", 5, nil, "p2"), // 2
		spec("a", 5, &d1, "p3"), // 3
		spec("a", 9, nil, "p4"), // 4
		spec("a", 0, &d1, "p5"), // 5
		spec("a", 5, &d1, "p6"), // 6
		{Asset: "a", PartitionKeys: []string{"later"}, Priority: 100, NotBefore: tp(t0.Add(time.Hour))}, // 7
	}))(t)
	if len(ids) != 8 || ids[0] >= ids[1] {
		t.Fatalf("ids = %v", ids)
	}
	want := []int64{ids[4], ids[3], ids[6], ids[1], ids[2], ids[5], ids[0]}
	var got []int64
	first := must(c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w1", Lease: time.Minute, Limit: 3, Now: t0}))(t)
	for _, r := range first {
		got = append(got, r.ID)
		if r.State != catalog.RunRunning || r.Attempt != 1 || r.LeaseOwner != "w1" || r.LeaseExpiresAt == nil || !r.LeaseExpiresAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("claimed run = %+v", r)
		}
	}
	for {
		rs := must(c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w2", Lease: time.Minute, Now: t0}))(t)
		if len(rs) == 0 {
			break
		}
		got = append(got, rs[0].ID)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("claim order = %v, want %v", got, want)
	}
	rs := must(c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w2", Lease: time.Minute, Now: t0.Add(time.Hour)}))(t)
	if len(rs) != 1 || rs[0].ID != ids[7] || rs[0].PartitionKeys[0] != "later" {
		t.Fatalf("not_before run claimed as %+v", rs)
	}
	_, err := c.ClaimRuns(ctx, catalog.ClaimRequest{Lease: time.Minute})
	wantErr(t, err, catalog.ErrInvalid)
}

func testClaimConcurrent(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	const n = 200
	specs := make([]catalog.RunSpec, n)
	for i := range specs {
		specs[i] = spec("a", i%7, nil, fmt.Sprint(i))
	}
	must(c.EnqueueRuns(ctx, specs))(t)
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(owner string) {
			defer wg.Done()
			for {
				rs, err := c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: owner, Lease: time.Minute, Limit: 7, Now: t0})
				if err != nil {
					errs <- err
					return
				}
				if len(rs) == 0 {
					return
				}
				mu.Lock()
				for _, r := range rs {
					if prev, dup := seen[r.ID]; dup {
						errs <- fmt.Errorf("run %d claimed by %s and %s", r.ID, prev, owner)
					}
					seen[r.ID] = owner
				}
				mu.Unlock()
			}
		}(fmt.Sprint("w", w))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("claimed %d runs, want %d", len(seen), n)
	}
}

func claimOne(t *testing.T, c *catalog.Catalog, owner string, now time.Time) catalog.Run {
	t.Helper()
	rs := must(c.ClaimRuns(ctxT(t), catalog.ClaimRequest{Owner: owner, Lease: time.Minute, Now: now}))(t)
	if len(rs) != 1 {
		t.Fatalf("claimed %d runs, want 1", len(rs))
	}
	return rs[0]
}

func i64(v int64) *int64 { return &v }

func testFinishExactlyOnce(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	up := must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "up", Partition: "2026-01-01", DataVersion: "u1"}}))(t)
	must(c.EnqueueRuns(ctx, []catalog.RunSpec{spec("down", 0, nil, "2026-01-01", "2026-01-02")}))(t)
	run := claimOne(t, c, "w1", t0)
	exit := 0
	res := catalog.RunResult{RunID: run.ID, Attempt: run.Attempt, Owner: "w1", State: catalog.RunSucceeded, ExitCode: &exit,
		Log: "hello\n", Usage: &catalog.Usage{Duration: 1500 * time.Millisecond, PeakRSS: 1 << 20, CPUSeconds: 0.5},
		Materializations: []catalog.Materialization{
			{Asset: "down", Partition: "2026-01-01", DataVersion: "d1", CodeVersion: "v1", RowCount: i64(10), ByteCount: i64(100),
				Schema: json.RawMessage(`{"fields":[{"name":"x","type":"int64"}]}`), Metadata: json.RawMessage(`{"k":"v"}`),
				Provenance: []catalog.ProvenanceEntry{{UpstreamAsset: "up", UpstreamPartition: "2026-01-01", UpstreamMaterializationID: up[0], DataVersion: "u1"}}},
			{Asset: "down", Partition: "2026-01-02", DataVersion: "d2"},
		},
		Checks: []catalog.CheckResult{{Asset: "down", Partition: "2026-01-01", Check: "not_null", Passed: true}},
	}
	// A stranger cannot finish it.
	bad := res
	bad.Owner = "w2"
	_, err := c.FinishRun(ctx, bad)
	wantErr(t, err, catalog.ErrConflict)
	bad = res
	bad.Attempt = 2
	_, err = c.FinishRun(ctx, bad)
	wantErr(t, err, catalog.ErrConflict)
	done := must(c.FinishRun(ctx, res))(t)
	if done.State != catalog.RunSucceeded || done.ExitCode == nil || *done.ExitCode != 0 || done.Usage == nil ||
		done.Usage.Duration != 1500*time.Millisecond || done.Usage.PeakRSS != 1<<20 || done.FinishedAt == nil || done.LeaseOwner != "" {
		t.Fatalf("finished run = %+v", done)
	}
	_, err = c.FinishRun(ctx, res)
	wantErr(t, err, catalog.ErrConflict)
	_, err = c.FinishRun(ctx, catalog.RunResult{RunID: 987654, Attempt: 1, State: catalog.RunSucceeded})
	wantErr(t, err, catalog.ErrNotFound)
	hist := must(c.MaterializationHistory(ctx, "down", "2026-01-01", 0))(t)
	if len(hist) != 1 || hist[0].RunID != run.ID || hist[0].Attempt != 1 || *hist[0].RowCount != 10 || string(hist[0].Metadata) != `{"k":"v"}` {
		t.Fatalf("history = %+v", hist)
	}
	m := must(c.GetMaterialization(ctx, hist[0].ID))(t)
	if len(m.Provenance) != 1 || m.Provenance[0].UpstreamMaterializationID != up[0] || m.Provenance[0].DataVersion != "u1" {
		t.Fatalf("provenance = %+v", m.Provenance)
	}
	checks := must(c.CheckResults(ctx, "down", "2026-01-01", 0))(t)
	if len(checks) != 1 || checks[0].RunID != run.ID || !checks[0].Passed {
		t.Fatalf("checks = %+v", checks)
	}
	log, _, err := c.RunLog(ctx, run.ID)
	if err != nil || log != "hello\n" {
		t.Fatalf("log = %q, %v", log, err)
	}
	// Invalid results write nothing.
	must(c.EnqueueRuns(ctx, []catalog.RunSpec{spec("down", 0, nil, "2026-01-03")}))(t)
	r2 := claimOne(t, c, "w1", t0)
	_, err = c.FinishRun(ctx, catalog.RunResult{RunID: r2.ID, Attempt: 1, State: catalog.RunSucceeded,
		Materializations: []catalog.Materialization{{Asset: "down", Partition: "a"}, {Asset: "down", Partition: "b", Metadata: json.RawMessage("{oops")}}})
	wantErr(t, err, catalog.ErrInvalid)
	_, err = c.FinishRun(ctx, catalog.RunResult{RunID: r2.ID, Attempt: 1, State: catalog.RunSucceeded,
		Materializations: []catalog.Materialization{{Asset: "down", Partition: "a"}, {Asset: "down", Partition: "a"}}})
	wantErr(t, err, catalog.ErrAlreadyExists)
	if got := must(c.GetRun(ctx, r2.ID))(t); got.State != catalog.RunRunning {
		t.Fatalf("failed finish changed the run: %+v", got)
	}
	if h := must(c.MaterializationHistory(ctx, "down", "a", 0))(t); len(h) != 0 {
		t.Fatalf("failed finish wrote materializations %+v", h)
	}
	_, err = c.FinishRun(ctx, catalog.RunResult{RunID: r2.ID, Attempt: 1, State: catalog.RunQueued})
	wantErr(t, err, catalog.ErrInvalid)
}

func testFinishRetry(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	must(c.EnqueueRuns(ctx, []catalog.RunSpec{{Asset: "a", PartitionKeys: []string{"p"}, MaxAttempts: 2}}))(t)
	r := claimOne(t, c, "w", t0)
	code := 1
	got := must(c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: 1, State: catalog.RunFailed, ExitCode: &code,
		Error: "boom", Retry: &catalog.RetryAt{NotBefore: t0.Add(time.Minute)}}))(t)
	if got.State != catalog.RunQueued || got.Error != "boom" {
		t.Fatalf("retried run = %+v", got)
	}
	if rs := must(c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w", Lease: time.Minute, Now: t0}))(t); len(rs) != 0 {
		t.Fatalf("retry claimed before its not_before: %+v", rs)
	}
	r = claimOne(t, c, "w", t0.Add(time.Minute))
	if r.Attempt != 2 {
		t.Fatalf("attempt = %d, want 2", r.Attempt)
	}
	got = must(c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: 2, State: catalog.RunFailed, ExitCode: &code,
		Retry: &catalog.RetryAt{NotBefore: t0}}))(t)
	if got.State != catalog.RunFailed {
		t.Fatalf("exhausted run state = %s, want failed", got.State)
	}
}

func testLeaseExpiry(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	ids := must(c.EnqueueRuns(ctx, []catalog.RunSpec{{Asset: "a", PartitionKeys: []string{"p"}, MaxAttempts: 2}}))(t)
	r := claimOne(t, c, "w1", t0)
	if _, err := c.Heartbeat(ctx, r.ID, "w2", time.Minute); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("heartbeat by another owner: %v", err)
	}
	_, err := c.Heartbeat(ctx, 424242, "w1", time.Minute)
	wantErr(t, err, catalog.ErrNotFound)
	re, failed := must3(t)(c.RequeueExpired(ctx, t0.Add(30*time.Second)))
	if len(re)+len(failed) != 0 {
		t.Fatalf("requeued a live lease: %v %v", re, failed)
	}
	re, failed = must3(t)(c.RequeueExpired(ctx, t0.Add(2*time.Minute)))
	if !reflect.DeepEqual(re, ids) || len(failed) != 0 {
		t.Fatalf("requeued %v failed %v, want %v", re, failed, ids)
	}
	// The old owner's late result is refused.
	_, err = c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: 1, Owner: "w1", State: catalog.RunSucceeded,
		Materializations: []catalog.Materialization{{Asset: "a", Partition: "p"}}})
	wantErr(t, err, catalog.ErrConflict)
	r = claimOne(t, c, "w2", t0.Add(2*time.Minute))
	if r.Attempt != 2 {
		t.Fatalf("attempt = %d, want 2", r.Attempt)
	}
	re, failed = must3(t)(c.RequeueExpired(ctx, t0.Add(10*time.Minute)))
	if len(re) != 0 || !reflect.DeepEqual(failed, ids) {
		t.Fatalf("exhausted: requeued %v failed %v", re, failed)
	}
	if got := must(c.GetRun(ctx, r.ID))(t); got.State != catalog.RunFailed || got.Error != "lease expired" {
		t.Fatalf("run = %+v", got)
	}
	if h := must(c.MaterializationHistory(ctx, "a", "p", 0))(t); len(h) != 0 {
		t.Fatalf("refused result wrote %+v", h)
	}
}

func must3(t *testing.T) func(a, b []int64, err error) ([]int64, []int64) {
	return func(a, b []int64, err error) ([]int64, []int64) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

func testCancelRuns(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	ids := must(c.EnqueueRuns(ctx, []catalog.RunSpec{spec("a", 1, nil, "x"), spec("a", 0, nil, "y"), spec("a", 0, nil, "z")}))(t)
	r := claimOne(t, c, "w", t0) // ids[0], highest priority
	cancelled, flagged := must3(t)(c.CancelRuns(ctx, ids[:2]))
	if !reflect.DeepEqual(cancelled, ids[1:2]) || !reflect.DeepEqual(flagged, ids[:1]) {
		t.Fatalf("cancelled %v flagged %v", cancelled, flagged)
	}
	stop, err := c.Heartbeat(ctx, r.ID, "w", time.Minute)
	if err != nil || !stop {
		t.Fatalf("heartbeat = %v, %v; want cancel requested", stop, err)
	}
	must(c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: 1, State: catalog.RunCancelled}))(t)
	if got := must(c.GetRun(ctx, ids[1]))(t); got.State != catalog.RunCancelled {
		t.Fatalf("queued run state = %s", got.State)
	}
	rs := must(c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w", Lease: time.Minute, Limit: 10, Now: t0}))(t)
	if len(rs) != 1 || rs[0].ID != ids[2] {
		t.Fatalf("claimed %+v, want only %d", rs, ids[2])
	}
	// A run asked to stop whose worker died is cancelled, not retried.
	must3(t)(c.CancelRuns(ctx, ids[2:]))
	re, failed := must3(t)(c.RequeueExpired(ctx, t0.Add(time.Hour)))
	if len(re)+len(failed) != 0 {
		t.Fatalf("requeued %v failed %v", re, failed)
	}
	if got := must(c.GetRun(ctx, ids[2]))(t); got.State != catalog.RunCancelled {
		t.Fatalf("expired cancelled run state = %s", got.State)
	}
}

func testRunLog(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	ids := must(c.EnqueueRuns(ctx, []catalog.RunSpec{spec("a", 0, nil)}))(t)
	chunk := strings.Repeat("é", 300*1024) // 600 KiB
	for i := 0; i < 3; i++ {
		if err := c.AppendRunLog(ctx, ids[0], chunk); err != nil {
			t.Fatal(err)
		}
	}
	log, _, err := c.RunLog(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(log) > 1<<20 || len(log) < 1<<20-4 || !strings.HasPrefix(log, "é") {
		t.Fatalf("log is %d bytes, want the last 1 MiB cut at a rune boundary", len(log))
	}
	wantErr(t, c.AppendRunLog(ctx, 99999, "x"), catalog.ErrNotFound)
	_, err = c.GetRun(ctx, 99999)
	wantErr(t, err, catalog.ErrNotFound)
}

func testListRuns(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	var specs []catalog.RunSpec
	for i := 0; i < 30; i++ {
		a := "a"
		if i%3 == 0 {
			a = "b"
		}
		specs = append(specs, spec(a, 0, nil, fmt.Sprint(i)))
	}
	ids := must(c.EnqueueRuns(ctx, specs))(t)
	claimOne(t, c, "w", t0)
	page := must(c.ListRuns(ctx, catalog.RunFilter{Limit: 10}))(t)
	if len(page) != 10 || page[0].ID != ids[29] {
		t.Fatalf("first page starts at %d", page[0].ID)
	}
	page2 := must(c.ListRuns(ctx, catalog.RunFilter{Limit: 10, BeforeID: page[9].ID}))(t)
	if page2[0].ID != ids[19] {
		t.Fatalf("second page starts at %d, want %d", page2[0].ID, ids[19])
	}
	bs := must(c.ListRuns(ctx, catalog.RunFilter{Asset: "b"}))(t)
	if len(bs) != 10 {
		t.Fatalf("asset b has %d runs", len(bs))
	}
	running := must(c.ListRuns(ctx, catalog.RunFilter{States: []catalog.RunState{catalog.RunRunning}}))(t)
	if len(running) != 1 || running[0].ID != ids[0] {
		t.Fatalf("running = %+v", running)
	}
}

func testRecordMaterializations(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	var batch []catalog.Materialization
	for i := 0; i < 1500; i++ {
		batch = append(batch, catalog.Materialization{Asset: "big", Partition: fmt.Sprintf("p%04d", i%1000),
			DataVersion: fmt.Sprint("v", i), RowCount: i64(int64(i)), CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	ids := must(c.RecordMaterializations(ctx, batch))(t)
	if len(ids) != 1500 {
		t.Fatalf("%d ids", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("ids not ascending at %d: %d <= %d", i, ids[i], ids[i-1])
		}
	}
	// Another batch moves some partitions forward.
	more := must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "big", Partition: "p0001", DataVersion: "newest"}}))(t)
	latest := map[string]catalog.MaterializationSummary{}
	err := c.LatestMaterializations(ctx, "big", func(s *catalog.MaterializationSummary) error {
		latest[s.Partition] = *s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) != 1000 {
		t.Fatalf("%d latest, want 1000", len(latest))
	}
	if l := latest["p0001"]; l.ID != more[0] || l.DataVersion != "newest" || l.RowCount != -1 {
		t.Fatalf("latest p0001 = %+v", l)
	}
	if l := latest["p0002"]; l.ID != ids[1002] || l.DataVersion != "v1002" || l.RowCount != 1002 || !l.CreatedAt.Equal(t0.Add(1002*time.Second)) {
		t.Fatalf("latest p0002 = %+v", l)
	}
	if l := latest["p0999"]; l.ID != ids[999] {
		t.Fatalf("latest p0999 = %+v", l)
	}
	stop := errors.New("stop")
	n := 0
	err = c.LatestMaterializations(ctx, "big", func(*catalog.MaterializationSummary) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("callback error: %v after %d", err, n)
	}
	h := must(c.MaterializationHistory(ctx, "big", "p0001", 0))(t)
	if len(h) != 3 || h[0].DataVersion != "newest" || h[2].DataVersion != "v1" {
		t.Fatalf("history = %+v", h)
	}
	_, err = c.GetMaterialization(ctx, 1<<40)
	wantErr(t, err, catalog.ErrNotFound)
	_, err = c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "big", Partition: "x", RowCount: i64(-1)}})
	wantErr(t, err, catalog.ErrInvalid)
	_, err = c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "big", Partition: "x", RunID: 4}})
	wantErr(t, err, catalog.ErrInvalid)
}

// testLatestStreams: repeated, interleaved and nested streams each read the
// catalog as it is when they start (a pooled connection must not keep an
// old snapshot), and a cancelled context stops a stream.
func testLatestStreams(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	count := func(key asset.Key) int {
		t.Helper()
		n := 0
		noErr(t, c.LatestMaterializations(ctx, key, func(*catalog.MaterializationSummary) error { n++; return nil }))
		return n
	}
	must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "s/a", Partition: "p1"}, {Asset: "s/b", Partition: "p1"}}))(t)
	if a, b := count("s/a"), count("s/b"); a != 1 || b != 1 {
		t.Fatalf("a=%d b=%d, want 1 1", a, b)
	}
	must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "s/a", Partition: "p2"}, {Asset: "s/a", Partition: "p3"}}))(t)
	if a, b, none := count("s/a"), count("s/b"), count("s/none"); a != 3 || b != 1 || none != 0 {
		t.Fatalf("after a write: a=%d b=%d none=%d, want 3 1 0", a, b, none)
	}
	// A stream started inside another's callback, while the outer one holds
	// its connection, and a write between two streams.
	var inner []int
	noErr(t, c.LatestMaterializations(ctx, "s/a", func(s *catalog.MaterializationSummary) error {
		inner = append(inner, count("s/b"))
		return nil
	}))
	if len(inner) != 3 || inner[0] != 1 || inner[2] != 1 {
		t.Fatalf("nested streams saw %v, want three times 1", inner)
	}
	must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "s/b", Partition: "p2"}}))(t)
	if b := count("s/b"); b != 2 {
		t.Fatalf("b=%d after its second partition, want 2", b)
	}
	// A callback's error ends the stream and leaves the next one whole.
	stop := errors.New("stop")
	wantErr(t, c.LatestMaterializations(ctx, "s/a", func(*catalog.MaterializationSummary) error { return stop }), stop)
	if a := count("s/a"); a != 3 {
		t.Fatalf("a=%d after a stopped stream, want 3", a)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	wantErr(t, c.LatestMaterializations(cctx, "s/a", func(*catalog.MaterializationSummary) error { return nil }), context.Canceled)
	if a := count("s/a"); a != 3 {
		t.Fatalf("a=%d after a cancelled stream, want 3", a)
	}

	// LatestOf: some partitions, more than one query's worth, with the
	// values the stream gives.
	rows := int64(7)
	var many []catalog.Materialization
	for i := 0; i < 1500; i++ {
		many = append(many, catalog.Materialization{Asset: "s/many", Partition: fmt.Sprint("p", i), DataVersion: fmt.Sprint("d", i), RowCount: &rows})
	}
	must(c.RecordMaterializations(ctx, many))(t)
	must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "s/many", Partition: "p3", DataVersion: "newer", Location: "file:///x"}}))(t)
	var ask []string
	for i := 0; i < 1500; i += 2 {
		ask = append(ask, fmt.Sprint("p", i))
	}
	ask = append(ask, "p3", "nope")
	got := map[string]catalog.MaterializationSummary{}
	for _, s := range must(c.LatestOf(ctx, "s/many", ask))(t) {
		got[s.Partition] = s
	}
	if len(got) != 751 {
		t.Fatalf("LatestOf found %d partitions, want 751", len(got))
	}
	if s := got["p3"]; s.DataVersion != "newer" || s.Location != "file:///x" || s.RowCount != -1 {
		t.Fatalf("LatestOf p3 = %+v", s)
	}
	if s := got["p1498"]; s.DataVersion != "d1498" || s.RowCount != 7 || s.ByteCount != -1 || s.ID == 0 || s.CreatedAt.IsZero() {
		t.Fatalf("LatestOf p1498 = %+v", s)
	}
	if none := must(c.LatestOf(ctx, "s/none", []string{"p1"}))(t); len(none) != 0 {
		t.Fatalf("LatestOf of an asset without materializations = %+v", none)
	}
}

func testMaterializationDuplicate(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "a", Partition: "p1", RunID: 1, Attempt: 1}}))(t)
	before := must(c.Events(ctx, 0, 100))(t)
	batch := []catalog.Materialization{
		{Asset: "a", Partition: "p2", RunID: 1, Attempt: 1},
		{Asset: "a", Partition: "p3", RunID: 1, Attempt: 1},
		{Asset: "a", Partition: "p1", RunID: 1, Attempt: 1}, // duplicate
	}
	_, err := c.RecordMaterializations(ctx, batch)
	wantErr(t, err, catalog.ErrAlreadyExists)
	for _, p := range []string{"p2", "p3"} {
		if h := must(c.MaterializationHistory(ctx, "a", p, 0))(t); len(h) != 0 {
			t.Fatalf("failed batch wrote %s", p)
		}
	}
	n := 0
	noErr(t, c.LatestMaterializations(ctx, "a", func(*catalog.MaterializationSummary) error { n++; return nil }))
	if n != 1 {
		t.Fatalf("failed batch changed latest: %d partitions", n)
	}
	if after := must(c.Events(ctx, 0, 100))(t); len(after) != len(before) {
		t.Fatalf("failed batch appended events")
	}
	// Another attempt of the same run may materialize the partition again.
	must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "a", Partition: "p1", RunID: 1, Attempt: 2}}))(t)
}

func testClientID(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	m := catalog.Materialization{Asset: "ext", Partition: "2026-01-01", ClientID: "req-1", DataVersion: "x"}
	a := must(c.RecordMaterializations(ctx, []catalog.Materialization{m, m}))(t)
	b := must(c.RecordMaterializations(ctx, []catalog.Materialization{m, {Asset: "ext", Partition: "2026-01-01", ClientID: "req-2"}}))(t)
	if a[0] != a[1] || b[0] != a[0] || b[1] == a[0] {
		t.Fatalf("ids %v %v: want the retry to return the first id", a, b)
	}
	if h := must(c.MaterializationHistory(ctx, "ext", "2026-01-01", 0))(t); len(h) != 2 {
		t.Fatalf("history has %d, want 2", len(h))
	}
}

func testObservationsAndChecks(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	if err := c.RecordObservations(ctx, []catalog.Observation{{Asset: "src", Partition: "p", DataVersion: "o1", Metadata: json.RawMessage(`{"etag":"1"}`)},
		{Asset: "src", Partition: "p", DataVersion: "o2"}}); err != nil {
		t.Fatal(err)
	}
	obs := must(c.Observations(ctx, "src", "p", 0))(t)
	if len(obs) != 2 || obs[0].DataVersion != "o2" || string(obs[1].Metadata) != `{"etag":"1"}` {
		t.Fatalf("observations = %+v", obs)
	}
	if err := c.RecordCheckResults(ctx, []catalog.CheckResult{{Asset: "src", Partition: "p", Check: "fresh", Passed: false, Severity: "warn", Description: "late"}}); err != nil {
		t.Fatal(err)
	}
	ch := must(c.CheckResults(ctx, "src", "p", 0))(t)
	if len(ch) != 1 || ch[0].Passed || ch[0].Severity != "warn" {
		t.Fatalf("checks = %+v", ch)
	}
	wantErr(t, c.RecordCheckResults(ctx, []catalog.CheckResult{{Asset: "src", Check: ""}}), catalog.ErrInvalid)
	wantErr(t, c.RecordObservations(ctx, []catalog.Observation{{Asset: "src", Metadata: json.RawMessage("nope")}}), catalog.ErrInvalid)
}

func counts(t *testing.T, c *catalog.Catalog, id int64) catalog.Backfill {
	t.Helper()
	return must(c.GetBackfill(ctxT(t), id))(t)
}

func testBackfillCounters(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	var runs []catalog.RunSpec
	for i := 0; i < 5; i++ {
		runs = append(runs, catalog.RunSpec{Asset: "a", PartitionKeys: []string{fmt.Sprint(i)}, Priority: 3})
	}
	bf, ids, err := c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: keys("a"), Partitions: json.RawMessage(`{"range":["0","4"]}`),
		Filter: "missing", Priority: 3, Actor: "ann", Runs: runs})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 5 || bf.State != catalog.BackfillRunning || bf.Counts != (catalog.BackfillCounts{Total: 5, Queued: 5}) || string(bf.Partitions) != `{"range":["0","4"]}` {
		t.Fatalf("backfill = %+v", bf)
	}
	rs := must(c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w", Lease: time.Minute, Limit: 3, Now: t0}))(t)
	if got := counts(t, c, bf.ID).Counts; got != (catalog.BackfillCounts{Total: 5, Queued: 2, Running: 3}) {
		t.Fatalf("after claim: %+v", got)
	}
	for i, r := range rs {
		if r.BackfillID != bf.ID {
			t.Fatalf("run backfill id = %d", r.BackfillID)
		}
		st := catalog.RunSucceeded
		if i == 0 {
			st = catalog.RunFailed
		}
		must(c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: r.Attempt, State: st}))(t)
	}
	if got := counts(t, c, bf.ID).Counts; got != (catalog.BackfillCounts{Total: 5, Queued: 2, Succeeded: 2, Failed: 1}) {
		t.Fatalf("after finish: %+v", got)
	}
	rs = must(c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w", Lease: time.Minute, Limit: 3, Now: t0}))(t)
	for _, r := range rs {
		must(c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: r.Attempt, State: catalog.RunSucceeded}))(t)
	}
	got := counts(t, c, bf.ID)
	if got.State != catalog.BackfillFailed || got.FinishedAt == nil || got.Counts != (catalog.BackfillCounts{Total: 5, Succeeded: 4, Failed: 1}) {
		t.Fatalf("finished backfill = %+v", got)
	}
	// Retrying the failed partition reopens it.
	must(c.EnqueueRuns(ctx, []catalog.RunSpec{{Asset: "a", PartitionKeys: []string{"0"}, BackfillID: bf.ID}}))(t)
	if got := counts(t, c, bf.ID); got.State != catalog.BackfillRunning || got.Counts.Total != 6 || got.Counts.Queued != 1 {
		t.Fatalf("reopened backfill = %+v", got)
	}
	list := must(c.ListBackfills(ctx, 0, 10))(t)
	if len(list) != 1 || list[0].ID != bf.ID {
		t.Fatalf("list = %+v", list)
	}
	_, err = c.GetBackfill(ctx, 9999)
	wantErr(t, err, catalog.ErrNotFound)
	_, _, err = c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: keys("a"), Filter: "everything"})
	wantErr(t, err, catalog.ErrInvalid)
	empty, _, err := c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: keys("a")})
	if err != nil || empty.State != catalog.BackfillCompleted {
		t.Fatalf("empty backfill = %+v, %v", empty, err)
	}
}

func testBackfillCancel(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	var runs []catalog.RunSpec
	for i := 0; i < 4; i++ {
		runs = append(runs, catalog.RunSpec{Asset: "a", PartitionKeys: []string{fmt.Sprint(i)}})
	}
	bf, _, err := c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: keys("a"), Runs: runs})
	if err != nil {
		t.Fatal(err)
	}
	r := claimOne(t, c, "w", t0)
	got := must(c.CancelBackfill(ctx, bf.ID))(t)
	if got.State != catalog.BackfillCancelling || got.Counts != (catalog.BackfillCounts{Total: 4, Running: 1, Cancelled: 3}) {
		t.Fatalf("cancelling backfill = %+v", got)
	}
	if stop, err := c.Heartbeat(ctx, r.ID, "w", time.Minute); err != nil || !stop {
		t.Fatalf("running run not asked to stop: %v %v", stop, err)
	}
	must(c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: 1, State: catalog.RunCancelled}))(t)
	got = counts(t, c, bf.ID)
	if got.State != catalog.BackfillCancelled || got.Counts != (catalog.BackfillCounts{Total: 4, Cancelled: 4}) {
		t.Fatalf("cancelled backfill = %+v", got)
	}
	again := must(c.CancelBackfill(ctx, bf.ID))(t)
	if again.State != catalog.BackfillCancelled {
		t.Fatalf("second cancel = %+v", again)
	}
	_, err = c.CancelBackfill(ctx, 777)
	wantErr(t, err, catalog.ErrNotFound)
}

func testEventCursor(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	must(c.ApplyAssets(ctx, []asset.AssetDecl{decl("a")}, catalog.ApplyOptions{}))(t)
	ids := must(c.EnqueueRuns(ctx, []catalog.RunSpec{spec("a", 0, nil, "p")}))(t)
	r := claimOne(t, c, "w", t0)
	must(c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: 1, State: catalog.RunSucceeded,
		Materializations: []catalog.Materialization{{Asset: "a", Partition: "p"}}}))(t)
	all := must(c.Events(ctx, 0, 0))(t)
	var kinds []string
	for i, e := range all {
		kinds = append(kinds, e.Kind)
		if i > 0 && e.ID <= all[i-1].ID {
			t.Fatalf("event ids not increasing: %v", all)
		}
	}
	want := []string{catalog.EventAssetApplied, catalog.EventRunsEnqueued, catalog.EventRunState, catalog.EventMaterialization, catalog.EventRunState}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("event kinds = %v, want %v", kinds, want)
	}
	if all[4].RunID != ids[0] || all[3].Partition != "p" || all[0].Asset != "a" {
		t.Fatalf("events = %+v", all)
	}
	var p map[string]any
	if err := json.Unmarshal(all[4].Payload, &p); err != nil || p["to"] != "succeeded" {
		t.Fatalf("run_state payload = %s (%v)", all[4].Payload, err)
	}
	// Resume from a cursor.
	rest := must(c.Events(ctx, all[1].ID, 2))(t)
	if len(rest) != 2 || rest[0].ID != all[2].ID || rest[1].ID != all[3].ID {
		t.Fatalf("page after %d = %+v", all[1].ID, rest)
	}
	if last := must(c.LastEventID(ctx))(t); last != all[4].ID {
		t.Fatalf("last event id = %d", last)
	}
}

// testEventCursorConcurrent: with concurrent writers, a reader that follows
// the cursor sees every event: no id appears after a larger one was read.
func testEventCursorConcurrent(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	const writers, perWriter = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				if _, err := c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "a", Partition: fmt.Sprintf("w%d-%d", w, i)}}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[int64]bool{}
	var cursor int64
	finished := false
	for !finished {
		select {
		case <-done:
			finished = true
		default:
		}
		evs, err := c.Events(ctx, cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			seen[e.ID] = true
			cursor = e.ID
		}
	}
	evs := must(c.Events(ctx, cursor, 1000))(t)
	for _, e := range evs {
		seen[e.ID] = true
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := must(c.Events(ctx, 0, 10000))(t)
	if len(all) != writers*perWriter {
		t.Fatalf("%d events, want %d", len(all), writers*perWriter)
	}
	for _, e := range all {
		if !seen[e.ID] {
			t.Fatalf("cursor reader skipped event %d", e.ID)
		}
	}
}

func testRetention(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	var ids []int64
	for i := 0; i < 5; i++ {
		ids = append(ids, must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "up", Partition: "p", DataVersion: fmt.Sprint(i),
			Provenance: []catalog.ProvenanceEntry{{UpstreamAsset: "src", UpstreamPartition: "p"}}}}))(t)[0])
	}
	other := must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "up", Partition: "q"}}))(t)[0]
	// A downstream materialization consumed the second-oldest.
	down := must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "down", Partition: "p",
		Provenance: []catalog.ProvenanceEntry{{UpstreamAsset: "up", UpstreamPartition: "p", UpstreamMaterializationID: ids[1]}}}}))(t)[0]
	must(c.EnqueueRuns(ctx, []catalog.RunSpec{spec("a", 0, nil, "old"), spec("a", 0, nil, "new")}))(t)
	old := claimOne(t, c, "w", t0)
	must(c.FinishRun(ctx, catalog.RunResult{RunID: old.ID, Attempt: 1, State: catalog.RunSucceeded, Log: "old log", Now: t0}))(t)
	nw := claimOne(t, c, "w", t0)
	must(c.FinishRun(ctx, catalog.RunResult{RunID: nw.ID, Attempt: 1, State: catalog.RunSucceeded, Log: "new log", Now: t0.Add(48 * time.Hour)}))(t)

	res, err := c.Prune(ctx, catalog.RetentionPolicy{KeepMaterializationsPerPartition: 2, RunLogsOlderThan: 24 * time.Hour, Now: t0.Add(49 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// Kept: ids[4], ids[3] (newest two), ids[1] (referenced). Pruned: ids[0], ids[2].
	if res.Materializations != 2 || res.RunLogs != 1 {
		t.Fatalf("prune result = %+v", res)
	}
	h := must(c.MaterializationHistory(ctx, "up", "p", 0))(t)
	var got []int64
	for _, m := range h {
		got = append(got, m.ID)
	}
	if want := []int64{ids[4], ids[3], ids[1]}; !reflect.DeepEqual(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
	if p := must(c.Provenance(ctx, ids[0]))(t); len(p) != 0 {
		t.Fatalf("pruned materialization kept provenance %v", p)
	}
	if p := must(c.Provenance(ctx, ids[1]))(t); len(p) != 1 {
		t.Fatalf("kept materialization lost provenance")
	}
	for _, id := range []int64{other, down} {
		must(c.GetMaterialization(ctx, id))(t)
	}
	if l, _, _ := c.RunLog(ctx, old.ID); l != "" {
		t.Fatalf("old log kept: %q", l)
	}
	if l, _, _ := c.RunLog(ctx, nw.ID); l != "new log" {
		t.Fatalf("new log = %q", l)
	}
	res, err = c.Prune(ctx, catalog.RetentionPolicy{KeepMaterializationsPerPartition: 1, Now: t0.Add(49 * time.Hour)})
	if err != nil || res.Materializations != 1 { // ids[3]
		t.Fatalf("second prune = %+v, %v", res, err)
	}
	n := 0
	noErr(t, c.LatestMaterializations(ctx, "up", func(s *catalog.MaterializationSummary) error {
		n++
		if s.Partition == "p" && s.ID != ids[4] {
			t.Errorf("latest of p = %d, want %d", s.ID, ids[4])
		}
		return nil
	}))
	if n != 2 {
		t.Fatalf("%d latest partitions, want 2", n)
	}

	// Many assets, and one asset with more than a batch (10,000) to prune.
	var batch []catalog.Materialization
	for i := 0; i < 10_500; i++ {
		batch = append(batch, catalog.Materialization{Asset: "many/big", Partition: fmt.Sprint("p", i%3), DataVersion: fmt.Sprint(i)})
	}
	for a := 0; a < 20; a++ {
		for i := 0; i < 4; i++ {
			batch = append(batch, catalog.Materialization{Asset: asset.Key(fmt.Sprintf("many/a%02d", a)), Partition: "p", DataVersion: fmt.Sprint(i)})
		}
	}
	must(c.RecordMaterializations(ctx, batch))(t)
	res, err = c.Prune(ctx, catalog.RetentionPolicy{KeepMaterializationsPerPartition: 2, Now: t0.Add(50 * time.Hour)})
	if want := int64(10_500 - 3*2 + 20*2); err != nil || res.Materializations != want {
		t.Fatalf("prune of many assets = %+v, %v; want %d materializations", res, err, want)
	}
	for _, key := range []asset.Key{"many/big", "many/a00", "many/a19"} {
		ms := must(c.ListMaterializations(ctx, catalog.MaterializationQuery{Asset: key, Limit: 100}))(t)
		parts := map[string]int{}
		for _, m := range ms {
			parts[m.Partition]++
		}
		for part, k := range parts {
			if k != 2 {
				t.Fatalf("%s/%s kept %d materializations, want 2", key, part, k)
			}
		}
	}
}

func testErrorsHideDriverTypes(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "a", Partition: "p", RunID: 1, Attempt: 1}}))(t)
	_, err := c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "a", Partition: "p", RunID: 1, Attempt: 1}})
	wantErr(t, err, catalog.ErrAlreadyExists)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.ListRuns(cctx, catalog.RunFilter{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	assertNoDriverTypes(t, err)
}

// testBackfillConcurrent finishes, requeues and cancels runs of one backfill
// from several goroutines; afterwards the counters equal the runs' states
// and every run is in exactly one terminal state.
func testBackfillConcurrent(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	const n = 60
	var runs []catalog.RunSpec
	for i := 0; i < n; i++ {
		runs = append(runs, catalog.RunSpec{Asset: "a", PartitionKeys: []string{fmt.Sprint(i)}, MaxAttempts: 2})
	}
	bf, _, err := c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: keys("a"), Runs: runs})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				rs, err := c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: fmt.Sprint("w", w), Lease: time.Minute, Limit: 2, Now: t0})
				if err != nil {
					errs <- err
					return
				}
				if len(rs) == 0 {
					return
				}
				for _, r := range rs {
					st := []catalog.RunState{catalog.RunSucceeded, catalog.RunFailed, catalog.RunCancelled}[(i+int(r.ID))%3]
					res := catalog.RunResult{RunID: r.ID, Attempt: r.Attempt, Owner: r.LeaseOwner, State: st,
						Materializations: []catalog.Materialization{{Asset: "a", Partition: r.PartitionKeys[0]}}}
					if st == catalog.RunFailed {
						res.Retry = &catalog.RetryAt{NotBefore: t0}
					}
					if _, err := c.FinishRun(ctx, res); err != nil {
						errs <- err
						return
					}
				}
			}
		}(w)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := c.CancelBackfill(ctx, bf.ID); err != nil {
			errs <- err
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := must(c.ListRuns(ctx, catalog.RunFilter{BackfillID: bf.ID, Limit: 1000}))(t)
	var want catalog.BackfillCounts
	want.Total = int64(len(all))
	for _, r := range all {
		switch r.State {
		case catalog.RunSucceeded:
			want.Succeeded++
		case catalog.RunFailed:
			want.Failed++
		case catalog.RunCancelled:
			want.Cancelled++
		default:
			t.Fatalf("run %d ended %s", r.ID, r.State)
		}
	}
	got := must(c.GetBackfill(ctx, bf.ID))(t)
	if want.Total != n || got.Counts != want {
		t.Fatalf("counters %+v, runs say %+v", got.Counts, want)
	}
	if got.State != catalog.BackfillCancelled {
		t.Fatalf("state = %s, want cancelled", got.State)
	}
}
