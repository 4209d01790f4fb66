package asset

import (
	"fmt"
	"strings"
)

// This file holds the multi-dimensional mapping: a mapping per dimension,
// between two multi-dimensional definitions (Dagster's
// MultiPartitionMapping, for any number of dimensions) or between a
// multi-dimensional definition and a single-dimensional one that matches
// one of its dimensions (Dagster's MultiToSingleDimensionPartitionMapping).
//
// Upstream: a downstream partition maps to the product, over the upstream
// dimensions, of the keys its linked downstream dimension maps to, and of
// every key of an upstream dimension no downstream dimension is linked to.
// Downstream dimensions with no upstream counterpart do not constrain.
// Downstream is the same with the roles swapped.

// dimLink links dimension up of the upstream side to dimension down of the
// downstream side (positions in the sorted dimensions; 0 for a side that is
// not multi-dimensional) with a mapping between the two dimensions.
type dimLink struct {
	name     string
	up, down int
	m        Mapping
}

type multiMapping struct {
	upMulti, downMulti bool
	links              []dimLink
}

func (m *multiMapping) Decl() MappingDecl {
	d := make(map[string]*MappingDecl, len(m.links))
	for _, l := range m.links {
		sub := l.m.Decl()
		d[l.name] = &sub
	}
	return MappingDecl{Multi: d}
}

// dimView is the dimensional shape of partitions: a multi-dimensional one,
// or a single dimension.
type dimView struct {
	parts   Partitions
	dims    []Partitions
	sizes   []int64
	strides []int64
}

func viewOf(p Partitions, multi bool) (dimView, error) {
	if !multi {
		return dimView{parts: p, dims: []Partitions{p}, sizes: []int64{p.Len()}, strides: []int64{1}}, nil
	}
	mp, ok := AsMulti(p)
	if !ok {
		return dimView{}, fmt.Errorf("multi mapping: partitions are %s, not multi-dimensional", p.Def().Kind())
	}
	return dimView{parts: p, dims: mp.dims, sizes: mp.sizes, strides: mp.strides}, nil
}

func (v dimView) key(idx []int64) string {
	if len(v.dims) == 1 {
		return v.dims[0].Key(idx[0])
	}
	keys := make([]string, len(v.dims))
	for d, x := range idx {
		keys[d] = v.dims[d].Key(x)
	}
	return JoinMultiKey(keys)
}

// dimCall maps a subset of one "from" dimension onto one "to" dimension.
type dimCall func(m Mapping, from *Subset, to Partitions) (*Subset, []string, error)

func callUpstream(m Mapping, from *Subset, to Partitions) (*Subset, []string, error) {
	r, err := m.Upstream(from, to)
	return r.Partitions, r.Missing, err
}

func callDownstream(m Mapping, from *Subset, to Partitions) (*Subset, []string, error) {
	s, err := m.Downstream(from, to)
	return s, nil, err
}

// link of one "to" dimension: the "from" dimension and the mapping.
type toLink struct {
	from int // -1: every key of the "to" dimension
	m    Mapping
}

func (m *multiMapping) Upstream(down *Subset, up Partitions) (Upstream, error) {
	res := emptyUpstream(up)
	if down.IsEmpty() {
		return res, nil
	}
	fromV, err := viewOf(down.Partitions(), m.downMulti)
	if err != nil {
		return res, err
	}
	toV, err := viewOf(up, m.upMulti)
	if err != nil {
		return res, err
	}
	links := make([]toLink, len(toV.dims))
	for i := range links {
		links[i].from = -1
	}
	for _, l := range m.links {
		links[l.up] = toLink{from: l.down, m: l.m}
	}
	missing, err := runMulti(down, res.Partitions, fromV, toV, links, callUpstream)
	res.Missing = missing
	return res, err
}

