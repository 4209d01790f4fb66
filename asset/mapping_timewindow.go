package asset

import (
	"fmt"
	"sort"
	"time"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
)

// This file holds the mappings between time-window definitions:
// time_window (Dagster's TimeWindowPartitionMapping) and latest_overlapping
// (Dagster's LatestOverlappingTimeWindowPartitionMapping). Both work on
// contiguous ranges of the input subset, so that a long run of partitions
// costs a handful of window computations, not one per key.

// twSide is one side of a time-window mapping: the definition and what the
// mapping needs to know about its cron.
type twSide struct {
	def         *TimeWindowDef
	expr        string
	basicDaily  bool // cron is exactly "0 0 * * *": offsets are calendar days
	basicHourly bool // cron is exactly "0 * * * *": offsets are absolute hours
	first       time.Time
}

func newTWSide(def *TimeWindowDef) *twSide {
	expr := def.CronSchedule()
	return &twSide{
		def:         def,
		expr:        expr,
		basicDaily:  expr == "0 0 * * *",
		basicHourly: expr == "0 * * * *",
		first:       def.WindowStart(0),
	}
}

// twSides caches the sides of the definitions a mapping was built for.
type twSides struct{ up, down *twSide }

func (s *twSides) side(p Partitions, role string) (*twSide, error) {
	d, ok := p.Def().(*TimeWindowDef)
	if !ok {
		return nil, fmt.Errorf("%s partitions are %s, not time windows", role, p.Def().Kind())
	}
	for _, c := range []*twSide{s.up, s.down} {
		if c != nil && c.def == d {
			return c, nil
		}
	}
	return newTWSide(d), nil
}

func (s *twSides) pair(down, up Partitions) (*twSide, *twSide, error) {
	ds, err := s.side(down, "downstream")
	if err != nil {
		return nil, nil, err
	}
	us, err := s.side(up, "upstream")
	if err != nil {
		return nil, nil, err
	}
	if a, b := us.def.Location().String(), ds.def.Location().String(); a != b {
		return nil, nil, fmt.Errorf("time zones %s (upstream) and %s (downstream) differ", a, b)
	}
	return ds, us, nil
}

// cronAfter returns the first tick strictly after t.
func (s *twSide) cronAfter(t time.Time) time.Time {
	return s.def.NextTick(t)
}

// cronBefore returns the last tick strictly before t (t itself when there
// is none).
func (s *twSide) cronBefore(t time.Time) time.Time {
	x := s.def.PrevTick(t)
	if x.IsZero() {
		return t
	}
	return x
}

// atOrAfter returns the first tick at or after t.
func (s *twSide) atOrAfter(t time.Time) time.Time {
	if !t.Before(s.first) {
		return s.def.WindowStart(s.def.IndexAtOrAfter(t))
	}
	return s.cronAfter(t.Add(-time.Nanosecond))
}

// atOrBefore returns the last tick at or before t: the start of the window
// holding t.
func (s *twSide) atOrBefore(t time.Time) time.Time {
	if !t.Before(s.first) {
		return s.def.WindowStart(s.def.IndexAtOrBefore(t))
	}
	if x := s.cronAfter(t.Add(-time.Nanosecond)); x.Equal(t) {
		return t
	}
	return s.cronBefore(t)
}

// step moves t by n windows: forward from the first tick at or after t, or
// back from the last tick at or before t (Dagster's get_next/prev_partition_window).
func (s *twSide) step(t time.Time, n int) time.Time {
	if n == 0 {
		return t
	}
	if n > 0 {
		if !t.Before(s.first) {
			return s.def.WindowStart(s.def.IndexAtOrAfter(t) + int64(n))
		}
		x := s.atOrAfter(t)
		for range n {
			x = s.cronAfter(x)
		}
		return x
	}
	if !t.Before(s.first) {
		j := s.def.IndexAtOrBefore(t) + int64(n)
		if j >= 0 {
			return s.def.WindowStart(j)
		}
		x := s.first
		for ; j < 0; j++ {
			x = s.cronBefore(x)
		}
		return x
	}
	x := s.atOrBefore(t)
	for ; n < 0; n++ {
		x = s.cronBefore(x)
	}
	return x
}

// shift moves the window boundary t by n units of this side: calendar days
// for "0 0 * * *", absolute hours for "0 * * * *", whole windows otherwise.
func (s *twSide) shift(t time.Time, n int) time.Time {
	switch {
	case n == 0:
		return t
	case s.basicDaily:
		w := t.In(s.def.Location())
		return time.Date(w.Year(), w.Month(), w.Day()+n, w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), s.def.Location())
	case s.basicHourly:
		return t.Add(time.Duration(n) * time.Hour)
	}
	return s.step(t, n)
}

