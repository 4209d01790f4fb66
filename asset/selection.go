package asset

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Selection is a parsed asset selection, in Dagster's asset selection
// syntax:
//
//	analytics/daily_revenue       one asset, by key (also key:analytics/daily_revenue)
//	analytics/*                   keys matching a glob; * matches any characters, / included
//	*                             every asset
//	+key   key+   +key+           the asset and all its upstream / downstream assets
//	2+key  key+1  1+key+2         ... up to that many edges away
//	group:finance                 assets of a group
//	owner:team:data               assets with an owner
//	tag:tier=gold   tag:tier      assets with a tag value / with the tag at all
//	roots(sel)  sinks(sel)        assets of sel with nothing upstream / downstream in sel
//	not a   a and b   a or b      set algebra; precedence not > and > or
//	( ... )                       grouping; +(a or b)+ traverses from a group
//
// Attribute values that are not plain words are written as Go-quoted
// strings: tag:"cost center"="R&D". The keywords and, or, not are
// case-insensitive; a key that is a keyword or all digits is written
// key:and, key:2. A leading number is a depth only when "+" and an operand
// follow: 2+x is x and its upstream up to 2 edges away.
//
// A Selection is immutable; String prints it in a canonical form that
// parses back to the same selection. The zero Selection selects nothing.
type Selection struct {
	root  selNode
	input string
}

// ParseSelection parses s. Errors are *SelectionError, which point at the
// position of the problem.
func ParseSelection(s string) (Selection, error) {
	if len(s) > maxSelectionLen {
		return Selection{}, &SelectionError{Input: s[:64] + "...", Problem: fmt.Sprintf("selection is %d bytes long, more than %d", len(s), maxSelectionLen)}
	}
	toks, err := lexSelection(s)
	if err != nil {
		return Selection{}, err
	}
	p := &selParser{input: s, toks: toks}
	if toks[0].kind == selEOF {
		return Selection{}, p.errAt(toks[0], "empty selection")
	}
	root, err := p.parseOr()
	if err != nil {
		return Selection{}, err
	}
	if t := p.peek(); t.kind != selEOF {
		return Selection{}, p.errAt(t, "unexpected %s; expected \"and\", \"or\" or the end", t.describe())
	}
	return Selection{root: root, input: s}, nil
}

// String returns the selection in canonical form.
func (s Selection) String() string {
	if s.root == nil {
		return ""
	}
	var b strings.Builder
	s.root.format(&b)
	return b.String()
}

// MarshalText returns the canonical form.
func (s Selection) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a selection.
func (s *Selection) UnmarshalText(text []byte) error {
	sel, err := ParseSelection(string(text))
	if err != nil {
		return err
	}
	*s = sel
	return nil
}

// Resolve returns the IDs of the selected assets of g in ascending order
// (topological order). A key that is not in g is an error naming it.
func (s Selection) Resolve(g *Graph) ([]int, error) {
	if s.root == nil {
		return []int{}, nil
	}
	e := selEvaluator{g: g, sel: s}
	set, err := e.eval(s.root)
	if err != nil {
		return nil, err
	}
	return set.ids(), nil
}

// ResolveKeys is Resolve returning keys, in topological order.
func (s Selection) ResolveKeys(g *Graph) ([]Key, error) {
	ids, err := s.Resolve(g)
	if err != nil {
		return nil, err
	}
	out := make([]Key, len(ids))
	for i, id := range ids {
		out[i] = g.assets[id].Key
	}
	return out, nil
}

// Select parses expr and resolves it against g, returning asset IDs in
// ascending (topological) order.
func (g *Graph) Select(expr string) ([]int, error) {
	s, err := ParseSelection(expr)
	if err != nil {
		return nil, err
	}
	return s.Resolve(g)
}

// SelectionError is a problem in a selection, at a position of its text.
type SelectionError struct {
	Input    string // the selection's text
	Offset   int    // byte offset of the problem in Input
	Position int    // 1-based character position of the problem, 0 when none
	Problem  string
}

func (e *SelectionError) Error() string {
	if e.Position == 0 {
		return "selection: " + e.Problem
	}
	// Echo the input with a caret under the problem, on one line.
	runes := []rune(strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return ' '
		}
		return r
	}, e.Input))
	col := e.Position - 1
	lo, hi, prefix, suffix := 0, len(runes), "", ""
	if col > 60 {
		lo, prefix = col-50, "..."
	}
	if hi-lo > 100 {
		hi, suffix = lo+100, "..."
	}
	caret := strings.Repeat(" ", len(prefix)+col-lo)
	return fmt.Sprintf("selection: position %d: %s\n  %s%s%s\n  %s^", e.Position, e.Problem, prefix, string(runes[lo:hi]), suffix, caret)
}

