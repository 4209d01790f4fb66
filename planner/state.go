package planner

import (
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/strata-data/strata/asset"
)

// State is the planner's in-memory picture of every asset partition: the
// latest materialization facts, the in-flight and failed runs, and the
// derived status with its cause bits. It is built once from a View (Build)
// and kept current by Apply, one catalog event at a time; the status of a
// partition is updated as soon as an event changes it, touching only the
// partitions downstream of the change.
//
// State does no I/O and never reads the clock: the instant partitions exist
// at is given to Build and Advance. It is not safe for concurrent use, not
// even for reads (Status fills caches): the planner loop owns it, and API
// reads go through the loop or share its mutex.
type State struct {
	graph  Graph
	assets []*assetState // by asset ID (topological order)
	byKey  map[asset.Key]int
	down   [][]downEdge // per asset ID: the deps that read it
	dyn    asset.DynamicKeysMap
	now    time.Time
	cursor int64

	codes    map[string]uint32
	codeName []string

	runs      map[string]*runRec // in-flight runs by run ID
	requests  map[string]*runRec // emitted requests not yet turned into runs, by request ID
	nextReq   int64
	cronDone  map[int]time.Time // per asset ID: the latest on_cron tick already handled
	backfills map[string]*backfill
	bfOrder   []string // backfill IDs in creation order

	crons map[string]parsedCron
	locs  map[string]*time.Location

	wl    *worklist // reused by propagate
	evals int64     // partitions evaluated by propagate (for benchmarks)
}

// downEdge names dep Dep of asset Asset, which reads the edge's upstream.
type downEdge struct{ asset, dep int }

// assetState holds one asset's partitions as dense arrays indexed by
// partition index: no per-partition allocation, ~37 bytes per partition
// with two deps.
type assetState struct {
	a     *asset.Asset
	id    int
	parts asset.Partitions
	n     int

	seq  []int64    // latest materialization's catalog seq; 0 = never materialized
	ver  []uint64   // hash of its data version; 0 = none reported
	code []uint32   // interned code version; 0 = none reported
	st   []uint8    // data status and cause bits (see stMask, c*)
	prov [][]uint64 // per dep: hash of the recorded provenance; nil, or 0 = none (order fallback)
	at   []int64    // record time (unix ns), kept for non-windowed assets only

	fail     map[int32]int64 // partition -> seq of its last failed run, when later than seq
	inflight map[int32]int32 // partition -> number of in-flight runs and requests
	orphans  map[string]*orphan

	cand  *roaring.Bitmap // partitions eager automation may select (see eagerCandidate)
	dirty *roaring.Bitmap // partitions whose status or readiness may have changed since the last tick

	keys     *keyIndex // shared key -> index cache
	deps     []depMap
	declCode uint32
	windowed bool

	// Aggregates for depAll readers.
	nMissing, nStale int
	maxSeq           int64
	verSum           uint64
}

// orphan is a materialization whose key is not a partition at now (a
// future window, a dynamic key not added yet, or a key of a previous
// definition). It is folded in when the key appears.
type orphan struct {
	seq  int64
	ver  uint64
	code uint32
	at   int64
	prov map[asset.Key]uint64
}

type runRec struct {
	id       string
	asset    int
	idx      []int32
	backfill string
	reason   Reason
}

// View is the read-only snapshot a State is built from. The catalog fills
// it; the lead adds `var _ planner.View = (*catalog.Reader)(nil)`.
type View interface {
	// Cursor is the seq of the last catalog event the snapshot includes;
	// the loop then applies the events after it.
	Cursor() int64
	// LatestMaterializations yields the latest materialization of every
	// asset partition (older ones are harmless: the highest Seq wins).
	LatestMaterializations() iter.Seq2[MaterializationRecorded, error]
	// Runs yields the current state of every queued or running run, the
	// last failed run of each asset partition that has no later
	// materialization, and the latest on_cron run of each asset, each
	// with its real catalog Seq.
	Runs() iter.Seq2[RunStateChanged, error]
	// DynamicPartitions yields the key list of every dynamic definition.
	DynamicPartitions() iter.Seq2[DynamicPartitionsChanged, error]
}

// Build builds the State for graph g from the snapshot v, with partitions
// taken at now. It is the full rebuild done when the planner loop starts.
func Build(g Graph, v View, now time.Time) (*State, error) {
	s := newState(g, now)
	for e, err := range v.DynamicPartitions() {
		if err != nil {
			return nil, fmt.Errorf("read dynamic partitions: %w", err)
		}
		s.dyn[e.Name] = e.Keys
	}
	s.refreshParts(true)
	for m, err := range v.LatestMaterializations() {
		if err != nil {
			return nil, fmt.Errorf("read materializations: %w", err)
		}
		s.applyMaterialization(m, false)
	}
	for r, err := range v.Runs() {
		if err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		s.applyRun(r)
	}
	s.cursor = v.Cursor()
	s.Recompute()
	return s, nil
}

