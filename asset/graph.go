package asset

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Asset is one validated asset of a Graph.
type Asset struct {
	ID         int // dense index, 0..Len()-1, in topological order (upstream first)
	Key        Key
	Decl       AssetDecl
	Partitions PartitionsDef // Unpartitioned{} when the asset is not partitioned
	Deps       []Dep         // upstream dependencies, in declaration order
}

// Dep is an edge from an asset to one upstream asset.
type Dep struct {
	Upstream Key
	UpID     int
	Mapping  Mapping
	Decl     DepDecl
}

// Graph is a validated, immutable asset graph. It is safe for concurrent
// use.
//
// Asset IDs are dense (0..Len()-1) and follow a deterministic topological
// order: every asset comes after its upstream assets, and among the assets
// that could come next the smallest key comes first. The order therefore
// depends only on the declarations, not on the order they were given in.
//
// A cumulative asset may depend on itself through a time_window mapping with
// negative offsets (each partition reads earlier ones). Such a self-edge
// appears in the asset's Deps and in Upstream/Downstream of the asset itself,
// and is the only edge that does not go from a smaller to a larger ID.
type Graph struct {
	assets []*Asset
	byKey  map[Key]*Asset
	down   [][]int // downstream asset IDs per asset ID, ascending
	up     [][]int // upstream asset IDs per asset ID, ascending, distinct

	scratch sync.Pool // *graphWalkScratch, reused by closures and selections
}

// Len returns the number of assets.
func (g *Graph) Len() int { return len(g.assets) }

// Assets returns the assets in topological order (upstream first). The
// slice belongs to the graph: do not modify it.
func (g *Graph) Assets() []*Asset { return g.assets }

// Asset returns the asset with key k.
func (g *Graph) Asset(k Key) (*Asset, bool) { a, ok := g.byKey[k]; return a, ok }

// ByID returns the asset with the given ID.
func (g *Graph) ByID(id int) *Asset { return g.assets[id] }

// Downstream returns the IDs of the assets that depend on asset id, in
// ascending order (topological order). The slice belongs to the graph.
func (g *Graph) Downstream(id int) []int { return g.down[id] }

// Upstream returns the IDs of the distinct assets that asset id depends on,
// in ascending order. The slice belongs to the graph. Asset.Deps has the
// dependencies themselves, with their mappings, in declaration order.
func (g *Graph) Upstream(id int) []int { return g.up[id] }

// Keys returns the asset keys in topological order.
func (g *Graph) Keys() []Key {
	out := make([]Key, len(g.assets))
	for i, a := range g.assets {
		out[i] = a.Key
	}
	return out
}

// IDs returns the IDs of the assets with the given keys, in the order given.
// An unknown key is an error that names it and suggests a close key.
func (g *Graph) IDs(keys ...Key) ([]int, error) {
	out := make([]int, len(keys))
	for i, k := range keys {
		a, ok := g.byKey[k]
		if !ok {
			return nil, fmt.Errorf("unknown asset %q%s", k, suggestKey(string(k), g.keyStrings()))
		}
		out[i] = a.ID
	}
	return out, nil
}

func (g *Graph) keyStrings() []string {
	out := make([]string, len(g.assets))
	for i, a := range g.assets {
		out[i] = string(a.Key)
	}
	return out
}

// Reached is an asset found by a closure, with its distance (number of
// edges) from the nearest starting asset; starting assets have distance 0.
type Reached struct {
	ID       int
	Distance int
}

// UpstreamClosure returns the assets that the assets ids depend on,
// directly or transitively, up to depth edges away (depth < 0: unlimited),
// together with ids themselves at distance 0. The result is sorted by ID,
// that is in topological order. ids must be IDs of g.
func (g *Graph) UpstreamClosure(ids []int, depth int) []Reached {
	return g.closure(g.up, ids, depth)
}

// DownstreamClosure returns the assets that depend on the assets ids,
// directly or transitively, up to depth edges away (depth < 0: unlimited),
// together with ids themselves at distance 0. The result is sorted by ID.
func (g *Graph) DownstreamClosure(ids []int, depth int) []Reached {
	return g.closure(g.down, ids, depth)
}

func (g *Graph) closure(adj [][]int, ids []int, depth int) []Reached {
	s := g.getScratch()
	defer g.putScratch(s)
	s.walk(adj, slices.Values(ids), depth)
	out := make([]Reached, 0, len(s.queue))
	for w, word := range s.seen {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &= word - 1
			id := w*64 + b
			out = append(out, Reached{ID: id, Distance: int(s.dist[id])})
		}
	}
	return out
}

