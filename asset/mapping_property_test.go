package asset

import (
	"maps"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// pmDrawSubset draws a subset of p made of a few runs.
func pmDrawSubset(t *rapid.T, p Partitions) *Subset {
	s := NewSubset(p)
	n := p.Len()
	if n == 0 {
		return s
	}
	for range rapid.IntRange(1, 4).Draw(t, "runs") {
		lo := rapid.Int64Range(0, n-1).Draw(t, "lo")
		hi := rapid.Int64Range(lo+1, min(n, lo+40)).Draw(t, "hi")
		s.AddRange(lo, hi)
	}
	return s
}

type pmPropDefs struct {
	daily, hourly, fourHourly, monthly, dailyLate *TimeWindowDef
}

func pmPropSetup(t pmFataler) pmPropDefs {
	return pmPropDefs{
		daily:      pmDaily(t, "2024-01-01"),
		hourly:     pmHourly(t, "2024-01-01-00:00"),
		fourHourly: pmTW(t, TimeWindowDecl{Cron: "0 */4 * * *", Start: "2024-01-01", Fmt: "%Y-%m-%d-%H"}),
		monthly:    pmTW(t, TimeWindowDecl{Schedule: "monthly", Start: "2024-01-01"}),
		dailyLate:  pmDaily(t, "2024-01-05"),
	}
}

// Round trip: the downstream partitions of the upstream partitions of S
// contain S, for identity and time_window(0, 0) whenever nothing upstream
// is missing.
func TestMappingRoundTripProperty(t *testing.T) {
	t.Parallel()
	d := pmPropSetup(t)
	pairs := [][2]*TimeWindowDef{
		{d.daily, d.daily}, {d.hourly, d.daily}, {d.daily, d.hourly}, {d.fourHourly, d.daily},
		{d.daily, d.fourHourly}, {d.daily, d.monthly}, {d.dailyLate, d.daily},
	}
	rapid.Check(t, func(t *rapid.T) {
		pair := rapid.SampledFrom(pairs).Draw(t, "pair")
		up, down := pair[0], pair[1]
		now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.IntRange(24, 24*200).Draw(t, "hours")) * time.Hour)
		decls := []*MappingDecl{nil, pmTWMap(0, 0)}
		if up == down {
			decls = append(decls, &MappingDecl{Identity: &Empty{}})
		}
		m := pmMapping(t, rapid.SampledFrom(decls).Draw(t, "decl"), up, down)
		dp, upP := down.At(now, nil), up.At(now, nil)
		s := pmDrawSubset(t, dp)
		res, err := m.Upstream(s, upP)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Missing) > 0 {
			return
		}
		back, err := m.Downstream(res.Partitions, dp)
		if err != nil {
			t.Fatal(err)
		}
		lost := s.Clone()
		lost.Difference(back)
		if !lost.IsEmpty() {
			t.Fatalf("%s -> %s: downstream of upstream of %q lacks %q", up, down, s.KeySlice(), lost.KeySlice())
		}
	})
}