// New returns a State for g with no materializations, partitions taken at now.
func New(g Graph, now time.Time) *State {
	s := newState(g, now)
	s.Recompute()
	return s
}

func newState(g Graph, now time.Time) *State {
	s := &State{
		dyn:       asset.DynamicKeysMap{},
		now:       now,
		codes:     map[string]uint32{"": 0},
		codeName:  []string{""},
		runs:      map[string]*runRec{},
		requests:  map[string]*runRec{},
		cronDone:  map[int]time.Time{},
		backfills: map[string]*backfill{},
		crons:     map[string]parsedCron{},
		locs:      map[string]*time.Location{},
	}
	s.setGraph(g)
	return s
}

// Cursor returns the seq of the last event applied.
func (s *State) Cursor() int64 { return s.cursor }

// Now returns the instant the partitions were last taken at.
func (s *State) Now() time.Time { return s.now }

// Graph returns the current graph.
func (s *State) Graph() Graph { return s.graph }

func (s *State) intern(code string) uint32 {
	if code == "" {
		return 0
	}
	if id, ok := s.codes[code]; ok {
		return id
	}
	id := uint32(len(s.codeName))
	s.codes[code] = id
	s.codeName = append(s.codeName, code)
	return id
}

func hashString(v string) uint64 {
	if v == "" {
		return 0
	}
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(v); i++ {
		h ^= uint64(v[i])
		h *= 1099511628211
	}
	if h == 0 {
		h = 1
	}
	return h
}

// mix is a 64-bit finaliser (splitmix64).
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// elemHash is the contribution of the upstream partition whose key hashes
// to kh, at version v, to a provenance hash (an order-independent sum).
// Keys, not indices, identify partitions here: indices move when dynamic
// keys are reordered, a multi-dimensional definition grows, or a
// definition is redeclared; a recorded provenance must not.
func elemHash(kh, v uint64) uint64 { return mix(kh*0x100000001b3 ^ v) }

// version returns the effective version of partition j: its data version,
// or, when none was reported, its materialization seq.
func (u *assetState) version(j int) uint64 {
	if v := u.ver[j]; v != 0 {
		return v
	}
	return mix(uint64(u.seq[j]) ^ 0x5eed)
}

// elem is the provenance contribution of u's partition j as it is now.
func (u *assetState) elem(j int) uint64 {
	if u.seq[j] == 0 {
		return 0
	}
	return elemHash(u.keyHash(j), u.version(j))
}

// keyHash returns the hash of partition j's key.
func (u *assetState) keyHash(j int) uint64 {
	if u.keys != nil && u.keys.n == u.n {
		return u.keys.hashes(u.parts)[j]
	}
	return hashString(u.parts.Key(int64(j)))
}

// setGraph installs g, keeping the facts of assets whose key survives.
func (s *State) setGraph(g Graph) {
	old := s.byKey
	oldAssets := s.assets
	s.graph = g
	list := g.Assets()
	s.assets = make([]*assetState, len(list))
	s.byKey = make(map[asset.Key]int, len(list))
	s.down = make([][]downEdge, len(list))
	for id, a := range list {
		s.byKey[a.Key] = id
		for d, dep := range a.Deps {
			s.down[dep.UpID] = append(s.down[dep.UpID], downEdge{asset: id, dep: d})
		}
	}
	for id, a := range list {
		as := &assetState{a: a, id: id, fail: map[int32]int64{}, inflight: map[int32]int32{}, orphans: map[string]*orphan{}, cand: roaring.New(), dirty: roaring.New()}
		as.declCode = 0
		if a.Decl.CodeVersion != "" {
			as.declCode = s.intern(a.Decl.CodeVersion)
		}
		as.parts = s.partitionsOf(a)
		_, as.windowed = as.parts.(asset.Windowed)
		if oid, ok := old[a.Key]; ok {
			s.carryOver(oldAssets[oid], as, true)
		} else {
			s.alloc(as, int(as.parts.Len()))
		}
		s.assets[id] = as
	}
	// Runs and requests refer to asset IDs: re-resolve them by key.
	for _, m := range []map[string]*runRec{s.runs, s.requests} {
		for id, r := range m {
			oa := oldAssets[r.asset]
			nid, ok := s.byKey[oa.a.Key]
			if !ok {
				delete(m, id)
				continue
			}
			na := s.assets[nid]
			keep := r.idx[:0]
			for _, i := range r.idx {
				if int(i) < oa.n {
					if j, ok := na.parts.Index(oa.parts.Key(int64(i))); ok {
						keep = append(keep, int32(j))
						na.inflight[int32(j)]++
					}
				}
			}
			r.asset, r.idx = nid, keep
		}
	}
	cron := map[int]time.Time{}
	for id, t := range s.cronDone {
		if id < len(oldAssets) {
			if nid, ok := s.byKey[oldAssets[id].a.Key]; ok {
				cron[nid] = t
			}
		}
	}
	s.cronDone = cron
	s.rebuildDeps()
}

