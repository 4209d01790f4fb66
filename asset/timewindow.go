package asset

// STUB: replaced by the time-window implementation. The exported API below is
// the contract other files code against; it may grow, not shrink.

import (
	"errors"
	"time"
)

var errTimeWindowNotBuilt = errors.New("time-window partitions: not built yet")

// Cron is a parsed 5-field cron expression (minute hour day-of-month month day-of-week).
type Cron struct{ expr string }

// ParseCron parses a 5-field cron expression.
func ParseCron(expr string) (*Cron, error) { return nil, errTimeWindowNotBuilt }

// String returns the expression.
func (c *Cron) String() string { return c.expr }

// Next returns the first tick strictly after t, evaluated on the wall clock of loc.
func (c *Cron) Next(t time.Time, loc *time.Location) time.Time { return time.Time{} }

// TimeWindowDef is a time-window partitions definition with Dagster's semantics.
type TimeWindowDef struct{}

// NewTimeWindowDef builds a definition; errors are *ValidationError with
// field names relative to the time_window declaration ("cron", "start", ...).
func NewTimeWindowDef(d TimeWindowDecl) (*TimeWindowDef, error) { return nil, errTimeWindowNotBuilt }

func (d *TimeWindowDef) Kind() PartitionsKind { return KindTimeWindow }
func (d *TimeWindowDef) At(now time.Time, _ DynamicKeys) Partitions {
	return &TimeWindowPartitions{def: d}
}
func (d *TimeWindowDef) Equal(o PartitionsDef) bool { return false }
func (d *TimeWindowDef) String() string             { return "time windows" }

// Decl returns the declaration with defaults filled in.
func (d *TimeWindowDef) Decl() TimeWindowDecl { return TimeWindowDecl{} }

// Location is the definition's time zone.
func (d *TimeWindowDef) Location() *time.Location { return time.UTC }

// CronSchedule is the effective cron expression.
func (d *TimeWindowDef) CronSchedule() string { return "" }

// Fmt is the strftime key format.
func (d *TimeWindowDef) Fmt() string { return "" }

// EndOffset is the declared end_offset.
func (d *TimeWindowDef) EndOffset() int { return 0 }

// WindowStart returns the start of window i (i >= 0), whether or not it exists yet.
func (d *TimeWindowDef) WindowStart(i int64) time.Time { return time.Time{} }

// IndexAtOrAfter returns the smallest i with WindowStart(i) >= t (0 when t is before the first window).
func (d *TimeWindowDef) IndexAtOrAfter(t time.Time) int64 { return 0 }

// IndexAtOrBefore returns the largest i with WindowStart(i) <= t, or -1.
func (d *TimeWindowDef) IndexAtOrBefore(t time.Time) int64 { return -1 }

// Count returns the number of partitions existing at now (end_offset and end applied).
func (d *TimeWindowDef) Count(now time.Time) int64 { return 0 }

// FormatKey formats the window start t as a partition key (with the DST offset suffix rule).
func (d *TimeWindowDef) FormatKey(t time.Time) string { return "" }

// ParseKey parses a partition key leniently (fmt, then fmt+%z).
func (d *TimeWindowDef) ParseKey(key string) (time.Time, error) {
	return time.Time{}, errTimeWindowNotBuilt
}

// WindowForKey returns the window of the first tick at or after the parsed key.
func (d *TimeWindowDef) WindowForKey(key string) (TimeWindow, error) {
	return TimeWindow{}, errTimeWindowNotBuilt
}

// TimeWindowPartitions are the windows of a TimeWindowDef existing at one instant.
type TimeWindowPartitions struct {
	def *TimeWindowDef
	now time.Time
	n   int64
}

func (p *TimeWindowPartitions) Def() PartitionsDef             { return p.def }
func (p *TimeWindowPartitions) TimeWindowDef() *TimeWindowDef  { return p.def }
func (p *TimeWindowPartitions) Now() time.Time                 { return p.now }
func (p *TimeWindowPartitions) Len() int64                     { return p.n }
func (p *TimeWindowPartitions) Key(i int64) string             { return "" }
func (p *TimeWindowPartitions) Index(key string) (int64, bool) { return 0, false }
func (p *TimeWindowPartitions) Window(i int64) TimeWindow      { return TimeWindow{} }
