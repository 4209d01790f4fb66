package asset

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// subsetNaiveRanges computes the ranges of s one index at a time.
func subsetNaiveRanges(s *Subset) [][2]int64 {
	var out [][2]int64
	for i := range s.Indices() {
		if n := len(out); n > 0 && out[n-1][1] == i {
			out[n-1][1]++
			continue
		}
		out = append(out, [2]int64{i, i + 1})
	}
	return out
}

func subsetRanges(s *Subset) [][2]int64 {
	var out [][2]int64
	for lo, hi := range s.Ranges() {
		out = append(out, [2]int64{lo, hi})
	}
	return out
}

func TestSubsetRanges(t *testing.T) {
	t.Parallel()
	p := pmStatic(t, "x").At(time.Time{}, nil) // only the bitmap matters
	s := NewSubset(p)
	s.AddRange(0, 3)
	s.AddRange(10, 200000) // a long run, across roaring containers
	s.Add(200001)
	s.AddRange(1<<32-5, 1<<32+5) // across the 32-bit boundary
	want := [][2]int64{{0, 3}, {10, 200000}, {200001, 200002}, {1<<32 - 5, 1<<32 + 5}}
	if got := subsetRanges(s); !slices.Equal(got, want) {
		t.Fatalf("Ranges = %v, want %v", got, want)
	}
	// Stopping early works.
	for lo := range s.Ranges() {
		if lo != 0 {
			t.Fatal("first range is not first")
		}
		break
	}
}

func TestSubsetRangesProperty(t *testing.T) {
	t.Parallel()
	p := pmStatic(t, "x").At(time.Time{}, nil)
	rapid.Check(t, func(t *rapid.T) {
		s := NewSubset(p)
		n := rapid.IntRange(0, 30).Draw(t, "runs")
		for range n {
			lo := rapid.Int64Range(0, 300000).Draw(t, "lo")
			l := rapid.Int64Range(1, 70000).Draw(t, "len")
			s.AddRange(lo, lo+l)
			if rapid.Bool().Draw(t, "hole") {
				s.Remove(lo + l/2)
			}
		}
		if got, want := subsetRanges(s), subsetNaiveRanges(s); !slices.Equal(got, want) {
			t.Fatalf("Ranges = %v, want %v", got, want)
		}
	})
}