const (
	maxSelectionLen   = 64 << 10
	maxSelectionNest  = 200
	maxSelectionDepth = 1 << 20
)

// Precedence levels, for printing parentheses only where needed.
const (
	selPrecOr = iota + 1
	selPrecAnd
	selPrecNot
	selPrecTraversal
	selPrecPrimary
)

type selNode interface {
	format(b *strings.Builder)
	prec() int
}

type (
	selAll struct{}
	selKey struct {
		key Key
		pos int // byte offset in the input, for errors
	}
	selGlob struct{ pattern string }
	selAttr struct {
		attr     string // "group", "owner" or "tag"
		name     string // group name, owner, tag name
		value    string // tag value
		hasValue bool   // tag:name=value rather than tag:name
	}
	selNot struct{ x selNode }
	selBin struct {
		and bool // and, else or
		xs  []selNode
	}
	selTrav struct {
		x        selNode
		up, down int // depth in edges, -1 unlimited, selNoTraversal when absent
	}
	selFunc struct {
		name string // "roots" or "sinks"
		x    selNode
	}
)

const selNoTraversal = -2

func (selAll) prec() int  { return selPrecPrimary }
func (selKey) prec() int  { return selPrecPrimary }
func (selGlob) prec() int { return selPrecPrimary }
func (selAttr) prec() int { return selPrecPrimary }
func (selFunc) prec() int { return selPrecPrimary }
func (selTrav) prec() int { return selPrecTraversal }
func (selNot) prec() int  { return selPrecNot }
func (n selBin) prec() int {
	if n.and {
		return selPrecAnd
	}
	return selPrecOr
}

func (selAll) format(b *strings.Builder) { b.WriteString("*") }

func (n selKey) format(b *strings.Builder) {
	s := string(n.key)
	if selIsKeyword(s) || selIsDigits(s) {
		b.WriteString("key:")
	}
	b.WriteString(s)
}

func (n selGlob) format(b *strings.Builder) { b.WriteString(n.pattern) }

func (n selAttr) format(b *strings.Builder) {
	b.WriteString(n.attr)
	b.WriteString(":")
	b.WriteString(selFormatValue(n.name))
	if n.hasValue {
		b.WriteString("=")
		b.WriteString(selFormatValue(n.value))
	}
}

func (n selNot) format(b *strings.Builder) {
	b.WriteString("not ")
	selFormatChild(b, n.x, n.x.prec() < selPrecNot)
}

func (n selBin) format(b *strings.Builder) {
	op := " or "
	if n.and {
		op = " and "
	}
	for i, x := range n.xs {
		if i > 0 {
			b.WriteString(op)
		}
		selFormatChild(b, x, x.prec() <= n.prec())
	}
}

func (n selTrav) format(b *strings.Builder) {
	if n.up != selNoTraversal {
		if n.up >= 0 {
			b.WriteString(strconv.Itoa(n.up))
		}
		b.WriteString("+")
	}
	selFormatChild(b, n.x, n.x.prec() < selPrecPrimary)
	if n.down != selNoTraversal {
		b.WriteString("+")
		if n.down >= 0 {
			b.WriteString(strconv.Itoa(n.down))
		}
	}
}

func (n selFunc) format(b *strings.Builder) {
	b.WriteString(n.name)
	b.WriteString("(")
	n.x.format(b)
	b.WriteString(")")
}

func selFormatChild(b *strings.Builder, x selNode, parens bool) {
	if parens {
		b.WriteString("(")
	}
	x.format(b)
	if parens {
		b.WriteString(")")
	}
}

// selFormatValue writes an attribute value bare when it lexes back to itself,
// else quoted.
func selFormatValue(v string) string {
	if v == "" {
		return strconv.Quote(v)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !selIsWordChar(c) && c != ':' {
			return strconv.Quote(v)
		}
	}
	return v
}

func selIsKeyword(s string) bool {
	return strings.EqualFold(s, "and") || strings.EqualFold(s, "or") || strings.EqualFold(s, "not")
}

func selIsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func selIsWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '/' || c == '*' || c == '.' || c == '@' || c == '-'
}

// Lexer.

type selTokKind int

const (
	selEOF selTokKind = iota
	selWord
	selString
	selLParen
	selRParen
	selPlus
	selColon
	selEquals
)

type selToken struct {
	kind     selTokKind
	text     string // a word, or a string's unquoted value
	pos, end int    // byte offsets in the input
}

