package asset

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed 5-field cron expression (minute hour day-of-month month
// day-of-week). Ticks are evaluated on the wall clock of a time zone with
// Dagster's daylight-saving rules:
//
//   - A cron whose hour field covers every hour ticks at every real instant
//     whose wall clock matches: no tick in a skipped spring hour, two ticks in
//     a repeated fall hour.
//   - Any other cron ticks once per scheduled wall time: a repeated wall time
//     ticks at its later occurrence (except, as in Dagster, for plain daily,
//     weekly and monthly crons outside hours 1-3, which take the first
//     occurrence); a wall time skipped by a spring-forward
//     gap ticks at the end of the gap when its hour is 1, 2 or 3 (02:30 in
//     US/Central on 2021-03-14 ticks at 03:00 CDT) and otherwise at the
//     instant its pre-transition offset names (Python's fold=0). Wall times
//     that resolve to the same instant tick once.
//
// When day-of-month and day-of-week are both restricted, a day matches when
// either does (Vixie cron, croniter). A field whose values cover its whole
// range counts as "*".
type Cron struct {
	expr   string
	minute uint64 // bits 0..59
	hour   uint32 // bits 0..23
	dom    uint32 // bits 1..31
	month  uint16 // bits 1..12
	dow    uint8  // bits 0..6 (0 = Sunday)

	mins, hours []int
	// slots are the scheduled seconds-of-day, sorted.
	slots []int

	hourAll, domAll, monthAll, dowAll bool
	// known marks Dagster's special-cased daily, weekly and monthly crons
	// (one minute, one hour, and one weekday or one day of month <= 28),
	// which resolve a repeated wall time outside hours 1-3 to its first
	// occurrence.
	known bool
}

const (
	cronAllMinutes = uint64(1)<<60 - 1
	cronAllHours   = uint32(1)<<24 - 1
	cronAllDoms    = uint32(0xFFFFFFFE)
	cronAllMonths  = uint16(1)<<13 - 2
	cronAllDows    = uint8(1)<<7 - 1
)

var (
	cronMonthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
	cronDowNames   = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
)

// ParseCron parses a 5-field cron expression: numbers, ranges a-b, steps
// */n, a/n and a-b/n, comma lists, month names (JAN) and weekday names (MON);
// day-of-week is 0-7 with both 0 and 7 meaning Sunday.
func ParseCron(expr string) (*Cron, error) {
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return nil, fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", expr, len(fields))
	}
	c := &Cron{expr: strings.Join(fields, " ")}
	specs := []struct {
		name   string
		lo, hi int
		names  map[string]int
	}{
		{"minute", 0, 59, nil},
		{"hour", 0, 23, nil},
		{"day-of-month", 1, 31, nil},
		{"month", 1, 12, cronMonthNames},
		{"day-of-week", 0, 7, cronDowNames},
	}
	var vals [5]uint64
	for i, f := range fields {
		sp := specs[i]
		v, err := cronParseField(f, sp.lo, sp.hi, sp.names)
		if err != nil {
			return nil, fmt.Errorf("cron %q: %s field %q: %w", expr, sp.name, f, err)
		}
		vals[i] = v
	}
	c.minute = vals[0]
	c.hour = uint32(vals[1])
	c.dom = uint32(vals[2])
	c.month = uint16(vals[3])
	dow := vals[4]
	if dow&(1<<7) != 0 {
		dow = dow&^(1<<7) | 1
	}
	c.dow = uint8(dow)
	c.hourAll = c.hour == cronAllHours
	c.domAll = c.dom == cronAllDoms
	c.monthAll = c.month == cronAllMonths
	c.dowAll = c.dow == cronAllDows
	for m := 0; m < 60; m++ {
		if c.minute&(1<<m) != 0 {
			c.mins = append(c.mins, m)
		}
	}
	for h := 0; h < 24; h++ {
		if c.hour&(1<<h) != 0 {
			c.hours = append(c.hours, h)
		}
	}
	for _, h := range c.hours {
		for _, m := range c.mins {
			c.slots = append(c.slots, h*3600+m*60)
		}
	}
	if len(c.mins) == 1 && len(c.hours) == 1 {
		daily := c.domAll && c.monthAll && c.dowAll
		weekly := c.domAll && c.monthAll && bits.OnesCount8(c.dow) == 1
		monthly := bits.OnesCount32(c.dom) == 1 && c.dom < 1<<29 && c.monthAll && c.dowAll
		c.known = daily || weekly || monthly
	}
	if !c.domAll && c.dowAll {
		ok := false
		for m := 1; m <= 12 && !ok; m++ {
			if c.month&(1<<m) == 0 {
				continue
			}
			for d := 1; d <= cronDaysIn(2000, m); d++ { // 2000 is a leap year
				if c.dom&(1<<d) != 0 {
					ok = true
					break
				}
			}
		}
		if !ok {
			return nil, fmt.Errorf("cron %q: never fires (no month has that day of month)", expr)
		}
	}
	return c, nil
}

