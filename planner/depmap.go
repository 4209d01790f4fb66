package planner

import (
	"encoding/json"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/strata-data/strata/asset"
)

// depKind is how the planner evaluates one dep: the two common mappings get
// a closed form, every other mapping a table built once from the asset's
// Mapping and cached.
type depKind uint8

const (
	depIdentity depKind = iota // downstream partition i reads upstream partition i
	depAll                     // every downstream partition reads every upstream partition
	depTable                   // per-partition ranges from Mapping.Upstream
)

// depMap is the evaluated form of one asset.Dep at the current partitions.
type depMap struct {
	kind depKind
	up   int // upstream asset ID
	*mapTable
}

// mapTable holds, for each downstream partition i, the upstream index
// ranges it reads: rng[2*off[i] : 2*off[i+1]] as lo,hi pairs; missing holds
// the downstream partitions whose mapping names nonexistent upstream keys.
type mapTable struct {
	off     []int32
	rng     []int32
	missing *roaring.Bitmap
	err     error // the mapping failed: every partition counts as upstream_missing

	rev *reverse // built on first use
}

// reverse is the inverse of a mapTable: downstream indices per upstream index.
type reverse struct {
	off []int32
	idx []int32
}

// maxReverse bounds the size of a reverse table; above it, lookups scan.
const maxReverse = 1 << 26

// ranges calls fn for every upstream range [lo, hi) partition i reads.
func (t *mapTable) ranges(i int, fn func(lo, hi int)) {
	for k := t.off[i]; k < t.off[i+1]; k++ {
		fn(int(t.rng[2*k]), int(t.rng[2*k+1]))
	}
}

// downstreamOf calls fn for each downstream partition reading upstream j.
func (t *mapTable) downstreamOf(j int, fn func(i int)) {
	if t.rev == nil {
		t.rev = t.buildReverse()
	}
	if t.rev != nil {
		if j+1 < len(t.rev.off) {
			for _, i := range t.rev.idx[t.rev.off[j]:t.rev.off[j+1]] {
				fn(int(i))
			}
		}
		return
	}
	n := len(t.off) - 1
	for i := 0; i < n; i++ {
		hit := false
		t.ranges(i, func(lo, hi int) { hit = hit || (lo <= j && j < hi) })
		if hit {
			fn(i)
		}
	}
}

func (t *mapTable) buildReverse() *reverse {
	n := len(t.off) - 1
	maxUp, total := 0, 0
	for k := 0; k < len(t.rng); k += 2 {
		total += int(t.rng[k+1] - t.rng[k])
		if int(t.rng[k+1]) > maxUp {
			maxUp = int(t.rng[k+1])
		}
	}
	if total > maxReverse {
		return nil
	}
	off := make([]int32, maxUp+2)
	for i := 0; i < n; i++ {
		t.ranges(i, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				off[j+1]++
			}
		})
	}
	for j := 1; j < len(off); j++ {
		off[j] += off[j-1]
	}
	idx := make([]int32, total)
	fill := make([]int32, maxUp+1)
	copy(fill, off)
	for i := 0; i < n; i++ {
		t.ranges(i, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				idx[fill[j]] = int32(i)
				fill[j]++
			}
		})
	}
	return &reverse{off: off, idx: idx}
}

// tableCache shares mapTables between deps with the same mapping and the
// same upstream and downstream partitions (most graphs reuse a handful of
// partitions definitions). It is rebuilt whenever partitions change.
type tableCache struct {
	entries map[string][]cachedTable
}

type cachedTable struct {
	up, down asset.PartitionsDef
	t        *mapTable
}

// classify builds the depMap of dep d of asset a.
func (s *State) classify(a *assetState, d asset.Dep, cache *tableCache) depMap {
	u := s.assets[d.UpID]
	dm := depMap{up: d.UpID}
	upDef, downDef := u.parts.Def(), a.parts.Def()
	if d.Mapping == nil {
		// No mapping object (should not happen with a validated graph):
		// identity between equal definitions, otherwise all.
		if upDef.Equal(downDef) {
			dm.kind = depIdentity
		} else {
			dm.kind = depAll
		}
		return dm
	}
	decl := d.Mapping.Decl()
	switch {
	case decl.Identity != nil && upDef.Equal(downDef):
		dm.kind = depIdentity
		return dm
	case decl.TimeWindow != nil && decl.TimeWindow.StartOffset == 0 && decl.TimeWindow.EndOffset == 0 && upDef.Equal(downDef):
		dm.kind = depIdentity
		return dm
	case decl.All != nil:
		dm.kind = depAll
		return dm
	}
	if u.parts.Len() == 1 && upDef.Kind() == asset.KindUnpartitioned {
		dm.kind = depAll
		return dm
	}
	dm.kind = depTable
	fp, _ := json.Marshal(decl)
	ck := fmt.Sprintf("%s|%d|%d", fp, u.parts.Len(), a.parts.Len())
	for _, e := range cache.entries[ck] {
		if e.up.Equal(upDef) && e.down.Equal(downDef) {
			dm.mapTable = e.t
			return dm
		}
	}
	dm.mapTable = buildTable(d.Mapping, u.parts, a.parts)
	cache.entries[ck] = append(cache.entries[ck], cachedTable{up: upDef, down: downDef, t: dm.mapTable})
	return dm
}

// buildTable asks the mapping for each downstream partition on its own.
func buildTable(m asset.Mapping, up, down asset.Partitions) *mapTable {
	n := int(down.Len())
	t := &mapTable{off: make([]int32, n+1), missing: roaring.New()}
	for i := 0; i < n; i++ {
		sub := asset.NewSubset(down)
		sub.Add(int64(i))
		res, err := m.Upstream(sub, up)
		if err != nil {
			t.err = fmt.Errorf("map partition %q upstream: %w", down.Key(int64(i)), err)
			t.off = make([]int32, n+1)
			t.rng = nil
			t.missing.AddRange(0, uint64(n))
			return t
		}
		if len(res.Missing) > 0 {
			t.missing.Add(uint32(i))
		}
		if res.Partitions != nil {
			for lo, hi := range res.Partitions.Ranges() {
				t.rng = append(t.rng, int32(lo), int32(hi))
			}
		}
		t.off[i+1] = int32(len(t.rng) / 2)
	}
	return t
}

// upstreamRanges calls fn for each upstream index range [lo, hi) that
// partition i of a reads through dep d.
func (s *State) upstreamRanges(a *assetState, d int, i int, fn func(lo, hi int)) {
	dm := &a.deps[d]
	u := s.assets[dm.up]
	switch dm.kind {
	case depIdentity:
		if i < u.n {
			fn(i, i+1)
		}
	case depAll:
		if u.n > 0 {
			fn(0, u.n)
		}
	case depTable:
		dm.ranges(i, fn)
	}
}

// downstreamOf calls fn for each partition of a that reads partition j of
// its dep d's upstream.
func (s *State) downstreamOf(a *assetState, d int, j int, fn func(i int)) {
	dm := &a.deps[d]
	switch dm.kind {
	case depIdentity:
		if j < a.n {
			fn(j)
		}
	case depAll:
		for i := 0; i < a.n; i++ {
			fn(i)
		}
	case depTable:
		dm.downstreamOf(j, fn)
	}
}

// requiresNonexistent reports whether partition i of a requires upstream
// keys of dep d that do not exist.
func (s *State) requiresNonexistent(a *assetState, d int, i int) bool {
	dm := &a.deps[d]
	switch dm.kind {
	case depIdentity:
		return i >= s.assets[dm.up].n
	case depTable:
		return dm.err != nil || dm.missing.Contains(uint32(i))
	}
	return false
}
