package asset

import (
	"slices"
	"testing"
	"time"
)

// Helpers of the partitions-definition and mapping tests, prefixed pm.

type pmFataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// pmTW builds a time-window definition.
func pmTW(t pmFataler, d TimeWindowDecl) *TimeWindowDef {
	t.Helper()
	def, err := NewTimeWindowDef(d)
	if err != nil {
		t.Fatalf("NewTimeWindowDef(%+v): %v", d, err)
	}
	return def
}

func pmDaily(t pmFataler, start string) *TimeWindowDef {
	t.Helper()
	return pmTW(t, TimeWindowDecl{Schedule: "daily", Start: start})
}

func pmHourly(t pmFataler, start string) *TimeWindowDef {
	t.Helper()
	return pmTW(t, TimeWindowDecl{Schedule: "hourly", Start: start})
}

func pmStatic(t pmFataler, keys ...string) *StaticDef {
	t.Helper()
	d, err := NewStaticDef(keys)
	if err != nil {
		t.Fatalf("NewStaticDef(%q): %v", keys, err)
	}
	return d
}

func pmMulti(t pmFataler, dims ...Dimension) *MultiDef {
	t.Helper()
	d, err := NewMultiDef(dims)
	if err != nil {
		t.Fatalf("NewMultiDef: %v", err)
	}
	return d
}

// pmTime parses "2006-01-02T15:04" (or a date) in loc (UTC when nil).
func pmTime(t pmFataler, s string, loc *time.Location) time.Time {
	t.Helper()
	if loc == nil {
		loc = time.UTC
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02"} {
		if x, err := time.ParseInLocation(layout, s, loc); err == nil {
			return x
		}
	}
	t.Fatalf("bad time %q", s)
	return time.Time{}
}

// pmSubset returns the subset of p holding keys; every key must exist.
func pmSubset(t pmFataler, p Partitions, keys ...string) *Subset {
	t.Helper()
	s := NewSubset(p)
	for _, k := range keys {
		if !s.AddKey(k) {
			t.Fatalf("%q is not a partition of %s at %s (%d partitions)", k, p.Def(), p.Now(), p.Len())
		}
	}
	return s
}

// pmRange returns the keys of p from first to last, inclusive.
func pmRange(t pmFataler, p Partitions, first, last string) []string {
	t.Helper()
	i, ok1 := p.Index(first)
	j, ok2 := p.Index(last)
	if !ok1 || !ok2 {
		t.Fatalf("range %s..%s not in %s at %s", first, last, p.Def(), p.Now())
	}
	var out []string
	for x := i; x <= j; x++ {
		out = append(out, p.Key(x))
	}
	return out
}

// pmKeysRange returns the keys of def (existing or not) from first to last.
func pmKeysRange(t pmFataler, def *TimeWindowDef, first, last string) []string {
	t.Helper()
	a, err1 := def.ParseKey(first)
	b, err2 := def.ParseKey(last)
	if err1 != nil || err2 != nil {
		t.Fatalf("parse %s..%s: %v %v", first, last, err1, err2)
	}
	var out []string
	for i := def.IndexAtOrAfter(a); !def.WindowStart(i).After(b); i++ {
		out = append(out, def.FormatKey(def.WindowStart(i)))
	}
	return out
}

func pmMapping(t pmFataler, decl *MappingDecl, up, down PartitionsDef) Mapping {
	t.Helper()
	m, err := NewMapping(decl, up, down)
	if err != nil {
		t.Fatalf("NewMapping: %v", err)
	}
	return m
}

func pmTWMap(start, end int) *MappingDecl {
	return &MappingDecl{TimeWindow: &TimeWindowMappingDecl{StartOffset: start, EndOffset: end}}
}

// pmUp maps downKeys of down (at now) upstream to up (at now).
func pmUp(t pmFataler, m Mapping, up, down PartitionsDef, now time.Time, downKeys []string) ([]string, []string) {
	t.Helper()
	dp := down.At(now, nil)
	res, err := m.Upstream(pmSubset(t, dp, downKeys...), up.At(now, nil))
	if err != nil {
		t.Fatalf("Upstream: %v", err)
	}
	return res.Partitions.KeySlice(), res.Missing
}

// pmDown maps upKeys of up (at now) downstream to down (at now).
func pmDown(t pmFataler, m Mapping, up, down PartitionsDef, now time.Time, upKeys []string) []string {
	t.Helper()
	res, err := m.Downstream(pmSubset(t, up.At(now, nil), upKeys...), down.At(now, nil))
	if err != nil {
		t.Fatalf("Downstream: %v", err)
	}
	return res.KeySlice()
}

func pmEqual(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}