func cronParseField(f string, lo, hi int, names map[string]int) (uint64, error) {
	if f == "" {
		return 0, fmt.Errorf("empty field")
	}
	var set uint64
	for _, item := range strings.Split(f, ",") {
		if item == "" {
			return 0, fmt.Errorf("empty list item")
		}
		rng, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("invalid step %q (want a positive integer)", stepStr)
			}
			if n > hi {
				n = hi + 1 // a step past the range keeps only the first value
			}
			step = n
		}
		a, b := lo, hi
		switch {
		case rng == "":
			return 0, fmt.Errorf("missing value before %q", "/"+stepStr)
		case rng == "*":
		case strings.Contains(rng[1:], "-") && rng[0] != '-':
			as, bs, _ := strings.Cut(rng, "-")
			var err error
			if a, err = cronValue(as, lo, hi, names); err != nil {
				return 0, err
			}
			if b, err = cronValue(bs, lo, hi, names); err != nil {
				return 0, err
			}
			if a > b {
				return 0, fmt.Errorf("range %d-%d is backwards", a, b)
			}
		default:
			v, err := cronValue(rng, lo, hi, names)
			if err != nil {
				return 0, err
			}
			a = v
			if !hasStep {
				b = v
			}
		}
		for v := a; v <= b; v += step {
			set |= 1 << v
		}
	}
	return set, nil
}

func cronValue(s string, lo, hi int, names map[string]int) (int, error) {
	if names != nil {
		if v, ok := names[strings.ToLower(s)]; ok {
			return v, nil
		}
	}
	if s == "" {
		return 0, fmt.Errorf("missing value")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("invalid value %q (want %d-%d)", s, lo, hi)
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("value %s out of range %d-%d", s, lo, hi)
	}
	return v, nil
}

// String returns the expression (fields separated by single spaces).
func (c *Cron) String() string { return c.expr }

// RepeatsEveryHour reports whether the hour field covers every hour; such
// crons tick twice in a repeated fall hour and partition keys of the second
// occurrence get the UTC offset appended.
func (c *Cron) RepeatsEveryHour() bool { return c.hourAll }

// Equal reports whether c and o have the same ticks.
func (c *Cron) Equal(o *Cron) bool {
	return c.minute == o.minute && c.hour == o.hour && c.dom == o.dom && c.month == o.month && c.dow == o.dow
}

// Next returns the first tick strictly after t, evaluated on the wall clock
// of loc (nil means UTC). It returns the zero time when there is none within
// forty years.
func (c *Cron) Next(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	z := newCronZone(loc)
	x, ok := c.nextTick(z, t.Unix())
	if !ok {
		return time.Time{}
	}
	return time.Unix(x, 0).In(loc)
}

// Prev returns the last tick strictly before t, evaluated on the wall clock
// of loc (nil means UTC), or the zero time when there is none within forty
// years.
func (c *Cron) Prev(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	z := newCronZone(loc)
	x := t.Unix()
	if t.Nanosecond() > 0 {
		x++
	}
	p, ok := c.prevTick(z, x)
	if !ok {
		return time.Time{}
	}
	return time.Unix(p, 0).In(loc)
}

const cronSearchDays = 366 * 40

// matchDay reports whether the civil day (days since 1970-01-01) matches the
// day-of-month, month and day-of-week fields.
func (c *Cron) matchDay(day int64) bool {
	_, m, d := cronCivilFromDays(day)
	if c.month&(1<<m) == 0 {
		return false
	}
	domOK := c.dom&(1<<d) != 0
	dowOK := c.dow&(1<<cronWeekday(day)) != 0
	switch {
	case c.domAll && c.dowAll:
		return true
	case c.domAll:
		return dowOK
	case c.dowAll:
		return domOK
	}
	return domOK || dowOK
}