func (s *State) partitionsOf(a *asset.Asset) asset.Partitions {
	def := a.Partitions
	if def == nil {
		def = asset.Unpartitioned{}
	}
	p := def.At(s.now, s.dyn)
	if p == nil {
		// A definition that cannot answer yet (not built): no partitions.
		return emptyParts{def: def, now: s.now}
	}
	return p
}

func (s *State) alloc(as *assetState, n int) {
	as.n = n
	as.seq = make([]int64, n)
	as.ver = make([]uint64, n)
	as.code = make([]uint32, n)
	as.st = make([]uint8, n)
	as.prov = make([][]uint64, len(as.a.Deps))
	if !as.windowed {
		as.at = make([]int64, n)
	}
}

// carryOver moves the facts of old into as (same asset key, maybe another
// definition or other deps).
//
// sameInstant says both partitions were taken at the same now with the
// same dynamic keys, so equal definitions have equal keys.
func (s *State) carryOver(old, as *assetState, sameInstant bool) {
	if sameInstant && old.parts.Def().Equal(as.parts.Def()) && int64(old.n) == as.parts.Len() && old.windowed == as.windowed {
		// Same partitions (the common case of ApplyAssets): take the
		// arrays as they are, the provenance of deps on the same upstream.
		as.n, as.seq, as.ver, as.code, as.st, as.at = old.n, old.seq, old.ver, old.code, old.st, old.at
		as.prov = make([][]uint64, len(as.a.Deps))
		for d, dep := range as.a.Deps {
			for od, odep := range old.a.Deps {
				if odep.Upstream == dep.Upstream {
					as.prov[d] = old.prov[od]
					break
				}
			}
		}
		as.orphans, as.fail = old.orphans, old.fail
		return
	}
	s.alloc(as, int(as.parts.Len()))
	for k, o := range old.orphans {
		as.orphans[k] = o
	}
	samePrefix := old.parts.Def().Equal(as.parts.Def()) && stablePrefix(as.parts.Def())
	for i := 0; i < old.n; i++ {
		if old.seq[i] == 0 {
			continue
		}
		o := &orphan{seq: old.seq[i], ver: old.ver[i], code: old.code[i]}
		if old.at != nil {
			o.at = old.at[i]
		}
		for d, p := range old.prov {
			if p != nil && p[i] != 0 {
				if o.prov == nil {
					o.prov = map[asset.Key]uint64{}
				}
				o.prov[old.a.Deps[d].Upstream] = p[i]
			}
		}
		j := i
		if !samePrefix || i >= as.n {
			key := old.parts.Key(int64(i))
			jj, ok := as.parts.Index(key)
			if !ok {
				as.orphans[key] = o
				continue
			}
			j = int(jj)
		}
		s.place(as, j, o)
	}
	for i, f := range old.fail {
		if int(i) < old.n {
			if j, ok := as.parts.Index(old.parts.Key(int64(i))); ok {
				as.fail[int32(j)] = f
			}
		}
	}
	s.adoptOrphans(as)
}

// place writes materialization facts o into partition j (if newer).
func (s *State) place(as *assetState, j int, o *orphan) {
	if o.seq <= as.seq[j] {
		return
	}
	as.seq[j], as.ver[j], as.code[j] = o.seq, o.ver, o.code
	if as.at != nil {
		as.at[j] = o.at
	}
	for d, dep := range as.a.Deps {
		h := o.prov[dep.Upstream]
		if h == 0 {
			if as.prov[d] != nil {
				as.prov[d][j] = 0
			}
			continue
		}
		if as.prov[d] == nil {
			as.prov[d] = make([]uint64, as.n)
		}
		as.prov[d][j] = h
	}
	if f, ok := as.fail[int32(j)]; ok && f < o.seq {
		delete(as.fail, int32(j))
	}
}

