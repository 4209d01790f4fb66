package demo

import (
	"os"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
)

// TestAssets: the embedded declarations are the file's, they build a
// graph, and they have what the demo promises.
func TestAssets(t *testing.T) {
	t.Parallel()
	onDisk, err := os.ReadFile("assets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(onDisk) != string(AssetsYAML()) {
		t.Fatal("embedded declarations differ from assets.yaml")
	}
	f, src, err := asset.ParseFile(AssetsFile, AssetsYAML())
	if err != nil {
		t.Fatal(err)
	}
	g, err := asset.NewGraph(f.Assets)
	if err != nil {
		t.Fatal(src.Locate(err))
	}
	get := func(k string) *asset.Asset {
		t.Helper()
		a, ok := g.Asset(asset.Key(k))
		if !ok {
			t.Fatalf("no asset %s", k)
		}
		if a.Decl.Compute == nil || len(a.Decl.Compute.Command) != 3 || a.Decl.Compute.Command[0] != "strata" || a.Decl.Compute.Command[1] != "job" {
			t.Errorf("%s: command %v, want strata job NAME", k, a.Decl.Compute)
		}
		if a.Decl.CodeVersion == "" {
			t.Errorf("%s has no code version", k)
		}
		return a
	}
	now := time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)
	events := get("raw/events")
	if events.Partitions.Kind() != asset.KindTimeWindow {
		t.Errorf("raw/events partitions are %s", events.Partitions.Kind())
	}
	if get("raw/customers").Partitions.Kind() != asset.KindStatic {
		t.Error("raw/customers is not static")
	}
	sessions := get("analytics/sessions")
	// Hourly to daily: a day reads its 24 hours.
	sub := asset.NewSubset(sessions.Partitions.At(now, nil))
	if !sub.AddKey("2026-11-20") {
		t.Fatal("no sessions partition 2026-11-20")
	}
	var hours int
	for _, d := range sessions.Deps {
		if d.Upstream != "raw/events" {
			continue
		}
		m, err := d.Mapping.Upstream(sub, events.Partitions.At(now, nil))
		if err != nil {
			t.Fatal(err)
		}
		hours = int(m.Partitions.Len())
	}
	if hours != 24 {
		t.Errorf("a sessions day reads %d event hours, want 24", hours)
	}
	if get("analytics/daily_revenue").Decl.Freshness == nil {
		t.Error("analytics/daily_revenue has no freshness policy")
	}
	if a := get("reports/weekly_summary").Decl.Automation; a == nil || a.Condition != asset.AutomationEager {
		t.Errorf("reports/weekly_summary automation = %+v, want eager", a)
	}
	if get("analytics/regional_sales").Partitions.Kind() != asset.KindMulti {
		t.Error("analytics/regional_sales is not multi-dimensional")
	}
}
