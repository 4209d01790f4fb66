package asset

import (
	"iter"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
)

// Subset is a set of partitions of one Partitions value, held as a
// compressed bitmap of partition indices: millions of partitions, and
// contiguous ranges, cost little memory and set algebra is fast.
// A Subset is not safe for concurrent mutation.
type Subset struct {
	parts Partitions
	bm    *roaring64.Bitmap
}

// NewSubset returns an empty subset of p.
func NewSubset(p Partitions) *Subset {
	return &Subset{parts: p, bm: roaring64.New()}
}

// AllOf returns the subset holding every partition of p.
func AllOf(p Partitions) *Subset {
	s := NewSubset(p)
	if n := p.Len(); n > 0 {
		s.bm.AddRange(0, uint64(n))
	}
	return s
}

// Partitions returns the partitions the subset is taken from.
func (s *Subset) Partitions() Partitions { return s.parts }

// Add adds partition i.
func (s *Subset) Add(i int64) { s.bm.Add(uint64(i)) }

// AddRange adds partitions lo..hi-1.
func (s *Subset) AddRange(lo, hi int64) {
	if lo < 0 {
		lo = 0
	}
	if hi > lo {
		s.bm.AddRange(uint64(lo), uint64(hi))
	}
}

// AddKey adds the partition with key and reports whether it exists.
func (s *Subset) AddKey(key string) bool {
	i, ok := s.parts.Index(key)
	if ok {
		s.bm.Add(uint64(i))
	}
	return ok
}

// Remove removes partition i.
func (s *Subset) Remove(i int64) { s.bm.Remove(uint64(i)) }

// Contains reports whether partition i is in the subset.
func (s *Subset) Contains(i int64) bool { return i >= 0 && s.bm.Contains(uint64(i)) }

// ContainsKey reports whether the partition with key is in the subset.
func (s *Subset) ContainsKey(key string) bool {
	i, ok := s.parts.Index(key)
	return ok && s.bm.Contains(uint64(i))
}

// Len returns the number of partitions in the subset.
func (s *Subset) Len() int64 { return int64(s.bm.GetCardinality()) }

// IsEmpty reports whether the subset is empty.
func (s *Subset) IsEmpty() bool { return s.bm.IsEmpty() }

// Clone returns an independent copy.
func (s *Subset) Clone() *Subset { return &Subset{parts: s.parts, bm: s.bm.Clone()} }

// Union adds every partition of o (taken from the same partitions) to s.
func (s *Subset) Union(o *Subset) { s.bm.Or(o.bm) }

// Intersect keeps in s only the partitions also in o.
func (s *Subset) Intersect(o *Subset) { s.bm.And(o.bm) }

// Difference removes from s the partitions in o.
func (s *Subset) Difference(o *Subset) { s.bm.AndNot(o.bm) }

// Indices iterates the partition indices in order.
func (s *Subset) Indices() iter.Seq[int64] {
	return func(yield func(int64) bool) {
		it := s.bm.Iterator()
		for it.HasNext() {
			if !yield(int64(it.Next())) {
				return
			}
		}
	}
}

// Keys iterates the partition keys in order.
func (s *Subset) Keys() iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range s.Indices() {
			if !yield(s.parts.Key(i)) {
				return
			}
		}
	}
}

// KeySlice returns the keys in order.
func (s *Subset) KeySlice() []string {
	out := make([]string, 0, s.Len())
	for k := range s.Keys() {
		out = append(out, k)
	}
	return out
}

// Ranges iterates maximal runs of contiguous indices as half-open [lo, hi).
func (s *Subset) Ranges() iter.Seq2[int64, int64] {
	return func(yield func(int64, int64) bool) {
		it := s.bm.Iterator()
		if !it.HasNext() {
			return
		}
		lo := int64(it.Next())
		hi := lo + 1
		for it.HasNext() {
			v := int64(it.Next())
			if v == hi {
				hi++
				continue
			}
			if !yield(lo, hi) {
				return
			}
			lo, hi = v, v+1
		}
		yield(lo, hi)
	}
}
