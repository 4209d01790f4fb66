package catalog_test

import (
	"testing"
	"time"

	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/planner"
)

func TestPlannerReasonRoundTrip(t *testing.T) {
	t.Parallel()
	tick := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	for _, r := range []planner.Reason{
		{Kind: planner.ReasonEager, Detail: "stale: upstream a p1 updated"},
		{Kind: planner.ReasonOnCron, Detail: "cron 0 6 * * * ticked", Tick: tick},
		{Kind: planner.ReasonOnCron, Tick: tick},
		{Kind: planner.ReasonBackfill, Detail: "backfill 3 (filter all): a: b"},
	} {
		s := catalog.PlannerReason(r)
		if got := catalog.ParsePlannerReason(s); !got.Tick.Equal(r.Tick) || got.Kind != r.Kind || got.Detail != r.Detail {
			t.Errorf("%q parses to %+v, want %+v", s, got, r)
		}
	}
	if got := catalog.ParsePlannerReason("manual"); got.Kind != "" || got.Detail != "manual" {
		t.Errorf("a reason without kind parses to %+v", got)
	}
}

func TestPlannerSeq(t *testing.T) {
	t.Parallel()
	if s := catalog.PlannerSeq(42, 7); catalog.EventIDOfSeq(s) != 42 || catalog.PlannerSeq(43, 0) <= catalog.PlannerSeq(42, 1<<30) {
		t.Errorf("planner seqs do not follow event ids: %d", s)
	}
}
