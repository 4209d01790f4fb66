package catalogtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
)

// The history and column tests: asset revisions, materialization history,
// a run's materializations, locations, idempotent observations and checks,
// per-asset backfill counters and ListRuns filters.

func testAssetRevisions(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	d := decl("hist/a")
	must(c.ApplyAssets(ctx, []asset.AssetDecl{d}, catalog.ApplyOptions{Actor: "ann"}))(t)
	d.CodeVersion = "v2"
	must(c.ApplyAssets(ctx, []asset.AssetDecl{d}, catalog.ApplyOptions{Actor: "bob"}))(t)
	must(c.ApplyAssets(ctx, []asset.AssetDecl{d}, catalog.ApplyOptions{Actor: "bob"}))(t) // unchanged: no revision
	must(c.DeleteAsset(ctx, "hist/a", "cy"))(t)

	revs := must(c.AssetRevisions(ctx, "hist/a", 0, 0))(t)
	if len(revs) != 3 {
		t.Fatalf("revisions = %d, want 3", len(revs))
	}
	want := []struct {
		rev    int64
		change string
		actor  string
		code   string
	}{{3, catalog.ChangeDeleted, "cy", ""}, {2, catalog.ChangeChanged, "bob", "v2"}, {1, catalog.ChangeCreated, "ann", "v1"}}
	for i, w := range want {
		r := revs[i]
		if r.Revision != w.rev || r.Change != w.change || r.Actor != w.actor || r.CreatedAt.IsZero() || r.CatalogRevision == 0 {
			t.Fatalf("revision %d = %+v, want %+v", i, r, w)
		}
		if (r.Decl == nil) != (w.code == "") || (r.Decl != nil && r.Decl.CodeVersion != w.code) {
			t.Fatalf("revision %d decl = %+v, want code version %q", r.Revision, r.Decl, w.code)
		}
	}
	page := must(c.AssetRevisions(ctx, "hist/a", 0, 2))(t)
	if len(page) != 2 || page[1].Revision != 2 {
		t.Fatalf("first page = %+v", page)
	}
	page = must(c.AssetRevisions(ctx, "hist/a", page[1].Revision, 2))(t)
	if len(page) != 1 || page[0].Revision != 1 {
		t.Fatalf("second page = %+v", page)
	}
	if page = must(c.AssetRevisions(ctx, "hist/a", 1, 2))(t); len(page) != 0 {
		t.Fatalf("past the oldest = %+v", page)
	}
	_, err := c.AssetRevisions(ctx, "hist/none", 0, 0)
	wantErr(t, err, catalog.ErrNotFound)
	_, err = c.AssetRevisions(ctx, "Not A Key", 0, 0)
	wantErr(t, err, catalog.ErrInvalid)
	_, err = c.AssetRevisions(ctx, "hist/a", -1, 0)
	wantErr(t, err, catalog.ErrInvalid)
}

