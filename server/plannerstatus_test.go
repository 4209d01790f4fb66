package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/scheduler"
	"github.com/strata-data/strata/server"
)

// plannerStatus is the status source of `strata server`: the planner loop
// over the catalog, on the tests' clock.
func plannerStatus(t testing.TB) func(*catalog.Catalog) server.StatusSource {
	return func(cat *catalog.Catalog) server.StatusSource {
		sched, err := scheduler.New(scheduler.Config{Catalog: cat, Clock: func() time.Time { return fixedNow }, TickInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = sched.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		select {
		case <-sched.Ready():
		case <-time.After(30 * time.Second):
			t.Fatal("planner loop not ready")
		}
		return &server.PlannerStatus{Scheduler: sched, Catalog: cat}
	}
}

// TestPlannerStatusPagesAndHealth: with the planner's status source, the
// health bar comes from its ranges and the latest materializations are
// looked up for the partitions a page shows, not loaded for all. The
// answers equal the catalog-only source's on a root asset (where both
// agree), and carry the recorded values.
func TestPlannerStatusPagesAndHealth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bundles := map[string]*testBundle{
		"planner": setup(t, testOpts{status: plannerStatus(t)}),
		"catalog": setup(t, testOpts{}),
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hour := func(i int) string { return start.Add(time.Duration(i) * time.Hour).Format("2006-01-02-15:04") }
	var ms []catalog.Materialization
	for _, i := range append(append(seq(0, 100), 500), seq(700, 710)...) {
		rows := int64(i)
		ms = append(ms, catalog.Materialization{Asset: "raw/events", Partition: hour(i), DataVersion: fmt.Sprint("v", i),
			CodeVersion: "1", RowCount: &rows, Location: fmt.Sprintf("file:///lake/%d", i), CreatedAt: start.Add(time.Duration(i+1) * time.Hour)})
	}
	for _, b := range bundles {
		b.applySample(t)
		if _, err := b.cat.RecordMaterializations(ctx, ms); err != nil {
			t.Fatal(err)
		}
	}
	const n = 59*24 + 12 // hourly partitions from 2026-01-01 to fixedNow
	type answers struct {
		health, truncated, window *stratav1.GetPartitionHealthResponse
		pages                     []*stratav1.ListPartitionStatusesResponse
		explain, explainDown      *stratav1.ExplainPartitionResponse
		asset                     *stratav1.GetAssetResponse
	}
	got := map[string]answers{}
	for name, b := range bundles {
		var a answers
		var err error
		if a.health, err = b.parts.GetPartitionHealth(ctx, &stratav1.GetPartitionHealthRequest{Asset: "raw/events"}); err != nil {
			t.Fatalf("%s: health: %v", name, err)
		}
		if a.truncated, err = b.parts.GetPartitionHealth(ctx, &stratav1.GetPartitionHealthRequest{Asset: "raw/events", MaxRanges: 3}); err != nil {
			t.Fatalf("%s: truncated health: %v", name, err)
		}
		lo, hi := int64(50), int64(705)
		if a.window, err = b.parts.GetPartitionHealth(ctx, &stratav1.GetPartitionHealthRequest{Asset: "raw/events", StartIndex: &lo, EndIndex: &hi}); err != nil {
			t.Fatalf("%s: window health: %v", name, err)
		}
		token := ""
		for {
			page, err := b.parts.ListPartitionStatuses(ctx, &stratav1.ListPartitionStatusesRequest{Asset: "raw/events", PageSize: 60, PageToken: token,
				Statuses: []stratav1.PartitionStatus{stratav1.PartitionStatus_PARTITION_STATUS_FRESH}})
			if err != nil {
				t.Fatalf("%s: list: %v", name, err)
			}
			a.pages = append(a.pages, page)
			if token = page.GetNextPageToken(); token == "" {
				break
			}
		}
		if a.explain, err = b.parts.ExplainPartition(ctx, &stratav1.ExplainPartitionRequest{Asset: "raw/events", PartitionKey: hour(500)}); err != nil {
			t.Fatalf("%s: explain: %v", name, err)
		}
		if a.explainDown, err = b.parts.ExplainPartition(ctx, &stratav1.ExplainPartitionRequest{Asset: "analytics/sessions", PartitionKey: "2026-01-02"}); err != nil {
			t.Fatalf("%s: explain downstream: %v", name, err)
		}
		if a.asset, err = b.assets.GetAsset(ctx, &stratav1.GetAssetRequest{Key: "raw/events"}); err != nil {
			t.Fatalf("%s: get asset: %v", name, err)
		}
		got[name] = a
	}

	p, c := got["planner"], got["catalog"]
	h := p.health
	if h.GetPartitionCount() != n || h.GetCounts().GetFresh() != 111 || h.GetCounts().GetMissing() != n-111 || len(h.GetRanges()) != 6 {
		t.Fatalf("health: %d partitions, counts %v, %d ranges", h.GetPartitionCount(), h.GetCounts(), len(h.GetRanges()))
	}
	if r := h.GetRanges()[2]; r.GetStartIndex() != 500 || r.GetEndIndex() != 500 || r.GetFirstKey() != hour(500) ||
		r.GetStatus() != stratav1.PartitionStatus_PARTITION_STATUS_FRESH {
		t.Fatalf("health range 2 = %v", r)
	}
	if tr := p.truncated; !tr.GetTruncated() || tr.GetNextStartIndex() != 501 || tr.GetCounts().GetFresh() != 101 || tr.GetCounts().GetMissing() != 400 {
		t.Fatalf("truncated health = next %d, counts %v", tr.GetNextStartIndex(), tr.GetCounts())
	}
	if w := p.window; len(w.GetRanges()) != 5 || w.GetRanges()[0].GetStartIndex() != 50 || w.GetRanges()[4].GetEndIndex() != 705 || w.GetCounts().GetFresh() != 57 {
		t.Fatalf("window health = %v", w)
	}
	var fresh []*stratav1.AssetPartitionStatus
	for _, page := range p.pages {
		fresh = append(fresh, page.GetPartitions()...)
	}
	if len(fresh) != 111 || len(p.pages) != 2 {
		t.Fatalf("%d fresh partitions in %d pages, want 111 in 2", len(fresh), len(p.pages))
	}
	for _, ps := range fresh {
		lm := ps.GetLatestMaterialization()
		if lm.GetDataVersion() != fmt.Sprint("v", ps.GetIndex()) || lm.GetRowCount() != ps.GetIndex() || lm.GetLocation() != fmt.Sprintf("file:///lake/%d", ps.GetIndex()) {
			t.Fatalf("partition %d: latest materialization %v", ps.GetIndex(), lm)
		}
	}
	if lm := p.explain.GetStatus().GetLatestMaterialization(); lm.GetDataVersion() != "v500" {
		t.Fatalf("explain: latest %v", lm)
	}
	ups := p.explainDown.GetUpstreams()
	if len(ups) != 24 || ups[0].GetCurrentDataVersion() != "v24" || ups[23].GetCurrentDataVersion() != "v47" {
		t.Fatalf("explain downstream upstreams = %v", ups)
	}
	if lm := p.asset.GetAsset().GetLatestMaterialization(); lm.GetDataVersion() != "v709" {
		t.Fatalf("asset latest = %v", lm)
	}

	// The catalog-only source says the same of this root asset.
	for what, pair := range map[string][2]proto.Message{
		"health": {p.health, c.health}, "truncated health": {p.truncated, c.truncated}, "window health": {p.window, c.window},
		"first page": {p.pages[0], c.pages[0]}, "explain": {p.explain.GetStatus().GetLatestMaterialization(), c.explain.GetStatus().GetLatestMaterialization()},
		"asset latest": {p.asset.GetAsset().GetLatestMaterialization(), c.asset.GetAsset().GetLatestMaterialization()},
	} {
		if !proto.Equal(pair[0], pair[1]) {
			t.Errorf("%s differs:\nplanner %.2000v\ncatalog %.2000v", what, pair[0], pair[1])
		}
	}
}

func seq(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}