func (s *State) adoptOrphans(as *assetState) {
	for k, o := range as.orphans {
		if j, ok := as.parts.Index(k); ok {
			s.place(as, int(j), o)
			delete(as.orphans, k)
		}
	}
}

// stablePrefix reports whether growing the partitions of def (time moving
// on) only appends indices: true for time windows, static and unpartitioned.
func stablePrefix(def asset.PartitionsDef) bool {
	switch def.Kind() {
	case asset.KindUnpartitioned, asset.KindTimeWindow, asset.KindStatic:
		return true
	}
	return false
}

func (s *State) rebuildDeps() {
	s.assignKeyCaches()
	cache := &tableCache{entries: map[string][]cachedTable{}}
	for _, as := range s.assets {
		as.deps = make([]depMap, len(as.a.Deps))
		for d, dep := range as.a.Deps {
			as.deps[d] = s.classify(as, dep, cache)
		}
	}
}

// refreshParts takes every asset's partitions again at s.now and resizes
// the arrays of those that changed; it returns the IDs of the assets whose
// partitions changed. all forces every asset to be taken again.
func (s *State) refreshParts(all bool) []int {
	var changed []int
	for _, as := range s.assets {
		def := as.a.Partitions
		if def == nil {
			def = asset.Unpartitioned{}
		}
		if !all && (def.Kind() == asset.KindUnpartitioned || def.Kind() == asset.KindStatic) {
			continue
		}
		np := s.partitionsOf(as.a)
		if np.Len() == as.parts.Len() && (stablePrefix(def) || sameKeys(np, as.parts)) {
			as.parts = np
			continue
		}
		s.resize(as, np)
		changed = append(changed, as.id)
	}
	if len(changed) > 0 {
		s.rebuildDeps()
	}
	return changed
}

func sameKeys(a, b asset.Partitions) bool {
	if a.Len() != b.Len() {
		return false
	}
	for i := int64(0); i < a.Len(); i++ {
		if a.Key(i) != b.Key(i) {
			return false
		}
	}
	return true
}

// resize moves as onto partitions np.
func (s *State) resize(as *assetState, np asset.Partitions) {
	nn := int(np.Len())
	if stablePrefix(np.Def()) && nn >= as.n {
		grow := func(x []int64) []int64 { return append(x, make([]int64, nn-len(x))...) }
		as.seq = grow(as.seq)
		as.ver = append(as.ver, make([]uint64, nn-as.n)...)
		as.code = append(as.code, make([]uint32, nn-as.n)...)
		as.st = append(as.st, make([]uint8, nn-as.n)...)
		for d := range as.prov {
			if as.prov[d] != nil {
				as.prov[d] = append(as.prov[d], make([]uint64, nn-as.n)...)
			}
		}
		if as.at != nil {
			as.at = grow(as.at)
		}
		as.parts, as.n = np, nn
		s.adoptOrphans(as)
		return
	}
	old := *as
	old.fail = as.fail
	as.parts = np
	as.fail = map[int32]int64{}
	as.orphans = map[string]*orphan{}
	s.carryOver(&old, as, false)
	// Re-key in-flight counts.
	infl := map[int32]int32{}
	for i, c := range old.inflight {
		if int(i) < old.n {
			if j, ok := np.Index(old.parts.Key(int64(i))); ok {
				infl[int32(j)] += c
			}
		}
	}
	as.inflight = infl
	for _, m := range []map[string]*runRec{s.runs, s.requests} {
		for _, r := range m {
			if r.asset != as.id {
				continue
			}
			keep := r.idx[:0]
			for _, i := range r.idx {
				if int(i) < old.n {
					if j, ok := np.Index(old.parts.Key(int64(i))); ok {
						keep = append(keep, int32(j))
					}
				}
			}
			r.idx = keep
		}
	}
}

// Advance takes partitions again at now (new time windows appear) and
// updates the statuses of assets whose partitions changed and of their
// downstream assets. Tick calls it; the loop may call it on its own.
func (s *State) Advance(now time.Time) {
	s.now = now
	changed := s.refreshParts(false)
	if len(changed) == 0 {
		return
	}
	s.repropagate(changed)
}

// repropagate re-evaluates assets whose partitions (and so whose dep
// tables) changed, and everything their changes reach.
func (s *State) repropagate(changed []int) {
	if len(changed) == 0 {
		return
	}
	w := s.worklist()
	src := map[int]bool{}
	for _, id := range changed {
		w.addAll(id, s.assets[id].n)
		src[id] = true
		// Readers of a changed asset map through rebuilt tables.
		for _, e := range s.down[id] {
			w.addAll(e.asset, s.assets[e.asset].n)
		}
	}
	s.propagate(w, src)
}

