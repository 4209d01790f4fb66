package asset

import (
	"strings"
	"testing"
	"time"
)

func TestCronParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr    string
		wantErr string
		mins    []int
		hours   []int
	}{
		{expr: "0 * * * *", mins: []int{0}},
		{expr: "*/15 * * * *", mins: []int{0, 15, 30, 45}},
		{expr: "5-20/5 1,3 * * *", mins: []int{5, 10, 15, 20}, hours: []int{1, 3}},
		{expr: "10/20 0-2 * * *", mins: []int{10, 30, 50}, hours: []int{0, 1, 2}},
		{expr: "0 0 * JAN-MAR MON-FRI", mins: []int{0}, hours: []int{0}},
		{expr: "  0   0  1 * *  ", mins: []int{0}, hours: []int{0}},
		{expr: "0 -24 * * *", wantErr: `hour field "-24"`},
		{expr: "0 24 * * *", wantErr: "out of range 0-23"},
		{expr: "60 * * * *", wantErr: "out of range 0-59"},
		{expr: "0 0 0 * *", wantErr: "out of range 1-31"},
		{expr: "0 0 * 13 *", wantErr: "out of range 1-12"},
		{expr: "0 0 * * 8", wantErr: "out of range 0-7"},
		{expr: "*/0 * * * *", wantErr: "invalid step"},
		{expr: "5-1 * * * *", wantErr: "backwards"},
		{expr: "0 0 * *", wantErr: "want 5 fields"},
		{expr: "0 0 * * * *", wantErr: "want 5 fields"},
		{expr: "0 0 31 2,4 *", wantErr: "never fires"},
		{expr: "0 0 L * *", wantErr: "invalid value"},
		{expr: "0,,1 * * * *", wantErr: "empty list item"},
		{expr: "a * * * *", wantErr: "invalid value"},
		{expr: "", wantErr: "want 5 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			c, err := ParseCron(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCron(%q) err = %v, want %q", tt.expr, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !twEqualInts(c.mins, tt.mins) {
				t.Errorf("minutes = %v, want %v", c.mins, tt.mins)
			}
			if tt.hours != nil && !twEqualInts(c.hours, tt.hours) {
				t.Errorf("hours = %v, want %v", c.hours, tt.hours)
			}
		})
	}
	a, _ := ParseCron("0 0 * * 7")
	b, _ := ParseCron("0 0 * * SUN")
	c, _ := ParseCron("0 0-23 * * *")
	if !a.Equal(b) || a.String() != "0 0 * * 7" {
		t.Errorf("7 and SUN differ: %+v %+v", a, b)
	}
	if !c.RepeatsEveryHour() || a.RepeatsEveryHour() {
		t.Errorf("RepeatsEveryHour wrong")
	}
}

