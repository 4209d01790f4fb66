package asset

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// TimeWindowDef is a time-window partitions definition with Dagster's
// semantics (see PARTITIONS.md): windows are [tick_i, tick_i+1) of a cron
// evaluated on the wall clock of an IANA time zone, tick 0 being the first
// tick at or after start; a key is the window start formatted with fmt.
//
// Index <-> key/time conversions are O(1) for the regular crons (hour field
// "*" with any minutes, fixed hours and minutes on every day or on some
// weekdays, fixed days of month up to the 28th); other crons use a tick
// table built on demand. A definition is immutable and safe for concurrent
// use.
type TimeWindowDef struct {
	decl      TimeWindowDecl
	sched     string // schedule name, "" for a custom cron
	cron      *Cron
	loc       *time.Location
	f, fz     *Strftime // fmt, and fmt+"%z" (nil when fmt has %z)
	start     int64
	end       int64
	hasEnd    bool
	endOffset int64
	suffix    bool // append the UTC offset to keys of repeated fall hours

	zone  *cronZone
	once  sync.Once
	model twModel
}

var errTimeWindowEmpty = errors.New("empty partition key")

// NewTimeWindowDef builds a definition; errors are *ValidationError with
// field names relative to the time_window declaration ("cron", "start", ...).
func NewTimeWindowDef(d TimeWindowDecl) (*TimeWindowDef, error) {
	ve := &ValidationError{}
	def := &TimeWindowDef{decl: d, endOffset: int64(d.EndOffset)}
	expr, defFmt := "", "%Y-%m-%d"
	switch {
	case d.Schedule != "" && d.Cron != "":
		ve.Add("cron", "cron %q and schedule %q are mutually exclusive", d.Cron, d.Schedule)
	case d.Cron != "":
		if d.MinuteOffset != 0 {
			ve.Add("minute_offset", "minute_offset applies to schedule, not to cron (put the minute in the cron)")
		}
		if d.HourOffset != 0 {
			ve.Add("hour_offset", "hour_offset applies to schedule, not to cron (put the hour in the cron)")
		}
		if d.DayOffset != nil {
			ve.Add("day_offset", "day_offset applies to schedule, not to cron (put the day in the cron)")
		}
		expr = d.Cron
	case d.Schedule != "":
		def.sched = d.Schedule
		m, h := d.MinuteOffset, d.HourOffset
		if m < 0 || m > 59 {
			ve.Add("minute_offset", "minute_offset must be 0..59, got %d", m)
		}
		if h < 0 || h > 23 {
			ve.Add("hour_offset", "hour_offset must be 0..23, got %d", h)
		}
		switch d.Schedule {
		case "hourly":
			if h != 0 {
				ve.Add("hour_offset", "hour_offset is not allowed with schedule hourly, got %d", h)
			}
			if d.DayOffset != nil {
				ve.Add("day_offset", "day_offset is not allowed with schedule hourly")
			}
			expr, defFmt = fmt.Sprintf("%d * * * *", m), "%Y-%m-%d-%H:%M"
		case "daily":
			if d.DayOffset != nil {
				ve.Add("day_offset", "day_offset is not allowed with schedule daily")
			}
			expr = fmt.Sprintf("%d %d * * *", m, h)
		case "weekly":
			day := 0
			if d.DayOffset != nil {
				day = *d.DayOffset
			}
			if day < 0 || day > 6 {
				ve.Add("day_offset", "weekly day_offset must be 0..6, got %d (0 = Sunday)", day)
			}
			def.decl.DayOffset = &day
			expr = fmt.Sprintf("%d %d * * %d", m, h, day)
		case "monthly":
			day := 1
			if d.DayOffset != nil && *d.DayOffset != 0 { // Dagster: day_offset or 1
				day = *d.DayOffset
			}
			if day < 1 || day > 31 {
				ve.Add("day_offset", "monthly day_offset must be 1..31, got %d", day)
			}
			def.decl.DayOffset = &day
			expr = fmt.Sprintf("%d %d %d * *", m, h, day)
		default:
			ve.Add("schedule", "unknown schedule %q (want hourly, daily, weekly or monthly)", d.Schedule)
		}
	default:
		ve.Add("schedule", "one of schedule or cron is required")
	}
	if expr != "" && len(ve.Errors) == 0 {
		c, err := ParseCron(expr)
		if err != nil {
			field := "cron"
			if d.Schedule != "" {
				field = "schedule"
			}
			ve.Add(field, "%v", err)
		} else {
			def.cron = c
			if d.Cron != "" && (c.hourAll || len(c.slots) > 1) {
				defFmt = "%Y-%m-%d-%H:%M"
			}
		}
	}

	tz := d.Timezone
	if tz == "" {
		tz = "UTC"
	}
	def.decl.Timezone = tz
	if tz == "Local" {
		ve.Add("timezone", "time zone %q depends on the machine; name an IANA zone", tz)
	} else if loc, err := time.LoadLocation(tz); err != nil {
		ve.Add("timezone", "unknown time zone %q", tz)
	} else {
		def.loc = loc
		def.zone = newCronZone(loc)
	}

	fs := d.Fmt
	if fs == "" {
		fs = defFmt
	}
	def.decl.Fmt = fs
	if f, err := CompileStrftime(fs); err != nil {
		ve.Add("fmt", "%v", err)
	} else {
		def.f = f
		if !f.HasOffset() {
			def.fz, _ = CompileStrftime(fs + "%z")
		}
	}
	if def.cron == nil || def.loc == nil || def.f == nil {
		if d.Start == "" {
			ve.Add("start", "start is required")
		}
		return nil, ve
	}
	def.suffix = def.cron.hourAll && !def.f.HasOffset()

	if d.Start == "" {
		ve.Add("start", "start is required")
	} else if x, err := def.parseBound(d.Start); err != nil {
		ve.Add("start", "%v", err)
	} else {
		def.start = x
	}
	if d.End != "" {
		if x, err := def.parseBound(d.End); err != nil {
			ve.Add("end", "%v", err)
		} else if twStartOK(ve) && x <= def.start {
			ve.Add("end", "end %q is not after start %q", d.End, d.Start)
		} else {
			def.end, def.hasEnd = x, true
		}
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	// The format must tell the first windows apart and name their starts.
	x, ok := def.cron.nextTick(def.zone, def.start-1)
	if !ok {
		ve.Add("cron", "cron %q never fires after start %q", def.cron.expr, d.Start)
		return nil, ve
	}
	prev := ""
	for i := 0; i < 16; i++ {
		k := def.formatKey(x)
		if k == prev {
			ve.Add("fmt", "fmt %q gives the same key %q to two windows of cron %q", fs, k, def.cron.expr)
			break
		}
		prev = k
		nx, ok := def.cron.nextTick(def.zone, x)
		if !ok {
			break
		}
		if px, px2, two, err := def.parseKeyAll(k); err != nil {
			ve.Add("fmt", "fmt %q does not parse its own key %q: %v", fs, k, err)
			break
		} else if w, ok := def.cron.nextTick(def.zone, px-1); (!ok || w != x) && !def.namesTick(two, px2, x) {
			ve.Add("fmt", "fmt %q: key %q does not name the window starting at %s", fs, k, time.Unix(x, 0).In(def.loc).Format(time.RFC3339))
			break
		}
		x = nx
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return def, nil
}

func (d *TimeWindowDef) namesTick(two bool, px2, x int64) bool {
	if !two {
		return false
	}
	w, ok := d.cron.nextTick(d.zone, px2-1)
	return ok && w == x
}

// twStartOK reports whether start parsed (no start error recorded).
func twStartOK(ve *ValidationError) bool {
	for _, fe := range ve.Errors {
		if fe.Field == "start" {
			return false
		}
	}
	return true
}

var twISOLayouts = []struct {
	layout string
	naive  bool
}{
	{time.RFC3339Nano, false},
	{"2006-01-02T15:04:05.999999999Z0700", false},
	{"2006-01-02T15:04Z07:00", false},
	{"2006-01-02 15:04:05.999999999Z07:00", false},
	{"2006-01-02 15:04:05.999999999Z0700", false},
	{"2006-01-02T15:04:05.999999999", true},
	{"2006-01-02T15:04", true},
	{"2006-01-02 15:04:05.999999999", true},
	{"2006-01-02 15:04", true},
	{"2006-01-02", true},
}

// parseBound parses a start or end: fmt, fmt+%z, or ISO 8601. A naive value
// is a wall time in the definition's zone (first occurrence when repeated).
func (d *TimeWindowDef) parseBound(s string) (int64, error) {
	if x, err := d.parseKey(s); err == nil {
		return x, nil
	}
	for _, l := range twISOLayouts {
		t, err := time.Parse(l.layout, s)
		if err != nil {
			continue
		}
		x := t.Unix()
		if t.Nanosecond() > 0 {
			x++ // windows start on whole seconds: round up
		}
		if l.naive {
			x = d.zone.firstInstant(x)
		}
		return x, nil
	}
	return 0, fmt.Errorf("cannot parse %q with fmt %q (optionally followed by a UTC offset) or as an ISO 8601 date-time", s, d.f.src)
}

// parseKey parses key with fmt, then fmt+%z, into an instant.
func (d *TimeWindowDef) parseKey(key string) (int64, error) {
	x, _, _, err := d.parseKeyAll(key)
	return x, err
}

// parseKeyAll parses key with fmt, then fmt+%z. Without an offset, a
// repeated wall time is its first occurrence x; second is then the later
// occurrence and two is true.
func (d *TimeWindowDef) parseKeyAll(key string) (x, second int64, two bool, err error) {
	if key == "" {
		return 0, 0, false, errTimeWindowEmpty
	}
	dt, err := d.f.Parse(key)
	if err != nil && d.fz != nil {
		dt, err = d.fz.Parse(key)
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("parse partition key %q: %w", key, err)
	}
	w := cronDaysFromCivil(dt.Year, dt.Month, dt.Day)*86400 + int64(dt.Hour*3600+dt.Minute*60+dt.Second)
	if dt.HasOffset {
		return w - int64(dt.Offset), 0, false, nil
	}
	a, b, n := d.zone.resolve(w)
	switch n {
	case 2:
		return a, b, true, nil
	case 1:
		return a, 0, false, nil
	}
	return d.zone.firstInstant(w), 0, false, nil
}

// formatKey formats the window start x with the offset-suffix rule.
func (d *TimeWindowDef) formatKey(x int64) string {
	var buf [48]byte
	return string(d.appendKey(buf[:0], x))
}

func (d *TimeWindowDef) appendKey(b []byte, x int64) []byte {
	off, second := d.zone.offsetSecond(x)
	b = d.f.AppendFormat(b, cronWall(x, off))
	if d.suffix && second {
		b = strfAppendOffset(b, int(off))
	}
	return b
}

func (d *TimeWindowDef) init() { d.once.Do(d.build) }

func (d *TimeWindowDef) build() {
	const year = 365 * 86400
	hi := max(cronDaysFromCivil(2200, 1, 1)*86400, d.start+100*year)
	d.zone.buildTable(d.start-3*86400, hi)
	t0, ok := d.cron.nextTick(d.zone, d.start-1)
	if !ok {
		t0 = twNever
	}
	if m := d.absModel(t0); m != nil {
		d.model = m
		return
	}
	if m := d.calModel(t0); m != nil {
		d.model = m
		return
	}
	d.model = &twTableModel{c: d.cron, z: d.zone, ticks: []int64{t0}}
}

// twNever stands for "no further tick".
const twNever = math.MaxInt64 / 4

// twModel maps window indices to window starts (unix seconds). Index 0 is
// the first tick at or after start.
type twModel interface {
	tick(i int64) int64
	// atOrAfter returns the smallest i with tick(i) >= x (it may be
	// negative for models that extend before start).
	atOrAfter(x int64) int64
}

// twAbsModel: ticks equally spaced in absolute time within a period
// (hour-"*" crons in zones whose offsets agree modulo the period).
type twAbsModel struct {
	anchor, period int64
	phases         []int64
}

func (m *twAbsModel) tick(i int64) int64 {
	p := int64(len(m.phases))
	q := cronFloorDiv(i, p)
	return m.anchor + q*m.period + m.phases[i-q*p]
}

func (m *twAbsModel) atOrAfter(x int64) int64 {
	p := int64(len(m.phases))
	dlt := x - m.anchor
	q := cronFloorDiv(dlt, m.period)
	r := dlt - q*m.period
	j := sort.Search(len(m.phases), func(k int) bool { return m.phases[k] >= r })
	return q*p + int64(j)
}

func (d *TimeWindowDef) absModel(t0 int64) *twAbsModel {
	c := d.cron
	if !c.hourAll || !c.domAll || !c.monthAll || !c.dowAll || t0 == twNever {
		return nil
	}
	period := int64(3600)
	n := len(c.mins)
	if 60%n == 0 {
		step := 60 / n
		even := true
		for k := 1; k < n; k++ {
			if c.mins[k]-c.mins[k-1] != step {
				even = false
			}
		}
		if even {
			period, n = int64(step*60), 1
		}
	}
	if !d.zone.fixed {
		r := cronFloorMod(d.zone.tr[0].off, period)
		for _, t := range d.zone.tr {
			if cronFloorMod(t.off, period) != r {
				return nil
			}
		}
	}
	m := &twAbsModel{anchor: t0, period: period}
	x := t0
	for k := 0; k < n; k++ {
		m.phases = append(m.phases, x-t0)
		nx, ok := c.nextTick(d.zone, x)
		if !ok {
			return nil
		}
		x = nx
	}
	if x-t0 != period {
		return nil
	}
	return m
}

// twCalModel: fixed hours and minutes on a calendar pattern that repeats
// every 1 or 7 days, or every year on days of month <= 28.
type twCalModel struct {
	z       *cronZone
	known   bool // Cron.known
	yearly  bool
	days    int64   // period length in days (day patterns)
	dayOffs []int64 // matching days within the period (day patterns)
	months  []int   // yearly patterns
	doms    []int   // yearly patterns
	slots   []int64 // seconds of day
	k       int64   // slots per period
	a0      int64   // absolute slot of tick 0
}

func (m *twCalModel) wall(a int64) int64 {
	q := cronFloorDiv(a, m.k)
	r := a - q*m.k
	p := int64(len(m.slots))
	if !m.yearly {
		return (q*m.days+m.dayOffs[r/p])*86400 + m.slots[r%p]
	}
	per := int64(len(m.doms)) * p
	mi, rr := r/per, r%per
	day := cronDaysFromCivil(1970+int(q), m.months[mi], m.doms[rr/p])
	return day*86400 + m.slots[rr%p]
}

// count returns the number of absolute slots whose wall time is < w.
func (m *twCalModel) count(w int64) int64 {
	day := cronFloorDiv(w, 86400)
	sec := w - day*86400
	p := int64(len(m.slots))
	slotsBefore := func() int64 {
		return int64(sort.Search(len(m.slots), func(i int) bool { return m.slots[i] >= sec }))
	}
	if !m.yearly {
		q := cronFloorDiv(day, m.days)
		dd := day - q*m.days
		k := sort.Search(len(m.dayOffs), func(i int) bool { return m.dayOffs[i] >= dd })
		n := q*m.k + int64(k)*p
		if k < len(m.dayOffs) && m.dayOffs[k] == dd {
			n += slotsBefore()
		}
		return n
	}
	y, mo, d := cronCivilFromDays(day)
	n := int64(y-1970) * m.k
	mi := sort.SearchInts(m.months, mo)
	per := int64(len(m.doms)) * p
	n += int64(mi) * per
	if mi < len(m.months) && m.months[mi] == mo {
		di := sort.SearchInts(m.doms, d)
		n += int64(di) * p
		if di < len(m.doms) && m.doms[di] == d {
			n += slotsBefore()
		}
	}
	return n
}

func (m *twCalModel) tickAbs(a int64) int64 { return m.z.fixedInstant(m.wall(a), m.known) }

func (m *twCalModel) atOrAfterAbs(x int64) int64 {
	g := m.count(x + m.z.offset(x))
	for n := 0; n < 64 && m.tickAbs(g-1) >= x; n++ {
		g--
	}
	for n := 0; n < 64 && m.tickAbs(g) < x; n++ {
		g++
	}
	return g
}

func (m *twCalModel) tick(i int64) int64      { return m.tickAbs(i + m.a0) }
func (m *twCalModel) atOrAfter(x int64) int64 { return m.atOrAfterAbs(x) - m.a0 }

func (d *TimeWindowDef) calModel(t0 int64) *twCalModel {
	c := d.cron
	if c.hourAll || t0 == twNever {
		return nil
	}
	m := &twCalModel{z: d.zone, known: c.known}
	for _, s := range c.slots {
		m.slots = append(m.slots, int64(s))
	}
	p := int64(len(m.slots))
	switch {
	case c.domAll && c.monthAll:
		if c.dowAll {
			m.days, m.dayOffs = 1, []int64{0}
		} else {
			m.days = 7
			for k := int64(0); k < 7; k++ {
				if c.dow&(1<<cronWeekday(k)) != 0 {
					m.dayOffs = append(m.dayOffs, k)
				}
			}
		}
		m.k = int64(len(m.dayOffs)) * p
	case !c.domAll && c.dowAll:
		m.yearly = true
		for mo := 1; mo <= 12; mo++ {
			if c.month&(1<<mo) != 0 {
				m.months = append(m.months, mo)
			}
		}
		for dd := 1; dd <= 31; dd++ {
			if c.dom&(1<<dd) != 0 {
				if dd > 28 {
					return nil
				}
				m.doms = append(m.doms, dd)
			}
		}
		m.k = int64(len(m.months)*len(m.doms)) * p
	default:
		return nil
	}
	if m.k == 0 {
		return nil
	}
	// Wall times that resolve to the same instant in a gap would break the
	// index arithmetic: fall back to the tick table for such zones.
	if !d.zone.fixed {
		for j := 1; j < len(d.zone.tr); j++ {
			before, after := d.zone.tr[j-1].off, d.zone.tr[j].off
			if after <= before {
				continue
			}
			gs := d.zone.tr[j].at + before
			ge := d.zone.tr[j].at + after
			lo := m.count(gs) - 1
			hi := m.count(ge+(ge-gs)+1) + 1
			prev := m.tickAbs(lo)
			for a := lo + 1; a <= hi; a++ {
				t := m.tickAbs(a)
				if t <= prev {
					return nil
				}
				prev = t
			}
		}
	}
	m.a0 = m.atOrAfterAbs(d.start)
	if m.tickAbs(m.a0) != t0 {
		return nil
	}
	return m
}

// twTableModel enumerates ticks with the cron, caching them; used for the
// irregular crons.
type twTableModel struct {
	c     *Cron
	z     *cronZone
	mu    sync.Mutex
	ticks []int64
}

// twTableMax bounds a tick table (80 MB): irregular crons are for modest
// partition counts; past it the definition acts as if the cron stopped.
const twTableMax = 10_000_000

func (m *twTableModel) extend() bool {
	last := m.ticks[len(m.ticks)-1]
	if last >= twNever {
		return false
	}
	if len(m.ticks) >= twTableMax {
		m.ticks = append(m.ticks, twNever)
		return false
	}
	nx, ok := m.c.nextTick(m.z, last)
	if !ok {
		nx = twNever
	}
	m.ticks = append(m.ticks, nx)
	return true
}

func (m *twTableModel) tick(i int64) int64 {
	if i < 0 {
		return math.MinInt64 / 4
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for int64(len(m.ticks)) <= i {
		if !m.extend() {
			return twNever
		}
	}
	return m.ticks[i]
}

func (m *twTableModel) atOrAfter(x int64) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.ticks[len(m.ticks)-1] < x {
		if !m.extend() {
			break
		}
	}
	return int64(sort.Search(len(m.ticks), func(i int) bool { return m.ticks[i] >= x }))
}

func twCeilUnix(t time.Time) int64 {
	x := t.Unix()
	if t.Nanosecond() > 0 {
		x++
	}
	return x
}

// Kind returns KindTimeWindow.
func (d *TimeWindowDef) Kind() PartitionsKind { return KindTimeWindow }

// At returns the partitions existing at now.
func (d *TimeWindowDef) At(now time.Time, _ DynamicKeys) Partitions {
	return &TimeWindowPartitions{def: d, now: now, n: d.Count(now)}
}

// Equal reports whether o has the same effective cron, start, end, time
// zone, fmt and end_offset.
func (d *TimeWindowDef) Equal(o PartitionsDef) bool {
	od, ok := o.(*TimeWindowDef)
	if !ok || od == nil {
		return false
	}
	return d.cron.Equal(od.cron) && d.start == od.start && d.hasEnd == od.hasEnd &&
		(!d.hasEnd || d.end == od.end) && d.loc.String() == od.loc.String() &&
		d.f.src == od.f.src && d.endOffset == od.endOffset
}

// String describes the definition, e.g. "daily from 2026-01-01 (Europe/Berlin)".
func (d *TimeWindowDef) String() string {
	d.init()
	var b strings.Builder
	if d.sched != "" {
		b.WriteString(d.sched)
	} else {
		fmt.Fprintf(&b, "cron %q", d.cron.expr)
	}
	fmt.Fprintf(&b, " from %s", d.formatKey(d.start))
	if d.hasEnd {
		fmt.Fprintf(&b, " until %s", d.formatKey(d.end))
	}
	fmt.Fprintf(&b, " (%s)", d.loc.String())
	if d.endOffset != 0 {
		fmt.Fprintf(&b, " end_offset %d", d.endOffset)
	}
	return b.String()
}

// Decl returns the declaration with defaults filled in (timezone, fmt,
// day_offset of weekly and monthly schedules).
func (d *TimeWindowDef) Decl() TimeWindowDecl {
	out := d.decl
	if d.decl.DayOffset != nil {
		v := *d.decl.DayOffset
		out.DayOffset = &v
	}
	return out
}

// Location is the definition's time zone.
func (d *TimeWindowDef) Location() *time.Location { return d.loc }

// CronSchedule is the effective cron expression.
func (d *TimeWindowDef) CronSchedule() string { return d.cron.expr }

// Cron is the effective cron.
func (d *TimeWindowDef) Cron() *Cron { return d.cron }

// Fmt is the strftime key format.
func (d *TimeWindowDef) Fmt() string { return d.f.src }

// EndOffset is the declared end_offset.
func (d *TimeWindowDef) EndOffset() int { return int(d.endOffset) }

// Start is the declared start instant (the first window starts at the first
// tick at or after it).
func (d *TimeWindowDef) Start() time.Time { return time.Unix(d.start, 0).In(d.loc) }

// End is the declared end instant, if any.
func (d *TimeWindowDef) End() (time.Time, bool) {
	if !d.hasEnd {
		return time.Time{}, false
	}
	return time.Unix(d.end, 0).In(d.loc), true
}

// WindowStart returns the start of window i (i >= 0), whether or not it exists yet.
func (d *TimeWindowDef) WindowStart(i int64) time.Time {
	d.init()
	return time.Unix(d.model.tick(i), 0).In(d.loc)
}

// NextTick returns the first cron tick strictly after t, before start too
// (the zero time when there is none within forty years). It is Cron().Next
// with the definition's cached zone table.
func (d *TimeWindowDef) NextTick(t time.Time) time.Time {
	d.init()
	x, ok := d.cron.nextTick(d.zone, t.Unix())
	if !ok {
		return time.Time{}
	}
	return time.Unix(x, 0).In(d.loc)
}

// PrevTick returns the last cron tick strictly before t (the zero time when
// there is none within forty years).
func (d *TimeWindowDef) PrevTick(t time.Time) time.Time {
	d.init()
	x, ok := d.cron.prevTick(d.zone, twCeilUnix(t))
	if !ok {
		return time.Time{}
	}
	return time.Unix(x, 0).In(d.loc)
}

// Window returns window i, [WindowStart(i), WindowStart(i+1)).
func (d *TimeWindowDef) Window(i int64) TimeWindow {
	d.init()
	return TimeWindow{Start: time.Unix(d.model.tick(i), 0).In(d.loc), End: time.Unix(d.model.tick(i+1), 0).In(d.loc)}
}

// IndexAtOrAfter returns the smallest i with WindowStart(i) >= t (0 when t is before the first window).
func (d *TimeWindowDef) IndexAtOrAfter(t time.Time) int64 {
	d.init()
	return max(d.model.atOrAfter(twCeilUnix(t)), 0)
}

// IndexAtOrBefore returns the largest i with WindowStart(i) <= t, or -1.
func (d *TimeWindowDef) IndexAtOrBefore(t time.Time) int64 {
	d.init()
	return d.indexAtOrBefore(t.Unix())
}

func (d *TimeWindowDef) indexAtOrBefore(x int64) int64 {
	return max(d.model.atOrAfter(x+1)-1, -1)
}

// Count returns the number of partitions existing at now (end_offset and end applied).
func (d *TimeWindowDef) Count(now time.Time) int64 {
	d.init()
	n := max(d.indexAtOrBefore(now.Unix()), 0)
	if d.endOffset > 0 {
		n += d.endOffset
	}
	if d.hasEnd {
		n = min(n, max(d.indexAtOrBefore(d.end), 0))
	}
	if d.endOffset < 0 {
		n = max(n+d.endOffset, 0)
	}
	return n
}

// FormatKey formats the window start t as a partition key (with the DST offset suffix rule).
func (d *TimeWindowDef) FormatKey(t time.Time) string {
	d.init()
	return d.formatKey(t.Unix())
}

// Key returns the key of window i, whether or not it exists yet.
func (d *TimeWindowDef) Key(i int64) string {
	d.init()
	return d.formatKey(d.model.tick(i))
}

// ParseKey parses a partition key leniently (fmt, then fmt+%z). Without an
// offset, a repeated wall time is its first occurrence.
func (d *TimeWindowDef) ParseKey(key string) (time.Time, error) {
	d.init()
	x, err := d.parseKey(key)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(x, 0).In(d.loc), nil
}

// WindowForKey returns the window of the first tick at or after the parsed
// key. A key naming a repeated wall time without an offset whose first
// occurrence is not a window start but whose second occurrence is (fixed-hour
// crons tick at the second occurrence) gets that window.
func (d *TimeWindowDef) WindowForKey(key string) (TimeWindow, error) {
	d.init()
	x, second, two, err := d.parseKeyAll(key)
	if err != nil {
		return TimeWindow{}, err
	}
	s, ok := d.cron.nextTick(d.zone, x-1)
	if two && (!ok || d.formatKey(s) != key) {
		if s2, ok2 := d.cron.nextTick(d.zone, second-1); ok2 && d.formatKey(s2) == key {
			s, ok = s2, true
		}
	}
	if !ok {
		return TimeWindow{}, fmt.Errorf("partition key %q: no cron tick after it", key)
	}
	e, ok := d.cron.nextTick(d.zone, s)
	if !ok {
		e = twNever
	}
	return TimeWindow{Start: time.Unix(s, 0).In(d.loc), End: time.Unix(e, 0).In(d.loc)}, nil
}

// index returns the index of key when the key parses, the first window
// starting at or after the parsed time is at or after start, and that
// window's key is exactly key (PARTITIONS.md membership, without the
// existence check). A key naming a repeated wall time without an offset is
// tried at its first occurrence, then at its second: fixed-hour crons tick at
// the second occurrence and keep the plain key (Dagster would not recognise
// its own key there; we keep Index(Key(i)) == i).
func (d *TimeWindowDef) index(key string, n int64) (int64, bool) {
	x, second, two, err := d.parseKeyAll(key)
	if err != nil {
		return 0, false
	}
	// A key at or after the start of window n cannot be one of the first n
	// windows: answer without extending a tick table to it.
	bound := d.model.tick(n)
	if i, ok := d.indexAt(key, x, bound); ok {
		return i, true
	}
	if two {
		return d.indexAt(key, second, bound)
	}
	return 0, false
}

func (d *TimeWindowDef) indexAt(key string, x, bound int64) (int64, bool) {
	if x >= bound {
		return 0, false
	}
	i := max(d.model.atOrAfter(x), 0)
	var buf [48]byte
	if string(d.appendKey(buf[:0], d.model.tick(i))) != key {
		return 0, false
	}
	return i, true
}

// TimeWindowPartitions are the windows of a TimeWindowDef existing at one instant.
type TimeWindowPartitions struct {
	def *TimeWindowDef
	now time.Time
	n   int64
}

// Def returns the definition.
func (p *TimeWindowPartitions) Def() PartitionsDef { return p.def }

// TimeWindowDef returns the definition.
func (p *TimeWindowPartitions) TimeWindowDef() *TimeWindowDef { return p.def }

// Now is the instant the set was taken at.
func (p *TimeWindowPartitions) Now() time.Time { return p.now }

// Len is the number of partitions.
func (p *TimeWindowPartitions) Len() int64 { return p.n }

// Key returns the key of partition i.
func (p *TimeWindowPartitions) Key(i int64) string { return p.def.Key(i) }

// Index returns the index of key: it must parse, name the start of an
// existing window and re-format to exactly itself.
func (p *TimeWindowPartitions) Index(key string) (int64, bool) {
	p.def.init()
	i, ok := p.def.index(key, p.n)
	if !ok || i >= p.n {
		return 0, false
	}
	return i, true
}

// Window returns the time window of partition i.
func (p *TimeWindowPartitions) Window(i int64) TimeWindow { return p.def.Window(i) }
