package asset

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"
)

// graphDecl declares an unpartitioned asset with default-mapped deps.
func graphDecl(key string, deps ...string) AssetDecl {
	d := AssetDecl{Key: key}
	for _, up := range deps {
		d.Deps = append(d.Deps, DepDecl{Asset: up})
	}
	return d
}

func graphDaily() *PartitionsDecl {
	return &PartitionsDecl{TimeWindow: &TimeWindowDecl{Schedule: "daily", Start: "2024-01-01"}}
}

func graphStatic(keys ...string) *PartitionsDecl { return &PartitionsDecl{Static: keys} }

func graphTW(start, end int) *MappingDecl {
	return &MappingDecl{TimeWindow: &TimeWindowMappingDecl{StartOffset: start, EndOffset: end}}
}

// graphFataler is what graphMust needs of *testing.T, *testing.B and *rapid.T.
type graphFataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

func graphMust(t graphFataler, decls []AssetDecl) *Graph {
	t.Helper()
	g, err := NewGraph(decls)
	if err != nil {
		t.Fatalf("NewGraph: %v", err)
	}
	return g
}

func graphKeysOf(g *Graph, ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(g.ByID(id).Key)
	}
	return out
}

func TestGraphTopologicalOrder(t *testing.T) {
	t.Parallel()

	decls := []AssetDecl{
		graphDecl("c", "b", "a"),
		graphDecl("d"),
		graphDecl("b", "a"),
		graphDecl("a"),
		graphDecl("e", "d", "c"),
		graphDecl("aa", "e"),
	}
	g := graphMust(t, decls)

	// Upstream first; among the ready assets the smallest key first, so
	// "aa" comes last although it sorts second.
	want := []Key{"a", "b", "c", "d", "e", "aa"}
	if got := g.Keys(); !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	for i, a := range g.Assets() {
		if a.ID != i || g.ByID(i) != a {
			t.Fatalf("asset %s has ID %d at position %d", a.Key, a.ID, i)
		}
		if got, ok := g.Asset(a.Key); !ok || got != a {
			t.Fatalf("Asset(%s) = %v, %v", a.Key, got, ok)
		}
		if a.Partitions == nil || a.Partitions.Kind() != KindUnpartitioned {
			t.Fatalf("asset %s partitions = %v, want unpartitioned", a.Key, a.Partitions)
		}
	}

	// The order does not depend on the order of the declarations.
	rev := slices.Clone(decls)
	slices.Reverse(rev)
	if got := graphMust(t, rev).Keys(); !slices.Equal(got, want) {
		t.Fatalf("order of reversed declarations = %v, want %v", got, want)
	}
}

func TestGraphEdges(t *testing.T) {
	t.Parallel()

	g := graphMust(t, []AssetDecl{
		graphDecl("c", "b", "a"),
		graphDecl("b", "a"),
		graphDecl("a"),
		graphDecl("d", "a"),
	})
	id := func(k Key) int { a, _ := g.Asset(k); return a.ID }

	c, _ := g.Asset("c")
	if len(c.Deps) != 2 || c.Deps[0].Upstream != "b" || c.Deps[1].Upstream != "a" {
		t.Fatalf("c deps = %+v, want b then a (declaration order)", c.Deps)
	}
	for _, d := range c.Deps {
		if d.UpID != id(d.Upstream) || d.Mapping == nil || d.Decl.Asset != string(d.Upstream) {
			t.Fatalf("dep %+v: wrong UpID, mapping or decl", d)
		}
	}
	if got, want := graphKeysOf(g, g.Upstream(id("c"))), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("Upstream(c) = %v, want %v", got, want)
	}
	if got, want := graphKeysOf(g, g.Downstream(id("a"))), []string{"b", "c", "d"}; !slices.Equal(got, want) {
		t.Fatalf("Downstream(a) = %v, want %v", got, want)
	}
	if got := g.Downstream(id("c")); len(got) != 0 {
		t.Fatalf("Downstream(c) = %v, want none", got)
	}

	ids, err := g.IDs("d", "a")
	if err != nil || !slices.Equal(ids, []int{id("d"), id("a")}) {
		t.Fatalf("IDs(d, a) = %v, %v", ids, err)
	}
	if _, err := g.IDs("bb"); err == nil || err.Error() != `unknown asset "bb" (did you mean "b"?)` {
		t.Fatalf("IDs(bb) error = %v", err)
	}
}