func twEqualInts(a, b []int) bool {
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

// TestCronNextDST ports the DST_PARAMS of Dagster's
// test_cron_string_iterator.py: consecutive ticks across transitions.
func TestCronNextDST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tz    string
		expr  string
		times []string // RFC 3339 with the expected offset
	}{
		// Europe/Berlin falls back on 2023-10-29 (02:00-03:00 twice) and
		// springs forward on 2023-03-26 (02:00 -> 03:00).
		{"Europe/Berlin", "45 1 * * *", []string{"2023-10-27T01:45:00+02:00", "2023-10-28T01:45:00+02:00", "2023-10-29T01:45:00+02:00", "2023-10-30T01:45:00+01:00"}},
		{"Europe/Berlin", "0 2 * * *", []string{"2023-10-28T02:00:00+02:00", "2023-10-29T02:00:00+01:00", "2023-10-30T02:00:00+01:00"}},
		{"Europe/Berlin", "30 2 * * *", []string{"2023-10-28T02:30:00+02:00", "2023-10-29T02:30:00+01:00", "2023-10-30T02:30:00+01:00"}},
		{"Europe/Berlin", "0 3 * * *", []string{"2023-10-28T03:00:00+02:00", "2023-10-29T03:00:00+01:00", "2023-10-30T03:00:00+01:00"}},
		{"Europe/Berlin", "45 * * * *", []string{"2023-10-29T00:45:00+02:00", "2023-10-29T01:45:00+02:00", "2023-10-29T02:45:00+02:00", "2023-10-29T02:45:00+01:00", "2023-10-29T03:45:00+01:00"}},
		{"Europe/Berlin", "0 * * * *", []string{"2023-10-29T00:00:00+02:00", "2023-10-29T01:00:00+02:00", "2023-10-29T02:00:00+02:00", "2023-10-29T02:00:00+01:00", "2023-10-29T03:00:00+01:00"}},
		{"Europe/Berlin", "0 2 * * 0", []string{"2023-10-22T02:00:00+02:00", "2023-10-29T02:00:00+01:00", "2023-11-05T02:00:00+01:00"}},
		{"Europe/Berlin", "30 2 * * 0", []string{"2023-10-22T02:30:00+02:00", "2023-10-29T02:30:00+01:00", "2023-11-05T02:30:00+01:00"}},
		{"US/Central", "0 1 5 * *", []string{"2023-10-05T01:00:00-05:00", "2023-11-05T01:00:00-06:00", "2023-12-05T01:00:00-06:00"}},
		{"US/Central", "30 1 5 * *", []string{"2023-10-05T01:30:00-05:00", "2023-11-05T01:30:00-06:00", "2023-12-05T01:30:00-06:00"}},
		{"US/Central", "0 2 5 * *", []string{"2023-10-05T02:00:00-05:00", "2023-11-05T02:00:00-06:00", "2023-12-05T02:00:00-06:00"}},
		{"Europe/Berlin", "0 1 * * *", []string{"2023-03-25T01:00:00+01:00", "2023-03-26T01:00:00+01:00", "2023-03-27T01:00:00+02:00"}},
		{"Europe/Berlin", "0 2 * * *", []string{"2023-03-25T02:00:00+01:00", "2023-03-26T03:00:00+02:00", "2023-03-27T02:00:00+02:00"}},
		{"Europe/Berlin", "30 2 * * *", []string{"2023-03-25T02:30:00+01:00", "2023-03-26T03:00:00+02:00", "2023-03-27T02:30:00+02:00"}},
		{"Europe/Berlin", "0 3 * * *", []string{"2023-03-25T03:00:00+01:00", "2023-03-26T03:00:00+02:00", "2023-03-27T03:00:00+02:00"}},
		{"Europe/Berlin", "30 2 * * 0", []string{"2023-03-19T02:30:00+01:00", "2023-03-26T03:00:00+02:00", "2023-04-02T02:30:00+02:00"}},
		{"Europe/Berlin", "0 2 26 * *", []string{"2023-02-26T02:00:00+01:00", "2023-03-26T03:00:00+02:00", "2023-04-26T02:00:00+02:00"}},
		{"Europe/Berlin", "0 * * * *", []string{"2023-03-26T00:00:00+01:00", "2023-03-26T01:00:00+01:00", "2023-03-26T03:00:00+02:00", "2023-03-26T04:00:00+02:00"}},
		{"Australia/Lord_Howe", "0 2 * * *", []string{"2023-09-30T02:00:00+10:30", "2023-10-01T02:30:00+11:00", "2023-10-02T02:00:00+11:00"}},
		// Australia/Sydney springs forward at 02:00 on 2021-10-03.
		{"Australia/Sydney", "*/15 * * * *", []string{"2021-10-03T01:45:00+10:00", "2021-10-03T03:00:00+11:00", "2021-10-03T03:15:00+11:00"}},
		// Two scheduled wall times inside one gap tick once.
		{"US/Central", "0,30 2 * * *", []string{"2021-03-13T02:30:00-06:00", "2021-03-14T03:00:00-05:00", "2021-03-15T02:00:00-05:00"}},
		// America/Santiago falls back at 00:00 on 2023-04-02 (23:00-24:00 of
		// 04-01 twice): Dagster's plain daily cron takes the first
		// occurrence outside hours 1-3, other crons the second.
		{"America/Santiago", "30 23 * * *", []string{"2023-03-31T23:30:00-03:00", "2023-04-01T23:30:00-03:00", "2023-04-02T23:30:00-04:00"}},
		{"America/Santiago", "30 23 * * 5,6", []string{"2023-03-31T23:30:00-03:00", "2023-04-01T23:30:00-04:00", "2023-04-07T23:30:00-04:00"}},
		// Leap day.
		{"UTC", "0 0 29 2 *", []string{"2020-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"}},
		// Day-of-month OR day-of-week.
		{"UTC", "0 0 13 * 5", []string{"2021-08-06T00:00:00Z", "2021-08-13T00:00:00Z", "2021-08-20T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.tz+"/"+tt.expr, func(t *testing.T) {
			t.Parallel()
			c, err := ParseCron(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			loc, err := time.LoadLocation(tt.tz)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]time.Time, len(tt.times))
			for i, s := range tt.times {
				want[i] = twAt(t, s, "")
			}
			for i := 1; i < len(want); i++ {
				if got := c.Next(want[i-1], loc); !got.Equal(want[i]) {
					t.Errorf("Next(%s) = %s, want %s", tt.times[i-1], got.Format(time.RFC3339), tt.times[i])
				}
				if got := c.Prev(want[i], loc); !got.Equal(want[i-1]) {
					t.Errorf("Prev(%s) = %s, want %s", tt.times[i], got.Format(time.RFC3339), tt.times[i-1])
				}
				// Just before a tick, Next is that tick.
				if got := c.Next(want[i].Add(-time.Second), loc); !got.Equal(want[i]) {
					t.Errorf("Next(%s - 1s) = %s", tt.times[i], got.Format(time.RFC3339))
				}
			}
		})
	}
}

// TestCronEveryHourBruteForce compares hour-"*" crons against a
// minute-by-minute scan of real instants (every instant whose wall clock
// matches is a tick).
func TestCronEveryHourBruteForce(t *testing.T) {
	t.Parallel()
	for _, tz := range []string{"US/Central", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"} {
		for _, expr := range []string{"0 * * * *", "*/15 * * * *", "7,31 * * * 1-5", "30 * 1 * *"} {
			t.Run(tz+"/"+expr, func(t *testing.T) {
				t.Parallel()
				c, err := ParseCron(expr)
				if err != nil {
					t.Fatal(err)
				}
				loc, _ := time.LoadLocation(tz)
				for _, from := range []string{"2021-03-10T00:00:00Z", "2021-10-28T00:00:00Z", "2021-04-01T00:00:00Z"} {
					x := twAt(t, from, "")
					end := x.Add(7 * 24 * time.Hour)
					next := c.Next(x, loc)
					for m := x.Add(time.Minute); m.Before(end); m = m.Add(time.Minute) {
						w := m.In(loc)
						match := c.minute&(1<<w.Minute()) != 0 && c.matchDay(cronDaysFromCivil(w.Year(), int(w.Month()), w.Day()))
						if !match {
							continue
						}
						if !next.Equal(m) {
							t.Fatalf("tick %s: Next gave %s", m.In(loc).Format(time.RFC3339), next.Format(time.RFC3339))
						}
						next = c.Next(m, loc)
					}
				}
			})
		}
	}
}