// Apply applies one catalog event. Events must come in increasing Seq; an
// event at or before the cursor is ignored (the loop may replay).
func (s *State) Apply(e Event) error {
	if seq := e.EventSeq(); seq != 0 {
		if seq <= s.cursor {
			return nil
		}
		s.cursor = seq
	}
	switch e := e.(type) {
	case MaterializationRecorded:
		s.applyMaterialization(e, true)
	case RunStateChanged:
		s.applyRun(e)
	case RequestDropped:
		if r, ok := s.requests[e.RequestID]; ok {
			delete(s.requests, e.RequestID)
			s.release(r)
			if b := s.backfills[r.backfill]; b != nil {
				b.dropped(r)
			}
		}
	case AssetsApplied:
		if e.Graph == nil {
			return fmt.Errorf("assets applied: nil graph")
		}
		s.setGraph(e.Graph)
		for _, b := range s.backfills {
			b.regraph(s)
		}
		s.Recompute()
	case DynamicPartitionsChanged:
		s.dyn[e.Name] = e.Keys
		s.repropagate(s.refreshParts(false))
	default:
		return fmt.Errorf("apply: unknown event %T", e)
	}
	return nil
}

// provFor hashes the inputs of a materialization's provenance that come
// from upstream asset up; 0 (order fallback) when there are none or one
// lacks a data version.
func (s *State) provFor(up asset.Key, prov []InputVersion) uint64 {
	var sum uint64
	seen := false
	for _, in := range prov {
		if in.Asset != up {
			continue
		}
		if in.DataVersion == "" {
			return 0
		}
		seen = true
		sum += elemHash(hashString(in.PartitionKey), hashString(in.DataVersion))
	}
	if !seen {
		return 0
	}
	return sum | 1
}

// provHashes hashes a materialization's provenance per upstream asset.
func (s *State) provHashes(m MaterializationRecorded) map[asset.Key]uint64 {
	if len(m.Provenance) == 0 {
		return nil
	}
	out := map[asset.Key]uint64{}
	for _, in := range m.Provenance {
		if _, done := out[in.Asset]; !done {
			out[in.Asset] = s.provFor(in.Asset, m.Provenance)
		}
	}
	return out
}

// index returns the index of key in as's partitions, through a cache
// shared by assets with equal partitions (parsing a time key costs far
// more than a map lookup, and a rebuild looks up tens of millions).
func (s *State) index(as *assetState, key string) (int, bool) {
	if as.keys != nil {
		if j, ok := as.keys.m[key]; ok {
			return int(j), true
		}
	}
	j, ok := as.parts.Index(key)
	if ok && as.keys != nil && len(as.keys.m) < maxKeyCache {
		as.keys.m[key] = int32(j)
	}
	return int(j), ok
}

// maxKeyCache bounds each key cache.
const maxKeyCache = 1 << 21

type keyIndex struct {
	def asset.PartitionsDef
	n   int
	m   map[string]int32

	once sync.Once
	kh   []uint64 // hash of each partition's key, built on first use
}

// hashes returns the key hash of every partition (parts has the cache's
// definition and length). Safe for concurrent use (Recompute is parallel).
func (k *keyIndex) hashes(parts asset.Partitions) []uint64 {
	k.once.Do(func() {
		k.kh = make([]uint64, k.n)
		for i := range k.kh {
			k.kh[i] = hashString(parts.Key(int64(i)))
		}
	})
	return k.kh
}

// assignKeyCaches gives every asset the key cache of its partitions.
func (s *State) assignKeyCaches() {
	var caches []*keyIndex
	for _, as := range s.assets {
		def := as.parts.Def()
		as.keys = nil
		for _, c := range caches {
			if c.n == as.n && c.def.Equal(def) {
				as.keys = c
				break
			}
		}
		if as.keys == nil {
			as.keys = &keyIndex{def: def, n: as.n, m: map[string]int32{}}
			caches = append(caches, as.keys)
		}
	}
}

