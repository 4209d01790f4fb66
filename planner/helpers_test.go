package planner

import (
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/strata-data/strata/asset"
)

// The fakes below stand in for asset's time-window, static and mapping
// implementations (stubs while they are being built) with the same
// semantics on a simple subset: fixed-step UTC windows, identity, all,
// and time-window mappings with offsets. Tests in realasset_test.go run
// the same scenarios on the real implementations once they land.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// stepDef is a time-window definition with fixed-length UTC windows.
type stepDef struct {
	start time.Time
	step  time.Duration
}

func hourly() *stepDef { return &stepDef{start: t0, step: time.Hour} }
func daily() *stepDef  { return &stepDef{start: t0, step: 24 * time.Hour} }
func weekly() *stepDef { return &stepDef{start: t0, step: 7 * 24 * time.Hour} }

func (d *stepDef) Kind() asset.PartitionsKind { return asset.KindTimeWindow }
func (d *stepDef) At(now time.Time, _ asset.DynamicKeys) asset.Partitions {
	n := int64(0)
	if !now.Before(d.start) {
		n = int64(now.Sub(d.start) / d.step)
	}
	return &stepParts{d: d, now: now, n: n}
}
func (d *stepDef) Equal(o asset.PartitionsDef) bool {
	x, ok := o.(*stepDef)
	return ok && x.start.Equal(d.start) && x.step == d.step
}
func (d *stepDef) String() string { return fmt.Sprintf("every %s from %s", d.step, d.start) }
func (d *stepDef) layout() string {
	if d.step >= 24*time.Hour {
		return "2006-01-02"
	}
	return "2006-01-02-15:04"
}

type stepParts struct {
	d   *stepDef
	now time.Time
	n   int64
}

func (p *stepParts) Def() asset.PartitionsDef { return p.d }
func (p *stepParts) Now() time.Time           { return p.now }
func (p *stepParts) Len() int64               { return p.n }
func (p *stepParts) Key(i int64) string {
	return p.d.start.Add(time.Duration(i) * p.d.step).Format(p.d.layout())
}
func (p *stepParts) Index(key string) (int64, bool) {
	t, err := time.Parse(p.d.layout(), key)
	if err != nil || t.Before(p.d.start) {
		return 0, false
	}
	off := t.Sub(p.d.start)
	if off%p.d.step != 0 {
		return 0, false
	}
	i := int64(off / p.d.step)
	return i, i < p.n
}
func (p *stepParts) Window(i int64) asset.TimeWindow {
	s := p.d.start.Add(time.Duration(i) * p.d.step)
	return asset.TimeWindow{Start: s, End: s.Add(p.d.step)}
}

// staticDef is a fixed list of keys.
type staticDef struct{ keys []string }

func static(keys ...string) *staticDef { return &staticDef{keys: keys} }

func (d *staticDef) Kind() asset.PartitionsKind                       { return asset.KindStatic }
func (d *staticDef) At(time.Time, asset.DynamicKeys) asset.Partitions { return staticParts{d} }
func (d *staticDef) Equal(o asset.PartitionsDef) bool {
	x, ok := o.(*staticDef)
	return ok && strings.Join(x.keys, "\x00") == strings.Join(d.keys, "\x00")
}
func (d *staticDef) String() string { return "static " + strings.Join(d.keys, ",") }

type staticParts struct{ d *staticDef }

func (p staticParts) Def() asset.PartitionsDef { return p.d }
func (p staticParts) Now() time.Time           { return time.Time{} }
func (p staticParts) Len() int64               { return int64(len(p.d.keys)) }
func (p staticParts) Key(i int64) string       { return p.d.keys[i] }
func (p staticParts) Index(key string) (int64, bool) {
	for i, k := range p.d.keys {
		if k == key {
			return int64(i), true
		}
	}
	return 0, false
}

// dynDef reads its keys from DynamicKeys.
type dynDef struct{ name string }