// graphWalkScratch is the reusable state of one breadth-first walk: a visited
// bitset, the distance of each visited asset and the queue. After a walk
// only the bits of the queued assets are set, so clearing is O(visited).
type graphWalkScratch struct {
	seen  []uint64
	dist  []int32
	queue []int32
}

func (g *Graph) getScratch() *graphWalkScratch {
	if s, ok := g.scratch.Get().(*graphWalkScratch); ok {
		return s
	}
	n := len(g.assets)
	return &graphWalkScratch{seen: make([]uint64, (n+63)/64), dist: make([]int32, n)}
}

func (g *Graph) putScratch(s *graphWalkScratch) {
	for _, id := range s.queue {
		s.seen[id>>6] &^= 1 << (uint(id) & 63)
	}
	s.queue = s.queue[:0]
	g.scratch.Put(s)
}

// walk visits, breadth first along adj, every asset at most depth edges
// from a seed (depth < 0: unlimited), recording each one's distance.
func (s *graphWalkScratch) walk(adj [][]int, seeds func(func(int) bool), depth int) {
	for id := range seeds {
		if s.seen[id>>6]&(1<<(uint(id)&63)) == 0 {
			s.seen[id>>6] |= 1 << (uint(id) & 63)
			s.dist[id] = 0
			s.queue = append(s.queue, int32(id))
		}
	}
	start := 0
	for d := int32(1); start < len(s.queue) && (depth < 0 || int(d) <= depth); d++ {
		end := len(s.queue)
		for _, u := range s.queue[start:end] {
			for _, v := range adj[u] {
				if s.seen[v>>6]&(1<<(uint(v)&63)) == 0 {
					s.seen[v>>6] |= 1 << (uint(v) & 63)
					s.dist[v] = d
					s.queue = append(s.queue, int32(v))
				}
			}
		}
		start = end
	}
}

// NewGraph validates decls (each asset and across assets) and builds the
// graph. Errors are *ValidationError with field paths like
// "assets[3].deps[0].mapping.time_window.start_offset", ordered by asset
// index. NewGraph checks:
//   - each declaration on its own ((*AssetDecl).Validate) and its partitions
//     definition (BuildPartitionsDef);
//   - that keys are unique and that every dependency names a declared asset;
//   - each dependency's partition mapping against the two partitions
//     definitions (NewMapping; a nil mapping takes the default, which must
//     exist);
//   - that there is no dependency cycle. An asset may depend on itself only
//     through a time_window mapping whose start_offset and end_offset are both
//     negative (or a multi mapping with such a time_window dimension), so
//     that each partition reads earlier partitions only.
func NewGraph(decls []AssetDecl) (*Graph, error) {
	n := len(decls)
	b := graphBuilder{decls: decls, errs: make([][]*FieldError, n), defs: make([]PartitionsDef, n)}
	b.checkAssets()
	b.checkDeps()
	order := b.order()
	if err := b.err(); err != nil {
		return nil, err
	}
	return b.build(order), nil
}

type graphBuilder struct {
	decls []AssetDecl
	errs  [][]*FieldError // problems per asset index
	defs  []PartitionsDef // nil when the definition did not build
	index map[string]int  // key -> index of its first declaration
	ups   [][]int         // per asset: distinct upstream indices, self excluded
	deps  [][]int         // per asset, per dep: upstream index, or -1
	maps  [][]Mapping     // per asset, per dep: the mapping, when built

	defCache map[string]PartitionsDef // by JSON of the declaration
}