func TestGraphClosures(t *testing.T) {
	t.Parallel()

	//  a -> b -> c -> d
	//       x ---^     e (from b)
	g := graphMust(t, []AssetDecl{
		graphDecl("a"),
		graphDecl("b", "a"),
		graphDecl("x"),
		graphDecl("c", "b", "x"),
		graphDecl("d", "c"),
		graphDecl("e", "b"),
	})
	ids := func(keys ...Key) []int {
		out, err := g.IDs(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	format := func(rs []Reached) string {
		var parts []string
		for _, r := range rs {
			parts = append(parts, fmt.Sprintf("%s:%d", g.ByID(r.ID).Key, r.Distance))
		}
		slices.Sort(parts)
		return strings.Join(parts, " ")
	}

	tests := []struct {
		name  string
		up    bool
		from  []Key
		depth int
		want  string // key:distance, sorted by key
	}{
		{"up unlimited", true, []Key{"d"}, -1, "a:3 b:2 c:1 d:0 x:2"},
		{"up depth 0", true, []Key{"d"}, 0, "d:0"},
		{"up depth 1", true, []Key{"d"}, 1, "c:1 d:0"},
		{"up depth 2", true, []Key{"d"}, 2, "b:2 c:1 d:0 x:2"},
		{"up two seeds keep nearest distance", true, []Key{"d", "b"}, -1, "a:1 b:0 c:1 d:0 x:2"},
		{"down unlimited", false, []Key{"a"}, -1, "a:0 b:1 c:2 d:3 e:2"},
		{"down depth 1", false, []Key{"a"}, 1, "a:0 b:1"},
		{"down from x", false, []Key{"x"}, -1, "c:1 d:2 x:0"},
		{"down duplicate seeds", false, []Key{"d", "d"}, 5, "d:0"},
		{"no seeds", false, nil, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []Reached
			if tt.up {
				got = g.UpstreamClosure(ids(tt.from...), tt.depth)
			} else {
				got = g.DownstreamClosure(ids(tt.from...), tt.depth)
			}
			if !slices.IsSortedFunc(got, func(a, b Reached) int { return a.ID - b.ID }) {
				t.Fatalf("result %v not sorted by ID", got)
			}
			if s := format(got); s != tt.want {
				t.Fatalf("got %q, want %q", s, tt.want)
			}
		})
	}
}

func TestNewGraphErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		decls []AssetDecl
		want  []string // every field error, in order
	}{
		{
			name:  "cycle",
			decls: []AssetDecl{graphDecl("x"), graphDecl("a", "b"), graphDecl("b", "c"), graphDecl("c", "a", "x")},
			want:  []string{`assets[1].deps[0].asset: dependency cycle: a -> b -> c -> a (each asset depends on the next)`},
		},
		{
			name: "two cycles and an asset downstream of one",
			decls: []AssetDecl{
				graphDecl("p", "q"), graphDecl("q", "p"), graphDecl("down", "p"),
				graphDecl("r", "s"), graphDecl("s", "t"), graphDecl("t", "r", "s"),
			},
			want: []string{
				`assets[0].deps[0].asset: dependency cycle: p -> q -> p (each asset depends on the next)`,
				`assets[3].deps[0].asset: dependency cycle: r -> s -> t -> r (each asset depends on the next)`,
			},
		},
		{
			name: "unknown dep",
			decls: []AssetDecl{
				graphDecl("raw/orders"), graphDecl("raw/customers"), graphDecl("a"), graphDecl("b"),
				graphDecl("c", "a", "raw/ordrs", "nowhere", "customers"),
			},
			want: []string{
				`assets[4].deps[1].asset: unknown asset "raw/ordrs" (did you mean "raw/orders"?)`,
				`assets[4].deps[2].asset: unknown asset "nowhere"`,
				`assets[4].deps[3].asset: unknown asset "customers" (did you mean "raw/customers"?)`,
			},
		},
		{
			name:  "duplicate key",
			decls: []AssetDecl{graphDecl("a"), graphDecl("b"), graphDecl("a", "b")},
			want:  []string{`assets[2].key: duplicate asset key "a" (also assets[0])`},
		},
		{
			name:  "duplicate dep",
			decls: []AssetDecl{graphDecl("a"), graphDecl("b", "a", "a")},
			want:  []string{`assets[1].deps[1].asset: duplicate dependency on "a" (also deps[0])`},
		},
		{
			name:  "invalid keys",
			decls: []AssetDecl{graphDecl("Bad"), graphDecl("ok", "also bad")},
			want: []string{
				`assets[0].key: asset key "Bad": segment "Bad" has 'B'; segments take only a-z, 0-9 and _`,
				`assets[1].deps[0].asset: asset key "also bad": segment "also bad" has ' '; segments take only a-z, 0-9 and _`,
			},
		},
		{
			name:  "self dependency without mapping",
			decls: []AssetDecl{graphDecl("a", "a")},
			want:  []string{`assets[0].deps[0].asset: asset "a" depends on itself; a self-dependency needs a time_window mapping with negative start_offset and end_offset, so that each partition reads earlier partitions only`},
		},
		{
			name:  "self dependency with a non-negative end offset",
			decls: []AssetDecl{{Key: "a", Partitions: graphDaily(), Deps: []DepDecl{{Asset: "a", Mapping: graphTW(-1, 0)}}}},
			want:  []string{`assets[0].deps[0].asset: asset "a" depends on itself; a self-dependency needs a time_window mapping with negative start_offset and end_offset, so that each partition reads earlier partitions only`},
		},
		{
			name: "problems in asset order",
			decls: []AssetDecl{
				graphDecl("a", "zz"), graphDecl("b", "b"), graphDecl("a"),
			},
			want: []string{
				`assets[0].deps[0].asset: unknown asset "zz"`,
				`assets[1].deps[0].asset: asset "b" depends on itself; a self-dependency needs a time_window mapping with negative start_offset and end_offset, so that each partition reads earlier partitions only`,
				`assets[2].key: duplicate asset key "a" (also assets[0])`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, err := NewGraph(tt.decls)
			if err == nil {
				t.Fatalf("NewGraph succeeded with %d assets, want errors", g.Len())
			}
			var got []string
			for _, fe := range FieldErrors(err) {
				got = append(got, fe.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if _, ok := err.(*ValidationError); !ok {
				t.Fatalf("error is %T, want *ValidationError", err)
			}
		})
	}
}

func TestNewGraphPropagatedErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		decls     []AssetDecl
		wantField string // prefix of the field of the only error
		wantIn    string // part of its problem
	}{
		{
			name: "no default mapping between different static definitions",
			decls: []AssetDecl{
				{Key: "up", Partitions: graphStatic("a", "b")},
				{Key: "down", Partitions: graphStatic("x", "y"), Deps: []DepDecl{{Asset: "up"}}},
			},
			wantField: "assets[1].deps[0].mapping",
		},
		{
			name: "time_window mapping between unpartitioned assets",
			decls: []AssetDecl{
				graphDecl("up"),
				{Key: "down", Deps: []DepDecl{{Asset: "up", Mapping: graphTW(-1, 0)}}},
			},
			wantField: "assets[1].deps[0].mapping",
		},
		{
			name: "static mapping naming a key in neither definition",
			decls: []AssetDecl{
				{Key: "up", Partitions: graphStatic("a", "b")},
				graphDecl("other"),
				{Key: "down", Partitions: graphStatic("x", "y"), Deps: []DepDecl{
					{Asset: "other"},
					{Asset: "up", Mapping: &MappingDecl{Static: map[string][]string{"a": {"x"}, "nope": {"y"}}}},
				}},
			},
			wantField: "assets[2].deps[1].mapping",
			wantIn:    "nope",
		},
		{
			// Reported once (by Validate and by building the definition),
			// and its dependents get no mapping error on top.
			name: "partitions definition error",
			decls: []AssetDecl{
				{Key: "up", Partitions: &PartitionsDecl{TimeWindow: &TimeWindowDecl{Schedule: "daily", Start: "2024-01-01", Timezone: "Mars/Base"}}},
				{Key: "down", Partitions: graphDaily(), Deps: []DepDecl{{Asset: "up"}}},
			},
			wantField: "assets[0].partitions.time_window.timezone",
			wantIn:    "Mars/Base",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewGraph(tt.decls)
			fes := FieldErrors(err)
			if len(fes) != 1 {
				t.Fatalf("NewGraph error = %v, want exactly one field error", err)
			}
			if !strings.HasPrefix(fes[0].Field, tt.wantField) || !strings.Contains(fes[0].Problem, tt.wantIn) {
				t.Fatalf("error = %q, want field %s... and a problem naming %q", fes[0].Error(), tt.wantField, tt.wantIn)
			}
		})
	}
}