func (m *multiMapping) Downstream(up *Subset, down Partitions) (*Subset, error) {
	res := NewSubset(down)
	if up.IsEmpty() {
		return res, nil
	}
	fromV, err := viewOf(up.Partitions(), m.upMulti)
	if err != nil {
		return res, err
	}
	toV, err := viewOf(down, m.downMulti)
	if err != nil {
		return res, err
	}
	links := make([]toLink, len(toV.dims))
	for i := range links {
		links[i].from = -1
	}
	for _, l := range m.links {
		links[l.down] = toLink{from: l.up, m: l.m}
	}
	_, err = runMulti(up, res, fromV, toV, links, callDownstream)
	return res, err
}

// rng is a half-open range of indices.
type rng struct{ lo, hi int64 }

func rangesOf(s *Subset) []rng {
	var out []rng
	for lo, hi := range s.Ranges() {
		out = append(out, rng{lo, hi})
	}
	return out
}

// projectDim returns the indices of dimension d taken by the partitions of src.
func projectDim(src *Subset, v dimView, d int) *Subset {
	out := NewSubset(v.dims[d])
	if len(v.dims) == 1 {
		out.Union(src)
		return out
	}
	b := newRangeBatch(out)
	defer b.flush()
	stride, size := v.strides[d], v.sizes[d]
	for lo, hi := range src.Ranges() {
		if hi-lo >= stride*size {
			b.add(0, size)
			continue
		}
		for i := lo; i < hi; {
			x := (i / stride) % size
			// The run of indices with the same value of d ends at the next
			// multiple of stride.
			next := (i/stride + 1) * stride
			end := min(hi, next)
			if d == len(v.dims)-1 || stride == 1 {
				// Fastest dimension: a run of consecutive values.
				n := min(hi-i, size-x)
				b.add(x, x+n)
				i += n
				continue
			}
			b.add(x, x+1)
			i = end
		}
	}
	return out
}

// runMulti maps src (partitions of fromV) into dst (partitions of toV) per
// dimension, and returns the required-but-nonexistent keys.
func runMulti(src, dst *Subset, fromV, toV dimView, links []toLink, call dimCall) ([]string, error) {
	var linked []int // "to" dimensions that have a link
	for t, l := range links {
		if l.from >= 0 {
			linked = append(linked, t)
		}
	}
	full := func(t int) []rng {
		if toV.sizes[t] == 0 {
			return nil
		}
		return []rng{{0, toV.sizes[t]}}
	}
	per := make([][]rng, len(toV.dims))
	for t := range per {
		per[t] = full(t)
	}
	batch := newRangeBatch(dst)
	defer batch.flush()
	var missing []string
	seen := map[string]struct{}{}
	addMissing := func(k string) {
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			missing = append(missing, k)
		}
	}

	if len(linked) == 0 {
		emitProduct(batch, toV, per)
		return nil, nil
	}
	if len(linked) == 1 {
		// The product distributes over the union: map the projection at once.
		t := linked[0]
		l := links[t]
		proj := projectDim(src, fromV, l.from)
		got, miss, err := call(l.m, proj, toV.dims[t])
		if err != nil {
			return nil, err
		}
		per[t] = rangesOf(got)
		emitProduct(batch, toV, per)
		for _, k := range miss {
			expandMissing(toV, per, t, k, addMissing)
		}
		return missing, nil
	}

	// Several links: map each distinct combination of linked "from" values.
	type result struct {
		rs   []rng
		miss []string
	}
	cache := make([]map[int64]result, len(toV.dims))
	for _, t := range linked {
		cache[t] = map[int64]result{}
	}
	get := func(t int, x int64) (result, error) {
		if r, ok := cache[t][x]; ok {
			return r, nil
		}
		l := links[t]
		one := NewSubset(fromV.dims[l.from])
		one.Add(x)
		got, miss, err := call(l.m, one, toV.dims[t])
		if err != nil {
			return result{}, err
		}
		r := result{rs: rangesOf(got), miss: miss}
		cache[t][x] = r
		return r, nil
	}
	// Combinations repeat over runs of the fastest linked "from" dimension.
	minStride := int64(-1)
	for _, t := range linked {
		if s := fromV.strides[links[t].from]; minStride < 0 || s < minStride {
			minStride = s
		}
	}
	done := map[string]struct{}{}
	combo := make([]int64, len(linked))
	var sig strings.Builder
	for lo, hi := range src.Ranges() {
		for i := lo; i < hi; i = (i/minStride + 1) * minStride {
			sig.Reset()
			for j, t := range linked {
				f := links[t].from
				combo[j] = (i / fromV.strides[f]) % fromV.sizes[f]
				fmt.Fprintf(&sig, "%d,", combo[j])
			}
			if _, ok := done[sig.String()]; ok {
				continue
			}
			done[sig.String()] = struct{}{}
			anyMissing := false
			for j, t := range linked {
				r, err := get(t, combo[j])
				if err != nil {
					return nil, err
				}
				per[t] = r.rs
				anyMissing = anyMissing || len(r.miss) > 0
			}
			emitProduct(batch, toV, per)
			if anyMissing {
				opts := make([][]keyOpt, len(toV.dims))
				for t := range toV.dims {
					for _, r := range per[t] {
						for x := r.lo; x < r.hi; x++ {
							opts[t] = append(opts[t], keyOpt{key: toV.dims[t].Key(x)})
						}
					}
				}
				for j, t := range linked {
					r, _ := get(t, combo[j])
					for _, k := range r.miss {
						opts[t] = append(opts[t], keyOpt{key: k, missing: true})
					}
				}
				productMissing(opts, addMissing)
			}
		}
	}
	return missing, nil
}