func (t selToken) describe() string {
	switch t.kind {
	case selEOF:
		return "end of selection"
	case selString:
		return "string " + strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

func lexSelection(s string) ([]selToken, error) {
	var toks []selToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case selIsWordChar(c):
			j := i + 1
			for j < len(s) && selIsWordChar(s[j]) {
				j++
			}
			toks = append(toks, selToken{kind: selWord, text: s[i:j], pos: i, end: j})
			i = j
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, selErr(s, i, "unterminated string")
			}
			v, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				return nil, selErr(s, i, "invalid string %s", s[i:j+1])
			}
			toks = append(toks, selToken{kind: selString, text: v, pos: i, end: j + 1})
			i = j + 1
		case c == '(' || c == ')' || c == '+' || c == ':' || c == '=':
			kind := selLParen
			switch c {
			case ')':
				kind = selRParen
			case '+':
				kind = selPlus
			case ':':
				kind = selColon
			case '=':
				kind = selEquals
			}
			toks = append(toks, selToken{kind: kind, text: s[i : i+1], pos: i, end: i + 1})
			i++
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, selErr(s, i, "unexpected character %q", r)
		}
	}
	return append(toks, selToken{kind: selEOF, pos: len(s), end: len(s)}), nil
}

func selErr(input string, offset int, format string, args ...any) *SelectionError {
	return &SelectionError{
		Input:    input,
		Offset:   offset,
		Position: utf8.RuneCountInString(input[:offset]) + 1,
		Problem:  fmt.Sprintf(format, args...),
	}
}

// Parser: recursive descent over
//
//	or        = and { "or" and }
//	and       = not { "and" not }
//	not       = "not" not | traversal
//	traversal = [ [digits] "+" ] primary [ "+" [digits] ]
//	primary   = "*" | key | glob | attr ":" value | func "(" or ")" | "(" or ")"
type selParser struct {
	input string
	toks  []selToken
	i     int
	nest  int
}

func (p *selParser) peek() selToken { return p.toks[p.i] }