// bounds is the span [start, end) of the existing partitions of the side
// the offsets are clamped to; ok is false when none exist.
type bounds struct {
	start, end time.Time
	ok         bool
}

func boundsOf(s *twSide, n int64) bounds {
	if n <= 0 {
		return bounds{}
	}
	return bounds{start: s.first, end: s.def.WindowStart(n), ok: true}
}

// shiftClamped shifts t by n units of s and keeps a negative shift from
// going before b.start and a positive one from going after b.end.
func (s *twSide) shiftClamped(t time.Time, n int, b bounds) time.Time {
	x := s.shift(t, n)
	if b.ok {
		if n < 0 && x.Before(b.start) {
			x = b.start
		}
		if n > 0 && x.After(b.end) {
			x = b.end
		}
	}
	return x
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// aligned reports whether the boundaries of from are boundaries of to too,
// so that windows need no widening (Dagster: equal crons, or a daily side
// mapped onto an hourly one).
func aligned(from, to *twSide) bool {
	return from.expr == to.expr || from.basicDaily && to.basicHourly
}

// missingCollector gathers required-but-nonexistent windows of a side:
// those before its first window as time spans, the others as indices.
type missingCollector struct {
	side   *twSide
	before []TimeWindow
	after  *Subset // indices only; windows at or after the existing ones
	batch  *rangeBatch
}

func newMissingCollector(s *twSide) *missingCollector {
	after := &Subset{bm: roaring64.New()}
	return &missingCollector{side: s, after: after, batch: newRangeBatch(after)}
}

// add records the windows of [a, b) outside the n existing windows.
func (c *missingCollector) add(a, b time.Time, n int64) {
	s := c.side
	if !a.Before(b) {
		return
	}
	if a.Before(s.first) {
		c.before = append(c.before, TimeWindow{Start: a, End: minTime(b, s.first)})
	}
	lastEnd := s.first
	if n > 0 {
		lastEnd = s.def.WindowStart(n)
	}
	if b.After(lastEnd) {
		x := maxTime(a, lastEnd)
		lo := max(s.def.IndexAtOrBefore(x), n)
		c.batch.add(lo, s.def.IndexAtOrAfter(b))
	}
}

// addIndex records window i (i >= n) as missing.
func (c *missingCollector) addIndex(i int64) { c.batch.add(i, i+1) }

// keys returns the missing keys in time order, each once.
func (c *missingCollector) keys() []string {
	var out []string
	s := c.side
	if len(c.before) > 0 {
		sort.Slice(c.before, func(i, j int) bool { return c.before[i].Start.Before(c.before[j].Start) })
		var last time.Time
		emitted := false
		for _, w := range c.before {
			t := s.atOrBefore(w.Start)
			if emitted && !t.After(last) {
				t = s.cronAfter(last)
			}
			for t.Before(w.End) && t.Before(s.first) {
				out = append(out, s.def.FormatKey(t))
				last, emitted = t, true
				nt := s.cronAfter(t)
				if !nt.After(t) {
					break
				}
				t = nt
			}
		}
	}
	c.batch.flush()
	for i := range c.after.Indices() {
		out = append(out, s.def.Key(i))
	}
	return out
}

// timeWindowMapping is Dagster's TimeWindowPartitionMapping.
type timeWindowMapping struct {
	twSides
	start, end int
	allow      bool
}

func (m *timeWindowMapping) Decl() MappingDecl {
	return MappingDecl{TimeWindow: &TimeWindowMappingDecl{
		StartOffset: m.start, EndOffset: m.end, AllowNonexistentUpstream: m.allow,
	}}
}

func (m *timeWindowMapping) Upstream(down *Subset, up Partitions) (Upstream, error) {
	res := emptyUpstream(up)
	if down.IsEmpty() {
		return res, nil
	}
	ds, us, err := m.pair(down.Partitions(), up)
	if err != nil {
		return res, fmt.Errorf("time_window mapping: %w", err)
	}
	n := up.Len()
	b := boundsOf(us, n)
	noWiden := aligned(ds, us)
	var miss *missingCollector
	if !m.allow {
		miss = newMissingCollector(us)
	}
	batch := newRangeBatch(res.Partitions)
	for lo, hi := range down.Ranges() {
		s := ds.shiftClamped(ds.def.WindowStart(lo), m.start, b)
		e := ds.shiftClamped(ds.def.WindowStart(hi), m.end, b)
		if !noWiden {
			s, e = us.atOrBefore(s), us.atOrAfter(e)
		}
		if !s.Before(e) {
			continue
		}
		if b.ok {
			if x, y := maxTime(s, b.start), minTime(e, b.end); x.Before(y) {
				batch.add(us.def.IndexAtOrBefore(x), min(us.def.IndexAtOrAfter(y), n))
			}
		}
		if miss != nil {
			miss.add(s, e, n)
		}
	}
	batch.flush()
	if miss != nil {
		res.Missing = miss.keys()
	}
	return res, nil
}

func (m *timeWindowMapping) Downstream(up *Subset, down Partitions) (*Subset, error) {
	res := NewSubset(down)
	if up.IsEmpty() {
		return res, nil
	}
	ds, us, err := m.pair(down, up.Partitions())
	if err != nil {
		return res, fmt.Errorf("time_window mapping: %w", err)
	}
	n := down.Len()
	b := boundsOf(ds, n)
	if !b.ok {
		return res, nil
	}
	noWiden := aligned(us, ds)
	batch := newRangeBatch(res)
	for lo, hi := range up.Ranges() {
		s, e := us.def.WindowStart(lo), us.def.WindowStart(hi)
		if !noWiden {
			s, e = ds.atOrBefore(s), ds.atOrAfter(e)
		}
		s = ds.shiftClamped(s, -m.end, b)
		e = ds.shiftClamped(e, -m.start, b)
		if !s.Before(e) {
			continue
		}
		if x, y := maxTime(s, b.start), minTime(e, b.end); x.Before(y) {
			batch.add(ds.def.IndexAtOrBefore(x), min(ds.def.IndexAtOrAfter(y), n))
		}
	}
	batch.flush()
	return res, nil
}

// latestOverlappingMapping maps each downstream partition to the upstream
// partition with the latest start at or before the downstream start.
type latestOverlappingMapping struct{ twSides }

func (m *latestOverlappingMapping) Decl() MappingDecl {
	return MappingDecl{LatestOverlapping: &Empty{}}
}

func (m *latestOverlappingMapping) Upstream(down *Subset, up Partitions) (Upstream, error) {
	res := emptyUpstream(up)
	if down.IsEmpty() {
		return res, nil
	}
	ds, us, err := m.pair(down.Partitions(), up)
	if err != nil {
		return res, fmt.Errorf("latest_overlapping mapping: %w", err)
	}
	n := up.Len()
	miss := newMissingCollector(us)
	batch := newRangeBatch(res.Partitions)
	f := func(i int64) int64 { return us.def.IndexAtOrBefore(ds.def.WindowStart(i)) }
	// emitBefore handles downstream partitions that start before the first
	// upstream window: the upstream window holding their start is missing.
	emitBefore := func(a, b int64) {
		for i := a; i <= b; i++ {
			t := ds.def.WindowStart(i)
			miss.before = append(miss.before, TimeWindow{Start: t, End: t.Add(time.Nanosecond)})
		}
	}
	emitRange := func(u0, u1 int64) { // upstream windows u0..u1 (u0 >= 0)
		batch.add(u0, min(u1+1, n))
		for u := max(u0, n); u <= u1; u++ {
			miss.addIndex(u)
		}
	}
	// f is non-decreasing, so split [a, b] until each piece maps to one
	// upstream window or to consecutive ones.
	var rec func(a, b, fa, fb int64)
	rec = func(a, b, fa, fb int64) {
		switch {
		case fa == fb:
			if fa < 0 {
				emitBefore(a, b)
			} else {
				emitRange(fa, fa)
			}
			return
		case fb-fa == b-a:
			if fa < 0 {
				emitBefore(a, a)
				a, fa = a+1, fa+1
			}
			emitRange(fa, fb)
			return
		}
		mid := a + (b-a)/2
		rec(a, mid, fa, f(mid))
		rec(mid+1, b, f(mid+1), fb)
	}
	for lo, hi := range down.Ranges() {
		rec(lo, hi-1, f(lo), f(hi-1))
	}
	batch.flush()
	res.Missing = miss.keys()
	return res, nil
}

func (m *latestOverlappingMapping) Downstream(up *Subset, down Partitions) (*Subset, error) {
	res := NewSubset(down)
	if up.IsEmpty() {
		return res, nil
	}
	ds, us, err := m.pair(down, up.Partitions())
	if err != nil {
		return res, fmt.Errorf("latest_overlapping mapping: %w", err)
	}
	n := down.Len()
	batch := newRangeBatch(res)
	for lo, hi := range up.Ranges() {
		// Downstream partitions starting inside [start(lo), start(hi)).
		a := ds.def.IndexAtOrAfter(us.def.WindowStart(lo))
		b := min(ds.def.IndexAtOrAfter(us.def.WindowStart(hi)), n)
		batch.add(a, b)
	}
	batch.flush()
	return res, nil
}
