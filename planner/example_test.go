package planner_test

import (
	"fmt"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/planner"
)

// A materialization of an upstream asset makes its reader stale; the
// eager reader is requested with the reason, once.
func Example() {
	g, err := asset.NewGraph([]asset.AssetDecl{
		{Key: "raw/events"},
		{Key: "analytics/sessions", Deps: []asset.DepDecl{{Asset: "raw/events"}},
			Automation: &asset.AutomationDecl{Condition: asset.AutomationEager}},
	})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st := planner.New(g, now)
	for _, e := range []planner.Event{
		planner.MaterializationRecorded{Seq: 1, Asset: "raw/events", DataVersion: "a"},
		planner.MaterializationRecorded{Seq: 2, Asset: "analytics/sessions", DataVersion: "x",
			Provenance: []planner.InputVersion{{Asset: "raw/events", DataVersion: "a"}}},
		planner.MaterializationRecorded{Seq: 3, Asset: "raw/events", DataVersion: "b"},
	} {
		if err := st.Apply(e); err != nil {
			panic(err)
		}
	}
	ps, _ := st.Status("analytics/sessions", "", now)
	fmt.Println(ps.Status, ps.Causes[0].Kind, ps.Causes[0].UpstreamAsset)

	res := st.Tick(now)
	r := res.Requests[0]
	fmt.Println(r.Asset, r.Reason.Kind, "-", r.Reason.Detail)
	fmt.Println("again:", len(st.Tick(now).Requests))
	// Output:
	// stale upstream_updated raw/events
	// analytics/sessions eager - stale: upstream raw/events was materialized after this one
	// again: 0
}
