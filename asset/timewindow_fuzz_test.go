package asset

import (
	"testing"
	"time"
)

// FuzzTimeWindowParseKey feeds arbitrary strings to key parsing and
// membership: no panic, and a key that is a member names its own window.
func FuzzTimeWindowParseKey(f *testing.F) {
	for _, s := range []string{
		"2021-11-07-01:00", "2021-11-07-01:00-0600", "2020-11-01-2:30", "2021-03-14-02:00",
		"2020-01-01", "2020-1-1", "2020-02-30", "2020-11-01-01:00-0800", "9999-12-31-23:59+1400",
		"0000-01-01", "", "-", "2021-11-07-01:00Z", "2021-11-07-01:00+05:30",
	} {
		f.Add(s)
	}
	defs := []*TimeWindowDef{
		twMustDef(f, TimeWindowDecl{Schedule: "hourly", Start: "2020-01-01-00:00", Timezone: "US/Central"}),
		twMustDef(f, TimeWindowDecl{Schedule: "daily", Start: "2020-01-01", Timezone: "Europe/Berlin"}),
		twMustDef(f, TimeWindowDecl{Schedule: "monthly", Start: "2020-01-01", DayOffset: twIntPtr(12)}),
		twMustDef(f, TimeWindowDecl{Cron: "0 * * * 1-5", Start: "2020-01-01-00:00", Timezone: "Australia/Lord_Howe"}),
	}
	now := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	parts := make([]Partitions, len(defs))
	for i, d := range defs {
		parts[i] = d.At(now, nil)
	}
	f.Fuzz(func(t *testing.T, key string) {
		for i, d := range defs {
			_, _ = d.ParseKey(key)
			_, _ = d.WindowForKey(key)
			if j, ok := parts[i].Index(key); ok {
				if got := parts[i].Key(j); got != key {
					t.Fatalf("%s: Index(%q) = %d but Key(%d) = %q", d, key, j, j, got)
				}
			}
		}
	})
}

// FuzzCronParse checks that cron parsing never panics and that a parsed
// cron's Next moves forward.
func FuzzCronParse(f *testing.F) {
	for _, s := range []string{"0 * * * *", "*/15 * * * *", "0 -24 * * *", "5-20/5 1,3 * JAN-MAR MON-FRI", "0 0 29 2 *", "* * * * 7", "0 0 31 2 *", "1/99 */99 1-31/7 * *"} {
		f.Add(s)
	}
	from := time.Date(2021, 3, 14, 7, 30, 0, 0, time.UTC)
	loc, err := time.LoadLocation("US/Central")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		c, err := ParseCron(expr)
		if err != nil {
			return
		}
		n := c.Next(from, loc)
		if !n.IsZero() && !n.After(from) {
			t.Fatalf("%q: Next(%s) = %s", expr, from, n)
		}
		if p := c.Prev(from, loc); !p.IsZero() && !p.Before(from) {
			t.Fatalf("%q: Prev(%s) = %s", expr, from, p)
		}
	})
}

// FuzzStrftimeParse checks that parsing never panics and that what parses
// formats back to something that parses to the same fields.
func FuzzStrftimeParse(f *testing.F) {
	for _, s := range []string{"%Y-%m-%d|2021-03-04", "%Y-%m-%d-%H:%M|2020-11-01-2:30", "%Y%m%d%z|20210304-0600", "%y %b %j|21 mar 063", "%%|%", "%Y|"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		format, str := in, in
		for i := 0; i < len(in); i++ {
			if in[i] == '|' {
				format, str = in[:i], in[i+1:]
				break
			}
		}
		s, err := CompileStrftime(format)
		if err != nil {
			return
		}
		dt, err := s.Parse(str)
		if err != nil {
			return
		}
		again, err := s.Parse(s.Format(dt))
		if err != nil {
			t.Fatalf("format %q: %q parsed to %+v, whose formatting %q does not parse: %v", format, str, dt, s.Format(dt), err)
		}
		if again != dt {
			t.Fatalf("format %q: %q -> %+v -> %q -> %+v", format, str, dt, s.Format(dt), again)
		}
	})
}
