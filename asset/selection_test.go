package asset

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// selTestGraph:
//
//	raw/orders ------> staging/orders -----> analytics/revenue --> reports/weekly
//	raw/customers ---> staging/customers --^
//	                                     \-> analytics/churn ----> ml/features
func selTestGraph(t *testing.T) *Graph {
	t.Helper()
	return graphMust(t, []AssetDecl{
		{Key: "raw/orders", Group: "ingest", Owners: []string{"alice@example.com"}, Tags: map[string]string{"tier": "bronze"}},
		{Key: "raw/customers", Group: "ingest", Tags: map[string]string{"tier": "bronze", "pii": "yes"}},
		{Key: "staging/orders", Group: "staging", Tags: map[string]string{"tier": "silver"}, Deps: []DepDecl{{Asset: "raw/orders"}}},
		{Key: "staging/customers", Group: "staging", Tags: map[string]string{"pii": "yes"}, Deps: []DepDecl{{Asset: "raw/customers"}}},
		{Key: "analytics/revenue", Group: "finance", Owners: []string{"team:finance"}, Tags: map[string]string{"tier": "gold", "cost center": "R&D"},
			Deps: []DepDecl{{Asset: "staging/orders"}, {Asset: "staging/customers"}}},
		{Key: "analytics/churn", Group: "finance", Tags: map[string]string{"tier": "gold"}, Deps: []DepDecl{{Asset: "staging/customers"}}},
		{Key: "reports/weekly", Group: "finance", Owners: []string{"team:finance"}, Deps: []DepDecl{{Asset: "analytics/revenue"}}},
		{Key: "ml/features", Group: "ml", Deps: []DepDecl{{Asset: "analytics/churn"}}},
	})
}

