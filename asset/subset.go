package asset

import (
	"cmp"
	"iter"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
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

// Ranges iterates maximal runs of contiguous indices as half-open [lo, hi),
// in order. A long run costs O(log length) bitmap probes, not one step per
// index, so a subset of a million contiguous partitions is one cheap range.
func (s *Subset) Ranges() iter.Seq2[int64, int64] {
	return func(yield func(int64, int64) bool) {
		it := s.bm.Iterator()
		for it.HasNext() {
			lo := it.Next()
			hi := lo + 1
			// Walk a few steps; a run that goes on is measured by rank.
			steps := 0
			for it.HasNext() && it.PeekNext() == hi {
				if steps == 16 {
					hi = s.runEnd(lo, hi)
					it.AdvanceIfNeeded(hi)
					break
				}
				it.Next()
				hi++
				steps++
			}
			if !yield(int64(lo), int64(hi)) {
				return
			}
		}
	}
}

// runEnd returns the end of the run of contiguous indices that starts at lo
// and is known to reach hi-1: galloping, then bisecting, on the rank.
func (s *Subset) runEnd(lo, hi uint64) uint64 {
	base := uint64(0)
	if lo > 0 {
		base = s.bm.Rank(lo - 1)
	}
	full := func(end uint64) bool { // is [lo, end) all present?
		return s.bm.Rank(end-1)-base == end-lo
	}
	good := hi // [lo, good) is full
	step := hi - lo
	bad := uint64(0) // 0: unknown; else [lo, bad) is not full
	for bad == 0 {
		next := good + step
		if next < good { // overflow
			next = ^uint64(0)
		}
		if full(next) {
			good = next
			step *= 2
			if next == ^uint64(0) {
				return good
			}
		} else {
			bad = next
		}
	}
	for bad-good > 1 {
		mid := good + (bad-good)/2
		if full(mid) {
			good = mid
		} else {
			bad = mid
		}
	}
	return good
}

// rangeBatch gathers ranges to add to a subset and adds them at once:
// adding many short ranges one by one to a roaring bitmap costs time
// quadratic in the runs of a container, while a batch is written through a
// dense buffer in time linear in the span.
type rangeBatch struct {
	s  *Subset
	rs [][2]int64
}

func newRangeBatch(s *Subset) *rangeBatch { return &rangeBatch{s: s} }

// add records [lo, hi).
func (b *rangeBatch) add(lo, hi int64) {
	lo = max(lo, 0)
	if hi <= lo {
		return
	}
	if n := len(b.rs); n > 0 && lo >= b.rs[n-1][0] && lo <= b.rs[n-1][1] {
		b.rs[n-1][1] = max(b.rs[n-1][1], hi)
		return
	}
	b.rs = append(b.rs, [2]int64{lo, hi})
}

// batchDenseMin is the number of ranges from which a segment is written
// through a dense buffer.
const batchDenseMin = 16

// flush adds the recorded ranges to the subset.
func (b *rangeBatch) flush() {
	rs := b.rs
	b.rs = nil
	if len(rs) == 0 {
		return
	}
	if !slices.IsSortedFunc(rs, func(x, y [2]int64) int { return cmp.Compare(x[0], y[0]) }) {
		slices.SortFunc(rs, func(x, y [2]int64) int { return cmp.Compare(x[0], y[0]) })
		out := rs[:1]
		for _, r := range rs[1:] {
			if last := &out[len(out)-1]; r[0] <= last[1] {
				last[1] = max(last[1], r[1])
				continue
			}
			out = append(out, r)
		}
		rs = out
	}
	const (
		maxGap  = 1 << 18 // split segments at gaps this wide
		maxSpan = 1 << 24 // bits in one dense buffer
		limit   = 1 << 32 // dense buffers hold 32-bit values
	)
	for i := 0; i < len(rs); {
		base := rs[i][0] &^ 0xFFFF
		j := i + 1
		for j < len(rs) && rs[j][0]-rs[j-1][1] < maxGap && rs[j][1]-base <= maxSpan && rs[j][1] <= limit {
			j++
		}
		seg := rs[i:j]
		if len(seg) < batchDenseMin || seg[len(seg)-1][1] > limit {
			for _, r := range seg {
				b.s.bm.AddRange(uint64(r[0]), uint64(r[1]))
			}
			i = j
			continue
		}
		words := make([]uint64, (seg[len(seg)-1][1]-base+63)/64)
		for _, r := range seg {
			setBits(words, uint64(r[0]-base), uint64(r[1]-base))
		}
		bm32 := roaring.FromDense(words, false)
		if base > 0 {
			bm32 = roaring.AddOffset64(bm32, base)
		}
		b.s.bm.Or(roaring64.Roaring32AsRoaring64(bm32))
		i = j
	}
}

// setBits sets bits [lo, hi) of words.
func setBits(words []uint64, lo, hi uint64) {
	for lo < hi {
		w, bit := lo/64, lo%64
		n := min(64-bit, hi-lo)
		mask := ^uint64(0)
		if n < 64 {
			mask = (uint64(1)<<n - 1) << bit
		}
		words[w] |= mask
		lo += n
	}
}
