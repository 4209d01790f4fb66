package asset

import (
	"testing"
	"time"
)

// Cases ported from Dagster's test_time_window_partition_mapping.py (where
// Dagster uses the wall clock, a fixed now after every key is used), plus
// the examples of PARTITIONS.md.

func TestTimeWindowMappingUpstream(t *testing.T) {
	t.Parallel()
	tw := func(d TimeWindowDecl) *TimeWindowDef { return pmTW(t, d) }
	daily := func(start string) *TimeWindowDef { return pmDaily(t, start) }
	hourly := func(start string) *TimeWindowDef { return pmHourly(t, start) }
	central, err := time.LoadLocation("US/Central")
	if err != nil {
		t.Fatal(err)
	}
	later := pmTime(t, "2023-06-01", nil)
	fourHourly := tw(TimeWindowDecl{Cron: "0 */4 * * *", Start: "2021-05-05_00", Fmt: "%Y-%m-%d_%H"})
	selfDaily := daily("2021-05-05")
	tests := []struct {
		name     string
		up, down *TimeWindowDef
		mapping  *MappingDecl
		now      time.Time
		downKeys []string
		want     []string
		missing  []string
	}{
		{name: "same partitioning", up: daily("2021-05-05"), down: daily("2021-05-05"), now: later,
			downKeys: []string{"2021-05-07"}, want: []string{"2021-05-07"}},
		{name: "same partitioning range", up: daily("2021-05-05"), down: daily("2021-05-05"), now: later,
			downKeys: []string{"2021-05-07", "2021-05-08", "2021-05-09"}, want: []string{"2021-05-07", "2021-05-08", "2021-05-09"}},
		{name: "different formats", up: tw(TimeWindowDecl{Schedule: "daily", Start: "2021/05/05", Fmt: "%Y/%m/%d"}), down: daily("2021-05-05"), now: later,
			downKeys: []string{"2021-05-07", "2021-05-08", "2021-05-09"}, want: []string{"2021/05/07", "2021/05/08", "2021/05/09"}},
		{name: "hourly downstream daily upstream", up: daily("2021-05-05"), down: hourly("2021-05-05-00:00"), now: later,
			downKeys: []string{"2021-05-07-05:00"}, want: []string{"2021-05-07"}},
		{name: "hourly downstream daily upstream range", up: daily("2021-05-05"), down: hourly("2021-05-05-00:00"), now: later,
			downKeys: pmKeysRange(t, hourly("2021-05-05-00:00"), "2021-05-07-05:00", "2021-05-09-09:00"),
			want:     []string{"2021-05-07", "2021-05-08", "2021-05-09"}},
		{name: "daily downstream hourly upstream", up: hourly("2021-05-05-00:00"), down: daily("2021-05-05"), now: later,
			downKeys: []string{"2021-05-07"}, want: pmKeysRange(t, hourly("2021-05-05-00:00"), "2021-05-07-00:00", "2021-05-07-23:00")},
		{name: "daily downstream hourly upstream range", up: hourly("2021-05-05-00:00"), down: daily("2021-05-05"), now: later,
			downKeys: []string{"2021-05-07", "2021-05-08", "2021-05-09"},
			want:     pmKeysRange(t, hourly("2021-05-05-00:00"), "2021-05-07-00:00", "2021-05-09-23:00")},
		{name: "monthly downstream daily upstream", up: daily("2021-05-01"), down: tw(TimeWindowDecl{Schedule: "monthly", Start: "2021-05-01"}), now: later,
			downKeys: []string{"2021-05-01", "2021-06-01", "2021-07-01"}, want: pmKeysRange(t, daily("2021-05-01"), "2021-05-01", "2021-07-31")},
		{name: "daily downstream twice-daily upstream",
			up:   tw(TimeWindowDecl{Cron: "0 0,11 * * *", Start: "2020-01-05", Fmt: "%Y-%m-%d %H:%M"}),
			down: tw(TimeWindowDecl{Cron: "0 0 * * *", Start: "2020-01-05", Fmt: "%Y-%m-%d"}), now: later,
			downKeys: []string{"2021-05-01", "2021-05-02", "2021-05-03"},
			want: []string{"2021-05-01 00:00", "2021-05-01 11:00", "2021-05-02 00:00", "2021-05-02 11:00",
				"2021-05-03 00:00", "2021-05-03 11:00"}},
		{name: "twice-daily downstream daily upstream",
			up:   tw(TimeWindowDecl{Cron: "0 0 * * *", Start: "2020-01-05", Fmt: "%Y-%m-%d"}),
			down: tw(TimeWindowDecl{Cron: "0 0,11 * * *", Start: "2020-01-05", Fmt: "%Y-%m-%d %H:%M"}), now: later,
			downKeys: []string{"2021-05-01 00:00", "2021-05-01 11:00", "2021-05-02 00:00", "2021-05-02 11:00", "2021-05-03 00:00"},
			want:     []string{"2021-05-01", "2021-05-02", "2021-05-03"}},
		{name: "daily non-aligned",
			up:   tw(TimeWindowDecl{Cron: "0 11 * * *", Start: "2020-01-05", Fmt: "%Y-%m-%d"}),
			down: tw(TimeWindowDecl{Cron: "0 0 * * *", Start: "2020-01-05", Fmt: "%Y-%m-%d"}), now: later,
			downKeys: []string{"2021-05-02", "2021-05-03", "2021-05-04"},
			want:     []string{"2021-05-01", "2021-05-02", "2021-05-03", "2021-05-04"}},
		{name: "weekly with offset",
			up:   tw(TimeWindowDecl{Schedule: "weekly", Start: "2022-09-04", HourOffset: 10, DayOffset: new(int)}),
			down: tw(TimeWindowDecl{Schedule: "weekly", Start: "2022-09-04", HourOffset: 10, DayOffset: new(int)}), now: later,
			downKeys: []string{"2022-09-11"}, want: []string{"2022-09-11"}},
		{name: "daily lag", up: daily("2021-05-05"), down: daily("2021-05-05"), mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2021-05-07"}, want: []string{"2021-05-06"}},
		{name: "daily lag first partition maps to nothing", up: daily("2021-05-05"), down: daily("2021-05-05"), mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2021-05-05"}},
		{name: "daily lag range", up: daily("2021-05-05"), down: daily("2021-05-05"), mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2021-05-07", "2021-05-08", "2021-05-09"}, want: []string{"2021-05-06", "2021-05-07", "2021-05-08"}},
		{name: "daily lag range overlaps start", up: daily("2021-05-05"), down: daily("2021-05-05"), mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2021-05-05", "2021-05-06", "2021-05-07"}, want: []string{"2021-05-05", "2021-05-06"}},
		{name: "self dependency", up: selfDaily, down: selfDaily, mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2021-05-05", "2021-05-09"}, want: []string{"2021-05-08"}},
		{name: "exotic cron lag", up: fourHourly, down: fourHourly, mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2021-05-06_04"}, want: []string{"2021-05-06_00"}},
		{name: "exotic cron lag first", up: fourHourly, down: fourHourly, mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2021-05-05_00"}},
		{name: "exotic cron lag range", up: fourHourly, down: fourHourly, mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2021-05-07_04", "2021-05-07_08", "2021-05-07_12"}, want: []string{"2021-05-07_00", "2021-05-07_04", "2021-05-07_08"}},
		{name: "exotic cron lag range overlaps start", up: fourHourly, down: fourHourly, mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2021-05-05_00", "2021-05-05_04", "2021-05-05_08"}, want: []string{"2021-05-05_00", "2021-05-05_04"}},
		{name: "lag different start", up: daily("2021-05-05"), down: daily("2021-05-06"), mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2021-05-06"}, want: []string{"2021-05-05"}},
		{name: "many to one", up: daily("2021-05-05"), down: daily("2021-05-06"), mapping: pmTWMap(-1, 0), now: later,
			downKeys: []string{"2022-07-04"}, want: []string{"2022-07-03", "2022-07-04"}},
		{name: "many to one range", up: daily("2021-05-05"), down: daily("2021-05-06"), mapping: pmTWMap(-1, 0), now: later,
			downKeys: []string{"2022-07-04", "2022-07-05"}, want: []string{"2022-07-03", "2022-07-04", "2022-07-05"}},
		{name: "hourly upstream daily downstream start offset", up: hourly("2021-05-05-00:00"), down: daily("2021-05-06"), mapping: pmTWMap(-1, 0), now: later,
			downKeys: []string{"2022-07-04"}, want: pmKeysRange(t, hourly("2021-05-05-00:00"), "2022-07-03-00:00", "2022-07-04-23:00")},
		{name: "hourly upstream daily downstream start and end offset", up: hourly("2021-05-05-00:00"), down: daily("2021-05-06"), mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2022-07-04", "2022-07-05"}, want: pmKeysRange(t, hourly("2021-05-05-00:00"), "2022-07-03-00:00", "2022-07-04-23:00")},
		{name: "daily upstream hourly downstream lag at midnight", up: daily("2021-05-06"), down: hourly("2021-05-05-00:00"), mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2022-07-04-00:00"}, want: []string{"2022-07-03"}},
		{name: "daily upstream hourly downstream lag at one", up: daily("2021-05-06"), down: hourly("2021-05-05-00:00"), mapping: pmTWMap(-1, -1), now: later,
			downKeys: []string{"2022-07-04-01:00"}, want: []string{"2022-07-04"}},
		// test_get_upstream_with_current_time
		{name: "upstream not yet complete", up: daily("2021-05-05"), down: hourly("2021-05-05-00:00"), now: pmTime(t, "2021-06-01T01:00", nil),
			downKeys: []string{"2021-06-01-00:00"}, missing: []string{"2021-06-01"}},
		{name: "upstream partly complete", up: daily("2021-05-05"), down: hourly("2021-05-05-00:00"), now: pmTime(t, "2021-05-06T01:00", nil),
			downKeys: []string{"2021-05-05-23:00", "2021-05-06-00:00"}, want: []string{"2021-05-05"}, missing: []string{"2021-05-06"}},
		{name: "upstream complete", up: daily("2021-05-05"), down: hourly("2021-05-05-00:00"), now: pmTime(t, "2021-05-06T01:00", nil),
			downKeys: []string{"2021-05-05-23:00"}, want: []string{"2021-05-05"}},
		{name: "upstream complete in US/Central",
			up:       tw(TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", Timezone: "US/Central"}),
			down:     tw(TimeWindowDecl{Schedule: "hourly", Start: "2021-05-05-00:00", Timezone: "US/Central"}),
			now:      pmTime(t, "2021-05-06T05:00", nil),
			downKeys: []string{"2021-05-05-23:00"}, want: []string{"2021-05-05"}},
		{name: "upstream incomplete in US/Central",
			up:       tw(TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", Timezone: "US/Central"}),
			down:     tw(TimeWindowDecl{Schedule: "hourly", Start: "2021-05-05-00:00", Timezone: "US/Central"}),
			now:      pmTime(t, "2021-05-05T23:00", central),
			downKeys: []string{"2021-05-05-22:00"}, missing: []string{"2021-05-05"}},
		{name: "upstream with end offset", up: tw(TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", EndOffset: 1}), down: hourly("2021-05-05-00:00"),
			now: pmTime(t, "2021-05-06T01:00", nil), downKeys: []string{"2021-05-05-23:00", "2021-05-06-00:00"}, want: []string{"2021-05-05", "2021-05-06"}},
		{name: "before upstream start", up: daily("2022-01-01"), down: daily("2021-01-01"), now: pmTime(t, "2022-01-06T01:00", nil),
			downKeys: []string{"2021-06-06"}, missing: []string{"2021-06-06"}},
		{name: "at upstream start", up: daily("2022-01-01"), down: daily("2021-01-01"), now: pmTime(t, "2022-01-06T01:00", nil),
			downKeys: []string{"2022-01-01"}, want: []string{"2022-01-01"}},
		{name: "just before upstream start", up: daily("2022-01-01"), down: daily("2021-01-01"), now: pmTime(t, "2022-01-06T01:00", nil),
			downKeys: []string{"2021-12-31"}, missing: []string{"2021-12-31"}},
		{name: "upstream has no partitions", up: daily("2022-01-01"), down: daily("2021-01-01"), now: pmTime(t, "2021-12-31T01:00", nil),
			downKeys: []string{"2021-12-30"}, missing: []string{"2021-12-30"}},
		// test_downstream_partition_has_valid_upstream_partitions
		{name: "valid and nonexistent upstream", up: daily("2023-06-01"), down: daily("2023-05-01"), now: pmTime(t, "2023-06-05", nil),
			downKeys: []string{"2023-05-10", "2023-05-30", "2023-06-01"}, want: []string{"2023-06-01"}, missing: []string{"2023-05-10", "2023-05-30"}},
		{name: "upstream end", up: tw(TimeWindowDecl{Schedule: "daily", Start: "2023-05-01", End: "2023-05-10"}), down: daily("2023-05-01"),
			now: pmTime(t, "2023-05-12", nil), downKeys: []string{"2023-05-09", "2023-05-10"}, want: []string{"2023-05-09"}, missing: []string{"2023-05-10"}},
		{name: "allow nonexistent", up: daily("2023-06-01"), down: daily("2023-05-01"), now: pmTime(t, "2023-06-05", nil),
			mapping:  &MappingDecl{TimeWindow: &TimeWindowMappingDecl{AllowNonexistentUpstream: true}},
			downKeys: []string{"2023-05-10", "2023-05-30", "2023-06-01"}, want: []string{"2023-06-01"}},
		{name: "allow nonexistent past end", up: tw(TimeWindowDecl{Schedule: "daily", Start: "2023-05-01", End: "2023-05-10"}), down: daily("2023-05-01"),
			mapping: &MappingDecl{TimeWindow: &TimeWindowMappingDecl{AllowNonexistentUpstream: true}},
			now:     pmTime(t, "2023-05-12", nil), downKeys: []string{"2023-05-09", "2023-05-10"}, want: []string{"2023-05-09"}},
		// test_daily_upstream_of_yearly
		{name: "daily upstream of yearly", up: daily("2023-01-01"),
			down:    tw(TimeWindowDecl{Cron: "0 0 1 1 *", Fmt: "%Y-%m-%d", Start: "2023-01-01", EndOffset: 1}),
			mapping: &MappingDecl{TimeWindow: &TimeWindowMappingDecl{AllowNonexistentUpstream: true}},
			now:     pmTime(t, "2023-01-05", nil), downKeys: []string{"2023-01-01"},
			want: []string{"2023-01-01", "2023-01-02", "2023-01-03", "2023-01-04"}},
		// test_get_upstream_partitions_for_all_partitions_subset
		{name: "all downstream partitions", up: daily("2021-05-05"), down: daily("2021-05-10"), now: pmTime(t, "2021-05-31T01:00", nil),
			downKeys: pmKeysRange(t, daily("2021-05-10"), "2021-05-10", "2021-05-30"), want: pmKeysRange(t, daily("2021-05-05"), "2021-05-10", "2021-05-30")},
		// Different start (test_different_start_time_partitions_defs).
		{name: "upstream starts later", up: daily("2023-02-01"), down: daily("2023-01-01"), now: later,
			downKeys: []string{"2023-01-15"}, missing: []string{"2023-01-15"}},
		{name: "upstream ends earlier", up: tw(TimeWindowDecl{Schedule: "daily", Start: "2023-01-01", End: "2023-01-31"}),
			down: tw(TimeWindowDecl{Schedule: "daily", Start: "2023-01-01", End: "2023-02-28"}), now: later,
			downKeys: []string{"2023-02-15"}, missing: []string{"2023-02-15"}},
		// A window reaching past both ends: only the parts outside are missing.
		{name: "monthly over a short daily upstream", up: tw(TimeWindowDecl{Schedule: "daily", Start: "2023-01-10", End: "2023-01-12"}),
			down: tw(TimeWindowDecl{Schedule: "monthly", Start: "2023-01-01"}), now: later, downKeys: []string{"2023-01-01"},
			want:    []string{"2023-01-10", "2023-01-11"},
			missing: append(pmKeysRange(t, daily("2023-01-01"), "2023-01-01", "2023-01-09"), pmKeysRange(t, daily("2023-01-01"), "2023-01-12", "2023-01-31")...)},
		// Positive offsets are clamped to the last existing upstream window.
		{name: "end offset clamped", up: daily("2023-01-01"), down: daily("2023-01-01"), mapping: pmTWMap(0, 1), now: pmTime(t, "2023-01-05T03:00", nil),
			downKeys: []string{"2023-01-04"}, want: []string{"2023-01-04"}},
		{name: "end offset", up: daily("2023-01-01"), down: daily("2023-01-01"), mapping: pmTWMap(0, 1), now: pmTime(t, "2023-01-05T03:00", nil),
			downKeys: []string{"2023-01-03"}, want: []string{"2023-01-03", "2023-01-04"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := pmMapping(t, tt.mapping, tt.up, tt.down)
			got, missing := pmUp(t, m, tt.up, tt.down, tt.now, tt.downKeys)
			pmEqual(t, "upstream", got, tt.want)
			pmEqual(t, "missing", missing, tt.missing)
		})
	}
}

func TestTimeWindowMappingDownstream(t *testing.T) {
	t.Parallel()
	tw := func(d TimeWindowDecl) *TimeWindowDef { return pmTW(t, d) }
	daily := func(start string) *TimeWindowDef { return pmDaily(t, start) }
	hourly := func(start string) *TimeWindowDef { return pmHourly(t, start) }
	later := pmTime(t, "2023-06-01", nil)
	fourHourly := tw(TimeWindowDecl{Cron: "0 */4 * * *", Start: "2021-05-05_00", Fmt: "%Y-%m-%d_%H"})
	tests := []struct {
		name     string
		up, down *TimeWindowDef
		mapping  *MappingDecl
		now      time.Time
		upKeys   []string
		want     []string
	}{
		// test_get_downstream_with_current_time (keys that exist at now).
		{name: "PARTITIONS.md: daily not downstream of an hour of an unfinished day", up: hourly("2021-05-05-00:00"), down: daily("2021-05-05"),
			now: pmTime(t, "2021-05-05T01:00", nil), upKeys: []string{"2021-05-05-00:00"}},
		{name: "PARTITIONS.md: unless the daily asset has end_offset 1", up: hourly("2021-05-05-00:00"),
			down: tw(TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", EndOffset: 1}),
			now:  pmTime(t, "2021-05-05T01:00", nil), upKeys: []string{"2021-05-05-00:00"}, want: []string{"2021-05-05"}},
		{name: "hours of two days at 01:00", up: hourly("2021-05-05-00:00"), down: daily("2021-05-05"),
			now: pmTime(t, "2021-05-06T01:00", nil), upKeys: []string{"2021-05-05-23:00", "2021-05-06-00:00"}, want: []string{"2021-05-05"}},
		{name: "hours of two days in US/Central",
			up:   tw(TimeWindowDecl{Schedule: "hourly", Start: "2021-05-05-00:00", Timezone: "US/Central"}),
			down: tw(TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", Timezone: "US/Central"}),
			now:  pmTime(t, "2021-05-06T06:00", nil), upKeys: []string{"2021-05-05-23:00", "2021-05-06-00:00"}, want: []string{"2021-05-05"}},
		{name: "hours of two days with end offset", up: hourly("2021-05-05-00:00"),
			down: tw(TimeWindowDecl{Schedule: "daily", Start: "2021-05-05", EndOffset: 1}),
			now:  pmTime(t, "2021-05-06T01:00", nil), upKeys: []string{"2021-05-05-23:00", "2021-05-06-00:00"}, want: []string{"2021-05-05", "2021-05-06"}},
		{name: "later upstream start", up: daily("2022-01-01"), down: daily("2021-01-01"), now: pmTime(t, "2022-12-31T01:00", nil),
			upKeys: []string{"2022-12-30"}, want: []string{"2022-12-30"}},
		{name: "daily lag", up: daily("2021-05-05"), down: daily("2021-05-05"), mapping: pmTWMap(-1, -1), now: later,
			upKeys: []string{"2021-05-06"}, want: []string{"2021-05-07"}},
		{name: "daily lag range", up: daily("2021-05-05"), down: daily("2021-05-05"), mapping: pmTWMap(-1, -1), now: later,
			upKeys: []string{"2021-05-06", "2021-05-07", "2021-05-08"}, want: []string{"2021-05-07", "2021-05-08", "2021-05-09"}},
		{name: "exotic cron lag", up: fourHourly, down: fourHourly, mapping: pmTWMap(-1, -1), now: later,
			upKeys: []string{"2021-05-06_00"}, want: []string{"2021-05-06_04"}},
		{name: "exotic cron lag range", up: fourHourly, down: fourHourly, mapping: pmTWMap(-1, -1), now: later,
			upKeys: []string{"2021-05-07_04", "2021-05-07_08", "2021-05-07_12"}, want: []string{"2021-05-07_08", "2021-05-07_12", "2021-05-07_16"}},
		{name: "lag different start", up: daily("2021-05-05"), down: daily("2021-05-06"), mapping: pmTWMap(-1, -1), now: later,
			upKeys: []string{"2021-05-05"}, want: []string{"2021-05-06"}},
		{name: "many to one", up: daily("2021-05-05"), down: daily("2021-05-06"), mapping: pmTWMap(-1, 0), now: later,
			upKeys: []string{"2022-07-03", "2022-07-04"}, want: []string{"2022-07-03", "2022-07-04", "2022-07-05"}},
		{name: "many to one single", up: daily("2021-05-05"), down: daily("2021-05-06"), mapping: pmTWMap(-1, 0), now: later,
			upKeys: []string{"2022-07-03"}, want: []string{"2022-07-03", "2022-07-04"}},
		{name: "hourly upstream daily downstream start offset", up: hourly("2021-05-05-00:00"), down: daily("2021-05-06"), mapping: pmTWMap(-1, 0), now: later,
			upKeys: []string{"2022-07-03-23:00"}, want: []string{"2022-07-03", "2022-07-04"}},
		{name: "hourly upstream daily downstream start offset range", up: hourly("2021-05-05-00:00"), down: daily("2021-05-06"), mapping: pmTWMap(-1, 0), now: later,
			upKeys: pmKeysRange(t, hourly("2021-05-05-00:00"), "2022-07-03-00:00", "2022-07-04-23:00"), want: []string{"2022-07-03", "2022-07-04", "2022-07-05"}},
		{name: "hourly upstream daily downstream lag", up: hourly("2021-05-05-00:00"), down: daily("2021-05-06"), mapping: pmTWMap(-1, -1), now: later,
			upKeys: []string{"2022-07-03-00:00"}, want: []string{"2022-07-04"}},
		{name: "daily upstream hourly downstream lag", up: daily("2021-05-06"), down: hourly("2021-05-05-00:00"), mapping: pmTWMap(-1, -1), now: later,
			upKeys: []string{"2022-07-04"}, want: pmKeysRange(t, hourly("2021-05-05-00:00"), "2022-07-04-01:00", "2022-07-05-00:00")},
		{name: "downstream starts later", up: daily("2023-01-01"), down: daily("2023-02-01"), now: later,
			upKeys: []string{"2023-01-15"}},
		{name: "downstream ends later", up: tw(TimeWindowDecl{Schedule: "daily", Start: "2023-01-01", End: "2023-01-31"}),
			down: tw(TimeWindowDecl{Schedule: "daily", Start: "2023-01-01", End: "2023-02-28"}), now: later,
			upKeys: []string{"2023-01-15"}, want: []string{"2023-01-15"}},
		{name: "downstream ends earlier", up: tw(TimeWindowDecl{Schedule: "daily", Start: "2023-01-01", End: "2023-02-28"}),
			down: tw(TimeWindowDecl{Schedule: "daily", Start: "2023-01-01", End: "2023-01-31"}), now: later,
			upKeys: []string{"2023-02-15"}},
		{name: "all upstream partitions", up: daily("2021-05-10"), down: daily("2021-05-05"), now: pmTime(t, "2021-05-31T01:00", nil),
			upKeys: pmKeysRange(t, daily("2021-05-10"), "2021-05-10", "2021-05-30"), want: pmKeysRange(t, daily("2021-05-10"), "2021-05-10", "2021-05-30")},
		// test_partition_mapping_output_has_no_overlap_ranges
		{name: "long lag merges ranges", up: daily("2023-01-01"), down: daily("2023-01-01"), mapping: pmTWMap(-29, 0), now: pmTime(t, "2024-12-01T09:00", nil),
			upKeys: append(pmKeysRange(t, daily("2023-01-01"), "2023-09-27", "2023-12-04"), pmKeysRange(t, daily("2023-01-01"), "2023-12-21", "2024-02-05")...),
			want:   pmKeysRange(t, daily("2023-01-01"), "2023-09-27", "2024-03-05")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := pmMapping(t, tt.mapping, tt.up, tt.down)
			pmEqual(t, "downstream", pmDown(t, m, tt.up, tt.down, tt.now, tt.upKeys), tt.want)
		})
	}
}

// test_dst_transition_with_daily_partitions and the hourly DST tests.
func TestTimeWindowMappingDST(t *testing.T) {
	t.Parallel()
	la := "America/Los_Angeles"
	laLoc, err := time.LoadLocation(la)
	if err != nil {
		t.Fatal(err)
	}
	daily := pmTW(t, TimeWindowDecl{Schedule: "daily", Start: "2023-11-01", Timezone: la})
	hourly := pmTW(t, TimeWindowDecl{Schedule: "hourly", Start: "2023-11-01-00:00", Timezone: la})
	lag := pmTWMap(-1, -1)
	now := pmTime(t, "2024-03-20", laLoc)
	tests := []struct {
		def              *TimeWindowDef
		now              time.Time
		key, up, down    string
		upMissing, empty bool
	}{
		{def: daily, now: now, key: "2023-11-04", up: "2023-11-03", down: "2023-11-05"},
		{def: daily, now: now, key: "2023-11-05", up: "2023-11-04", down: "2023-11-06"},
		{def: daily, now: now, key: "2023-11-06", up: "2023-11-05", down: "2023-11-07"},
		{def: daily, now: now, key: "2024-03-09", up: "2024-03-08", down: "2024-03-10"},
		{def: daily, now: now, key: "2024-03-10", up: "2024-03-09", down: "2024-03-11"},
		{def: daily, now: now, key: "2024-03-11", up: "2024-03-10", down: "2024-03-12"},
		{def: hourly, now: now, key: "2024-03-10-03:00", up: "2024-03-10-01:00", down: "2024-03-10-04:00"},
		{def: hourly, now: pmTime(t, "2023-11-05T10:00", laLoc), key: "2023-11-05-01:00", up: "2023-11-05-00:00", down: "2023-11-05-01:00-0800"},
		{def: hourly, now: pmTime(t, "2023-11-05T10:00", laLoc), key: "2023-11-05-01:00-0800", up: "2023-11-05-01:00", down: "2023-11-05-02:00"},
	}
	for _, tt := range tests {
		m := pmMapping(t, lag, tt.def, tt.def)
		got, missing := pmUp(t, m, tt.def, tt.def, tt.now, []string{tt.key})
		pmEqual(t, "upstream of "+tt.key, got, []string{tt.up})
		pmEqual(t, "missing for "+tt.key, missing, nil)
		pmEqual(t, "downstream of "+tt.key, pmDown(t, m, tt.def, tt.def, tt.now, []string{tt.key}), []string{tt.down})
	}
}

func TestLatestOverlappingMapping(t *testing.T) {
	t.Parallel()
	daily := pmDaily(t, "2025-01-01")
	eod := pmTW(t, TimeWindowDecl{Cron: "0 0 */2 * *", Start: "2025-01-01", Fmt: "%Y-%m-%d"})
	eodLate := pmTW(t, TimeWindowDecl{Cron: "0 0 */2 * *", Start: "2025-01-03", Fmt: "%Y-%m-%d"})
	dailyAhead := pmTW(t, TimeWindowDecl{Schedule: "daily", Start: "2025-01-01", EndOffset: 1})
	lo := &MappingDecl{LatestOverlapping: &Empty{}}
	now := pmTime(t, "2025-01-10", nil)
	up := []struct {
		name          string
		up, down      *TimeWindowDef
		now           time.Time
		downKeys      []string
		want, missing []string
	}{
		{"like identity", daily, daily, now, []string{"2025-01-01", "2025-01-02", "2025-01-03"}, []string{"2025-01-01", "2025-01-02", "2025-01-03"}, nil},
		{"exact matches", daily, eod, now, []string{"2025-01-01", "2025-01-03", "2025-01-05"}, []string{"2025-01-01", "2025-01-03", "2025-01-05"}, nil},
		{"latest before", eod, daily, now, []string{"2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05"}, []string{"2025-01-01", "2025-01-03", "2025-01-05"}, nil},
		{"01 to 01", eod, daily, now, []string{"2025-01-01"}, []string{"2025-01-01"}, nil},
		{"02 to 01", eod, daily, now, []string{"2025-01-02"}, []string{"2025-01-01"}, nil},
		{"03 to 03", eod, daily, now, []string{"2025-01-03"}, []string{"2025-01-03"}, nil},
		{"04 to 03", eod, daily, now, []string{"2025-01-04"}, []string{"2025-01-03"}, nil},
		{"none before gives a missing key", eodLate, daily, now, []string{"2025-01-01"}, nil, []string{"2025-01-01"}},
		{"none before, then existing", eodLate, daily, now, []string{"2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"}, []string{"2025-01-03"}, []string{"2025-01-01"}},
		// The upstream window need not be complete; not existing at now, it
		// is required but nonexistent (Dagster reports it as mapped).
		{"incomplete upstream window", eod, daily, pmTime(t, "2025-01-02", nil), []string{"2025-01-01"}, nil, []string{"2025-01-01"}},
		{"PARTITIONS.md incomplete window", eod, dailyAhead, pmTime(t, "2025-01-02", nil), []string{"2025-01-02"}, nil, []string{"2025-01-01"}},
	}
	for _, tt := range up {
		m := pmMapping(t, lo, tt.up, tt.down)
		got, missing := pmUp(t, m, tt.up, tt.down, tt.now, tt.downKeys)
		pmEqual(t, tt.name+": upstream", got, tt.want)
		pmEqual(t, tt.name+": missing", missing, tt.missing)
	}
	down := []struct {
		name     string
		up, down *TimeWindowDef
		upKeys   []string
		want     []string
	}{
		{"every-other-day to daily", eod, daily, []string{"2025-01-01", "2025-01-03"}, []string{"2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"}},
		{"daily to every-other-day", daily, eod, []string{"2025-01-01"}, []string{"2025-01-01"}},
		{"several daily to every-other-day", daily, eod, []string{"2025-01-01", "2025-01-03", "2025-01-05"}, []string{"2025-01-01", "2025-01-03", "2025-01-05"}},
		{"off days map to nothing", daily, eod, []string{"2025-01-02"}, nil},
	}
	for _, tt := range down {
		m := pmMapping(t, lo, tt.up, tt.down)
		pmEqual(t, tt.name, pmDown(t, m, tt.up, tt.down, now, tt.upKeys), tt.want)
	}
}

func TestTimeWindowMappingTimezoneMismatch(t *testing.T) {
	t.Parallel()
	utc := pmDaily(t, "2024-01-01")
	berlin := pmTW(t, TimeWindowDecl{Schedule: "daily", Start: "2024-01-01", Timezone: "Europe/Berlin"})
	for _, decl := range []*MappingDecl{nil, pmTWMap(0, 0), {LatestOverlapping: &Empty{}}} {
		_, err := NewMapping(decl, utc, berlin)
		if err == nil {
			t.Fatalf("mapping %+v between time zones accepted", decl)
		}
	}
	_, err := NewMapping(pmTWMap(-1, 0), utc, berlin)
	if fes := FieldErrors(err); len(fes) != 1 || fes[0].Field != "time_window" {
		t.Fatalf("error %v, want field time_window", err)
	}
}