func (s *State) applyMaterialization(m MaterializationRecorded, propagate bool) {
	id, ok := s.byKey[m.Asset]
	if !ok {
		return // an asset no longer declared
	}
	as := s.assets[id]
	j, ok := s.index(as, m.PartitionKey)
	if !ok {
		if prev := as.orphans[m.PartitionKey]; prev == nil || prev.seq < m.Seq {
			as.orphans[m.PartitionKey] = &orphan{seq: m.Seq, ver: hashString(m.DataVersion), code: s.intern(m.CodeVersion), at: m.At.UnixNano(), prov: s.provHashes(m)}
		}
		return
	}
	if m.Seq <= as.seq[j] {
		return
	}
	oldElem := as.elem(j)
	as.seq[j], as.ver[j], as.code[j] = m.Seq, hashString(m.DataVersion), s.intern(m.CodeVersion)
	if as.at != nil {
		as.at[j] = m.At.UnixNano()
	}
	for d, dep := range as.a.Deps {
		h := s.provFor(dep.Upstream, m.Provenance)
		if h != 0 && as.prov[d] == nil {
			as.prov[d] = make([]uint64, as.n)
		}
		if as.prov[d] != nil {
			as.prov[d][j] = h
		}
	}
	if f, ok := as.fail[int32(j)]; ok && f < m.Seq {
		delete(as.fail, int32(j))
	}
	as.verSum += as.elem(j) - oldElem
	if m.Seq > as.maxSeq {
		as.maxSeq = m.Seq
	}
	for _, b := range s.backfills {
		b.materialized(as.id, j, m.Seq)
	}
	if !propagate {
		return
	}
	// The source's readers must be re-evaluated even if its status does
	// not change (fresh -> fresh with a new version makes them stale).
	w := s.worklist()
	w.add(id, j)
	s.propagate(w, map[int]bool{id: true})
}

func (s *State) indices(as *assetState, keys []string) []int32 {
	out := make([]int32, 0, len(keys))
	for _, k := range keys {
		if j, ok := as.parts.Index(k); ok {
			out = append(out, int32(j))
		}
	}
	return out
}

func (s *State) hold(r *runRec) {
	as := s.assets[r.asset]
	for _, i := range r.idx {
		as.inflight[i]++
	}
}

// release ends r's hold on its partitions; they and their readers may be
// ready now, so they are marked dirty for the next tick.
func (s *State) release(r *runRec) {
	as := s.assets[r.asset]
	for _, i := range r.idx {
		if c := as.inflight[i]; c <= 1 {
			delete(as.inflight, i)
		} else {
			as.inflight[i] = c - 1
		}
		s.markDirty(as, int(i))
	}
}

// markDirty marks partition i of as and the partitions reading it dirty.
func (s *State) markDirty(as *assetState, i int) {
	as.dirty.Add(uint32(i))
	for _, e := range s.down[as.id] {
		b := s.assets[e.asset]
		if b.deps[e.dep].kind == depAll {
			b.dirty.AddRange(0, uint64(b.n))
			continue
		}
		s.downstreamOf(b, e.dep, i, func(k int) { b.dirty.Add(uint32(k)) })
	}
}

func (s *State) applyRun(e RunStateChanged) {
	id, ok := s.byKey[e.Asset]
	if !ok {
		return
	}
	as := s.assets[id]
	if e.RequestID != "" {
		if r, ok := s.requests[e.RequestID]; ok {
			delete(s.requests, e.RequestID)
			s.release(r)
		}
	}
	if e.Reason.Kind == ReasonOnCron && !e.Reason.Tick.IsZero() {
		if e.Reason.Tick.After(s.cronDone[id]) {
			s.cronDone[id] = e.Reason.Tick
		}
	}
	prev, known := s.runs[e.RunID]
	if e.State.InFlight() {
		if !known {
			r := &runRec{id: e.RunID, asset: id, idx: s.indices(as, e.PartitionKeys), backfill: e.BackfillID, reason: e.Reason}
			s.runs[e.RunID] = r
			s.hold(r)
		}
		return
	}
	if known {
		delete(s.runs, e.RunID)
		s.release(prev)
	}
	idx := s.indices(as, e.PartitionKeys)
	if e.State == RunFailed {
		for _, i := range idx {
			if e.Seq > as.seq[i] && e.Seq > as.fail[i] {
				as.fail[i] = e.Seq
			}
		}
	}
	if b := s.backfills[e.BackfillID]; b != nil {
		b.runEnded(s, id, idx, e.State)
	}
}

// Recompute evaluates every partition's status from scratch, in
// topological order. Build and AssetsApplied call it.
//
// Assets of one topological level (whose upstreams all lie in earlier
// levels) are independent, so a level is spread over GOMAXPROCS workers.
func (s *State) Recompute() {
	level := make([]int, len(s.assets))
	var levels [][]*assetState
	for id, as := range s.assets {
		l := 0
		for _, d := range as.deps {
			if d.up != id {
				l = max(l, level[d.up]+1)
			}
		}
		level[id] = l
		for len(levels) <= l {
			levels = append(levels, nil)
		}
		levels[l] = append(levels[l], as)
	}
	workers := runtime.GOMAXPROCS(0)
	for _, lv := range levels {
		if workers == 1 || len(lv) < 2 {
			for _, as := range lv {
				s.recomputeAsset(as)
			}
			continue
		}
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for range min(workers, len(lv)) {
			wg.Go(func() {
				for {
					k := int(next.Add(1)) - 1
					if k >= len(lv) {
						return
					}
					s.recomputeAsset(lv[k])
				}
			})
		}
		wg.Wait()
	}
}