func testListMaterializations(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	var ms []catalog.Materialization
	for i := 0; i < 7; i++ {
		ms = append(ms, catalog.Materialization{Asset: "mh/a", Partition: fmt.Sprintf("p%d", i%3), DataVersion: fmt.Sprint(i),
			RowCount: i64(int64(10 * i)), ByteCount: i64(int64(100 * i)), CreatedAt: t0.Add(time.Duration(i) * time.Hour)})
	}
	ms = append(ms, catalog.Materialization{Asset: "mh/other", Partition: "p0"})
	ids := must(c.RecordMaterializations(ctx, ms))(t)

	all := must(c.ListMaterializations(ctx, catalog.MaterializationQuery{Asset: "mh/a"}))(t)
	if len(all) != 7 {
		t.Fatalf("asset-wide history has %d, want 7", len(all))
	}
	for i, m := range all {
		if m.ID != ids[6-i] || m.Asset != "mh/a" || *m.RowCount != int64(10*(6-i)) || !m.CreatedAt.Equal(t0.Add(time.Duration(6-i)*time.Hour)) {
			t.Fatalf("history[%d] = %+v, want id %d", i, m, ids[6-i])
		}
	}
	p1 := "p1"
	one := must(c.ListMaterializations(ctx, catalog.MaterializationQuery{Asset: "mh/a", Partition: &p1}))(t)
	if len(one) != 2 || one[0].ID != ids[4] || one[1].ID != ids[1] {
		t.Fatalf("partition p1 history = %+v", one)
	}
	page := must(c.ListMaterializations(ctx, catalog.MaterializationQuery{Asset: "mh/a", Limit: 3}))(t)
	page2 := must(c.ListMaterializations(ctx, catalog.MaterializationQuery{Asset: "mh/a", Limit: 3, BeforeID: page[2].ID}))(t)
	if len(page) != 3 || len(page2) != 3 || page2[0].ID != ids[3] {
		t.Fatalf("pages = %v / %v", page, page2)
	}
	none := "nope"
	if got := must(c.ListMaterializations(ctx, catalog.MaterializationQuery{Asset: "mh/a", Partition: &none}))(t); len(got) != 0 {
		t.Fatalf("unknown partition = %+v", got)
	}
	// By client id (the report id of an external report).
	cid := must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "mh/a", Partition: "p1", ClientID: "rep-1", Location: "s3://x"}}))(t)
	if got := must(c.MaterializationByClientID(ctx, "mh/a", "p1", "rep-1"))(t); got.ID != cid[0] || got.Location != "s3://x" {
		t.Fatalf("by client id = %+v", got)
	}
	_, err := c.MaterializationByClientID(ctx, "mh/a", "p2", "rep-1")
	wantErr(t, err, catalog.ErrNotFound)
	_, err = c.ListMaterializations(ctx, catalog.MaterializationQuery{Asset: "Bad Key"})
	wantErr(t, err, catalog.ErrInvalid)
	_, err = c.ListMaterializations(ctx, catalog.MaterializationQuery{Asset: "mh/a", BeforeID: -1})
	wantErr(t, err, catalog.ErrInvalid)
}

func testRunMaterializationIDs(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	must(c.EnqueueRuns(ctx, []catalog.RunSpec{spec("rm/a", 0, nil, "x", "y"), spec("rm/a", 0, nil, "z")}))(t)
	r := claimOne(t, c, "w", t0)
	must(c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: r.Attempt, State: catalog.RunSucceeded,
		Materializations: []catalog.Materialization{{Asset: "rm/a", Partition: "x"}, {Asset: "rm/a", Partition: "y"}}}))(t)
	// A report outside the run is not the run's.
	must(c.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "rm/a", Partition: "x"}}))(t)
	ids := must(c.RunMaterializationIDs(ctx, r.ID))(t)
	if len(ids) != 2 || ids[0] >= ids[1] {
		t.Fatalf("run materializations = %v", ids)
	}
	for i, id := range ids {
		m := must(c.GetMaterialization(ctx, id))(t)
		if m.RunID != r.ID || m.Partition != []string{"x", "y"}[i] {
			t.Fatalf("materialization %d = %+v", id, m)
		}
	}
	other := claimOne(t, c, "w", t0)
	if got := must(c.RunMaterializationIDs(ctx, other.ID))(t); len(got) != 0 {
		t.Fatalf("unfinished run has %v", got)
	}
	if got := must(c.RunMaterializationIDs(ctx, 99999))(t); len(got) != 0 {
		t.Fatalf("unknown run has %v", got)
	}
}

