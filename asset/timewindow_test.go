package asset

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func twIntPtr(v int) *int { return &v }

// twAt parses an RFC 3339 instant or a naive "2006-01-02T15:04" wall time in tz.
func twAt(t testing.TB, s, tz string) time.Time {
	t.Helper()
	if ts, err := time.Parse(time.RFC3339, s); err == nil {
		return ts
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"2006-01-02T15:04", "2006-01-02"} {
		if ts, err := time.ParseInLocation(l, s, loc); err == nil {
			return ts
		}
	}
	t.Fatalf("bad time %q", s)
	return time.Time{}
}

func twKeys(p Partitions) []string {
	out := make([]string, 0, p.Len())
	for i := int64(0); i < p.Len(); i++ {
		out = append(out, p.Key(i))
	}
	return out
}

func twEqualStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTimeWindowKeys ports Dagster's test_time_window_partitions.py cases
// (keys existing at a given now) and adds DST cases for US/Central,
// US/Pacific and Europe/Berlin.
func TestTimeWindowKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		decl TimeWindowDecl
		now  string // RFC 3339, or naive wall time in the decl's zone
		want []string
	}{
		{"daily", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05"}, "2021-05-07T00:00:00Z", []string{"2021-05-05", "2021-05-06"}},
		{"daily end_offset 2", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", EndOffset: 2}, "2021-05-07T00:00:00Z", []string{"2021-05-05", "2021-05-06", "2021-05-07", "2021-05-08"}},
		{"daily end_offset -2", TimeWindowDecl{Schedule: "daily", Start: "2021-05-01", EndOffset: -2}, "2021-05-07T00:00:00Z", []string{"2021-05-01", "2021-05-02", "2021-05-03", "2021-05-04"}},
		{"daily minute_offset", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", MinuteOffset: 15}, "2021-05-07T00:00:00Z", []string{"2021-05-05"}},
		{"daily end_offset 1 mid-day", TimeWindowDecl{Schedule: "daily", Start: "2021-01-01", EndOffset: 1}, "2021-01-06T01:20:00Z", []string{"2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04", "2021-01-05", "2021-01-06"}},
		{"daily end_offset -2 mid-day", TimeWindowDecl{Schedule: "daily", Start: "2021-01-01", EndOffset: -2}, "2021-01-08T01:20:00Z", []string{"2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04", "2021-01-05"}},
		{"daily leap year", TimeWindowDecl{Schedule: "daily", Start: "2020-02-28"}, "2020-03-03T01:20:00Z", []string{"2020-02-28", "2020-02-29", "2020-03-01", "2020-03-02"}},
		{"daily window ending exactly now exists", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05"}, "2021-05-06T00:00:00Z", []string{"2021-05-05"}},
		{"daily before start", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05"}, "2021-05-01T00:00:00Z", []string{}},
		{"daily before start end_offset 1", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", EndOffset: 1}, "2021-05-01T00:00:00Z", []string{"2021-05-05"}},
		{"monthly", TimeWindowDecl{Schedule: "monthly", Start: "2021-05-01"}, "2021-07-03T00:00:00Z", []string{"2021-05-01", "2021-06-01"}},
		{"monthly end_offset 2", TimeWindowDecl{Schedule: "monthly", Start: "2021-05-01", EndOffset: 2}, "2021-07-03T00:00:00Z", []string{"2021-05-01", "2021-06-01", "2021-07-01", "2021-08-01"}},
		{"monthly end_offset -1", TimeWindowDecl{Schedule: "monthly", Start: "2021-01-01", EndOffset: -1}, "2021-03-27T00:00:00Z", []string{"2021-01-01"}},
		{"monthly offsets", TimeWindowDecl{Schedule: "monthly", Start: "2021-05-01", MinuteOffset: 15, HourOffset: 3, DayOffset: twIntPtr(12)}, "2021-07-13T00:00:00Z", []string{"2021-05-12", "2021-06-12"}},
		{"weekly", TimeWindowDecl{Schedule: "weekly", Start: "2021-05-01"}, "2021-05-18T00:00:00Z", []string{"2021-05-02", "2021-05-09"}},
		{"weekly offsets", TimeWindowDecl{Schedule: "weekly", Start: "2021-05-01", MinuteOffset: 15, HourOffset: 4, DayOffset: twIntPtr(3)}, "2021-05-20T00:00:00Z", []string{"2021-05-05", "2021-05-12"}},
		{"weekly end_offset 2", TimeWindowDecl{Schedule: "weekly", Start: "2021-01-01", EndOffset: 2}, "2021-01-31T01:20:00Z", []string{"2021-01-03", "2021-01-10", "2021-01-17", "2021-01-24", "2021-01-31", "2021-02-07"}},
		{"weekly end_offset -2", TimeWindowDecl{Schedule: "weekly", Start: "2021-01-01", EndOffset: -2}, "2021-01-24T01:20:00Z", []string{"2021-01-03"}},
		{"weekly none yet", TimeWindowDecl{Schedule: "weekly", Start: "2021-01-04"}, "2021-01-09T00:00:00Z", []string{}},
		{"hourly", TimeWindowDecl{Schedule: "hourly", Start: "2021-05-05-01:00"}, "2021-05-05T03:00:00Z", []string{"2021-05-05-01:00", "2021-05-05-02:00"}},
		{"hourly minute_offset", TimeWindowDecl{Schedule: "hourly", Start: "2021-05-05-01:00", MinuteOffset: 15}, "2021-05-05T03:30:00Z", []string{"2021-05-05-01:15", "2021-05-05-02:15"}},
		{"hourly end_offset 1", TimeWindowDecl{Schedule: "hourly", Start: "2021-01-01-00:00", EndOffset: 1}, "2021-01-01T04:01:00Z", []string{"2021-01-01-00:00", "2021-01-01-01:00", "2021-01-01-02:00", "2021-01-01-03:00", "2021-01-01-04:00"}},
		{"hourly end_offset -1", TimeWindowDecl{Schedule: "hourly", Start: "2021-01-01-00:00", EndOffset: -1}, "2021-01-01T03:30:00Z", []string{"2021-01-01-00:00", "2021-01-01-01:00"}},
		{"hourly start not aligned", TimeWindowDecl{Schedule: "hourly", Start: "2021-01-01-00:02"}, "2021-01-01T00:59:00Z", []string{}},
		{"hourly UTC has no DST", TimeWindowDecl{Schedule: "hourly", Start: "2021-03-14-01:00"}, "2021-03-14T04:01:00Z", []string{"2021-03-14-01:00", "2021-03-14-02:00", "2021-03-14-03:00"}},
		{"twice daily", TimeWindowDecl{Cron: "0 0,11 * * *", Start: "2021-05-05", Fmt: "%Y-%m-%d-%H:%M"}, "2021-05-07T00:00:00Z", []string{"2021-05-05-00:00", "2021-05-05-11:00", "2021-05-06-00:00", "2021-05-06-11:00"}},
		{"cron start not aligned", TimeWindowDecl{Cron: "0 7 * * *", Start: "2021-05-05", Fmt: "%Y-%m-%d-%H:%M"}, "2021-05-08T00:00:00Z", []string{"2021-05-05-07:00", "2021-05-06-07:00"}},
		{"end stops windows", TimeWindowDecl{Schedule: "daily", Start: "2021-05-01", End: "2021-05-04"}, "2022-01-01T00:00:00Z", []string{"2021-05-01", "2021-05-02", "2021-05-03"}},
		{"end caps end_offset", TimeWindowDecl{Schedule: "daily", Start: "2021-05-01", End: "2021-05-04", EndOffset: 3}, "2021-05-02T12:00:00Z", []string{"2021-05-01", "2021-05-02", "2021-05-03"}},
		{"end mid-window", TimeWindowDecl{Schedule: "daily", Start: "2021-05-01", End: "2021-05-03T12:00:00"}, "2022-01-01T00:00:00Z", []string{"2021-05-01", "2021-05-02"}},

		// DST: hour "*" crons skip the spring hour and repeat the fall hour.
		{"US/Central hourly spring", TimeWindowDecl{Schedule: "hourly", Start: "2021-03-14-01:00", Timezone: "US/Central"}, "2021-03-14T04:01", []string{"2021-03-14-01:00", "2021-03-14-03:00"}},
		{"US/Central hourly fall", TimeWindowDecl{Schedule: "hourly", Start: "2021-11-07-00:00", Timezone: "US/Central"}, "2021-11-07T04:01", []string{"2021-11-07-00:00", "2021-11-07-01:00", "2021-11-07-01:00-0600", "2021-11-07-02:00", "2021-11-07-03:00"}},
		{"US/Central hourly spring with %z", TimeWindowDecl{Schedule: "hourly", Start: "2021-03-14T01:00:00", Timezone: "US/Central", Fmt: "%Y-%m-%d-%H:%M%z"}, "2021-03-14T04:01", []string{"2021-03-14-01:00-0600", "2021-03-14-03:00-0500"}},
		{"US/Pacific hourly fall", TimeWindowDecl{Schedule: "hourly", Start: "2021-11-07-00:00", Timezone: "US/Pacific"}, "2021-11-07T03:00", []string{"2021-11-07-00:00", "2021-11-07-01:00", "2021-11-07-01:00-0800", "2021-11-07-02:00"}},
		{"US/Pacific 15 minutes spring", TimeWindowDecl{Cron: "*/15 * * * *", Start: "2021-03-14-01:30", Timezone: "US/Pacific"}, "2021-03-14T03:30", []string{"2021-03-14-01:30", "2021-03-14-01:45", "2021-03-14-03:00", "2021-03-14-03:15"}},
		{"US/Pacific 15 minutes fall", TimeWindowDecl{Cron: "*/15 * * * *", Start: "2021-11-07-01:30", Timezone: "US/Pacific"}, "2021-11-07T10:15:00Z", []string{"2021-11-07-01:30", "2021-11-07-01:45", "2021-11-07-01:00-0800", "2021-11-07-01:15-0800", "2021-11-07-01:30-0800", "2021-11-07-01:45-0800", "2021-11-07-02:00"}},
		{"Europe/Berlin hourly spring", TimeWindowDecl{Schedule: "hourly", Start: "2023-03-26-00:00", Timezone: "Europe/Berlin"}, "2023-03-26T04:00", []string{"2023-03-26-00:00", "2023-03-26-01:00", "2023-03-26-03:00"}},
		{"Europe/Berlin hourly fall", TimeWindowDecl{Schedule: "hourly", Start: "2023-10-29-01:00", Timezone: "Europe/Berlin"}, "2023-10-29T04:00", []string{"2023-10-29-01:00", "2023-10-29-02:00", "2023-10-29-02:00+0100", "2023-10-29-03:00"}},
		{"Europe/Berlin hourly fall with %z", TimeWindowDecl{Schedule: "hourly", Start: "2023-10-29-01:00+0200", Timezone: "Europe/Berlin", Fmt: "%Y-%m-%d-%H:%M%z"}, "2023-10-29T04:00", []string{"2023-10-29-01:00+0200", "2023-10-29-02:00+0200", "2023-10-29-02:00+0100", "2023-10-29-03:00+0100"}},
		{"US/Central daily fall keeps plain dates", TimeWindowDecl{Schedule: "daily", Start: "2021-11-06", Timezone: "US/Central"}, "2021-11-09T00:00", []string{"2021-11-06", "2021-11-07", "2021-11-08"}},
		{"fixed hour cron keeps plain key in fall", TimeWindowDecl{Cron: "30 1 * * *", Start: "2021-11-06", Timezone: "US/Central", Fmt: "%Y-%m-%d-%H:%M"}, "2021-11-08T02:00", []string{"2021-11-06-01:30", "2021-11-07-01:30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := twMustDef(t, tt.decl)
			p := d.At(twAt(t, tt.now, d.Location().String()), nil)
			got := twKeys(p)
			if !twEqualStrings(got, tt.want) {
				t.Fatalf("keys = %q, want %q", got, tt.want)
			}
			for i, k := range got {
				if j, ok := p.Index(k); !ok || j != int64(i) {
					t.Errorf("Index(%q) = %d, %v, want %d", k, j, ok, i)
				}
			}
		})
	}
}

// TestTimeWindowWindows checks window bounds and lengths, including the
// Dagster examples for keys that are not window starts.
func TestTimeWindowWindows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		decl       TimeWindowDecl
		key        string
		start, end string // RFC 3339
		length     time.Duration
	}{
		{"daily", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05"}, "2021-05-08", "2021-05-08T00:00:00Z", "2021-05-09T00:00:00Z", 24 * time.Hour},
		{"daily minute offset", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", MinuteOffset: 15}, "2021-05-08", "2021-05-08T00:15:00Z", "2021-05-09T00:15:00Z", 24 * time.Hour},
		{"monthly day_offset 12 key before window", TimeWindowDecl{Schedule: "monthly", Start: "2021-05-01", MinuteOffset: 15, HourOffset: 3, DayOffset: twIntPtr(12)}, "2021-05-01", "2021-05-12T03:15:00Z", "2021-06-12T03:15:00Z", 31 * 24 * time.Hour},
		{"weekly from Saturday", TimeWindowDecl{Schedule: "weekly", Start: "2021-05-01"}, "2021-05-01", "2021-05-02T00:00:00Z", "2021-05-09T00:00:00Z", 7 * 24 * time.Hour},
		{"weekly offsets", TimeWindowDecl{Schedule: "weekly", Start: "2021-05-01", MinuteOffset: 15, HourOffset: 4, DayOffset: twIntPtr(3)}, "2021-05-01", "2021-05-05T04:15:00Z", "2021-05-12T04:15:00Z", 7 * 24 * time.Hour},
		{"hourly minute offset", TimeWindowDecl{Schedule: "hourly", Start: "2021-05-05-01:00", MinuteOffset: 15}, "2021-05-05-01:00", "2021-05-05T01:15:00Z", "2021-05-05T02:15:00Z", time.Hour},
		{"twice daily 11:00", TimeWindowDecl{Cron: "0 0,11 * * *", Start: "2021-05-05"}, "2021-05-08-11:00", "2021-05-08T11:00:00Z", "2021-05-09T00:00:00Z", 13 * time.Hour},
		{"key before start", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05"}, "2021-05-01", "2021-05-01T00:00:00Z", "2021-05-02T00:00:00Z", 24 * time.Hour},

		{"US/Central hourly skipped hour", TimeWindowDecl{Schedule: "hourly", Start: "2021-03-01-00:00", Timezone: "US/Central"}, "2021-03-14-01:00", "2021-03-14T01:00:00-06:00", "2021-03-14T03:00:00-05:00", time.Hour},
		{"US/Central hourly first 01:00", TimeWindowDecl{Schedule: "hourly", Start: "2021-11-01-00:00", Timezone: "US/Central"}, "2021-11-07-01:00", "2021-11-07T01:00:00-05:00", "2021-11-07T01:00:00-06:00", time.Hour},
		{"US/Central hourly second 01:00", TimeWindowDecl{Schedule: "hourly", Start: "2021-11-01-00:00", Timezone: "US/Central"}, "2021-11-07-01:00-0600", "2021-11-07T01:00:00-06:00", "2021-11-07T02:00:00-06:00", time.Hour},
		{"US/Central daily spring", TimeWindowDecl{Schedule: "daily", Start: "2021-03-01", Timezone: "US/Central"}, "2021-03-14", "2021-03-14T00:00:00-06:00", "2021-03-15T00:00:00-05:00", 23 * time.Hour},
		{"US/Central daily fall", TimeWindowDecl{Schedule: "daily", Start: "2021-11-01", Timezone: "US/Central"}, "2021-11-07", "2021-11-07T00:00:00-05:00", "2021-11-08T00:00:00-06:00", 25 * time.Hour},
		{"US/Pacific 15 minutes before gap", TimeWindowDecl{Cron: "*/15 * * * *", Start: "2021-03-01-00:00", Timezone: "US/Pacific"}, "2021-03-14-01:45", "2021-03-14T01:45:00-08:00", "2021-03-14T03:00:00-07:00", 15 * time.Minute},
		{"Europe/Berlin daily spring", TimeWindowDecl{Schedule: "daily", Start: "2023-03-01", Timezone: "Europe/Berlin"}, "2023-03-26", "2023-03-26T00:00:00+01:00", "2023-03-27T00:00:00+02:00", 23 * time.Hour},
		{"Europe/Berlin daily fall", TimeWindowDecl{Schedule: "daily", Start: "2023-10-01", Timezone: "Europe/Berlin"}, "2023-10-29", "2023-10-29T00:00:00+02:00", "2023-10-30T00:00:00+01:00", 25 * time.Hour},
		{"Europe/Berlin hourly second 02:00", TimeWindowDecl{Schedule: "hourly", Start: "2023-10-01-00:00", Timezone: "Europe/Berlin"}, "2023-10-29-02:00+0100", "2023-10-29T02:00:00+01:00", "2023-10-29T03:00:00+01:00", time.Hour},
		// Fixed-hour crons: a skipped wall time ticks at the end of the gap.
		{"Europe/Berlin 02:30 skipped", TimeWindowDecl{Cron: "30 2 * * *", Start: "2023-03-01", Timezone: "Europe/Berlin", Fmt: "%Y-%m-%d"}, "2023-03-26", "2023-03-26T03:00:00+02:00", "2023-03-27T02:30:00+02:00", 23*time.Hour + 30*time.Minute},
		{"Europe/Berlin 02:30 repeated ticks at second", TimeWindowDecl{Cron: "30 2 * * *", Start: "2023-10-01", Timezone: "Europe/Berlin", Fmt: "%Y-%m-%d"}, "2023-10-29", "2023-10-29T02:30:00+01:00", "2023-10-30T02:30:00+01:00", 24 * time.Hour},
		{"Lord_Howe 02:00 skipped by 30 minutes", TimeWindowDecl{Cron: "0 2 * * *", Start: "2023-09-01", Timezone: "Australia/Lord_Howe", Fmt: "%Y-%m-%d"}, "2023-10-01", "2023-10-01T02:30:00+11:00", "2023-10-02T02:00:00+11:00", 23*time.Hour + 30*time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := twMustDef(t, tt.decl)
			w, err := d.WindowForKey(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			ws, we := twAt(t, tt.start, ""), twAt(t, tt.end, "")
			if !w.Start.Equal(ws) || !w.End.Equal(we) {
				t.Fatalf("WindowForKey(%q) = [%s, %s), want [%s, %s)", tt.key, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), tt.start, tt.end)
			}
			if got := w.End.Sub(w.Start); got != tt.length {
				t.Errorf("window length = %s, want %s", got, tt.length)
			}
		})
	}
}

// TestTimeWindowMembership checks the PARTITIONS.md membership rules.
func TestTimeWindowMembership(t *testing.T) {
	t.Parallel()
	daily := TimeWindowDecl{Schedule: "daily", Start: "2020-01-01"}
	hourly := TimeWindowDecl{Schedule: "hourly", Start: "2020-01-01-00:00"}
	central := TimeWindowDecl{Schedule: "hourly", Start: "2020-01-01-00:00", Timezone: "US/Central"}
	monthly12 := TimeWindowDecl{Schedule: "monthly", Start: "2021-01-01", DayOffset: twIntPtr(12)}
	tests := []struct {
		decl TimeWindowDecl
		now  string
		key  string
		want int64 // -1: not a key
	}{
		{daily, "2021-01-01T00:00:00Z", "2020-01-01", 0},
		{daily, "2021-01-01T00:00:00Z", "2020-1-2", -1}, // parses, but re-formats to 2020-01-02
		{daily, "2021-01-01T00:00:00Z", "2020-01-01-00:00", -1},
		{daily, "2021-01-01T00:00:00Z", "2020-12-31", 365},
		{daily, "2021-01-01T00:00:00Z", "2021-01-01", -1}, // in progress
		{daily, "2021-01-01T00:00:00Z", "2019-12-31", -1}, // before start
		{daily, "2021-01-01T00:00:00Z", "2020-02-30", -1},
		{daily, "2021-01-01T00:00:00Z", "", -1},
		{daily, "2021-01-01T00:00:00Z", "garbage", -1},
		{hourly, "2021-01-01T00:00:00Z", "2020-11-01-01:00-0800", -1}, // re-formats to 2020-11-01-09:00
		{hourly, "2021-01-01T00:00:00Z", "2020-11-01-09:00", 7329},
		{hourly, "2021-01-01T00:00:00Z", "2020-01-01-00:30", -1},
		{central, "2021-01-01T00:00:00Z", "2020-11-01-01:00", 7320},
		{central, "2021-01-01T00:00:00Z", "2020-11-01-01:00-0600", 7321},
		{central, "2021-01-01T00:00:00Z", "2020-11-01-01:00-0500", -1}, // first occurrence has no suffix
		{central, "2021-01-01T00:00:00Z", "2020-11-01-02:00", 7322},
		{central, "2021-01-01T00:00:00Z", "2020-03-08-02:00", -1}, // skipped hour
		{monthly12, "2022-01-01T00:00:00Z", "2021-05-12", 4},
		{monthly12, "2022-01-01T00:00:00Z", "2021-05-01", -1}, // a window, but not its key
	}
	for _, tt := range tests {
		t.Run(tt.decl.Schedule+"/"+tt.key, func(t *testing.T) {
			t.Parallel()
			d := twMustDef(t, tt.decl)
			p := d.At(twAt(t, tt.now, ""), nil)
			i, ok := p.Index(tt.key)
			if tt.want < 0 {
				if ok {
					t.Fatalf("Index(%q) = %d, want not a key", tt.key, i)
				}
				return
			}
			if !ok || i != tt.want {
				t.Fatalf("Index(%q) = %d, %v, want %d", tt.key, i, ok, tt.want)
			}
			if k := p.Key(i); k != tt.key {
				t.Fatalf("Key(%d) = %q, want %q", i, k, tt.key)
			}
		})
	}
}

// TestTimeWindowStartEnd checks the accepted spellings of start and end.
func TestTimeWindowStartEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		decl  TimeWindowDecl
		start string // RFC 3339 of the parsed start
	}{
		{"fmt", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05"}, "2021-05-05T00:00:00Z"},
		{"fmt lenient padding", TimeWindowDecl{Schedule: "hourly", Start: "2020-11-01-2:30"}, "2020-11-01T02:30:00Z"},
		{"fmt with offset", TimeWindowDecl{Schedule: "hourly", Start: "2021-05-05-06:00+0200", Timezone: "Europe/Berlin"}, "2021-05-05T04:00:00Z"},
		{"iso naive in zone", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05T06:00:00", Timezone: "US/Central"}, "2021-05-05T11:00:00Z"},
		{"iso Z", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05T06:00:00Z", Timezone: "US/Central"}, "2021-05-05T06:00:00Z"},
		{"iso offset", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05T06:00:00+02:00"}, "2021-05-05T04:00:00Z"},
		{"iso minutes", TimeWindowDecl{Schedule: "daily", Start: "2021-05-05T06:00"}, "2021-05-05T06:00:00Z"},
		{"iso date for hourly", TimeWindowDecl{Schedule: "hourly", Start: "2021-05-05"}, "2021-05-05T00:00:00Z"},
		{"ambiguous naive is first occurrence", TimeWindowDecl{Schedule: "hourly", Start: "2021-11-07-01:00", Timezone: "US/Central"}, "2021-11-07T06:00:00Z"},
		{"skipped naive uses pre-transition offset", TimeWindowDecl{Schedule: "hourly", Start: "2021-03-14-02:30", Timezone: "US/Central"}, "2021-03-14T08:30:00Z"},
		{"custom fmt", TimeWindowDecl{Schedule: "daily", Start: "05/05/2021", Fmt: "%d/%m/%Y"}, "2021-05-05T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := twMustDef(t, tt.decl)
			if got, want := d.Start(), twAt(t, tt.start, ""); !got.Equal(want) {
				t.Fatalf("start = %s, want %s", got.UTC().Format(time.RFC3339), tt.start)
			}
		})
	}
	d := twMustDef(t, TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", End: "2021-06-01T00:00:00Z"})
	if e, ok := d.End(); !ok || !e.Equal(twAt(t, "2021-06-01T00:00:00Z", "")) {
		t.Fatalf("End() = %v, %v", e, ok)
	}
}

// TestTimeWindowInvalid checks that bad declarations are rejected with a
// *ValidationError naming the field and the problem.
func TestTimeWindowInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		decl    TimeWindowDecl
		field   string
		problem string
	}{
		{"no schedule", TimeWindowDecl{Start: "2021-01-01"}, "schedule", "one of schedule or cron is required"},
		{"both", TimeWindowDecl{Schedule: "daily", Cron: "0 0 * * *", Start: "2021-01-01"}, "cron", "mutually exclusive"},
		{"unknown schedule", TimeWindowDecl{Schedule: "yearly", Start: "2021-01-01"}, "schedule", `unknown schedule "yearly"`},
		{"bad cron", TimeWindowDecl{Cron: "0 -24 * * *", Start: "2021-01-01"}, "cron", `"-24"`},
		{"cron hour 24", TimeWindowDecl{Cron: "0 24 * * *", Start: "2021-01-01"}, "cron", "out of range 0-23"},
		{"cron 4 fields", TimeWindowDecl{Cron: "0 0 * *", Start: "2021-01-01"}, "cron", "want 5 fields"},
		{"cron never", TimeWindowDecl{Cron: "0 0 30 2 *", Start: "2021-01-01"}, "cron", "never fires"},
		{"weekly day 8", TimeWindowDecl{Schedule: "weekly", DayOffset: twIntPtr(8), Start: "2021-01-01"}, "day_offset", "weekly day_offset must be 0..6, got 8"},
		{"monthly day 32", TimeWindowDecl{Schedule: "monthly", DayOffset: twIntPtr(32), Start: "2021-01-01"}, "day_offset", "monthly day_offset must be 1..31, got 32"},
		{"minute offset", TimeWindowDecl{Schedule: "daily", MinuteOffset: 60, Start: "2021-01-01"}, "minute_offset", "minute_offset must be 0..59, got 60"},
		{"hour offset", TimeWindowDecl{Schedule: "daily", HourOffset: -1, Start: "2021-01-01"}, "hour_offset", "hour_offset must be 0..23, got -1"},
		{"hour offset hourly", TimeWindowDecl{Schedule: "hourly", HourOffset: 2, Start: "2021-01-01"}, "hour_offset", "not allowed with schedule hourly"},
		{"offset with cron", TimeWindowDecl{Cron: "0 0 * * *", MinuteOffset: 5, Start: "2021-01-01"}, "minute_offset", "not to cron"},
		{"zone", TimeWindowDecl{Schedule: "daily", Start: "2021-01-01", Timezone: "Mars/Olympus"}, "timezone", `unknown time zone "Mars/Olympus"`},
		{"local zone", TimeWindowDecl{Schedule: "daily", Start: "2021-01-01", Timezone: "Local"}, "timezone", "Local"},
		{"fmt directive", TimeWindowDecl{Schedule: "daily", Start: "2021-01-01", Fmt: "%Y-%q"}, "fmt", "unsupported directive %q"},
		{"fmt too coarse", TimeWindowDecl{Schedule: "hourly", Start: "2021-01-01", Fmt: "%Y-%m-%d"}, "fmt", "same key"},
		{"no start", TimeWindowDecl{Schedule: "daily"}, "start", "start is required"},
		{"bad start", TimeWindowDecl{Schedule: "daily", Start: "May 5th"}, "start", `cannot parse "May 5th"`},
		{"bad end", TimeWindowDecl{Schedule: "daily", Start: "2021-01-01", End: "soon"}, "end", `cannot parse "soon"`},
		{"end before start", TimeWindowDecl{Schedule: "daily", Start: "2021-01-01", End: "2020-01-01"}, "end", "not after start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewTimeWindowDef(tt.decl)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v (%T), want *ValidationError", err, err)
			}
			for _, fe := range ve.Errors {
				if fe.Field == tt.field && strings.Contains(fe.Problem, tt.problem) {
					return
				}
			}
			t.Fatalf("err = %v, want field %q with %q", err, tt.field, tt.problem)
		})
	}
}

func TestTimeWindowDeclEqualString(t *testing.T) {
	t.Parallel()
	a := twMustDef(t, TimeWindowDecl{Schedule: "weekly", Start: "2021-05-01", Timezone: "Europe/Berlin"})
	b := twMustDef(t, TimeWindowDecl{Cron: "0 0 * * 7", Start: "2021-05-01T00:00:00+02:00", Timezone: "Europe/Berlin", Fmt: "%Y-%m-%d"})
	c := twMustDef(t, TimeWindowDecl{Schedule: "weekly", Start: "2021-05-01", Timezone: "Europe/Berlin", EndOffset: 1})
	if !a.Equal(b) {
		t.Errorf("%s should equal %s", a, b)
	}
	if a.Equal(c) || a.Equal(Unpartitioned{}) {
		t.Errorf("%s should not equal %s", a, c)
	}
	got := a.Decl()
	if got.Timezone != "Europe/Berlin" || got.Fmt != "%Y-%m-%d" || got.DayOffset == nil || *got.DayOffset != 0 {
		t.Errorf("Decl() = %+v, want defaults filled", got)
	}
	if a.CronSchedule() != "0 0 * * 0" || a.Fmt() != "%Y-%m-%d" || c.EndOffset() != 1 || a.Kind() != KindTimeWindow {
		t.Errorf("accessors: %q %q %d", a.CronSchedule(), a.Fmt(), c.EndOffset())
	}
	if s := a.String(); s != "weekly from 2021-05-01 (Europe/Berlin)" {
		t.Errorf("String() = %q", s)
	}
	m := twMustDef(t, TimeWindowDecl{Schedule: "monthly", DayOffset: twIntPtr(0), Start: "2021-05-01"})
	if m.CronSchedule() != "0 0 1 * *" {
		t.Errorf("monthly day_offset 0 cron = %q, want day 1", m.CronSchedule())
	}
	h := twMustDef(t, TimeWindowDecl{Schedule: "hourly", Start: "2021-05-01-00:00"})
	if h.Fmt() != "%Y-%m-%d-%H:%M" || h.CronSchedule() != "0 * * * *" {
		t.Errorf("hourly defaults: %q %q", h.Fmt(), h.CronSchedule())
	}
}

// TestTimeWindowScale checks counting and membership on a million
// partitions without enumerating them (the table model is never used).
func TestTimeWindowScale(t *testing.T) {
	t.Parallel()
	d := twMustDef(t, TimeWindowDecl{Schedule: "hourly", Start: "2000-01-01-00:00", Timezone: "Europe/Berlin"})
	now := d.WindowStart(1_000_000)
	p := d.At(now, nil)
	if p.Len() != 1_000_000 {
		t.Fatalf("Len = %d", p.Len())
	}
	k := p.Key(999_999)
	if i, ok := p.Index(k); !ok || i != 999_999 {
		t.Fatalf("Index(%q) = %d, %v", k, i, ok)
	}
	if _, ok := d.model.(*twTableModel); ok {
		t.Fatal("hourly Europe/Berlin uses the tick table")
	}
}

// TestTimeWindowConcurrent shares definitions across goroutines (run with
// -race): the lazy model, zone table and tick table are built once.
func TestTimeWindowConcurrent(t *testing.T) {
	t.Parallel()
	decls := []TimeWindowDecl{
		{Schedule: "daily", Start: "2020-01-01", Timezone: "US/Central"},
		{Cron: "*/20 * * * 1-5", Start: "2020-01-01-00:00", Timezone: "Europe/Berlin"},
	}
	for _, decl := range decls {
		d := twMustDef(t, decl)
		now := twAt(t, "2020-03-01T00:00:00Z", "")
		done := make(chan struct{})
		for g := 0; g < 4; g++ {
			go func() {
				defer func() { done <- struct{}{} }()
				p := d.At(now, nil)
				_ = d.String()
				for i := int64(0); i < p.Len(); i += 97 {
					if j, ok := p.Index(p.Key(i)); !ok || j != i {
						t.Errorf("%s: Index(Key(%d)) = %d, %v", d, i, j, ok)
						return
					}
				}
			}()
		}
		for g := 0; g < 4; g++ {
			<-done
		}
	}
}

func TestTimeWindowIndexAtAndCount(t *testing.T) {
	t.Parallel()
	d := twMustDef(t, TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", End: "2021-05-10", EndOffset: -1})
	at := func(s string) time.Time { return twAt(t, s, "") }
	tests := []struct {
		t             string
		after, before int64
		count         int64
	}{
		{"2021-05-01T00:00:00Z", 0, -1, 0},
		{"2021-05-05T00:00:00Z", 0, 0, 0},
		{"2021-05-05T12:00:00Z", 1, 0, 0},
		{"2021-05-06T00:00:00Z", 1, 1, 0}, // one window ended, end_offset -1 drops it
		{"2021-05-07T00:00:00Z", 2, 2, 1},
		{"2021-05-09T23:59:59Z", 5, 4, 3},
		{"2021-06-01T00:00:00Z", 27, 27, 4}, // end 05-10 keeps 5 windows, minus 1
	}
	for _, tt := range tests {
		x := at(tt.t)
		if got := d.IndexAtOrAfter(x); got != tt.after {
			t.Errorf("IndexAtOrAfter(%s) = %d, want %d", tt.t, got, tt.after)
		}
		if got := d.IndexAtOrBefore(x); got != tt.before {
			t.Errorf("IndexAtOrBefore(%s) = %d, want %d", tt.t, got, tt.before)
		}
		if got := d.Count(x); got != tt.count {
			t.Errorf("Count(%s) = %d, want %d", tt.t, got, tt.count)
		}
		if got := d.At(x, nil).Len(); got != tt.count {
			t.Errorf("At(%s).Len() = %d, want %d", tt.t, got, tt.count)
		}
	}
	// Sub-second instants.
	if got := d.IndexAtOrAfter(at("2021-05-05T00:00:00Z").Add(time.Nanosecond)); got != 1 {
		t.Errorf("IndexAtOrAfter(start+1ns) = %d, want 1", got)
	}
}

func TestTimeWindowNextPrevTick(t *testing.T) {
	t.Parallel()
	d := twMustDef(t, TimeWindowDecl{Schedule: "hourly", Start: "2021-11-07-00:00", Timezone: "US/Central"})
	c := d.Cron()
	for _, s := range []string{"2021-11-07T05:30:00Z", "2021-11-07T06:00:00Z", "2021-11-07T07:00:00.5Z", "2021-01-01T00:00:00Z"} {
		x := twAt(t, s, "")
		if got, want := d.NextTick(x), c.Next(x, d.Location()); !got.Equal(want) {
			t.Errorf("NextTick(%s) = %s, Cron.Next %s", s, got, want)
		}
		if got, want := d.PrevTick(x), c.Prev(x, d.Location()); !got.Equal(want) {
			t.Errorf("PrevTick(%s) = %s, Cron.Prev %s", s, got, want)
		}
	}
}