func (s *State) recomputeAsset(as *assetState) {
	as.nMissing, as.nStale, as.maxSeq, as.verSum = 0, 0, 0, 0
	as.cand.Clear()
	as.dirty.AddRange(0, uint64(as.n))
	latest := as.n - 1
	for i := 0; i < as.n; i++ {
		v := s.eval(as, i)
		as.st[i] = v
		if eagerCandidate(as, i, v, latest) {
			as.cand.Add(uint32(i))
		}
		switch v & stMask {
		case stMissing:
			as.nMissing++
		case stStale:
			as.nStale++
		}
		if as.seq[i] > as.maxSeq {
			as.maxSeq = as.seq[i]
		}
		as.verSum += as.elem(i)
	}
}

// eval computes the status byte of partition i of as from its facts and
// the current statuses of its upstream partitions.
func (s *State) eval(as *assetState, i int) uint8 {
	var c uint8
	seq := as.seq[i]
	if seq != 0 && as.declCode != 0 && as.code[i] != as.declCode {
		c |= cCode
	}
	for d := range as.deps {
		dm := &as.deps[d]
		u := s.assets[dm.up]
		var prov uint64
		if p := as.prov[d]; p != nil {
			prov = p[i]
		}
		var maxSeq int64
		var sum uint64
		switch dm.kind {
		case depIdentity:
			if i >= u.n {
				c |= cUpMiss
				continue
			}
			switch u.st[i] & stMask {
			case stMissing:
				c |= cUpMiss
			case stStale:
				c |= cUpStale
			}
			maxSeq = u.seq[i]
			if prov != 0 {
				sum = u.elem(i)
			}
		case depAll:
			if u.nMissing > 0 {
				c |= cUpMiss
			}
			if u.nStale > 0 {
				c |= cUpStale
			}
			maxSeq, sum = u.maxSeq, u.verSum
		case depTable:
			if dm.err != nil || dm.missing.Contains(uint32(i)) {
				c |= cUpMiss
			}
			for k := dm.off[i]; k < dm.off[i+1]; k++ {
				for j := int(dm.rng[2*k]); j < int(dm.rng[2*k+1]); j++ {
					switch u.st[j] & stMask {
					case stMissing:
						c |= cUpMiss
					case stStale:
						c |= cUpStale
					}
					if u.seq[j] > maxSeq {
						maxSeq = u.seq[j]
					}
					if prov != 0 {
						sum += u.elem(j)
					}
				}
			}
		}
		if seq == 0 {
			continue
		}
		if prov != 0 {
			if sum|1 != prov {
				c |= cUpdated
			}
		} else if maxSeq > seq {
			c |= cUpdated
		}
	}
	if seq == 0 {
		return stMissing | c&cUpMiss
	}
	if c != 0 {
		return stStale | c
	}
	return stFresh
}

// eagerCandidate reports whether status v of partition i makes it a
// candidate of eager automation: stale because an upstream was updated,
// or missing in the latest time window (the newly missing partition). A
// code version change alone does not fire (as in Dagster): rerunning all
// history on a code bump is a backfill with filter stale.
func eagerCandidate(as *assetState, i int, v uint8, latest int) bool {
	switch v & stMask {
	case stStale:
		return v&cUpdated != 0
	case stMissing:
		return inLatestWindow(as, i, latest)
	}
	return false
}

// inLatestWindow reports whether partition i lies in the asset's latest
// time window: the last partition of a time-window definition, the
// partitions of a multi-dimensional one whose time dimension is at its
// last window; every partition of a definition without time.
func inLatestWindow(as *assetState, i, latest int) bool {
	switch as.parts.Def().Kind() {
	case asset.KindTimeWindow:
		return i == latest
	case asset.KindMulti:
		if mp, ok := asset.AsMulti(as.parts); ok && mp.HasWindows() {
			td := mp.TimeDimension()
			return mp.DimensionIndex(int64(i), td) == mp.Dimension(td).Len()-1
		}
	}
	return true
}

// worklist holds asset partitions to re-evaluate, drained in topological
// (asset ID) order so each asset is visited once per propagation. Its
// storage is reused across propagations (one new materialization must not
// allocate per touched asset).
type worklist struct {
	items   []wlItem // by asset ID
	heap    []int    // IDs of queued assets, a min-heap
	scratch []uint32
}