// nextTick returns the first tick > x (unix seconds).
func (c *Cron) nextTick(z *cronZone, x int64) (int64, bool) {
	if x > math.MaxInt64/2 || x < math.MinInt64/2 {
		return 0, false
	}
	day := cronFloorDiv(x+z.offset(x), 86400) - 1
	var best, bestDay int64
	found := false
	for n := 0; n < cronSearchDays; n, day = n+1, day+1 {
		if found && day > bestDay+1 {
			break
		}
		if !c.matchDay(day) {
			continue
		}
		if t, ok := c.dayTick(z, day, x, true); ok && (!found || t < best) {
			if !found {
				bestDay = day
			}
			best, found = t, true
		}
	}
	return best, found
}

// prevTick returns the last tick < x.
func (c *Cron) prevTick(z *cronZone, x int64) (int64, bool) {
	if x > math.MaxInt64/2 || x < math.MinInt64/2 {
		return 0, false
	}
	day := cronFloorDiv(x+z.offset(x), 86400) + 1
	var best, bestDay int64
	found := false
	for n := 0; n < cronSearchDays; n, day = n+1, day-1 {
		if found && day < bestDay-1 {
			break
		}
		if !c.matchDay(day) {
			continue
		}
		if t, ok := c.dayTick(z, day, x, false); ok && (!found || t > best) {
			if !found {
				bestDay = day
			}
			best, found = t, true
		}
	}
	return best, found
}

// dayTick returns the first tick > x (after) or the last tick < x (!after)
// among the ticks scheduled on the civil day.
func (c *Cron) dayTick(z *cronZone, day, x int64, after bool) (int64, bool) {
	ds := day * 86400
	if off, ok := z.constDay(ds); ok {
		thr := x + off - ds
		if after {
			i := sort.SearchInts(c.slots, int(min(max(thr, -1), 86400))+1)
			if i < len(c.slots) {
				return ds + int64(c.slots[i]) - off, true
			}
			return 0, false
		}
		i := sort.SearchInts(c.slots, int(min(max(thr, -1), 86401))) - 1
		if i >= 0 {
			return ds + int64(c.slots[i]) - off, true
		}
		return 0, false
	}
	var best int64
	found := false
	consider := func(t int64) {
		if after && t > x && (!found || t < best) || !after && t < x && (!found || t > best) {
			best, found = t, true
		}
	}
	for _, s := range c.slots {
		w := ds + int64(s)
		if c.hourAll {
			a, b, n := z.resolve(w)
			if n > 0 {
				consider(a)
			}
			if n > 1 {
				consider(b)
			}
			continue
		}
		consider(z.fixedInstant(w, c.known))
	}
	return best, found
}

// cronZone answers UTC-offset questions for a location, optionally from a
// precomputed table of transitions (much faster than time.Location lookups
// for far-future instants).
type cronZone struct {
	loc   *time.Location
	fixed bool
	off   int64
	tr    []cronTrans // tr[j] is in effect over [tr[j].at, tr[j+1].at)
	hi    int64       // the table covers [tr[0].at, hi)
	// prev0 is the offset before tr[0].at (valid when hasPrev0).
	prev0    int64
	hasPrev0 bool
}

type cronTrans struct{ at, off int64 }

type cronPeriod struct {
	start, end       int64 // math.MinInt64 / math.MaxInt64 when unbounded
	off, prev, next  int64
	hasPrev, hasNext bool
}

func newCronZone(loc *time.Location) *cronZone {
	z := &cronZone{loc: loc}
	t := time.Unix(0, 0).In(loc)
	s, e := t.ZoneBounds()
	if s.IsZero() && e.IsZero() {
		_, off := t.Zone()
		z.fixed, z.off = true, int64(off)
	}
	return z
}