func testMaterializationLocation(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	ids := must(c.RecordMaterializations(ctx, []catalog.Materialization{
		{Asset: "loc/a", Partition: "col", Location: "s3://b/col.parquet", Metadata: json.RawMessage(`{"k":1}`)},
		// The materializer's current form: the location inside metadata.
		{Asset: "loc/a", Partition: "legacy", Metadata: json.RawMessage(`{"_strata":{"location":"file:///tmp/legacy.parquet"},"k":2}`)},
		// The column wins over the legacy key.
		{Asset: "loc/a", Partition: "both", Location: "s3://b/both", Metadata: json.RawMessage(`{"_strata":{"location":"old"}}`)},
		{Asset: "loc/a", Partition: "none", Metadata: json.RawMessage(`[1,2]`)},
	}))(t)
	want := map[string]string{"col": "s3://b/col.parquet", "legacy": "file:///tmp/legacy.parquet", "both": "s3://b/both", "none": ""}
	for _, id := range ids {
		m := must(c.GetMaterialization(ctx, id))(t)
		if m.Location != want[m.Partition] {
			t.Fatalf("materialization %s location = %q, want %q", m.Partition, m.Location, want[m.Partition])
		}
	}
	if m := must(c.GetMaterialization(ctx, ids[1]))(t); string(m.Metadata) != `{"_strata":{"location":"file:///tmp/legacy.parquet"},"k":2}` {
		t.Fatalf("metadata changed: %s", m.Metadata)
	}
	for _, m := range must(c.ListMaterializations(ctx, catalog.MaterializationQuery{Asset: "loc/a"}))(t) {
		if m.Location != want[m.Partition] {
			t.Fatalf("listed %s location = %q", m.Partition, m.Location)
		}
	}
	got := map[string]string{}
	noErr(t, c.LatestMaterializations(ctx, "loc/a", func(s *catalog.MaterializationSummary) error {
		got[s.Partition] = s.Location
		return nil
	}))
	for p, w := range want {
		if got[p] != w {
			t.Fatalf("latest %s location = %q, want %q", p, got[p], w)
		}
	}
}

func testObservationCheckClientIDs(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	o := catalog.Observation{Asset: "oc/src", Partition: "p", ClientID: "obs-1", DataVersion: "v1", RowCount: i64(12), ByteCount: i64(3400)}
	noErr(t, c.RecordObservations(ctx, []catalog.Observation{o, o}))
	noErr(t, c.RecordObservations(ctx, []catalog.Observation{o, {Asset: "oc/src", Partition: "p", DataVersion: "v2"}}))
	obs := must(c.Observations(ctx, "oc/src", "p", 0))(t)
	if len(obs) != 2 {
		t.Fatalf("observations = %+v, want 2 (one per client id, one without)", obs)
	}
	got := must(c.ObservationByClientID(ctx, "oc/src", "p", "obs-1"))(t)
	if got.DataVersion != "v1" || got.RowCount == nil || *got.RowCount != 12 || got.ByteCount == nil || *got.ByteCount != 3400 || got.ClientID != "obs-1" {
		t.Fatalf("observation = %+v", got)
	}
	// The same client id on another partition is another report.
	noErr(t, c.RecordObservations(ctx, []catalog.Observation{{Asset: "oc/src", Partition: "q", ClientID: "obs-1"}}))
	_, err := c.ObservationByClientID(ctx, "oc/src", "p", "obs-9")
	wantErr(t, err, catalog.ErrNotFound)
	wantErr(t, c.RecordObservations(ctx, []catalog.Observation{{Asset: "oc/src", RowCount: i64(-1)}}), catalog.ErrInvalid)
	wantErr(t, c.RecordObservations(ctx, []catalog.Observation{{Asset: "oc/src", ByteCount: i64(-1)}}), catalog.ErrInvalid)

	ch := catalog.CheckResult{Asset: "oc/src", Partition: "p", Check: "not_null", ClientID: "chk-1", Passed: true, Severity: "error"}
	noErr(t, c.RecordCheckResults(ctx, []catalog.CheckResult{ch}))
	noErr(t, c.RecordCheckResults(ctx, []catalog.CheckResult{ch, ch}))
	if cs := must(c.CheckResults(ctx, "oc/src", "p", 0))(t); len(cs) != 1 || cs[0].ClientID != "chk-1" {
		t.Fatalf("check results = %+v", cs)
	}
	if got := must(c.CheckResultByClientID(ctx, "oc/src", "p", "chk-1"))(t); got.Check != "not_null" || !got.Passed {
		t.Fatalf("check result = %+v", got)
	}
	_, err = c.CheckResultByClientID(ctx, "oc/src", "p", "chk-2")
	wantErr(t, err, catalog.ErrNotFound)
}

