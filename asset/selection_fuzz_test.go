package asset

import (
	"errors"
	"slices"
	"testing"
	"unicode/utf8"
)

func FuzzParseSelection(f *testing.F) {
	for _, s := range []string{
		"", "*", "raw/orders", "key:raw/orders", `key:"raw/orders"`, "analytics/*", "key:*/orders",
		"+a", "a+", "+a+", "2+a", "a+1", "1+a+2", "02+a", "2+3", "key:2+3", "2+", "+(a or b)+2", "+(+a)",
		"group:finance", "group: finance", "tag:tier=gold", "tag:pii", `tag:"cost center"="R&D"`, `tag:x=""`,
		"owner:team:finance", `owner:"alice@example.com"`, "owner::x", "group::",
		"a and b or c", "(a or b) and not c", "not not a", "NOT a AND b OR c", "roots(a)+", "sinks(+a)",
		"a and +", "(a or b", "grp:x", "a & b", `tag:"\q"`, "99999999+a", "key:and", "key:NOT",
		"a b", "()", "roots (a)", "+ a +", "tag:a=b=c", "\"a\"", "key:\"*\"",
	} {
		f.Add(s)
	}
	g := graphMust(f, []AssetDecl{
		{Key: "a", Group: "finance", Tags: map[string]string{"tier": "gold"}},
		{Key: "b", Owners: []string{"team:finance"}, Deps: []DepDecl{{Asset: "a"}}},
		{Key: "c", Deps: []DepDecl{{Asset: "a"}, {Asset: "b"}}},
		{Key: "raw/orders"},
		{Key: "2", Deps: []DepDecl{{Asset: "c"}}},
	})

	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelection(s)
		if err != nil {
			var se *SelectionError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSelection(%q) error is %T, want *SelectionError", s, err)
			}
			if se.Position < 0 || se.Position > utf8.RuneCountInString(s)+1 {
				t.Fatalf("ParseSelection(%q): position %d out of range", s, se.Position)
			}
			_ = err.Error()
			return
		}
		printed := sel.String()
		again, err := ParseSelection(printed)
		if err != nil {
			t.Fatalf("ParseSelection(%q) = %q, which does not parse: %v", s, printed, err)
		}
		if again.String() != printed {
			t.Fatalf("ParseSelection(%q) = %q, re-parsed as %q", s, printed, again.String())
		}
		ids, err := sel.Resolve(g)
		if err != nil {
			_ = err.Error()
			return
		}
		if !slices.IsSorted(ids) || len(ids) > g.Len() {
			t.Fatalf("Resolve(%q) = %v", s, ids)
		}
		ids2, err := again.Resolve(g)
		if err != nil || !slices.Equal(ids, ids2) {
			t.Fatalf("Resolve(%q) = %v, Resolve(%q) = %v, %v", s, ids, printed, ids2, err)
		}
	})
}