func (d *dynDef) Kind() asset.PartitionsKind { return asset.KindDynamic }
func (d *dynDef) At(_ time.Time, dyn asset.DynamicKeys) asset.Partitions {
	var keys []string
	if dyn != nil {
		keys = dyn.DynamicPartitionKeys(d.name)
	}
	return dynParts{staticParts{&staticDef{keys: keys}}, d}
}

type dynParts struct {
	staticParts
	def *dynDef
}

func (p dynParts) Def() asset.PartitionsDef { return p.def }
func (d *dynDef) Equal(o asset.PartitionsDef) bool {
	x, ok := o.(*dynDef)
	return ok && x.name == d.name
}
func (d *dynDef) String() string { return "dynamic " + d.name }

// identityMap maps equal keys.
type identityMap struct{}

func (identityMap) Decl() asset.MappingDecl { return asset.MappingDecl{Identity: &asset.Empty{}} }
func (identityMap) Upstream(down *asset.Subset, up asset.Partitions) (asset.Upstream, error) {
	res := asset.Upstream{Partitions: asset.NewSubset(up)}
	for k := range down.Keys() {
		if !res.Partitions.AddKey(k) {
			res.Missing = append(res.Missing, k)
		}
	}
	return res, nil
}
func (identityMap) Downstream(up *asset.Subset, down asset.Partitions) (*asset.Subset, error) {
	out := asset.NewSubset(down)
	for k := range up.Keys() {
		out.AddKey(k)
	}
	return out, nil
}

// allMap maps every downstream partition to every upstream partition.
type allMap struct{}

func (allMap) Decl() asset.MappingDecl { return asset.MappingDecl{All: &asset.Empty{}} }
func (allMap) Upstream(down *asset.Subset, up asset.Partitions) (asset.Upstream, error) {
	if down.IsEmpty() {
		return asset.Upstream{Partitions: asset.NewSubset(up)}, nil
	}
	return asset.Upstream{Partitions: asset.AllOf(up)}, nil
}
func (allMap) Downstream(up *asset.Subset, down asset.Partitions) (*asset.Subset, error) {
	if up.IsEmpty() {
		return asset.NewSubset(down), nil
	}
	return asset.AllOf(down), nil
}

// windowMap is the time-window mapping between stepDefs: the downstream
// window shifted by whole downstream windows, widened to upstream windows;
// a negative shift before the upstream's start is dropped, the part after
// its last existing window is required but nonexistent.
type windowMap struct{ startOff, endOff int }

func (m windowMap) Decl() asset.MappingDecl {
	return asset.MappingDecl{TimeWindow: &asset.TimeWindowMappingDecl{StartOffset: m.startOff, EndOffset: m.endOff}}
}
func (m windowMap) Upstream(down *asset.Subset, up asset.Partitions) (asset.Upstream, error) {
	dp, ok1 := down.Partitions().(*stepParts)
	upp, ok2 := up.(*stepParts)
	if !ok1 || !ok2 {
		return asset.Upstream{}, errors.New("windowMap: not step partitions")
	}
	res := asset.Upstream{Partitions: asset.NewSubset(up)}
	for i := range down.Indices() {
		w := dp.Window(i)
		s := w.Start.Add(time.Duration(m.startOff) * dp.d.step)
		e := w.End.Add(time.Duration(m.endOff) * dp.d.step)
		if !e.After(s) {
			continue
		}
		lo := s.Sub(upp.d.start) / upp.d.step
		if s.Before(upp.d.start) {
			lo = 0
		}
		hiD := e.Sub(upp.d.start)
		hi := hiD / upp.d.step
		if hiD%upp.d.step != 0 {
			hi++
		}
		if hi <= lo {
			continue
		}
		for j := int64(lo); j < int64(hi); j++ {
			if j < upp.n {
				res.Partitions.Add(j)
			} else {
				res.Missing = append(res.Missing, upp.Key(j))
			}
		}
	}
	return res, nil
}
func (m windowMap) Downstream(up *asset.Subset, down asset.Partitions) (*asset.Subset, error) {
	out := asset.NewSubset(down)
	for i := int64(0); i < down.Len(); i++ {
		one := asset.NewSubset(down)
		one.Add(i)
		r, err := m.Upstream(one, up.Partitions())
		if err != nil {
			return nil, err
		}
		r.Partitions.Intersect(up)
		if !r.Partitions.IsEmpty() {
			out.Add(i)
		}
	}
	return out, nil
}