func (p *selParser) peekAt(k int) selToken {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

func (p *selParser) next() selToken {
	t := p.toks[p.i]
	if t.kind != selEOF {
		p.i++
	}
	return t
}

func (p *selParser) errAt(t selToken, format string, args ...any) error {
	return selErr(p.input, t.pos, format, args...)
}

func (p *selParser) selIsKeyword(t selToken, kw string) bool {
	return t.kind == selWord && strings.EqualFold(t.text, kw)
}

func (p *selParser) enter(t selToken) error {
	if p.nest++; p.nest > maxSelectionNest {
		return p.errAt(t, "selection nested more than %d levels deep", maxSelectionNest)
	}
	return nil
}

func (p *selParser) parseOr() (selNode, error) {
	x, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	xs := []selNode{x}
	for p.selIsKeyword(p.peek(), "or") {
		p.next()
		y, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return selBin{xs: xs}, nil
}

func (p *selParser) parseAnd() (selNode, error) {
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	xs := []selNode{x}
	for p.selIsKeyword(p.peek(), "and") {
		p.next()
		y, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return selBin{and: true, xs: xs}, nil
}

func (p *selParser) parseNot() (selNode, error) {
	if t := p.peek(); p.selIsKeyword(t, "not") {
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		p.nest--
		return selNot{x: x}, nil
	}
	return p.parseTraversal()
}

func (p *selParser) startsPrimary(t selToken) bool {
	return t.kind == selLParen || t.kind == selWord && !selIsKeyword(t.text)
}

func (p *selParser) parseDepth(t selToken) (int, error) {
	n, err := strconv.Atoi(t.text)
	if err != nil || n > maxSelectionDepth {
		return 0, p.errAt(t, "depth %s is too large (at most %d)", t.text, maxSelectionDepth)
	}
	return n, nil
}

func (p *selParser) parseTraversal() (selNode, error) {
	t := selTrav{up: selNoTraversal, down: selNoTraversal}
	switch tok := p.peek(); {
	case tok.kind == selPlus:
		p.next()
		t.up = -1
	case tok.kind == selWord && selIsDigits(tok.text) && p.peekAt(1).kind == selPlus && p.startsPrimary(p.peekAt(2)):
		d, err := p.parseDepth(tok)
		if err != nil {
			return nil, err
		}
		p.next()
		p.next()
		t.up = d
	}
	x, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	if p.peek().kind == selPlus {
		p.next()
		t.down = -1
		if tok := p.peek(); tok.kind == selWord && selIsDigits(tok.text) {
			d, err := p.parseDepth(tok)
			if err != nil {
				return nil, err
			}
			p.next()
			t.down = d
		}
	}
	if t.up == selNoTraversal && t.down == selNoTraversal {
		return x, nil
	}
	t.x = x
	return t, nil
}

func (p *selParser) expected(t selToken) error {
	prev := ""
	if p.i > 0 {
		prev = p.toks[p.i-1].text
	}
	found := ""
	if t.kind != selEOF {
		found = ", found " + t.describe()
	}
	switch {
	case prev == "+":
		return p.errAt(t, "expected an asset key after \"+\"%s", found)
	case prev != "":
		return p.errAt(t, "expected an asset selection after %q%s", prev, found)
	}
	return p.errAt(t, "expected an asset selection%s", found)
}

func (p *selParser) parsePrimary() (selNode, error) {
	t := p.peek()
	switch {
	case t.kind == selLParen:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != selRParen {
			return nil, p.errAt(c, "expected \")\" to close \"(\" at position %d, found %s", utf8.RuneCountInString(p.input[:t.pos])+1, c.describe())
		}
		p.next()
		p.nest--
		return x, nil
	case !p.startsPrimary(t):
		return nil, p.expected(t)
	case p.peekAt(1).kind == selColon:
		return p.parseAttr()
	case (t.text == "roots" || t.text == "sinks") && p.peekAt(1).kind == selLParen && p.peekAt(1).pos == t.end:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		p.next()
		open := p.next()
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != selRParen {
			return nil, p.errAt(c, "expected \")\" to close \"%s(\" at position %d, found %s", t.text, utf8.RuneCountInString(p.input[:open.pos])+1, c.describe())
		}
		p.next()
		p.nest--
		return selFunc{name: t.text, x: x}, nil
	}
	p.next()
	return p.keyOrGlob(t, t.text)
}

// keyOrGlob turns a key or a key pattern into a node.
func (p *selParser) keyOrGlob(t selToken, s string) (selNode, error) {
	if s == "*" {
		return selAll{}, nil
	}
	if strings.Contains(s, "*") {
		for i := 0; i < len(s); i++ {
			if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '/' || c == '*') {
				return nil, p.errAt(t, "invalid key pattern %q: %q is not allowed (keys take a-z, 0-9, _ and /)", s, rune(c))
			}
		}
		return selGlob{pattern: s}, nil
	}
	if err := validateKey(s); err != nil {
		return nil, p.errAt(t, "%s", err.Error())
	}
	return selKey{key: Key(s), pos: t.pos}, nil
}

// parseValue reads an attribute value: a quoted string, or a run of words
// and colons with no space between them (owner:team:data).
func (p *selParser) parseValue() (string, bool) {
	t := p.peek()
	if t.kind == selString {
		p.next()
		return t.text, true
	}
	if t.kind != selWord && t.kind != selColon {
		return "", false
	}
	var b strings.Builder
	for end := -1; ; {
		t := p.peek()
		if t.kind != selWord && t.kind != selColon || end >= 0 && t.pos != end {
			break
		}
		b.WriteString(t.text)
		end = t.end
		p.next()
	}
	return b.String(), true
}

func (p *selParser) parseAttr() (selNode, error) {
	name := p.next()
	p.next() // the colon
	vt := p.peek()
	switch name.text {
	case "key":
		v, ok := p.parseValue()
		if !ok {
			return nil, p.errAt(vt, "expected an asset key after \"key:\", found %s", vt.describe())
		}
		if vt.kind == selString {
			// A quoted key is never a glob: "*" has no special meaning.
			if err := validateKey(v); err != nil {
				return nil, p.errAt(vt, "%s", err.Error())
			}
			return selKey{key: Key(v), pos: vt.pos}, nil
		}
		return p.keyOrGlob(vt, v)
	case "group", "owner":
		v, ok := p.parseValue()
		if !ok {
			what := "a group name"
			if name.text == "owner" {
				what = "an owner"
			}
			return nil, p.errAt(vt, "expected %s after \"%s:\", found %s", what, name.text, vt.describe())
		}
		return selAttr{attr: name.text, name: v}, nil
	case "tag":
		v, ok := p.parseValue()
		if !ok {
			return nil, p.errAt(vt, "expected a tag name after \"tag:\", found %s", vt.describe())
		}
		n := selAttr{attr: "tag", name: v}
		if p.peek().kind == selEquals {
			p.next()
			valTok := p.peek()
			val, ok := p.parseValue()
			if !ok {
				return nil, p.errAt(valTok, "expected a tag value after \"=\", found %s", valTok.describe())
			}
			n.value, n.hasValue = val, true
		}
		return n, nil
	}
	return nil, p.errAt(name, "unknown attribute %q (want key, group, tag or owner)", name.text)
}

// Evaluation over bitsets of asset IDs.

type selSet []uint64

func newSelSet(n int) selSet { return make(selSet, (n+63)/64) }

func (s selSet) add(id int)      { s[id>>6] |= 1 << (uint(id) & 63) }
func (s selSet) has(id int) bool { return s[id>>6]&(1<<(uint(id)&63)) != 0 }
func (s selSet) each(yield func(int) bool) {
	for w, word := range s {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &= word - 1
			if !yield(w*64 + b) {
				return
			}
		}
	}
}

func (s selSet) ids() []int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	out := make([]int, 0, n)
	for id := range s.each {
		out = append(out, id)
	}
	return out
}