// Working on ranges gives what working key by key gives: the upstream of a
// subset is the union of the upstreams of its keys, and so is the missing set.
func TestTimeWindowMappingRangesProperty(t *testing.T) {
	t.Parallel()
	d := pmPropSetup(t)
	defs := []*TimeWindowDef{d.daily, d.hourly, d.fourHourly, d.monthly, d.dailyLate}
	rapid.Check(t, func(t *rapid.T) {
		up := rapid.SampledFrom(defs).Draw(t, "up")
		down := rapid.SampledFrom(defs).Draw(t, "down")
		start := rapid.IntRange(-3, 1).Draw(t, "start")
		end := rapid.IntRange(start, 2).Draw(t, "end")
		decl := pmTWMap(start, end)
		if rapid.Bool().Draw(t, "latest") {
			decl = &MappingDecl{LatestOverlapping: &Empty{}}
		}
		m := pmMapping(t, decl, up, down)
		now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.IntRange(1, 24*100).Draw(t, "hours")) * time.Hour)
		dp, upP := down.At(now, nil), up.At(now, nil)
		s := pmDrawSubset(t, dp)
		res, err := m.Upstream(s, upP)
		if err != nil {
			t.Fatal(err)
		}
		want := NewSubset(upP)
		wantMissing := map[string]bool{}
		for i := range s.Indices() {
			one := NewSubset(dp)
			one.Add(i)
			r, err := m.Upstream(one, upP)
			if err != nil {
				t.Fatal(err)
			}
			want.Union(r.Partitions)
			for _, k := range r.Missing {
				wantMissing[k] = true
			}
		}
		if !slices.Equal(res.Partitions.KeySlice(), want.KeySlice()) {
			t.Fatalf("%v %s -> %s on %q: upstream %q, key by key %q", decl, up, down, s.KeySlice(), res.Partitions.KeySlice(), want.KeySlice())
		}
		gotMissing := map[string]bool{}
		for _, k := range res.Missing {
			if gotMissing[k] {
				t.Fatalf("missing key %q twice", k)
			}
			gotMissing[k] = true
		}
		if !maps.Equal(gotMissing, wantMissing) {
			t.Fatalf("%v %s -> %s on %q: missing %q, key by key %v", decl, up, down, s.KeySlice(), res.Missing, wantMissing)
		}

		// Downstream too: the union over upstream keys.
		us := pmDrawSubset(t, upP)
		got, err := m.Downstream(us, dp)
		if err != nil {
			t.Fatal(err)
		}
		wantDown := NewSubset(dp)
		for i := range us.Indices() {
			one := NewSubset(upP)
			one.Add(i)
			r, err := m.Downstream(one, dp)
			if err != nil {
				t.Fatal(err)
			}
			wantDown.Union(r)
		}
		if !slices.Equal(got.KeySlice(), wantDown.KeySlice()) {
			t.Fatalf("%v %s -> %s downstream of %q: %q, key by key %q", decl, up, down, us.KeySlice(), got.KeySlice(), wantDown.KeySlice())
		}
	})
}

// Multi mappings agree with mapping each key on its own.
func TestMultiMappingRangesProperty(t *testing.T) {
	t.Parallel()
	d := pmPropSetup(t)
	region := pmStatic(t, "eu", "us", "apac")
	color := pmStatic(t, "red", "blue")
	defs := []PartitionsDef{
		pmMulti(t, Dimension{Name: "date", Def: d.daily}, Dimension{Name: "region", Def: region}),
		pmMulti(t, Dimension{Name: "date", Def: d.dailyLate}, Dimension{Name: "region", Def: region}),
		pmMulti(t, Dimension{Name: "date", Def: d.hourly}, Dimension{Name: "region", Def: region}, Dimension{Name: "color", Def: color}),
		pmMulti(t, Dimension{Name: "region", Def: region}, Dimension{Name: "color", Def: color}),
		d.daily, region,
	}
	rapid.Check(t, func(t *rapid.T) {
		up := rapid.SampledFrom(defs).Draw(t, "up")
		down := rapid.SampledFrom(defs).Draw(t, "down")
		m, err := NewMapping(nil, up, down)
		if err != nil {
			t.Skip("no default mapping")
		}
		now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.IntRange(1, 24*20).Draw(t, "hours")) * time.Hour)
		dp, upP := down.At(now, nil), up.At(now, nil)
		s := pmDrawSubset(t, dp)
		res, err := m.Upstream(s, upP)
		if err != nil {
			t.Fatal(err)
		}
		want := NewSubset(upP)
		wantMissing := map[string]bool{}
		for i := range s.Indices() {
			one := NewSubset(dp)
			one.Add(i)
			r, err := m.Upstream(one, upP)
			if err != nil {
				t.Fatal(err)
			}
			want.Union(r.Partitions)
			for _, k := range r.Missing {
				wantMissing[k] = true
			}
		}
		if !slices.Equal(res.Partitions.KeySlice(), want.KeySlice()) {
			t.Fatalf("%s -> %s on %q: upstream %q, key by key %q", up, down, s.KeySlice(), res.Partitions.KeySlice(), want.KeySlice())
		}
		gotMissing := map[string]bool{}
		for _, k := range res.Missing {
			gotMissing[k] = true
		}
		if !maps.Equal(gotMissing, wantMissing) {
			t.Fatalf("%s -> %s on %q: missing %q, key by key %v", up, down, s.KeySlice(), res.Missing, wantMissing)
		}
	})
}