// testGraph is a Graph built from specs in topological order.
type testGraph struct{ list []*asset.Asset }

func (g *testGraph) Assets() []*asset.Asset { return g.list }

type dep struct {
	up string
	m  asset.Mapping
}

type node struct {
	key   string
	parts asset.PartitionsDef // nil: unpartitioned
	deps  []dep
	decl  asset.AssetDecl // Key and Deps are filled in
}

// tb is what helpers need of *testing.T, *testing.B and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

func graph(t tb, nodes ...node) *testGraph {
	t.Helper()
	g := &testGraph{}
	ids := map[string]int{}
	for id, n := range nodes {
		ids[n.key] = id
		a := &asset.Asset{ID: id, Key: asset.Key(n.key), Decl: n.decl, Partitions: n.parts}
		a.Decl.Key = n.key
		if a.Partitions == nil {
			a.Partitions = asset.Unpartitioned{}
		}
		for _, d := range n.deps {
			up, ok := ids[d.up]
			if !ok {
				t.Fatalf("node %s: dep %s is not declared before it", n.key, d.up)
			}
			m := d.m
			if m == nil {
				m = identityMap{}
			}
			a.Deps = append(a.Deps, asset.Dep{Upstream: asset.Key(d.up), UpID: up, Mapping: m})
			a.Decl.Deps = append(a.Decl.Deps, asset.DepDecl{Asset: d.up})
		}
		g.list = append(g.list, a)
	}
	return g
}

// memView is a View held in memory.
type memView struct {
	cursor int64
	mats   []MaterializationRecorded
	runs   []RunStateChanged
	dyn    []DynamicPartitionsChanged
}