// buildTable records the transitions from the period containing lo up to
// the first transition at or after hi.
func (z *cronZone) buildTable(lo, hi int64) {
	if z.fixed {
		return
	}
	x := lo
	for n := 0; n < 100000; n++ {
		t := time.Unix(x, 0).In(z.loc)
		_, off := t.Zone()
		s, e := t.ZoneBounds()
		at := x // after the first period, x is where a new period starts
		if len(z.tr) == 0 {
			at = math.MinInt64
			if !s.IsZero() {
				at = s.Unix()
			}
		}
		if len(z.tr) == 0 && !s.IsZero() {
			_, p := time.Unix(at-1, 0).In(z.loc).Zone()
			z.prev0, z.hasPrev0 = int64(p), true
		}
		// Go splits rule-based periods at year boundaries: merge periods
		// with the same offset.
		if n := len(z.tr); n == 0 || z.tr[n-1].off != int64(off) {
			z.tr = append(z.tr, cronTrans{at: at, off: int64(off)})
		}
		if e.IsZero() {
			z.hi = math.MaxInt64
			return
		}
		next := e.Unix()
		if next <= x {
			// ZoneBounds made no progress (it happens at year boundaries
			// of rule-based periods): find the next offset change within
			// a day by bisection.
			next = x + 86400
			if _, o := time.Unix(next, 0).In(z.loc).Zone(); o != off {
				lo, hi := x, next // offset(lo) == off, offset(hi) != off
				for hi-lo > 1 {
					m := lo + (hi-lo)/2
					if _, o := time.Unix(m, 0).In(z.loc).Zone(); o == off {
						lo = m
					} else {
						hi = m
					}
				}
				next = hi
			}
		}
		x = next
		if x >= hi {
			z.hi = x
			return
		}
	}
	z.hi = x
}

func (z *cronZone) inTable(x int64) bool {
	return len(z.tr) > 0 && x >= z.tr[0].at && x < z.hi
}

