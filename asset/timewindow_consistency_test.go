package asset

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// twSlowDef builds the definition with the tick-table model and a zone
// without a transition table: the reference the O(1) models are checked
// against.
func twSlowDef(t *testing.T, decl TimeWindowDecl) *TimeWindowDef {
	t.Helper()
	d, err := NewTimeWindowDef(decl)
	if err != nil {
		t.Fatalf("NewTimeWindowDef(%+v): %v", decl, err)
	}
	d.once.Do(func() {
		t0, ok := d.cron.nextTick(d.zone, d.start-1)
		if !ok {
			t0 = twNever
		}
		d.model = &twTableModel{c: d.cron, z: d.zone, ticks: []int64{t0}}
	})
	return d
}

func twMustDef(t testing.TB, decl TimeWindowDecl) *TimeWindowDef {
	t.Helper()
	d, err := NewTimeWindowDef(decl)
	if err != nil {
		t.Fatalf("NewTimeWindowDef(%+v): %v", decl, err)
	}
	return d
}

func twModelName(d *TimeWindowDef) string {
	d.init()
	return fmt.Sprintf("%T", d.model)
}

// TestTimeWindowModelsConsistency checks, for random indices, that the O(1)
// models agree with tick-by-tick iteration of the cron, that
// Index(Key(i)) == i and that windows tile time.
func TestTimeWindowModelsConsistency(t *testing.T) {
	t.Parallel()
	zones := []string{"UTC", "US/Central", "US/Pacific", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "America/Santiago", "Australia/Adelaide"}
	type tc struct {
		decl      TimeWindowDecl
		wantModel string // "" when any
	}
	var cases []tc
	day3 := 3
	day12 := 12
	for _, z := range zones {
		cases = append(cases,
			tc{decl: TimeWindowDecl{Schedule: "hourly", Start: "2020-01-01-00:00", Timezone: z}, wantModel: map[bool]string{true: "*asset.twAbsModel"}[z != "Australia/Lord_Howe"]},
			tc{decl: TimeWindowDecl{Schedule: "hourly", MinuteOffset: 30, Start: "2020-01-01-00:00", Timezone: z}},
			tc{decl: TimeWindowDecl{Cron: "*/15 * * * *", Start: "2020-01-01-00:00", Timezone: z}},
			tc{decl: TimeWindowDecl{Cron: "5,20,50 * * * *", Start: "2020-01-01-00:00", Timezone: z}},
			tc{decl: TimeWindowDecl{Schedule: "daily", Start: "2020-01-01", Timezone: z}, wantModel: "*asset.twCalModel"},
			tc{decl: TimeWindowDecl{Schedule: "daily", HourOffset: 2, MinuteOffset: 30, Start: "2020-01-01", Timezone: z}, wantModel: "*asset.twCalModel"},
			tc{decl: TimeWindowDecl{Schedule: "daily", HourOffset: 1, Start: "2020-01-01", Timezone: z}, wantModel: "*asset.twCalModel"},
			tc{decl: TimeWindowDecl{Schedule: "weekly", HourOffset: 2, DayOffset: &day3, Start: "2020-01-01", Timezone: z}, wantModel: "*asset.twCalModel"},
			tc{decl: TimeWindowDecl{Schedule: "monthly", HourOffset: 3, MinuteOffset: 15, DayOffset: &day12, Start: "2020-01-01", Timezone: z}, wantModel: "*asset.twCalModel"},
			tc{decl: TimeWindowDecl{Cron: "0,30 1,2,3 * * *", Start: "2020-01-01", Timezone: z}},
			tc{decl: TimeWindowDecl{Cron: "30 23 * * *", Start: "2020-01-01", Timezone: z}, wantModel: "*asset.twCalModel"},
			tc{decl: TimeWindowDecl{Cron: "30 23,0 * * 0,6", Start: "2020-01-01", Timezone: z}, wantModel: "*asset.twCalModel"},
			tc{decl: TimeWindowDecl{Cron: "0 0,11 * * 1-5", Start: "2020-01-01", Timezone: z}},
			tc{decl: TimeWindowDecl{Cron: "0 6 1,15 1,4,7,10 *", Start: "2020-01-01", Timezone: z}},
			tc{decl: TimeWindowDecl{Cron: "0 6 31 * *", Start: "2020-01-01", Timezone: z}, wantModel: "*asset.twTableModel"},
			tc{decl: TimeWindowDecl{Cron: "*/20 * * * 1-5", Start: "2020-01-01-00:00", Timezone: z}, wantModel: "*asset.twTableModel"},
		)
	}
	for _, c := range cases {
		name := c.decl.Schedule + c.decl.Cron + "/" + c.decl.Timezone
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fast := twMustDef(t, c.decl)
			slow := twSlowDef(t, c.decl)
			if c.wantModel != "" {
				if got := twModelName(fast); got != c.wantModel {
					t.Errorf("model = %s, want %s", got, c.wantModel)
				}
			}
			rng := rand.New(rand.NewPCG(1, uint64(len(name))))
			// Ticks cover 2020..2025 for the table (slow) side.
			var maxI int64 = 3000
			if c.decl.Schedule == "hourly" || c.decl.Cron != "" && fast.cron.hourAll {
				maxI = 40000
			}
			check := func(i int64) {
				fs, ss := fast.WindowStart(i), slow.WindowStart(i)
				if !fs.Equal(ss) {
					t.Fatalf("WindowStart(%d) = %s, slow path %s", i, fs, ss)
				}
				k := fast.Key(i)
				if sk := slow.Key(i); sk != k {
					t.Fatalf("Key(%d) = %q, slow path %q", i, k, sk)
				}
				if j, ok := fast.index(k, i+1); !ok || j != i {
					t.Fatalf("index(Key(%d)=%q) = %d, %v", i, k, j, ok)
				}
				w := fast.Window(i)
				if !w.End.Equal(fast.WindowStart(i+1)) || !w.End.After(w.Start) {
					t.Fatalf("Window(%d) = %v, next start %v", i, w, fast.WindowStart(i+1))
				}
				// Instants inside the window map back to i.
				mid := w.Start.Add(w.End.Sub(w.Start) / 2)
				if got := fast.IndexAtOrBefore(mid); got != i {
					t.Fatalf("IndexAtOrBefore(%s) = %d, want %d", mid, got, i)
				}
				if got := fast.IndexAtOrAfter(mid); got != i+1 {
					t.Fatalf("IndexAtOrAfter(%s) = %d, want %d", mid, got, i+1)
				}
				if got := fast.IndexAtOrAfter(w.Start); got != i {
					t.Fatalf("IndexAtOrAfter(start %s) = %d, want %d", w.Start, got, i)
				}
				if got := slow.IndexAtOrBefore(mid); got != i {
					t.Fatalf("slow IndexAtOrBefore(%s) = %d, want %d", mid, got, i)
				}
			}
			for i := int64(0); i < 50; i++ {
				check(i)
			}
			for n := 0; n < 250; n++ {
				check(rng.Int64N(maxI))
			}
			// Every tick around each DST transition of the first two years.
			for _, tr := range fast.zone.tr {
				if tr.at < fast.start || tr.at > fast.start+2*366*86400 {
					continue
				}
				i := fast.IndexAtOrBefore(time.Unix(tr.at, 0))
				for j := max(i-6, 0); j < i+6; j++ {
					check(j)
				}
			}
		})
	}
}