func TestSelectResolve(t *testing.T) {
	t.Parallel()
	g := selTestGraph(t)

	tests := []struct {
		expr   string
		want   string // selected keys, sorted, space-separated
		string string // canonical form; "" means expr itself
	}{
		// Keys and globs.
		{expr: "raw/orders", want: "raw/orders"},
		{expr: "  key:raw/orders ", want: "raw/orders", string: "raw/orders"},
		{expr: `key:"raw/orders"`, want: "raw/orders", string: "raw/orders"},
		{expr: "*", want: "analytics/churn analytics/revenue ml/features raw/customers raw/orders reports/weekly staging/customers staging/orders"},
		{expr: "key:*", want: "analytics/churn analytics/revenue ml/features raw/customers raw/orders reports/weekly staging/customers staging/orders", string: "*"},
		{expr: "analytics/*", want: "analytics/churn analytics/revenue"},
		{expr: "key:*/orders", want: "raw/orders staging/orders", string: "*/orders"},
		{expr: "*/*s", want: "ml/features raw/customers raw/orders staging/customers staging/orders"},
		{expr: "nothing/*", want: ""},

		// Traversals.
		{expr: "+staging/orders", want: "raw/orders staging/orders"},
		{expr: "staging/customers+", want: "analytics/churn analytics/revenue ml/features reports/weekly staging/customers"},
		{expr: "staging/customers+1", want: "analytics/churn analytics/revenue staging/customers"},
		{expr: "staging/customers+0", want: "staging/customers"},
		{expr: "1+analytics/revenue", want: "analytics/revenue staging/customers staging/orders"},
		{expr: "2+reports/weekly", want: "analytics/revenue reports/weekly staging/customers staging/orders"},
		{expr: "+analytics/churn+", want: "analytics/churn ml/features raw/customers staging/customers"},
		{expr: "1+analytics/churn+1", want: "analytics/churn ml/features staging/customers"},
		{expr: "+ staging/orders +", want: "analytics/revenue raw/orders reports/weekly staging/orders", string: "+staging/orders+"},
		{expr: "+(reports/weekly or ml/features)", want: "analytics/churn analytics/revenue ml/features raw/customers raw/orders reports/weekly staging/customers staging/orders"},
		{expr: "group:finance+", want: "analytics/churn analytics/revenue ml/features reports/weekly"},
		{expr: "1+tag:tier=gold", want: "analytics/churn analytics/revenue staging/customers staging/orders"},

		// Attributes.
		{expr: "group:finance", want: "analytics/churn analytics/revenue reports/weekly"},
		{expr: "group: finance", want: "analytics/churn analytics/revenue reports/weekly", string: "group:finance"},
		{expr: "group:nope", want: ""},
		{expr: "tag:tier=gold", want: "analytics/churn analytics/revenue"},
		{expr: "tag:pii", want: "raw/customers staging/customers"},
		{expr: "tag:pii=no", want: ""},
		{expr: `tag:"cost center"="R&D"`, want: "analytics/revenue"},
		{expr: "owner:team:finance", want: "analytics/revenue reports/weekly"},
		{expr: `owner:"alice@example.com"`, want: "raw/orders", string: "owner:alice@example.com"},

		// Set algebra and precedence: not > and > or.
		{expr: "group:finance and not tag:tier=gold", want: "reports/weekly"},
		{expr: "group:ingest or group:ml", want: "ml/features raw/customers raw/orders"},
		{expr: "not group:finance and group:staging", want: "staging/customers staging/orders"},
		{expr: "group:ml or group:staging and tag:pii", want: "ml/features staging/customers"},
		{expr: "(group:ml or group:staging) and tag:pii", want: "staging/customers"},
		{expr: "not (group:finance or group:ingest)", want: "ml/features staging/customers staging/orders"},
		{expr: "not not raw/orders", want: "raw/orders"},
		{expr: "NOT group:finance AND group:staging OR Group:ml", want: "", string: "-"},
		{expr: "Not group:finance And group:staging Or group:ml", want: "ml/features staging/customers staging/orders", string: "not group:finance and group:staging or group:ml"},
		{expr: "((raw/orders))", want: "raw/orders", string: "raw/orders"},

		// Functions.
		{expr: "roots(group:finance)", want: "analytics/churn analytics/revenue"},
		{expr: "sinks(group:finance)", want: "analytics/churn reports/weekly"},
		{expr: "sinks(+reports/weekly)", want: "reports/weekly"},
		{expr: "roots(*)+1", want: "raw/customers raw/orders staging/customers staging/orders"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			sel, err := ParseSelection(tt.expr)
			if tt.string == "-" {
				// "Group" is not an attribute: attributes are lowercase.
				if err == nil {
					t.Fatalf("ParseSelection(%q) = %s, want an error", tt.expr, sel)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSelection(%q): %v", tt.expr, err)
			}
			wantString := tt.string
			if wantString == "" {
				wantString = tt.expr
			}
			if got := sel.String(); got != wantString {
				t.Errorf("String() = %q, want %q", got, wantString)
			}
			ids, err := sel.Resolve(g)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if !slices.IsSorted(ids) {
				t.Errorf("Resolve = %v, not in ascending ID order", ids)
			}
			got := graphKeysOf(g, ids)
			slices.Sort(got)
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("selected %q, want %q", s, tt.want)
			}
			viaGraph, err := g.Select(tt.expr)
			if err != nil || !slices.Equal(viaGraph, ids) {
				t.Errorf("g.Select = %v, %v; Resolve = %v", viaGraph, err, ids)
			}
			keys, err := sel.ResolveKeys(g)
			if err != nil || len(keys) != len(ids) {
				t.Errorf("ResolveKeys = %v, %v", keys, err)
			}
		})
	}
}

func TestSelectionString(t *testing.T) {
	t.Parallel()

	tests := []struct{ in, want string }{
		{"a or (b or c)", "a or (b or c)"},
		{"a or b or c", "a or b or c"},
		{"(a and b) and c", "(a and b) and c"},
		{"a and (b or c)", "a and (b or c)"},
		{"a and b or c", "a and b or c"},
		{"(a and b) or c", "a and b or c"},
		{"not (a or b)", "not (a or b)"},
		{"not (a and b)", "not (a and b)"},
		{"not +a", "not +a"},
		{"+(a or b)+2", "+(a or b)+2"},
		{"+(+a)", "+(+a)"},
		{"+(not a)", "+(not a)"},
		{"02+a", "2+a"},
		{"2+3", "2+key:3"},
		{"key:2+3", "key:2+3"},
		{"key:2", "key:2"},
		{"2+", "key:2+"},
		{"key:and or key:NOT", "key:and or key:NOT"},
		{`tag:"cost center"="R&D"`, `tag:"cost center"="R&D"`},
		{`tag:x=""`, `tag:x=""`},
		{`tag:"x"="y"`, "tag:x=y"},
		{"owner:team:data", "owner:team:data"},
		{"roots(a)+", "roots(a)+"},
		{"sinks( a or b )", "sinks(a or b)"},
		{"roots", "roots"},
		{"group", "group"},
		{"(a)", "a"},
		{"a+ or b", "a+ or b"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			sel, err := ParseSelection(tt.in)
			if err != nil {
				if tt.in == "key:and or key:NOT" {
					return // NOT is not a key; checked by TestSelectionErrors
				}
				t.Fatalf("ParseSelection(%q): %v", tt.in, err)
			}
			if got := sel.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			again, err := ParseSelection(sel.String())
			if err != nil || again.String() != tt.want {
				t.Fatalf("re-parse of %q = %q, %v", sel.String(), again.String(), err)
			}
			text, _ := sel.MarshalText()
			var un Selection
			if err := un.UnmarshalText(text); err != nil || un.String() != tt.want {
				t.Fatalf("UnmarshalText(%q) = %q, %v", text, un.String(), err)
			}
		})
	}
}

func TestSelectionErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in      string
		pos     int
		problem string
	}{
		{"", 1, "empty selection"},
		{"   ", 4, "empty selection"},
		{"+", 2, `expected an asset key after "+"`},
		{"a and +", 8, `expected an asset key after "+"`},
		{"a and + or b", 9, `expected an asset key after "+", found "or"`},
		{"a and", 6, `expected an asset selection after "and"`},
		{"not", 4, `expected an asset selection after "not"`},
		{"or a", 1, `expected an asset selection, found "or"`},
		{"a b", 3, `unexpected "b"; expected "and", "or" or the end`},
		{"a)", 2, `unexpected ")"; expected "and", "or" or the end`},
		{"(a or b", 8, `expected ")" to close "(" at position 1, found end of selection`},
		{"roots(a", 8, `expected ")" to close "roots(" at position 6, found end of selection`},
		{"()", 2, `expected an asset selection after "(", found ")"`},
		{"grp:x", 1, `unknown attribute "grp" (want key, group, tag or owner)`},
		{"Raw/Orders", 1, `asset key "Raw/Orders": segment "Raw" has 'R'; segments take only a-z, 0-9 and _`},
		{"key:NOT", 5, `asset key "NOT": segment "NOT" has 'N'; segments take only a-z, 0-9 and _`},
		{"a//b", 1, `asset key "a//b" has an empty segment (segment 1)`},
		{`key:""`, 5, `asset key is empty`},
		{"key:", 5, `expected an asset key after "key:", found end of selection`},
		{"group:", 7, `expected a group name after "group:", found end of selection`},
		{"owner:)", 7, `expected an owner after "owner:", found ")"`},
		{"tag:", 5, `expected a tag name after "tag:", found end of selection`},
		{"tag:tier=", 10, `expected a tag value after "=", found end of selection`},
		{"a & b", 3, `unexpected character '&'`},
		{"a é", 3, `unexpected character 'é'`},
		{`tag:"é" & b`, 9, `unexpected character '&'`},
		{`tag:"abc`, 5, `unterminated string`},
		{`tag:"\q"`, 5, `invalid string "\q"`},
		{"99999999+a", 1, `depth 99999999 is too large (at most 1048576)`},
		{"analytics/Rev*", 1, `invalid key pattern "analytics/Rev*": 'R' is not allowed (keys take a-z, 0-9, _ and /)`},
		{strings.Repeat("(", 300) + "a" + strings.Repeat(")", 300), 201, `selection nested more than 200 levels deep`},
		{strings.Repeat("not ", 300) + "a", 801, `selection nested more than 200 levels deep`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			sel, err := ParseSelection(tt.in)
			if err == nil {
				t.Fatalf("ParseSelection(%q) = %q, want an error", tt.in, sel.String())
			}
			var se *SelectionError
			if !errors.As(err, &se) {
				t.Fatalf("error is %T, want *SelectionError", err)
			}
			if se.Position != tt.pos || se.Problem != tt.problem {
				t.Fatalf("error at position %d: %q; want position %d: %q", se.Position, se.Problem, tt.pos, tt.problem)
			}
		})
	}
}