func TestNewGraphCumulativeSelfDependency(t *testing.T) {
	t.Parallel()

	g := graphMust(t, []AssetDecl{
		{Key: "events", Partitions: graphDaily()},
		{Key: "running_total", Partitions: graphDaily(), Deps: []DepDecl{
			{Asset: "running_total", Mapping: graphTW(-1, -1)},
			{Asset: "events"},
		}},
		{Key: "report", Partitions: graphDaily(), Deps: []DepDecl{{Asset: "running_total"}}},
	})
	if got, want := g.Keys(), []Key{"events", "running_total", "report"}; !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	rt, _ := g.Asset("running_total")
	if rt.Deps[0].UpID != rt.ID || rt.Deps[0].Mapping == nil {
		t.Fatalf("self dep = %+v, want UpID %d and a mapping", rt.Deps[0], rt.ID)
	}
	if !slices.Contains(g.Upstream(rt.ID), rt.ID) || !slices.Contains(g.Downstream(rt.ID), rt.ID) {
		t.Fatalf("self edge missing from Upstream/Downstream of %d", rt.ID)
	}
	if got := g.UpstreamClosure([]int{rt.ID}, -1); len(got) != 2 {
		t.Fatalf("upstream closure of running_total = %v, want itself and events", got)
	}
}

