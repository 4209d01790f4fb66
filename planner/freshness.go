package planner

import (
	"fmt"
	"sort"
	"time"

	"github.com/strata-data/strata/asset"
)

// Deadline computes when partition i of as is due under its freshness
// policy:
//   - time-windowed partitions: window end + max_lag; with cron_deadline,
//     the first cron tick strictly after (window end + max_lag);
//   - other partitions (unpartitioned, static, dynamic): the latest
//     materialization's record time + max_lag (or the first cron tick after
//     it); a never-materialized one has no deadline and fails at once.
//
// warnAt is window end (or record time) + warn_lag when warn_lag is set.
func (s *State) deadline(as *assetState, i int, f *asset.FreshnessDecl) (deadline, warnAt time.Time, err error) {
	var base time.Time
	if w, ok := as.parts.(asset.Windowed); ok {
		base = w.Window(int64(i)).End
	} else {
		if as.seq[i] == 0 || as.at == nil || as.at[i] == 0 {
			return time.Time{}, time.Time{}, nil
		}
		base = time.Unix(0, as.at[i]).UTC()
	}
	deadline = base.Add(f.MaxLag.Std())
	if f.CronDeadline != "" {
		c, err := s.cron(f.CronDeadline)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("cron_deadline %q: %w", f.CronDeadline, err)
		}
		loc := time.UTC
		if f.Timezone != "" {
			l, err := s.location(f.Timezone)
			if err != nil {
				return time.Time{}, time.Time{}, fmt.Errorf("timezone %q: %w", f.Timezone, err)
			}
			loc = l
		} else if tw, ok := as.parts.Def().(*asset.TimeWindowDef); ok {
			loc = tw.Location()
		}
		deadline = c.Next(deadline, loc)
	}
	if f.WarnLag > 0 {
		warnAt = base.Add(f.WarnLag.Std())
	}
	return deadline, warnAt, nil
}

// freshness evaluates partition i at now.
func (s *State) freshness(as *assetState, i int, now time.Time) Freshness {
	f := as.a.Decl.Freshness
	if f == nil {
		return Freshness{State: FreshnessUnknown, Why: "no freshness policy"}
	}
	dl, warn, err := s.deadline(as, i, f)
	if err != nil {
		return Freshness{State: FreshnessUnknown, Why: err.Error()}
	}
	_, windowed := as.parts.(asset.Windowed)
	out := Freshness{Deadline: dl, WarnAt: warn}
	switch {
	case windowed && as.seq[i] != 0:
		out.State, out.Why = FreshnessPass, "materialized"
	case !windowed && as.seq[i] == 0:
		out.State, out.Why = FreshnessFail, "never materialized"
	case !now.Before(dl):
		out.State, out.OverdueBy = FreshnessFail, now.Sub(dl)
		out.Why = fmt.Sprintf("not materialized by %s", dl.Format(time.RFC3339))
		if !windowed {
			out.Why = fmt.Sprintf("latest materialization is older than the policy allows since %s", dl.Format(time.RFC3339))
		}
	case !warn.IsZero() && !now.Before(warn):
		out.State, out.Why = FreshnessWarn, fmt.Sprintf("past warn_lag; due %s", dl.Format(time.RFC3339))
	default:
		out.State, out.Why = FreshnessPass, fmt.Sprintf("due %s", dl.Format(time.RFC3339))
	}
	return out
}

// Overdue lists the partitions failing (or, with warn, warning) their
// freshness policy at now, most overdue first, at most limit (0: all).
func (s *State) Overdue(now time.Time, warn bool, limit int) []PartitionStatus {
	var out []PartitionStatus
	for _, as := range s.assets {
		if as.a.Decl.Freshness == nil {
			continue
		}
		for i := 0; i < as.n; i++ {
			if as.windowed && as.seq[i] != 0 {
				continue // materialized windows pass
			}
			f := s.freshness(as, i, now)
			if f.State == FreshnessFail || (warn && f.State == FreshnessWarn) {
				ps := s.partitionStatus(as, i, now, nil)
				ps.Freshness = f
				out = append(out, ps)
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Freshness.OverdueBy > out[b].Freshness.OverdueBy })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// cron parses expr once per State.
func (s *State) cron(expr string) (*asset.Cron, error) {
	if c, ok := s.crons[expr]; ok {
		return c.c, c.err
	}
	c, err := asset.ParseCron(expr)
	s.crons[expr] = parsedCron{c, err}
	return c, err
}

type parsedCron struct {
	c   *asset.Cron
	err error
}

// location loads a time zone once per State.
func (s *State) location(name string) (*time.Location, error) {
	if l, ok := s.locs[name]; ok {
		return l, nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	s.locs[name] = l
	return l, nil
}