func TestSelectionErrorMessage(t *testing.T) {
	t.Parallel()

	_, err := ParseSelection("a and +")
	want := "selection: position 8: expected an asset key after \"+\"\n" +
		"  a and +\n" +
		"         ^"
	if err == nil || err.Error() != want {
		t.Fatalf("error =\n%v\nwant\n%s", err, want)
	}

	g := selTestGraph(t)
	_, err = g.Select("group:finance and +raw/ordrs")
	want = "selection: position 20: unknown asset \"raw/ordrs\" (did you mean \"raw/orders\"?)\n" +
		"  group:finance and +raw/ordrs\n" +
		"                     ^"
	if err == nil || err.Error() != want {
		t.Fatalf("error =\n%v\nwant\n%s", err, want)
	}

	_, err = g.Select("nowhere")
	if want := "selection: position 1: unknown asset \"nowhere\"\n  nowhere\n  ^"; err == nil || err.Error() != want {
		t.Fatalf("error =\n%v\nwant\n%s", err, want)
	}

	// A long selection is echoed around the problem only.
	long := strings.Repeat("a or ", 40) + "Bad"
	_, err = ParseSelection(long)
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 || len(lines[1]) > 120 || strings.Index(lines[2], "^") != strings.Index(lines[1], "Bad") {
		t.Fatalf("long selection error =\n%v", err)
	}
}

func TestSelectionZeroAndEmptyGraph(t *testing.T) {
	t.Parallel()

	g := graphMust(t, nil)
	var zero Selection
	if ids, err := zero.Resolve(g); err != nil || len(ids) != 0 || zero.String() != "" {
		t.Fatalf("zero selection: %v, %v, %q", ids, err, zero.String())
	}
	for _, expr := range []string{"*", "not *", "+*+", "group:x", "roots(*)"} {
		if ids, err := g.Select(expr); err != nil || len(ids) != 0 {
			t.Fatalf("Select(%q) on an empty graph = %v, %v", expr, ids, err)
		}
	}
}

func TestSelectNotAllOnLargeGraph(t *testing.T) {
	t.Parallel()

	// 130 assets: the complement must not select IDs past the last asset.
	var decls []AssetDecl
	for i := range 130 {
		decls = append(decls, graphDecl("a"+strings.Repeat("x", i)))
	}
	g := graphMust(t, decls)
	ids, err := g.Select("not a")
	if err != nil || len(ids) != 129 || ids[len(ids)-1] != 129 {
		t.Fatalf("Select(not a) = %d ids, %v", len(ids), err)
	}
}

func ExampleGraph_Select() {
	g, err := NewGraph([]AssetDecl{
		{Key: "raw/orders", Group: "ingest"},
		{Key: "staging/orders", Deps: []DepDecl{{Asset: "raw/orders"}}},
		{Key: "analytics/revenue", Group: "finance", Deps: []DepDecl{{Asset: "staging/orders"}}},
		{Key: "reports/weekly", Group: "finance", Deps: []DepDecl{{Asset: "analytics/revenue"}}},
	})
	if err != nil {
		panic(err)
	}
	ids, err := g.Select("1+analytics/revenue+ and not group:finance or raw/*")
	if err != nil {
		panic(err)
	}
	for _, id := range ids {
		fmt.Println(g.ByID(id).Key)
	}
	_, err = g.Select("+raw/ordrs")
	fmt.Println(err)
	// Output:
	// raw/orders
	// staging/orders
	// selection: position 2: unknown asset "raw/ordrs" (did you mean "raw/orders"?)
	//   +raw/ordrs
	//    ^
}

func ExampleParseSelection() {
	sel, err := ParseSelection("( +a+ ) AND NOT ( group:finance OR tag:tier=gold )")
	if err != nil {
		panic(err)
	}
	fmt.Println(sel)
	_, err = ParseSelection("a and +")
	fmt.Println(err)
	// Output:
	// +a+ and not (group:finance or tag:tier=gold)
	// selection: position 8: expected an asset key after "+"
	//   a and +
	//          ^
}

func ExampleNewGraph() {
	_, err := NewGraph([]AssetDecl{
		{Key: "a", Deps: []DepDecl{{Asset: "b"}}},
		{Key: "b", Deps: []DepDecl{{Asset: "a"}}},
		{Key: "c", Deps: []DepDecl{{Asset: "raw/ordrs"}}},
		{Key: "raw/orders"},
	})
	fmt.Println(err)
	// Output:
	// 2 problems:
	//   assets[0].deps[0].asset: dependency cycle: a -> b -> a (each asset depends on the next)
	//   assets[2].deps[0].asset: unknown asset "raw/ordrs" (did you mean "raw/orders"?)
}
