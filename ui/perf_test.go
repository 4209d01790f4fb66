package ui_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/proto"

	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// TestPerformance measures, in headless Chromium against a real server,
// how long the pages take to be ready (from navigation start to the page
// drawn, as the page itself records it): the lineage of 5,000 assets and
// the asset page of an asset with 1,000,000 partitions. It reports the
// times and asserts nothing about them (go test ./ui -run Performance -perf -v).
func TestPerformance(t *testing.T) {
	if !*perf {
		t.Skip("run with -perf to measure the page ready times")
	}
	ctx := newTab(t, 5*time.Minute)
	b := startServer(t)
	bctx := context.Background()

	// 5,000 assets in 50 groups of 100; each depends on one to three
	// earlier assets, mostly of its own group.
	const n = 5000
	rng := rand.New(rand.NewPCG(1, 2))
	decls := make([]*stratav1.AssetDecl, n)
	for i := range n {
		d := &stratav1.AssetDecl{Key: fmt.Sprintf("g%02d/asset_%04d", i/100, i), Group: fmt.Sprintf("g%02d", i/100), Owners: []string{"team" + strconv.Itoa(i%7) + "@example.com"}}
		if i%100 >= 10 {
			for range 1 + rng.IntN(3) {
				j := i - 1 - rng.IntN(i%100) // same group
				if rng.IntN(10) < 3 {
					j = rng.IntN(i) // any earlier asset
				}
				up := decls[j].Key
				if !slices.ContainsFunc(d.Deps, func(x *stratav1.DepDecl) bool { return x.Asset == up }) {
					d.Deps = append(d.Deps, &stratav1.DepDecl{Asset: up})
				}
			}
		}
		decls[i] = d
	}
	// One asset with 1,000,000 hourly partitions, materialized in places.
	start := time.Now().UTC().Truncate(time.Hour).Add(-1_000_000 * time.Hour)
	decls = append(decls, &stratav1.AssetDecl{Key: "perf/hourly_million", Group: "perf", Description: "1,000,000 hourly partitions",
		Partitions: &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Schedule: "hourly", Start: start.Format("2006-01-02-15:04"), Timezone: "UTC"}}})
	t0 := time.Now()
	if _, err := b.assets.ApplyAssets(bctx, &stratav1.ApplyAssetsRequest{Assets: decls}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Logf("seed: applied %d assets in %v", len(decls), time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	for i := range 2000 {
		// clusters of materialized hours and isolated ones, so the bar has
		// thousands of ranges
		h := (i/20)*9973 + i%20
		if i%2 == 1 {
			h = i*499 + 7
		}
		_, err := b.runs.ReportMaterialization(bctx, &stratav1.ReportMaterializationRequest{ReportId: "p" + strconv.Itoa(i),
			Materialization: &stratav1.MaterializationReport{Asset: "perf/hourly_million", PartitionKey: start.Add(time.Duration(h) * time.Hour).Format("2006-01-02-15:04"),
				DataVersion: "v" + strconv.Itoa(i), RowCount: proto.Int64(int64(1000 + i)), Bytes: proto.Int64(int64(1 << 20))}})
		if err != nil {
			t.Fatalf("report: %v", err)
		}
	}
	t.Logf("seed: reported 2000 materializations in %v", time.Since(t0).Round(time.Millisecond))

	measure := func(name, path, extra string) {
		t.Helper()
		var times []float64
		var cold float64
		for i := range 4 {
			if err := chromedp.Do(ctx, chromedp.Navigate(b.base+path)); err != nil {
				t.Fatal(err)
			}
			if err := ready(ctx); err != nil {
				t.Fatal(err)
			}
			if extra != "" {
				if err := waitJS(ctx, extra); err != nil {
					t.Fatal(err)
				}
			}
			ms := evalJS[float64](t, ctx, `window.strataReadyAt`)
			if i == 0 { // the first load warms the server's snapshot and the browser's module cache
				cold = ms
				continue
			}
			times = append(times, ms)
		}
		slices.Sort(times)
		t.Logf("%s: ready in %.0f ms (median of %d warm loads; min %.0f, max %.0f; first load %.0f) from navigation start, in headless Chromium",
			name, times[len(times)/2], len(times), times[0], times[len(times)-1], cold)
	}
	measure("lineage, 5,001 assets, every node", "/lineage?collapse=0", `document.getElementById('lineage-graph').dataset.nodes === '5001'`)
	measure("lineage, 5,001 assets, collapsed by group (the default above 1,000)", "/lineage", `document.getElementById('lineage-graph').dataset.nodes === '51'`)
	measure("lineage, focused on one asset of 5,001, 2 hops each way", "/lineage?focus=g25/asset_2507", ``)
	info := evalJS[string](t, ctx, `JSON.stringify(document.getElementById('lineage-graph').dataset)`)
	t.Logf("lineage dataset: %s", info)
	measure("asset page, 1,000,000 partitions", "/assets/perf/hourly_million", `document.getElementById('health-bar').dataset.partitions === '1000000'`)
	t.Logf("health bar: %s", evalJS[string](t, ctx, `JSON.stringify(document.getElementById('health-bar').dataset)`))
	if dir := os.Getenv("STRATA_PERF_SCREENSHOTS"); dir != "" {
		for _, p := range []string{"/lineage?collapse=0", "/lineage", "/assets/perf/hourly_million"} {
			if err := chromedp.Do(ctx, chromedp.Navigate(b.base+p)); err != nil {
				t.Fatal(err)
			}
			if err := ready(ctx); err != nil {
				t.Fatal(err)
			}
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(dir, strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(strings.Trim(p, "/"))+".png")
			if err := os.WriteFile(name, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