type keyOpt struct {
	key     string
	missing bool
}

// productMissing calls add with every joined key of the product of opts
// that takes at least one missing option.
func productMissing(opts [][]keyOpt, add func(string)) {
	keys := make([]string, len(opts))
	var rec func(d int, miss bool)
	rec = func(d int, miss bool) {
		if d == len(opts) {
			if miss {
				add(JoinMultiKey(keys))
			}
			return
		}
		for _, o := range opts[d] {
			keys[d] = o.key
			rec(d+1, miss || o.missing)
		}
	}
	rec(0, false)
}

// expandMissing adds the "to" keys made of the missing key k of dimension t
// and every existing key of the other dimensions.
func expandMissing(toV dimView, per [][]rng, t int, k string, add func(string)) {
	if len(toV.dims) == 1 {
		add(k)
		return
	}
	opts := make([][]keyOpt, len(toV.dims))
	for d := range toV.dims {
		if d == t {
			opts[d] = []keyOpt{{key: k, missing: true}}
			continue
		}
		for _, r := range per[d] {
			for x := r.lo; x < r.hi; x++ {
				opts[d] = append(opts[d], keyOpt{key: toV.dims[d].Key(x)})
			}
		}
	}
	productMissing(opts, add)
}

// emitProduct adds to dst the product of per-dimension index ranges.
func emitProduct(b *rangeBatch, v dimView, per [][]rng) {
	n := len(per)
	for _, rs := range per {
		if len(rs) == 0 {
			return
		}
	}
	// Dimensions after last are complete: a range of dimension last is one
	// contiguous block of indices.
	last := 0
	for d := n - 1; d >= 0; d-- {
		if len(per[d]) != 1 || per[d][0].lo != 0 || per[d][0].hi != v.sizes[d] {
			last = d
			break
		}
	}
	var rec func(d int, base int64)
	rec = func(d int, base int64) {
		if d == last {
			for _, r := range per[d] {
				b.add(base+r.lo*v.strides[d], base+r.hi*v.strides[d])
			}
			return
		}
		for _, r := range per[d] {
			for x := r.lo; x < r.hi; x++ {
				rec(d+1, base+x*v.strides[d])
			}
		}
	}
	rec(0, 0)
}