func (z *cronZone) tableIndex(x int64) int {
	// largest j with tr[j].at <= x
	lo, hi := 0, len(z.tr)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if z.tr[m].at <= x {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

// offset returns the UTC offset in seconds at instant x.
func (z *cronZone) offset(x int64) int64 {
	if z.fixed {
		return z.off
	}
	if z.inTable(x) {
		return z.tr[z.tableIndex(x)].off
	}
	_, off := time.Unix(x, 0).In(z.loc).Zone()
	return int64(off)
}

// period describes the zone period containing x.
func (z *cronZone) period(x int64) cronPeriod {
	if z.fixed {
		return cronPeriod{start: math.MinInt64, end: math.MaxInt64, off: z.off}
	}
	if z.inTable(x) {
		j := z.tableIndex(x)
		p := cronPeriod{start: z.tr[j].at, end: z.hi, off: z.tr[j].off}
		if j > 0 {
			p.prev, p.hasPrev = z.tr[j-1].off, true
		} else if z.hasPrev0 {
			p.prev, p.hasPrev = z.prev0, true
		}
		if j+1 < len(z.tr) {
			p.end = z.tr[j+1].at
			p.next, p.hasNext = z.tr[j+1].off, true
		} else if z.hi != math.MaxInt64 {
			_, n := time.Unix(z.hi, 0).In(z.loc).Zone()
			p.next, p.hasNext = int64(n), true
		}
		return p
	}
	t := time.Unix(x, 0).In(z.loc)
	_, off := t.Zone()
	s, e := t.ZoneBounds()
	p := cronPeriod{start: math.MinInt64, end: math.MaxInt64, off: int64(off)}
	if !s.IsZero() {
		p.start = s.Unix()
		_, o := time.Unix(p.start-1, 0).In(z.loc).Zone()
		p.prev, p.hasPrev = int64(o), true
	}
	if !e.IsZero() {
		p.end = e.Unix()
		_, o := e.In(z.loc).Zone()
		p.next, p.hasNext = int64(o), true
	}
	return p
}

// constDay reports the offset when every wall time of the civil day starting
// at wall second ds maps to exactly one instant with that offset, far from
// any transition.
func (z *cronZone) constDay(ds int64) (int64, bool) {
	if z.fixed {
		return z.off, true
	}
	g := ds + 43200
	g -= z.offset(g)
	p := z.period(g)
	if p.start <= ds-p.off-86400 && p.end >= ds-p.off+2*86400 {
		return p.off, true
	}
	return 0, false
}

// resolve returns the instants whose wall clock reads w (seconds since the
// epoch of the naive wall clock): none in a gap, two in a repeated hour
// (a < b).
func (z *cronZone) resolve(w int64) (a, b int64, n int) {
	if z.fixed {
		return w - z.off, 0, 1
	}
	p := z.period(w - z.offset(w))
	cands := [3]int64{p.off, p.off, p.off}
	if p.hasPrev {
		cands[1] = p.prev
	}
	if p.hasNext {
		cands[2] = p.next
	}
	var out [3]int64
	for i, c := range cands {
		dup := false
		for j := 0; j < i; j++ {
			if cands[j] == c {
				dup = true
			}
		}
		if dup {
			continue
		}
		if x := w - c; z.offset(x) == c {
			out[n] = x
			n++
		}
	}
	if n > 2 {
		n = 2
	}
	if n == 2 && out[0] > out[1] {
		out[0], out[1] = out[1], out[0]
	}
	return out[0], out[1], n
}

// gap returns, for a wall time w inside a spring-forward gap, the instant
// the gap ends (the transition) and the offset in effect before it.
func (z *cronZone) gap(w int64) (end, offBefore int64) {
	p := z.period(w - z.offset(w))
	lo := p.off
	if p.hasPrev && p.prev < lo {
		lo = p.prev
	}
	if p.hasNext && p.next < lo {
		lo = p.next
	}
	q := z.period(w - lo)
	before := z.offset(q.start - 1)
	return q.start, before
}

// fixedInstant is the tick of the scheduled wall time w for a cron whose
// hour field is restricted (Dagster's fold/post-transition rules); known
// is Cron.known.
func (z *cronZone) fixedInstant(w int64, known bool) int64 {
	a, b, n := z.resolve(w)
	h := cronFloorMod(w, 86400) / 3600
	dstHour := h >= 1 && h <= 3
	switch n {
	case 1:
		return a
	case 2:
		if known && !dstHour {
			return a
		}
		return b
	}
	end, before := z.gap(w)
	if dstHour {
		return end
	}
	return w - before
}

// firstInstant is the instant a naive wall time names when parsed: the
// first occurrence of a repeated time, the pre-transition offset in a gap.
func (z *cronZone) firstInstant(w int64) int64 {
	a, _, n := z.resolve(w)
	if n > 0 {
		return a
	}
	_, before := z.gap(w)
	return w - before
}

// offsetSecond returns offset(x) and secondOccurrence(x) with one lookup.
func (z *cronZone) offsetSecond(x int64) (int64, bool) {
	if z.fixed {
		return z.off, false
	}
	if z.inTable(x) {
		j := z.tableIndex(x)
		t := z.tr[j]
		prev, ok := z.prev0, z.hasPrev0
		if j > 0 {
			prev, ok = z.tr[j-1].off, true
		}
		return t.off, ok && prev > t.off && x-t.at < prev-t.off
	}
	p := z.period(x)
	return p.off, p.hasPrev && p.prev > p.off && x-p.start < p.prev-p.off
}

// secondOccurrence reports whether the wall time of instant x occurred
// before, under a larger offset (the repeated fall hour).
func (z *cronZone) secondOccurrence(x int64) bool {
	if z.fixed {
		return false
	}
	p := z.period(x)
	return p.hasPrev && p.prev > p.off && x-p.start < p.prev-p.off
}

// Civil-date helpers (proleptic Gregorian, days since 1970-01-01).

func cronDaysFromCivil(y, m, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := cronFloorDiv(yy, 400)
	yoe := yy - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func cronCivilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := cronFloorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

func cronWeekday(day int64) int { return int(cronFloorMod(day+4, 7)) }

func cronDaysIn(y, m int) int {
	switch m {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

func cronFloorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func cronFloorMod(a, b int64) int64 { return a - cronFloorDiv(a, b)*b }

// cronWall converts an instant and its offset to wall-clock fields.
func cronWall(x, off int64) StrftimeFields {
	w := x + off
	day := cronFloorDiv(w, 86400)
	sec := int(w - day*86400)
	y, m, d := cronCivilFromDays(day)
	return StrftimeFields{Year: y, Month: m, Day: d, Hour: sec / 3600, Minute: sec % 3600 / 60, Second: sec % 60, Offset: int(off), HasOffset: true}
}