func (v *memView) Cursor() int64 { return v.cursor }
func (v *memView) LatestMaterializations() iter.Seq2[MaterializationRecorded, error] {
	return func(yield func(MaterializationRecorded, error) bool) {
		for _, m := range v.mats {
			if !yield(m, nil) {
				return
			}
		}
	}
}
func (v *memView) Runs() iter.Seq2[RunStateChanged, error] {
	return func(yield func(RunStateChanged, error) bool) {
		for _, r := range v.runs {
			if !yield(r, nil) {
				return
			}
		}
	}
}
func (v *memView) DynamicPartitions() iter.Seq2[DynamicPartitionsChanged, error] {
	return func(yield func(DynamicPartitionsChanged, error) bool) {
		for _, d := range v.dyn {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// sim drives a State like the planner loop would, playing the catalog: it
// numbers events, keeps every event (to rebuild from), records data
// versions and provenance like a job would.
type sim struct {
	t      tb
	s      *State
	g      Graph
	now    time.Time
	seq    int64
	events []Event
	runN   int
	vers   map[PartitionRef]string // data version of each materialized partition
}

func newSim(t tb, g Graph, now time.Time) *sim {
	return &sim{t: t, s: New(g, now), g: g, now: now, vers: map[PartitionRef]string{}}
}

func (m *sim) apply(e Event) {
	m.t.Helper()
	if err := m.s.Apply(e); err != nil {
		m.t.Fatalf("apply %T: %v", e, err)
	}
	m.events = append(m.events, e)
}

func (m *sim) next() int64 { m.seq++; return m.seq }

type matOpt struct {
	version string // data version; "" = none
	code    string // code version; "decl" = the declared one
	noProv  bool
}

// materialize records a materialization of key/partition with provenance
// read from the current upstream state.
func (m *sim) materialize(key, partition string, o matOpt) MaterializationRecorded {
	m.t.Helper()
	as := m.s.assets[m.s.byKey[asset.Key(key)]]
	code := o.code
	if code == "decl" {
		code = as.a.Decl.CodeVersion
	}
	e := MaterializationRecorded{Seq: m.next(), Asset: asset.Key(key), PartitionKey: partition,
		RunID: fmt.Sprintf("run-%d", m.seq), DataVersion: o.version, CodeVersion: code, At: m.now}
	if !o.noProv {
		refs, err := m.s.Inputs(asset.Key(key), partition)
		if err == nil {
			for _, r := range refs {
				if v, ok := m.vers[r]; ok { // only inputs that exist
					e.Provenance = append(e.Provenance, InputVersion{Asset: r.Asset, PartitionKey: r.Key, DataVersion: v})
				}
			}
		}
	}
	m.vers[PartitionRef{Asset: asset.Key(key), Key: partition}] = o.version
	m.apply(e)
	return e
}

// rebuild builds a fresh State from the latest facts, as on restart.
func (m *sim) rebuild() *State {
	m.t.Helper()
	v := &memView{cursor: m.seq}
	latest := map[string]MaterializationRecorded{}
	var order []string
	var g Graph = m.g
	for _, e := range m.events {
		switch e := e.(type) {
		case MaterializationRecorded:
			k := string(e.Asset) + "\x00" + e.PartitionKey
			if _, ok := latest[k]; !ok {
				order = append(order, k)
			}
			latest[k] = e
		case RunStateChanged:
			v.runs = append(v.runs, e)
		case AssetsApplied:
			g = e.Graph
		case DynamicPartitionsChanged:
			v.dyn = append(v.dyn, e)
		}
	}
	for _, k := range order {
		v.mats = append(v.mats, latest[k])
	}
	// Runs: only the last state of each run matters; replaying all of
	// them in order is equivalent.
	s, err := Build(g, v, m.now)
	if err != nil {
		m.t.Fatalf("build: %v", err)
	}
	return s
}

// succeed plays a run for request r that succeeds: queued, materialized
// (data version v), succeeded.
func (m *sim) succeed(r RunRequest, version func(key string) string) {
	m.t.Helper()
	m.runN++
	runID := fmt.Sprintf("r%d", m.runN)
	m.apply(RunStateChanged{Seq: m.next(), RunID: runID, RequestID: r.ID, Asset: r.Asset, PartitionKeys: r.PartitionKeys, State: RunRunning, BackfillID: r.BackfillID, Reason: r.Reason})
	for _, k := range r.PartitionKeys {
		m.materialize(string(r.Asset), k, matOpt{version: version(k), code: "decl"})
	}
	m.apply(RunStateChanged{Seq: m.next(), RunID: runID, RequestID: r.ID, Asset: r.Asset, PartitionKeys: r.PartitionKeys, State: RunSucceeded, BackfillID: r.BackfillID, Reason: r.Reason})
}

func (m *sim) fail(r RunRequest) {
	m.t.Helper()
	m.runN++
	runID := fmt.Sprintf("r%d", m.runN)
	m.apply(RunStateChanged{Seq: m.next(), RunID: runID, RequestID: r.ID, Asset: r.Asset, PartitionKeys: r.PartitionKeys, State: RunRunning, BackfillID: r.BackfillID})
	m.apply(RunStateChanged{Seq: m.next(), RunID: runID, RequestID: r.ID, Asset: r.Asset, PartitionKeys: r.PartitionKeys, State: RunFailed, BackfillID: r.BackfillID})
}

func (m *sim) status(key, partition string) PartitionStatus {
	m.t.Helper()
	ps, err := m.s.Status(asset.Key(key), partition, m.now)
	if err != nil {
		m.t.Fatalf("status %s %q: %v", key, partition, err)
	}
	return ps
}

func causeKinds(cs []Cause) []CauseKind {
	out := make([]CauseKind, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Kind)
	}
	return out
}