// graphGenDAG draws declarations of a random DAG whose keys do not sort in
// topological order, shuffled.
func graphGenDAG(t *rapid.T) []AssetDecl {
	n := rapid.IntRange(1, 40).Draw(t, "n")
	names := rapid.Permutation(func() []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("k%02d", i)
		}
		return out
	}()).Draw(t, "names")
	decls := make([]AssetDecl, n)
	for i := range decls {
		decls[i] = graphDecl(names[i])
		if i == 0 {
			continue
		}
		ups := rapid.SliceOfNDistinct(rapid.IntRange(0, i-1), 0, min(i, 4), rapid.ID[int]).Draw(t, fmt.Sprintf("ups%d", i))
		for _, u := range ups {
			decls[i].Deps = append(decls[i].Deps, DepDecl{Asset: names[u]})
		}
	}
	return rapid.Permutation(decls).Draw(t, "decls")
}

func TestGraphTopologicalOrderProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		decls := graphGenDAG(t)
		g, err := NewGraph(decls)
		if err != nil {
			t.Fatalf("NewGraph: %v", err)
		}
		edges := 0
		for _, a := range g.Assets() {
			for _, d := range a.Deps {
				edges++
				if d.UpID >= a.ID {
					t.Fatalf("%s (ID %d) depends on %s (ID %d): upstream not first", a.Key, a.ID, d.Upstream, d.UpID)
				}
				if !slices.Contains(g.Downstream(d.UpID), a.ID) {
					t.Fatalf("Downstream(%d) misses %d", d.UpID, a.ID)
				}
			}
		}
		down := 0
		for id := range g.Len() {
			down += len(g.Downstream(id))
			if !slices.IsSorted(g.Downstream(id)) || !slices.IsSorted(g.Upstream(id)) {
				t.Fatalf("adjacency of %d not sorted", id)
			}
		}
		if down != edges {
			t.Fatalf("%d downstream edges, %d deps", down, edges)
		}
		// Deterministic whatever the declaration order.
		again := graphMust(t, rapid.Permutation(decls).Draw(t, "again"))
		if !slices.Equal(g.Keys(), again.Keys()) {
			t.Fatalf("order %v then %v", g.Keys(), again.Keys())
		}
	})
}

func TestGraphClosureDepthProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		g := graphMust(t, graphGenDAG(t))
		seeds := rapid.SliceOfN(rapid.IntRange(0, g.Len()-1), 1, 3).Draw(t, "seeds")
		up := rapid.Bool().Draw(t, "up")
		closure := g.DownstreamClosure
		if up {
			closure = g.UpstreamClosure
		}
		prev := closure(seeds, 0)
		for d := 1; d <= g.Len(); d++ {
			cur := closure(seeds, d)
			for _, r := range prev {
				i := slices.IndexFunc(cur, func(c Reached) bool { return c.ID == r.ID })
				if i < 0 || cur[i].Distance != r.Distance {
					t.Fatalf("closure(%d) has %+v, closure(%d) = %+v", d-1, r, d, cur)
				}
			}
			for _, r := range cur {
				if r.Distance > d {
					t.Fatalf("closure(%d) has %+v farther than %d", d, r, d)
				}
			}
			prev = cur
		}
		if all := closure(seeds, -1); !slices.Equal(all, prev) {
			t.Fatalf("unlimited closure %v, closure(n) %v", all, prev)
		}
	})
}

func TestGraphCycleProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		decls := graphGenDAG(t)
		g := graphMust(t, decls)
		// A dep from an asset to one of its strict descendants closes a cycle.
		from := rapid.IntRange(0, g.Len()-1).Draw(t, "from")
		below := g.DownstreamClosure([]int{from}, -1)
		if len(below) < 2 {
			return
		}
		to := below[rapid.IntRange(1, len(below)-1).Draw(t, "to")].ID
		i := slices.IndexFunc(decls, func(d AssetDecl) bool { return d.Key == string(g.ByID(from).Key) })
		decls = slices.Clone(decls)
		decls[i].Deps = append(slices.Clone(decls[i].Deps), DepDecl{Asset: string(g.ByID(to).Key)})
		_, err := NewGraph(decls)
		fes := FieldErrors(err)
		if len(fes) != 1 || !strings.Contains(fes[0].Problem, "dependency cycle: ") {
			t.Fatalf("NewGraph error = %v, want one cycle", err)
		}
	})
}

func TestGraphConcurrentQueries(t *testing.T) {
	t.Parallel()

	// A chain k000 <- k001 <- ... with a fan from k000: closures share the
	// graph's scratch buffers across goroutines.
	var decls []AssetDecl
	for i := range 200 {
		d := graphDecl(fmt.Sprintf("k%03d", i))
		if i > 0 {
			d.Deps = append(d.Deps, DepDecl{Asset: fmt.Sprintf("k%03d", i-1)})
		}
		if i > 1 && i%7 == 0 {
			d.Deps = append(d.Deps, DepDecl{Asset: "k000"})
		}
		decls = append(decls, d)
	}
	g := graphMust(t, decls)
	wantDown := g.DownstreamClosure([]int{100}, 10)
	wantUp := g.UpstreamClosure([]int{150}, -1)
	wantSel, err := g.Select("2+k120+3")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if got := g.DownstreamClosure([]int{100}, 10); !slices.Equal(got, wantDown) {
					t.Errorf("DownstreamClosure = %v, want %v", got, wantDown)
					return
				}
				if got := g.UpstreamClosure([]int{150}, -1); !slices.Equal(got, wantUp) {
					t.Errorf("UpstreamClosure = %v, want %v", got, wantUp)
					return
				}
				if got, err := g.Select("2+k120+3"); err != nil || !slices.Equal(got, wantSel) {
					t.Errorf("Select = %v, %v, want %v", got, err, wantSel)
					return
				}
			}
		})
	}
	wg.Wait()
	// k120, k119 and k118 upstream (k119 also reads k000), k121..k123 downstream.
	if got, want := graphKeysOf(g, wantSel), []string{"k000", "k118", "k119", "k120", "k121", "k122", "k123"}; !slices.Equal(got, want) {
		t.Fatalf("2+k120+3 selected %v, want %v", got, want)
	}
}

func TestNewGraphMultiSelfDependency(t *testing.T) {
	t.Parallel()

	multi := &PartitionsDecl{Multi: []DimensionDecl{
		{Name: "date", TimeWindow: &TimeWindowDecl{Schedule: "daily", Start: "2024-01-01"}},
		{Name: "region", Static: []string{"eu", "us"}},
	}}
	g, err := NewGraph([]AssetDecl{{Key: "balances", Partitions: multi, Deps: []DepDecl{{
		Asset:   "balances",
		Mapping: &MappingDecl{Multi: map[string]*MappingDecl{"date": graphTW(-1, -1)}},
	}}}})
	if err != nil {
		t.Fatalf("NewGraph: %v", err)
	}
	if a := g.ByID(0); a.Deps[0].UpID != 0 || a.Deps[0].Mapping == nil {
		t.Fatalf("self dep = %+v", a.Deps[0])
	}

	_, err = NewGraph([]AssetDecl{{Key: "balances", Partitions: multi, Deps: []DepDecl{{
		Asset:   "balances",
		Mapping: &MappingDecl{Multi: map[string]*MappingDecl{"region": {Identity: &Empty{}}}},
	}}}})
	if fes := FieldErrors(err); len(fes) != 1 || !strings.Contains(fes[0].Problem, "depends on itself") {
		t.Fatalf("NewGraph error = %v, want a rejected self-dependency", err)
	}
}