func (b *graphBuilder) add(i int, field, format string, args ...any) {
	b.addFieldError(i, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// addFieldError records fe for asset i unless the same problem is recorded
// already (Validate and BuildPartitionsDef may both see it).
func (b *graphBuilder) addFieldError(i int, fe *FieldError) {
	for _, have := range b.errs[i] {
		if have.Field == fe.Field && have.Problem == fe.Problem {
			return
		}
	}
	b.errs[i] = append(b.errs[i], fe)
}

// addErr records err under prefix: the field errors it carries with their
// fields prefixed, or its message at prefix itself.
func (b *graphBuilder) addErr(i int, prefix string, err error) {
	fes := FieldErrors(err)
	if len(fes) == 0 {
		b.add(i, prefix, "%s", err.Error())
		return
	}
	for _, fe := range fes {
		c := *fe
		c.Field = graphJoinField(prefix, fe.Field)
		b.addFieldError(i, &c)
	}
}

// reported reports whether a problem was already recorded for asset i at
// field or inside it.
func (b *graphBuilder) reported(i int, field string) bool {
	for _, fe := range b.errs[i] {
		if fe.Field == field {
			return true
		}
		if rest, ok := strings.CutPrefix(fe.Field, field); ok && (rest[0] == '.' || rest[0] == '[') {
			return true
		}
	}
	return false
}

func depField(i, j int) string {
	return "assets[" + strconv.Itoa(i) + "].deps[" + strconv.Itoa(j) + "]"
}

func graphJoinField(prefix, field string) string {
	switch {
	case field == "":
		return prefix
	case prefix == "":
		return field
	case field[0] == '[':
		return prefix + field
	}
	return prefix + "." + field
}

func (b *graphBuilder) err() error {
	ve := &ValidationError{}
	for _, fes := range b.errs {
		ve.Errors = append(ve.Errors, fes...)
	}
	return ve.Err()
}

// checkAssets validates each declaration, builds its partitions definition
// and indexes the keys.
func (b *graphBuilder) checkAssets() {
	b.index = make(map[string]int, len(b.decls))
	for i := range b.decls {
		d := &b.decls[i]
		prefix := fmt.Sprintf("assets[%d]", i)
		if err := d.validateShape(); err != nil {
			b.addErr(i, prefix, err)
		}
		if err := validateKey(d.Key); err != nil && !b.reported(i, prefix+".key") {
			b.add(i, prefix+".key", "%s", err.Error())
		}
		if d.Key != "" {
			if j, dup := b.index[d.Key]; dup {
				b.add(i, prefix+".key", "duplicate asset key %q (also assets[%d])", d.Key, j)
			} else {
				b.index[d.Key] = i
			}
		}
		def, err := b.partitionsDef(d.Partitions)
		switch {
		case err == nil:
			b.defs[i] = def
		case !b.reported(i, prefix+".partitions"):
			b.addErr(i, prefix+".partitions", err)
		}
	}
}

// partitionsDef builds the definition declared by d, once per distinct
// declaration: assets of a graph mostly share a few definitions (daily from
// the same start), definitions are immutable, and building a time-window
// definition costs far more than encoding its declaration.
func (b *graphBuilder) partitionsDef(d *PartitionsDecl) (PartitionsDef, error) {
	if d == nil {
		return Unpartitioned{}, nil
	}
	enc, err := json.Marshal(d)
	if err != nil {
		return BuildPartitionsDef(d)
	}
	if def, ok := b.defCache[string(enc)]; ok {
		return def, nil
	}
	def, err := BuildPartitionsDef(d)
	if err == nil {
		if b.defCache == nil {
			b.defCache = make(map[string]PartitionsDef)
		}
		b.defCache[string(enc)] = def
	}
	return def, err
}

// graphSelfDepAllowed reports whether m lets an asset depend on itself: each
// partition must read strictly earlier partitions only.
func graphSelfDepAllowed(m *MappingDecl) bool {
	if m == nil {
		return false
	}
	negative := func(tw *TimeWindowMappingDecl) bool {
		return tw != nil && tw.StartOffset < 0 && tw.EndOffset < 0
	}
	if m.TimeWindow != nil {
		return negative(m.TimeWindow)
	}
	for _, dm := range m.Multi {
		if dm != nil && negative(dm.TimeWindow) {
			return true
		}
	}
	return false
}

// checkDeps resolves each dependency and builds its mapping.
func (b *graphBuilder) checkDeps() {
	n := len(b.decls)
	b.ups = make([][]int, n)
	b.deps = make([][]int, n)
	b.maps = make([][]Mapping, n)
	var keys []string // for suggestions, built on first need
	for i := range b.decls {
		d := &b.decls[i]
		b.deps[i] = make([]int, len(d.Deps))
		b.maps[i] = make([]Mapping, len(d.Deps))
		for j := range d.Deps {
			dd := &d.Deps[j]
			b.deps[i][j] = -1
			up, ok := b.index[dd.Asset]
			if !ok {
				field := depField(i, j) + ".asset"
				if err := validateKey(dd.Asset); err != nil {
					if !b.reported(i, field) {
						b.add(i, field, "%s", err.Error())
					}
					continue
				}
				if keys == nil {
					keys = make([]string, 0, len(b.index))
					for k := range b.index {
						keys = append(keys, k)
					}
					slices.Sort(keys)
				}
				b.add(i, field, "unknown asset %q%s", dd.Asset, suggestKey(dd.Asset, keys))
				continue
			}
			if k := slices.Index(b.deps[i][:j], up); k >= 0 {
				if field := depField(i, j) + ".asset"; !b.reported(i, field) {
					b.add(i, field, "duplicate dependency on %q (also deps[%d])", dd.Asset, k)
				}
				continue
			}
			b.deps[i][j] = up
			if up == i && !graphSelfDepAllowed(dd.Mapping) {
				b.add(i, depField(i, j)+".asset", "asset %q depends on itself; a self-dependency needs a time_window mapping with negative start_offset and end_offset, so that each partition reads earlier partitions only", dd.Asset)
				continue
			}
			if up != i {
				b.ups[i] = append(b.ups[i], up)
			}
			if b.defs[up] == nil || b.defs[i] == nil || len(b.errs[i]) > 0 && b.reported(i, depField(i, j)+".mapping") {
				continue // the problem is reported already
			}
			m, err := NewMapping(dd.Mapping, b.defs[up], b.defs[i])
			if err != nil {
				b.addErr(i, depField(i, j)+".mapping", err)
				continue
			}
			b.maps[i][j] = m
		}
	}
}

// order returns the asset indices in topological order, upstream first and
// the smallest key first among the assets ready at each step. When there
// are cycles, it records one problem per cycle and returns nil.
func (b *graphBuilder) order() []int {
	n := len(b.decls)
	indeg := make([]int, n)
	down := make([][]int, n)
	for i, ups := range b.ups {
		indeg[i] = len(ups)
		for _, u := range ups {
			down[u] = append(down[u], i)
		}
	}
	h := graphKeyHeap{decls: b.decls}
	for i := range n {
		if indeg[i] == 0 {
			h.push(i)
		}
	}
	order := make([]int, 0, n)
	for len(h.items) > 0 {
		u := h.pop()
		order = append(order, u)
		for _, v := range down[u] {
			if indeg[v]--; indeg[v] == 0 {
				h.push(v)
			}
		}
	}
	if len(order) == n {
		return order
	}
	b.reportCycles(indeg)
	return nil
}

// reportCycles finds the strongly connected components among the assets
// left with a positive in-degree by the topological sort, and reports for
// each one a shortest cycle through its first declared asset.
func (b *graphBuilder) reportCycles(indeg []int) {
	n := len(b.decls)
	comp := make([]int, n)
	for i := range comp {
		comp[i] = -1
	}
	// Iterative Tarjan over the dependency edges of the remaining assets.
	idx := make([]int, n)
	low := make([]int, n)
	for i := range idx {
		idx[i] = -1
	}
	onStack := make([]bool, n)
	var stack []int
	type frame struct{ v, e int }
	var calls []frame
	next, ncomp := 0, 0
	var comps [][]int
	for s := range n {
		if indeg[s] == 0 || idx[s] >= 0 {
			continue
		}
		calls = append(calls[:0], frame{v: s})
		idx[s], low[s] = next, next
		next++
		stack = append(stack, s)
		onStack[s] = true
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			v := f.v
			if f.e < len(b.ups[v]) {
				w := b.ups[v][f.e]
				f.e++
				if indeg[w] == 0 {
					continue
				}
				if idx[w] < 0 {
					idx[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					calls = append(calls, frame{v: w})
				} else if onStack[w] {
					low[v] = min(low[v], idx[w])
				}
				continue
			}
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				p := calls[len(calls)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] == idx[v] {
				var members []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					members = append(members, w)
					if w == v {
						break
					}
				}
				comps = append(comps, members)
				ncomp++
			}
		}
	}
	parent := make([]int, n)
	for c, members := range comps {
		if len(members) < 2 {
			continue
		}
		s := slices.Min(members)
		// Breadth-first search from s along dependencies inside the
		// component, until an edge leads back to s.
		for _, m := range members {
			parent[m] = -1
		}
		queue := []int{s}
		last := -1
		for qi := 0; qi < len(queue) && last < 0; qi++ {
			u := queue[qi]
			for _, w := range b.ups[u] {
				if comp[w] != c {
					continue
				}
				if w == s {
					last = u
					break
				}
				if parent[w] < 0 {
					parent[w] = u
					queue = append(queue, w)
				}
			}
		}
		path := []int{s}
		for v := last; v != s; v = parent[v] {
			path = append(path, v)
		}
		slices.Reverse(path[1:])
		names := make([]string, 0, len(path)+1)
		for _, v := range path {
			names = append(names, b.decls[v].Key)
		}
		names = append(names, b.decls[s].Key)
		j := slices.Index(b.deps[s], path[1])
		b.add(s, fmt.Sprintf("assets[%d].deps[%d].asset", s, j), "dependency cycle: %s (each asset depends on the next)", strings.Join(names, " -> "))
	}
}

// build assigns IDs in order and builds the graph.
func (b *graphBuilder) build(order []int) *Graph {
	n := len(b.decls)
	id := make([]int, n)
	for pos, i := range order {
		id[i] = pos
	}
	g := &Graph{
		assets: make([]*Asset, n),
		byKey:  make(map[Key]*Asset, n),
		down:   make([][]int, n),
		up:     make([][]int, n),
	}
	assets := make([]Asset, n)
	ndeps := 0
	for _, d := range b.decls {
		ndeps += len(d.Deps)
	}
	allDeps := make([]Dep, 0, ndeps)
	upIDs := make([]int, 0, ndeps)
	downCount := make([]int, n)
	for pos, i := range order {
		d := b.decls[i]
		a := &assets[pos]
		a.ID, a.Key, a.Decl, a.Partitions = pos, Key(d.Key), d, b.defs[i]
		start := len(allDeps)
		upStart := len(upIDs)
		for j, dd := range d.Deps {
			u := id[b.deps[i][j]]
			allDeps = append(allDeps, Dep{Upstream: Key(dd.Asset), UpID: u, Mapping: b.maps[i][j], Decl: dd})
			upIDs = append(upIDs, u)
			downCount[u]++
		}
		a.Deps = allDeps[start:len(allDeps):len(allDeps)]
		ups := upIDs[upStart:len(upIDs):len(upIDs)]
		slices.Sort(ups)
		g.up[pos] = ups
		g.assets[pos] = a
		g.byKey[a.Key] = a
	}
	downIDs := make([]int, len(upIDs))
	off := 0
	for v := range n {
		g.down[v] = downIDs[off : off : off+downCount[v]]
		off += downCount[v]
	}
	for v := range n { // ascending v keeps each downstream list sorted
		for _, u := range g.up[v] {
			g.down[u] = append(g.down[u], v)
		}
	}
	return g
}

// graphKeyHeap is a binary min-heap of asset indices ordered by key.
type graphKeyHeap struct {
	decls []AssetDecl
	items []int
}

func (h *graphKeyHeap) less(a, b int) bool { return h.decls[h.items[a]].Key < h.decls[h.items[b]].Key }

func (h *graphKeyHeap) push(i int) {
	h.items = append(h.items, i)
	for c := len(h.items) - 1; c > 0; {
		p := (c - 1) / 2
		if !h.less(c, p) {
			break
		}
		h.items[c], h.items[p] = h.items[p], h.items[c]
		c = p
	}
}

func (h *graphKeyHeap) pop() int {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	for p := 0; ; {
		c := 2*p + 1
		if c >= last {
			break
		}
		if c+1 < last && h.less(c+1, c) {
			c++
		}
		if !h.less(c, p) {
			break
		}
		h.items[c], h.items[p] = h.items[p], h.items[c]
		p = c
	}
	return top
}

// suggestKey returns ` (did you mean "x"?)` for the candidate closest to
// target, or "" when none is close. candidates must be sorted, so that ties
// go to the smallest key.
func suggestKey(target string, candidates []string) string {
	best, bestDist := "", -1
	limit := max(1, min(3, len(target)/3))
	for _, c := range candidates {
		if d := keyEditDistance(target, c, limit); d >= 0 && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 {
		// An unqualified name that is the last segment of a key:
		// "orders" for "raw/orders".
		if !strings.Contains(target, "/") {
			for _, c := range candidates {
				if strings.HasSuffix(c, "/"+target) {
					best = c
					break
				}
			}
		}
		if best == "" {
			return ""
		}
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// keyEditDistance returns the Levenshtein distance between a and b, or -1 when
// it is more than limit.
func keyEditDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return -1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return -1
		}
		prev, cur = cur, prev
	}
	if prev[len(b)] > limit {
		return -1
	}
	return prev[len(b)]
}