type wlItem struct {
	queued bool
	all    bool
	idx    []uint32
}

// worklist returns the State's (empty) worklist.
func (s *State) worklist() *worklist {
	if s.wl == nil || len(s.wl.items) != len(s.assets) {
		s.wl = &worklist{items: make([]wlItem, len(s.assets))}
	}
	return s.wl
}

func (w *worklist) item(id int) *wlItem {
	it := &w.items[id]
	if !it.queued {
		it.queued = true
		w.heap = append(w.heap, id)
		for k := len(w.heap) - 1; k > 0; {
			p := (k - 1) / 2
			if w.heap[p] <= w.heap[k] {
				break
			}
			w.heap[p], w.heap[k] = w.heap[k], w.heap[p]
			k = p
		}
	}
	return it
}

func (w *worklist) add(id, i int) {
	it := w.item(id)
	if !it.all {
		it.idx = append(it.idx, uint32(i))
	}
}

func (w *worklist) addAll(id, n int) {
	it := w.item(id)
	it.all, it.idx = true, it.idx[:0]
}

// pop returns the lowest queued asset ID and its partitions (all: every
// partition; else the sorted, distinct indices, valid until the next pop).
func (w *worklist) pop() (id int, all bool, idx []uint32, ok bool) {
	if len(w.heap) == 0 {
		return 0, false, nil, false
	}
	id = w.heap[0]
	last := len(w.heap) - 1
	w.heap[0] = w.heap[last]
	w.heap = w.heap[:last]
	for k := 0; ; {
		l, r, m := 2*k+1, 2*k+2, k
		if l < len(w.heap) && w.heap[l] < w.heap[m] {
			m = l
		}
		if r < len(w.heap) && w.heap[r] < w.heap[m] {
			m = r
		}
		if m == k {
			break
		}
		w.heap[m], w.heap[k] = w.heap[k], w.heap[m]
		k = m
	}
	it := &w.items[id]
	all = it.all
	w.scratch = append(w.scratch[:0], it.idx...)
	slices.Sort(w.scratch)
	w.scratch = slices.Compact(w.scratch)
	it.queued, it.all, it.idx = false, false, it.idx[:0]
	return id, all, w.scratch, true
}

// propagate re-evaluates the partitions in w and, transitively, the
// partitions that read a partition whose data status changed. The first
// assets in src (the sources of the change) always notify their readers,
// since a new materialization changes what they read even when its own
// status stays the same.
func (s *State) propagate(w *worklist, src map[int]bool) {
	for {
		id, all, idx, ok := w.pop()
		if !ok {
			return
		}
		as := s.assets[id]
		notifyAll := src[id]
		delete(src, id) // a self-dependent asset comes back: notify by change only
		n := len(idx)
		if all {
			n = as.n
		}
		for k := 0; k < n; k++ {
			i := k
			if !all {
				i = int(idx[k])
			}
			if i >= as.n {
				continue
			}
			old := as.st[i]
			nv := s.eval(as, i)
			s.evals++
			as.dirty.Add(uint32(i)) // its readiness may have changed (an upstream landed)
			if nv != old || notifyAll {
				if eagerCandidate(as, i, nv, as.n-1) {
					as.cand.Add(uint32(i))
				} else {
					as.cand.Remove(uint32(i))
				}
			}
			if nv != old {
				as.st[i] = nv
				switch old & stMask {
				case stMissing:
					as.nMissing--
				case stStale:
					as.nStale--
				}
				switch nv & stMask {
				case stMissing:
					as.nMissing++
				case stStale:
					as.nStale++
				}
			}
			if notifyAll || (old^nv)&stMask != 0 {
				s.notify(w, as, i)
			}
		}
	}
}

// notify queues the partitions that read partition i of as.
func (s *State) notify(w *worklist, as *assetState, i int) {
	for _, e := range s.down[as.id] {
		b := s.assets[e.asset]
		if b.deps[e.dep].kind == depAll {
			w.addAll(e.asset, b.n)
			continue
		}
		s.downstreamOf(b, e.dep, i, func(k int) { w.add(e.asset, k) })
	}
}

// emptyParts stands in for partitions a definition cannot give yet.
type emptyParts struct {
	def asset.PartitionsDef
	now time.Time
}

func (p emptyParts) Def() asset.PartitionsDef { return p.def }
func (p emptyParts) Now() time.Time           { return p.now }
func (emptyParts) Len() int64                 { return 0 }
func (emptyParts) Key(int64) string           { return "" }
func (emptyParts) Index(string) (int64, bool) { return 0, false }