type selEvaluator struct {
	g   *Graph
	sel Selection
}

func (e *selEvaluator) eval(n selNode) (selSet, error) {
	g := e.g
	size := len(g.assets)
	switch n := n.(type) {
	case selAll:
		s := newSelSet(size)
		for i := range s {
			s[i] = ^uint64(0)
		}
		if r := size % 64; r != 0 {
			s[len(s)-1] = 1<<uint(r) - 1
		}
		return s, nil
	case selKey:
		a, ok := g.byKey[n.key]
		if !ok {
			err := selErr(e.sel.input, n.pos, "unknown asset %q%s", n.key, suggestKey(string(n.key), slices.Sorted(slices.Values(g.keyStrings()))))
			if e.sel.input == "" {
				err.Position = 0
			}
			return nil, err
		}
		s := newSelSet(size)
		s.add(a.ID)
		return s, nil
	case selGlob:
		s := newSelSet(size)
		for _, a := range g.assets {
			if selGlobMatch(n.pattern, string(a.Key)) {
				s.add(a.ID)
			}
		}
		return s, nil
	case selAttr:
		s := newSelSet(size)
		for _, a := range g.assets {
			var ok bool
			switch n.attr {
			case "group":
				ok = a.Decl.Group == n.name
			case "owner":
				ok = slices.Contains(a.Decl.Owners, n.name)
			case "tag":
				var v string
				v, ok = a.Decl.Tags[n.name]
				ok = ok && (!n.hasValue || v == n.value)
			}
			if ok {
				s.add(a.ID)
			}
		}
		return s, nil
	case selNot:
		s, err := e.eval(n.x)
		if err != nil {
			return nil, err
		}
		all, _ := e.eval(selAll{})
		for i := range s {
			s[i] = ^s[i] & all[i]
		}
		return s, nil
	case selBin:
		s, err := e.eval(n.xs[0])
		if err != nil {
			return nil, err
		}
		for _, x := range n.xs[1:] {
			t, err := e.eval(x)
			if err != nil {
				return nil, err
			}
			for i := range s {
				if n.and {
					s[i] &= t[i]
				} else {
					s[i] |= t[i]
				}
			}
		}
		return s, nil
	case selTrav:
		base, err := e.eval(n.x)
		if err != nil {
			return nil, err
		}
		out := slices.Clone(base)
		if n.up != selNoTraversal {
			e.walkInto(out, g.up, base, n.up)
		}
		if n.down != selNoTraversal {
			e.walkInto(out, g.down, base, n.down)
		}
		return out, nil
	case selFunc:
		s, err := e.eval(n.x)
		if err != nil {
			return nil, err
		}
		adj := g.up
		if n.name == "sinks" {
			adj = g.down
		}
		out := newSelSet(size)
		for id := range s.each {
			keep := true
			for _, v := range adj[id] {
				if v != id && s.has(v) {
					keep = false
					break
				}
			}
			if keep {
				out.add(id)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("selection: unknown node %T", n)
}

// walkInto adds to out every asset within depth edges of seeds along adj.
func (e *selEvaluator) walkInto(out selSet, adj [][]int, seeds selSet, depth int) {
	s := e.g.getScratch()
	defer e.g.putScratch(s)
	s.walk(adj, seeds.each, depth)
	for i, w := range s.seen {
		out[i] |= w
	}
}

// selGlobMatch reports whether s matches pattern, where * matches any run of
// characters ("/" included) and every other character matches itself.
func selGlobMatch(pattern, s string) bool {
	px, sx := 0, 0
	starPx, starSx := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			starPx, starSx = px, sx
			px++
		case px < len(pattern) && pattern[px] == s[sx]:
			px++
			sx++
		case starPx >= 0:
			starSx++
			px, sx = starPx+1, starSx
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