func assetCounts(t *testing.T, c *catalog.Catalog, id int64) map[asset.Key]catalog.BackfillAssetCounts {
	t.Helper()
	out := map[asset.Key]catalog.BackfillAssetCounts{}
	for _, a := range counts(t, c, id).Assets {
		out[a.Asset] = a
	}
	return out
}

func testBackfillAssetCounters(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	runs := []catalog.RunSpec{
		{Asset: "ba/a", PartitionKeys: []string{"1", "2", "3"}, Priority: 1},
		{Asset: "ba/a", PartitionKeys: []string{"4"}, Priority: 1},
		{Asset: "ba/b", PartitionKeys: []string{"1", "2"}},
	}
	bf, ids, err := c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: keys("ba/a", "ba/b"), Runs: runs,
		RequestID: "req-42", Description: "fill January"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || bf.RequestID != "req-42" || bf.Description != "fill January" {
		t.Fatalf("backfill = %+v, ids %v", bf, ids)
	}
	want := map[asset.Key]catalog.BackfillAssetCounts{
		"ba/a": {Asset: "ba/a", Runs: 2, Total: 4, Queued: 4},
		"ba/b": {Asset: "ba/b", Runs: 1, Total: 2, Queued: 2},
	}
	if got := assetCounts(t, c, bf.ID); !mapsEqual(got, want) {
		t.Fatalf("asset counters = %+v, want %+v", got, want)
	}
	// Claim the 3-partition run of ba/a (priority 1, oldest), fail it;
	// claim the other ba/a run and let its lease expire into a retry.
	r := claimOne(t, c, "w", t0)
	if r.ID != ids[0] {
		t.Fatalf("claimed run %d, want %d", r.ID, ids[0])
	}
	if got := assetCounts(t, c, bf.ID)["ba/a"]; got.Queued != 1 || got.Running != 3 {
		t.Fatalf("after claim: %+v", got)
	}
	must(c.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: r.Attempt, State: catalog.RunFailed}))(t)
	r2 := claimOne(t, c, "w", t0)
	must3(t)(c.RequeueExpired(ctx, t0.Add(time.Hour)))
	if got := assetCounts(t, c, bf.ID)["ba/a"]; got != (catalog.BackfillAssetCounts{Asset: "ba/a", Runs: 2, Total: 4, Queued: 0, Failed: 4}) {
		// r2 had max 1 attempt: its lease expiry fails it.
		t.Fatalf("after fail and expiry: %+v (run %d)", got, r2.ID)
	}
	must(c.CancelBackfill(ctx, bf.ID))(t)
	got := assetCounts(t, c, bf.ID)
	if got["ba/b"] != (catalog.BackfillAssetCounts{Asset: "ba/b", Runs: 1, Total: 2, Cancelled: 2}) {
		t.Fatalf("after cancel: %+v", got["ba/b"])
	}
	// Retrying one failed partition adds to its asset.
	must(c.EnqueueRuns(ctx, []catalog.RunSpec{{Asset: "ba/a", PartitionKeys: []string{"4"}, BackfillID: bf.ID}}))(t)
	if got := assetCounts(t, c, bf.ID)["ba/a"]; got.Runs != 3 || got.Total != 5 || got.Queued != 1 {
		t.Fatalf("after retry: %+v", got)
	}

	// Idempotent by request id: the same backfill, nothing written.
	again, againIDs, err := c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: keys("ba/a"), RequestID: "req-42",
		Runs: []catalog.RunSpec{{Asset: "ba/a", PartitionKeys: []string{"9"}}}})
	if err != nil || again.ID != bf.ID || len(againIDs) != 0 {
		t.Fatalf("retry with request id = %+v %v, %v", again, againIDs, err)
	}
	if n := len(must(c.ListRuns(ctx, catalog.RunFilter{BackfillID: bf.ID}))(t)); n != 4 {
		t.Fatalf("backfill has %d runs, want 4", n)
	}
	byReq := must(c.BackfillByRequestID(ctx, "req-42"))(t)
	if byReq.ID != bf.ID || len(byReq.Assets) != 2 {
		t.Fatalf("by request id = %+v", byReq)
	}
	_, err = c.BackfillByRequestID(ctx, "req-0")
	wantErr(t, err, catalog.ErrNotFound)
	other, _, err := c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: keys("ba/a"), RequestID: "req-43"})
	if err != nil || other.ID == bf.ID {
		t.Fatalf("another request id = %+v, %v", other, err)
	}
	_, _, err = c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: keys("ba/a"), RequestID: string(make([]byte, 201))})
	wantErr(t, err, catalog.ErrInvalid)
	if list := must(c.ListBackfills(ctx, 0, 10))(t); len(list) != 2 || list[1].Description != "fill January" {
		t.Fatalf("list = %+v", list)
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func testListRunsFilters(t *testing.T, c *catalog.Catalog) {
	ctx := ctxT(t)
	before := time.Now().Add(-time.Minute)
	ids := must(c.EnqueueRuns(ctx, []catalog.RunSpec{
		spec("lr/a", 0, nil, "2026-01-01", "2026-01-02"),
		spec("lr/a", 0, nil, "2026-01-02"),
		spec("lr/a", 0, nil, "2026-01-03"),
		spec("lr/a", 0, nil, `we"ird%_\`),
		spec("lr/a", 0, nil, "2026-01-02x"),
	}))(t)
	after := time.Now().Add(time.Minute)
	got := func(f catalog.RunFilter) []int64 {
		t.Helper()
		var out []int64
		for _, r := range must(c.ListRuns(ctx, f))(t) {
			out = append(out, r.ID)
		}
		return out
	}
	if g := got(catalog.RunFilter{PartitionKey: "2026-01-02"}); !slices.Equal(g, []int64{ids[1], ids[0]}) {
		t.Fatalf("partition 2026-01-02 = %v, want %v", g, []int64{ids[1], ids[0]})
	}
	if g := got(catalog.RunFilter{PartitionKey: `we"ird%_\`}); !slices.Equal(g, []int64{ids[3]}) {
		t.Fatalf("odd partition = %v", g)
	}
	if g := got(catalog.RunFilter{PartitionKey: "2026-01"}); len(g) != 0 {
		t.Fatalf("a prefix matched %v", g)
	}
	// A key whose JSON form contains another key's: the text match finds
	// both, the page still holds only runs of the key asked for.
	real := must(c.EnqueueRuns(ctx, []catalog.RunSpec{spec("lr/b", 0, nil, "y")}))(t)
	must(c.EnqueueRuns(ctx, []catalog.RunSpec{spec("lr/b", 0, nil, `x","y`), spec("lr/b", 0, nil, `z","y`)}))(t)
	if g := got(catalog.RunFilter{PartitionKey: "y", Limit: 1}); !slices.Equal(g, real) {
		t.Fatalf("partition y = %v, want %v", g, real)
	}
	r := claimOne(t, c, "worker-7", t0)
	if g := got(catalog.RunFilter{Worker: "worker-7"}); !slices.Equal(g, []int64{r.ID}) {
		t.Fatalf("worker-7 = %v, want [%d]", g, r.ID)
	}
	if g := got(catalog.RunFilter{Worker: "worker-8"}); len(g) != 0 {
		t.Fatalf("worker-8 = %v", g)
	}
	if g := got(catalog.RunFilter{Asset: "lr/a", CreatedAfter: before, CreatedBefore: after}); len(g) != 5 {
		t.Fatalf("created in range = %v", g)
	}
	if g := got(catalog.RunFilter{CreatedAfter: after}); len(g) != 0 {
		t.Fatalf("created after the runs = %v", g)
	}
	if g := got(catalog.RunFilter{CreatedBefore: before}); len(g) != 0 {
		t.Fatalf("created before the runs = %v", g)
	}
	if g := got(catalog.RunFilter{PartitionKey: "2026-01-03", Asset: "lr/a", CreatedAfter: before}); !slices.Equal(g, []int64{ids[2]}) {
		t.Fatalf("combined = %v", g)
	}
}
