package asset

import (
	"fmt"
	"slices"
	"sort"
)

// This file holds the mappings that need no time arithmetic: identity,
// all, last, specific and static.

// emptyUpstream is the result of mapping no partitions.
func emptyUpstream(up Partitions) Upstream { return Upstream{Partitions: NewSubset(up)} }

// sameIndexing reports whether partition i of a and of b have the same key
// for every i below both lengths, so that indices can be copied across.
func sameIndexing(a, b Partitions) bool {
	if a == b {
		return true
	}
	if !a.Def().Equal(b.Def()) {
		return false
	}
	switch a.Def().(type) {
	case Unpartitioned, *StaticDef, *TimeWindowDef:
		return true
	case *DynamicDef:
		x, ok1 := a.(*dynamicPartitions)
		y, ok2 := b.(*dynamicPartitions)
		if !ok1 || !ok2 {
			return false
		}
		if len(x.keys) == 0 || len(y.keys) == 0 {
			return true
		}
		return len(x.keys) == len(y.keys) && &x.keys[0] == &y.keys[0]
	case *MultiDef:
		x, ok1 := AsMulti(a)
		y, ok2 := AsMulti(b)
		if !ok1 || !ok2 {
			return false
		}
		for i := range x.dims {
			if x.sizes[i] != y.sizes[i] || !sameIndexing(x.dims[i], y.dims[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// timeWindowShift returns delta such that window i of a has the key of
// window i+delta of b, when both are time windows with the same cron,
// format and time zone (so they enumerate the same ticks).
func timeWindowShift(a, b Partitions) (int64, bool) {
	da, ok1 := a.Def().(*TimeWindowDef)
	db, ok2 := b.Def().(*TimeWindowDef)
	if !ok1 || !ok2 || da.CronSchedule() != db.CronSchedule() || da.Fmt() != db.Fmt() ||
		da.Location().String() != db.Location().String() {
		return 0, false
	}
	a0, b0 := da.WindowStart(0), db.WindowStart(0)
	if !a0.Before(b0) {
		j := db.IndexAtOrAfter(a0)
		if !db.WindowStart(j).Equal(a0) {
			return 0, false
		}
		return j, true
	}
	j := da.IndexAtOrAfter(b0)
	if !da.WindowStart(j).Equal(b0) {
		return 0, false
	}
	return -j, true
}

// identityMapping maps a partition to the partition with the same key.
type identityMapping struct{}

func (identityMapping) Decl() MappingDecl { return MappingDecl{Identity: &Empty{}} }

func (identityMapping) Upstream(down *Subset, up Partitions) (Upstream, error) {
	res := emptyUpstream(up)
	if down.IsEmpty() {
		return res, nil
	}
	copyKeys(down, res.Partitions, &res.Missing)
	return res, nil
}

func (identityMapping) Downstream(up *Subset, down Partitions) (*Subset, error) {
	res := NewSubset(down)
	if up.IsEmpty() {
		return res, nil
	}
	copyKeys(up, res, nil)
	return res, nil
}

// copyKeys adds to dst the partitions of src with the same keys; keys that
// dst's partitions lack are appended to missing when it is not nil.
func copyKeys(src, dst *Subset, missing *[]string) {
	sp, dp := src.Partitions(), dst.Partitions()
	n := dp.Len()
	delta, shifted := int64(0), sameIndexing(sp, dp)
	if !shifted {
		delta, shifted = timeWindowShift(sp, dp)
	}
	if shifted {
		batch := newRangeBatch(dst)
		defer batch.flush()
		for lo, hi := range src.Ranges() {
			batch.add(max(lo+delta, 0), min(hi+delta, n))
			if missing != nil {
				for i := lo; i < hi; i++ {
					if j := i + delta; j < 0 || j >= n {
						*missing = append(*missing, sp.Key(i))
					}
				}
			}
		}
		return
	}
	for i := range src.Indices() {
		k := sp.Key(i)
		if j, ok := dp.Index(k); ok {
			dst.Add(j)
		} else if missing != nil {
			*missing = append(*missing, k)
		}
	}
}

// allMapping maps every downstream partition to every upstream partition.
type allMapping struct{}

func (allMapping) Decl() MappingDecl { return MappingDecl{All: &Empty{}} }

func (allMapping) Upstream(down *Subset, up Partitions) (Upstream, error) {
	if down.IsEmpty() {
		return emptyUpstream(up), nil
	}
	return Upstream{Partitions: AllOf(up)}, nil
}

func (allMapping) Downstream(up *Subset, down Partitions) (*Subset, error) {
	if up.IsEmpty() {
		return NewSubset(down), nil
	}
	return AllOf(down), nil
}

// lastMapping maps every downstream partition to the last upstream partition.
type lastMapping struct{}

func (lastMapping) Decl() MappingDecl { return MappingDecl{Last: &Empty{}} }

func (lastMapping) Upstream(down *Subset, up Partitions) (Upstream, error) {
	res := emptyUpstream(up)
	if n := up.Len(); n > 0 && !down.IsEmpty() {
		res.Partitions.Add(n - 1)
	}
	return res, nil
}

func (lastMapping) Downstream(up *Subset, down Partitions) (*Subset, error) {
	if n := up.Partitions().Len(); n > 0 && up.Contains(n-1) {
		return AllOf(down), nil
	}
	return NewSubset(down), nil
}

// specificMapping maps every downstream partition to fixed upstream keys.
type specificMapping struct{ keys []string }

func (m specificMapping) Decl() MappingDecl {
	return MappingDecl{Specific: slices.Clone(m.keys)}
}

func (m specificMapping) Upstream(down *Subset, up Partitions) (Upstream, error) {
	res := emptyUpstream(up)
	if down.IsEmpty() {
		return res, nil
	}
	for _, k := range m.keys {
		if !res.Partitions.AddKey(k) {
			res.Missing = append(res.Missing, k)
		}
	}
	return res, nil
}

func (m specificMapping) Downstream(up *Subset, down Partitions) (*Subset, error) {
	for _, k := range m.keys {
		if up.ContainsKey(k) {
			return AllOf(down), nil
		}
	}
	return NewSubset(down), nil
}

// staticMapping maps upstream keys to downstream keys explicitly.
type staticMapping struct {
	decl map[string][]string
	fwd  map[string][]string // upstream key -> downstream keys
	inv  map[string][]string // downstream key -> upstream keys
}

func newStaticMapping(decl map[string][]string) *staticMapping {
	m := &staticMapping{decl: decl, fwd: map[string][]string{}, inv: map[string][]string{}}
	ups := make([]string, 0, len(decl))
	for u := range decl {
		ups = append(ups, u)
	}
	sort.Strings(ups)
	for _, u := range ups {
		for _, d := range decl[u] {
			if !slices.Contains(m.fwd[u], d) {
				m.fwd[u] = append(m.fwd[u], d)
			}
			if !slices.Contains(m.inv[d], u) {
				m.inv[d] = append(m.inv[d], u)
			}
		}
	}
	return m
}

func (m *staticMapping) Decl() MappingDecl {
	c := make(map[string][]string, len(m.decl))
	for k, v := range m.decl {
		c[k] = slices.Clone(v)
	}
	return MappingDecl{Static: c}
}

func (m *staticMapping) Upstream(down *Subset, up Partitions) (Upstream, error) {
	res := emptyUpstream(up)
	for k := range down.Keys() {
		for _, u := range m.inv[k] {
			if !res.Partitions.AddKey(u) && !slices.Contains(res.Missing, u) {
				res.Missing = append(res.Missing, u)
			}
		}
	}
	return res, nil
}

func (m *staticMapping) Downstream(up *Subset, down Partitions) (*Subset, error) {
	res := NewSubset(down)
	for k := range up.Keys() {
		for _, d := range m.fwd[k] {
			res.AddKey(d)
		}
	}
	return res, nil
}

// validateStaticMapping checks that every key of decl exists in the static
// definitions up and down.
func validateStaticMapping(ve *ValidationError, field string, decl map[string][]string, up, down PartitionsDef) {
	su, ok1 := up.(*StaticDef)
	sd, ok2 := down.(*StaticDef)
	if !ok1 || !ok2 {
		ve.Add(field, "a static mapping needs static partitions on both sides, got %s upstream and %s downstream", up.Kind(), down.Kind())
		return
	}
	if len(decl) == 0 {
		ve.Add(field, "a static mapping needs at least one upstream key")
		return
	}
	ups := make([]string, 0, len(decl))
	for u := range decl {
		ups = append(ups, u)
	}
	sort.Strings(ups)
	for _, u := range ups {
		f := field + "." + u
		if _, ok := su.index[u]; !ok {
			ve.Add(f, "upstream key %q is not a partition of the upstream definition (%s)", u, su)
		}
		for j, d := range decl[u] {
			if _, ok := sd.index[d]; !ok {
				ve.Add(fmt.Sprintf("%s[%d]", f, j), "downstream key %q is not a partition of the downstream definition (%s)", d, sd)
			}
		}
	}
}
