package asset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// SourcePos is a position in a declarations file.
type SourcePos struct {
	File   string
	Line   int // 1-based
	Column int // 1-based
}

// Source remembers where each field of a parsed declarations file came from,
// by field path ("assets[3].deps[0].mapping.time_window.start_offset"), so
// that errors found later (by Validate, NewGraph) can point into the file.
type Source struct {
	pos map[string]SourcePos
}

// Lookup returns the position of the field at path, or of its nearest
// parent that has one ("assets[0].retry.backoff" falls back to
// "assets[0].retry", then "assets[0]").
func (s *Source) Lookup(path string) (SourcePos, bool) {
	if s == nil {
		return SourcePos{}, false
	}
	for p := path; p != ""; p = yamlParentPath(p) {
		if pos, ok := s.pos[p]; ok {
			return pos, true
		}
	}
	return SourcePos{}, false
}

// Locate fills File, Line and Column of the field errors carried by err
// (see FieldErrors) that have no position yet, from the paths of their
// fields, and returns err. Errors without field errors are returned as they
// are.
func (s *Source) Locate(err error) error {
	if s == nil || err == nil {
		return err
	}
	for _, fe := range FieldErrors(err) {
		if fe.File != "" || fe.Line > 0 {
			continue
		}
		if pos, ok := s.Lookup(fe.Field); ok {
			fe.File, fe.Line, fe.Column = pos.File, pos.Line, pos.Column
		}
	}
	return err
}

// yamlParentPath strips the last element of a field path: "a.b[2]" -> "a.b",
// "a.b" -> "a", "a" -> "".
func yamlParentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// SourceFile is one named declarations file, for ParseFiles.
type SourceFile struct {
	Name string
	Data []byte
}

// ParseFile decodes a YAML declarations file. Every problem the decoder can
// see is reported at once in a *ValidationError whose FieldErrors carry the
// file name, line and column: syntax errors, unknown fields (with a
// suggestion when one is close), values of the wrong type, duplicate keys.
// The declarations themselves are not validated: call (*File).Validate or
// NewGraph, and Locate their errors with the returned Source.
//
// An empty file (or one holding only comments) declares no assets. A file
// with more than one YAML document is an error. On error, the File holds
// what could be decoded and the Source its positions.
func ParseFile(filename string, data []byte) (*File, *Source, error) {
	return ParseFiles([]SourceFile{{Name: filename, Data: data}})
}

// ParseFiles decodes several declarations files into one File: the assets
// of the files in the order given. Field paths index the combined list of
// assets, and positions name each asset's own file.
func ParseFiles(files []SourceFile) (*File, *Source, error) {
	out := &File{}
	src := &Source{pos: map[string]SourcePos{}}
	var errs ValidationError
	for _, sf := range files {
		d := &yamlDecoder{file: sf.Name, pos: src.pos, base: len(out.Assets),
			budget: yamlNodeBudget + 16*len(sf.Data)}
		f := d.decodeFile(sf.Data)
		out.Assets = append(out.Assets, f.Assets...)
		errs.Errors = append(errs.Errors, d.errs...)
	}
	return out, src, errs.Err()
}

// LoadDir parses every *.yaml and *.yml file directly in dir of fsys (in
// name order) with ParseFiles. File names in positions are path.Join(dir,
// name). Reading is the only I/O, and the caller chooses the file system
// (os.DirFS, or an fstest.MapFS in tests).
func LoadDir(fsys fs.FS, dir string) (*File, *Source, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load declarations from %s: %w", dir, err)
	}
	var files []SourceFile
	for _, e := range entries {
		if e.IsDir() || !IsDeclFileName(e.Name()) {
			continue
		}
		name := path.Join(dir, e.Name())
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, nil, fmt.Errorf("load declarations from %s: %w", dir, err)
		}
		files = append(files, SourceFile{Name: name, Data: data})
	}
	return ParseFiles(files)
}

// IsDeclFileName reports whether name is that of a declarations file
// (*.yaml or *.yml, not hidden).
func IsDeclFileName(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// yamlNodeBudget bounds how many nodes the decoder visits beyond a multiple
// of the input size, so aliases cannot expand a small file into a huge one.
const yamlNodeBudget = 100_000

// yamlMaxDepth bounds the nesting the decoder follows; declarations are
// about ten levels deep at most, and field paths grow with the depth.
const yamlMaxDepth = 40

type yamlDecoder struct {
	depth   int
	stopped bool // a limit was hit and reported: decode nothing more
	file    string
	base    int // index of this file's first asset in the combined list
	pos     map[string]SourcePos
	errs    []*FieldError
	budget  int
}

var yamlSyntaxErrRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *yamlDecoder) decodeFile(data []byte) (f File) {
	var docs []*yaml.Node
	err := func() (err error) {
		// yaml.v3 has had panics on malformed input; a declarations file is
		// user input, so turn one into an error rather than crash the caller.
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("yaml: cannot parse: %v", r)
			}
		}()
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if !yamlIsEmptyDoc(&n) {
				docs = append(docs, &n)
			}
		}
	}()
	if err != nil {
		fe := &FieldError{File: d.file, Problem: strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlSyntaxErrRE.FindStringSubmatch(err.Error()); m != nil {
			fe.Line, _ = strconv.Atoi(m[1])
			fe.Problem = m[2]
		}
		fe.Problem = "invalid YAML: " + fe.Problem
		d.errs = append(d.errs, fe)
		return f
	}
	if len(docs) == 0 {
		return f
	}
	if len(docs) > 1 {
		d.errorAt(docs[1], "", "the file holds %d YAML documents; declare every asset in one assets: list (or use one file per document)", len(docs))
		return f
	}
	root := docs[0]
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		d.errorAt(root, "", "expected a mapping with an assets: list, got %s", yamlGot(root))
		return f
	}
	d.value(root, "", reflect.ValueOf(&f).Elem())
	return f
}

func yamlIsEmptyDoc(n *yaml.Node) bool {
	if n.Kind == 0 {
		return true
	}
	if n.Kind != yaml.DocumentNode {
		return false
	}
	return len(n.Content) == 0 || len(n.Content) == 1 && yamlIsNull(n.Content[0])
}

func yamlIsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func (d *yamlDecoder) errorAt(n *yaml.Node, field, format string, args ...any) {
	fe := &FieldError{Field: field, Problem: fmt.Sprintf(format, args...), File: d.file}
	if n != nil {
		fe.Line, fe.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, fe)
}

func (d *yamlDecoder) record(field string, n *yaml.Node) {
	if _, ok := d.pos[field]; !ok && field != "" {
		d.pos[field] = SourcePos{File: d.file, Line: n.Line, Column: n.Column}
	}
}

// yamlGot describes a node for "expected X, got Y" messages.
func yamlGot(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if yamlIsNull(n) {
			return "nothing"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	}
	return "something else"
}

var (
	yamlDurationType   = reflect.TypeFor[Duration]()
	yamlByteSizeType   = reflect.TypeFor[ByteSize]()
	yamlAutomationType = reflect.TypeFor[AutomationDecl]()
	yamlEmptyType      = reflect.TypeFor[Empty]()
	yamlDepType        = reflect.TypeFor[DepDecl]()
)

// value decodes n into v (settable), reporting problems at field.
func (d *yamlDecoder) value(n *yaml.Node, field string, v reflect.Value) {
	if d.stopped {
		return
	}
	if d.budget--; d.budget < 0 {
		d.errorAt(n, field, "the document is too large once its aliases are expanded")
		d.stopped = true
		return
	}
	if d.depth >= yamlMaxDepth {
		d.errorAt(n, field, "nested too deeply")
		d.stopped = true
		return
	}
	d.depth++
	defer func() { d.depth-- }()
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.errorAt(n, field, "unknown alias %q", n.Value)
			return
		}
		d.value(n.Alias, field, v)
		return
	}
	t := v.Type()
	switch t {
	case yamlDurationType:
		if s, ok := d.scalar(n, field, "a duration like \"30m\""); ok {
			dur, err := ParseDuration(s)
			if err != nil {
				d.errorAt(n, field, "%v", err)
				return
			}
			v.Set(reflect.ValueOf(dur))
		}
		return
	case yamlByteSizeType:
		if s, ok := d.scalar(n, field, "a size like \"4GiB\""); ok {
			b, err := ParseByteSize(s)
			if err != nil {
				d.errorAt(n, field, "%v", err)
				return
			}
			v.Set(reflect.ValueOf(b))
		}
		return
	case yamlAutomationType:
		d.automation(n, field, v.Addr().Interface().(*AutomationDecl))
		return
	case yamlEmptyType:
		if yamlIsNull(n) {
			return
		}
		switch {
		case n.Kind == yaml.MappingNode && len(n.Content) > 0:
			d.errorAt(n, field, "takes no parameters; write {}")
		case n.Kind != yaml.MappingNode:
			d.errorAt(n, field, "expected {}, got %s", yamlGot(n))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if yamlIsNull(n) && t.Elem() != yamlEmptyType {
			return // not set
		}
		p := reflect.New(t.Elem())
		d.value(n, field, p.Elem())
		v.Set(p)
	case reflect.Struct:
		d.structValue(n, field, v)
	case reflect.Slice:
		d.sliceValue(n, field, v)
	case reflect.Map:
		d.mapValue(n, field, v)
	case reflect.String:
		if s, ok := d.scalar(n, field, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		if yamlIsNull(n) {
			return
		}
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.errorAt(n, field, "expected an integer, got %s", yamlGot(n))
			return
		}
		if v.OverflowInt(i) {
			d.errorAt(n, field, "integer %s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Bool:
		if yamlIsNull(n) {
			return
		}
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.errorAt(n, field, "expected true or false, got %s", yamlGot(n))
			return
		}
		v.SetBool(b)
	case reflect.Float64:
		if yamlIsNull(n) {
			return
		}
		var f float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || tag != "!!int" && tag != "!!float" || n.Decode(&f) != nil {
			d.errorAt(n, field, "expected a number, got %s", yamlGot(n))
			return
		}
		v.SetFloat(f)
	default:
		// Not reachable for the declaration types; keep the decoder honest
		// if a field of a new type is added without support here.
		d.errorAt(n, field, "cannot decode into %s", t)
	}
}

// scalar returns the text of a scalar node; null is "" (not set). Any
// scalar is accepted as a string: code_version: 7 means "7".
func (d *yamlDecoder) scalar(n *yaml.Node, field, want string) (string, bool) {
	if yamlIsNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorAt(n, field, "expected %s, got %s", want, yamlGot(n))
		return "", false
	}
	return n.Value, true
}

type yamlEntry struct {
	key, val *yaml.Node
	name     string
}

// entries returns the key/value pairs of a mapping node, expanding merge
// keys ("<<: *defaults"; explicit keys win) and reporting keys that are not
// scalars and duplicate keys.
func (d *yamlDecoder) entries(n *yaml.Node, field string) []yamlEntry {
	var out []yamlEntry
	seen := map[string]*yaml.Node{}
	var merged []yamlEntry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeEntries(val, field)...)
			continue
		}
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			d.errorAt(k, field, "expected a field name, got %s", yamlGot(k))
			continue
		}
		if prev, ok := seen[k.Value]; ok {
			d.errorAt(k, yamlJoin(field, k.Value), "duplicate key %q (first at line %d)", k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, yamlEntry{key: k, val: val, name: k.Value})
	}
	for _, e := range merged {
		if _, ok := seen[e.name]; ok {
			continue
		}
		seen[e.name] = e.key
		out = append(out, e)
	}
	return out
}

func (d *yamlDecoder) mergeEntries(val *yaml.Node, field string) []yamlEntry {
	if d.stopped {
		return nil
	}
	if d.budget--; d.budget < 0 {
		d.errorAt(val, field, "the document is too large once its aliases are expanded")
		d.stopped = true
		return nil
	}
	if val.Kind == yaml.AliasNode && val.Alias != nil {
		val = val.Alias
	}
	switch val.Kind {
	case yaml.MappingNode:
		return d.entries(val, field)
	case yaml.SequenceNode:
		var out []yamlEntry
		for _, m := range val.Content {
			out = append(out, d.mergeEntries(m, field)...)
		}
		return out
	}
	d.errorAt(val, field, "a merge (<<) takes a mapping or a list of mappings, got %s", yamlGot(val))
	return nil
}

func yamlJoin(field, name string) string {
	if field == "" {
		return name
	}
	return field + "." + name
}

// recordEntry remembers the position of a field: its value when the value
// starts on the key's line, else its key (a block below "partitions:").
func (d *yamlDecoder) recordEntry(field string, e yamlEntry) {
	val := e.val
	if val.Kind == yaml.AliasNode || val.Line != e.key.Line {
		val = e.key
	}
	d.record(field, val)
}

func (d *yamlDecoder) structValue(n *yaml.Node, field string, v reflect.Value) {
	if yamlIsNull(n) {
		return
	}
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		if t == yamlDepType && n.Kind == yaml.ScalarNode {
			d.errorAt(n, field, "expected a mapping like {asset: %s}, got %s", n.Value, yamlGot(n))
			return
		}
		d.errorAt(n, field, "expected a mapping, got %s", yamlGot(n))
		return
	}
	names := make([]string, 0, t.NumField())
	index := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
		index[name] = i
	}
	for _, e := range d.entries(n, field) {
		f := yamlJoin(field, e.name)
		i, ok := index[e.name]
		if !ok {
			d.errorAt(e.key, f, "unknown field %q%s", e.name, yamlDidYouMean(e.name, names))
			continue
		}
		d.recordEntry(f, e)
		d.value(e.val, f, v.Field(i))
	}
}

func (d *yamlDecoder) sliceValue(n *yaml.Node, field string, v reflect.Value) {
	if yamlIsNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorAt(n, field, "expected a list, got %s", yamlGot(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		f := field + "[" + strconv.Itoa(d.indexBase(field)+i) + "]"
		d.record(f, item)
		d.value(item, f, s.Index(i))
	}
	v.Set(s)
}

// indexBase offsets the indices of the top-level assets list by the number
// of assets of the files parsed before this one.
func (d *yamlDecoder) indexBase(field string) int {
	if field == "assets" {
		return d.base
	}
	return 0
}

var yamlStringsType = reflect.TypeFor[[]string]()

func (d *yamlDecoder) mapValue(n *yaml.Node, field string, v reflect.Value) {
	if yamlIsNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorAt(n, field, "expected a mapping, got %s", yamlGot(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	for _, e := range d.entries(n, field) {
		f := yamlJoin(field, e.name)
		d.recordEntry(f, e)
		ev := reflect.New(t.Elem()).Elem()
		val := e.val
		if val.Kind == yaml.AliasNode && val.Alias != nil {
			val = val.Alias
		}
		if t.Elem() == yamlStringsType && val.Kind == yaml.ScalarNode && !yamlIsNull(val) {
			// static mapping: "eu: eu_west" means "eu: [eu_west]".
			ev.Set(reflect.ValueOf([]string{val.Value}))
		} else {
			d.value(e.val, f, ev)
		}
		m.SetMapIndex(reflect.ValueOf(e.name), ev)
	}
	v.Set(m)
}

// automation decodes a scalar condition (eager, on_missing, none, on_cron)
// or a mapping {on_cron: "0 * * * *"} (or the JSON shape {condition, cron}).
func (d *yamlDecoder) automation(n *yaml.Node, field string, a *AutomationDecl) {
	if yamlIsNull(n) {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		a.Condition = n.Value
		d.record(field+".condition", n)
		return
	case yaml.MappingNode:
	default:
		d.errorAt(n, field, "expected eager, on_missing, none or {on_cron: \"CRON\"}, got %s", yamlGot(n))
		return
	}
	names := []string{AutomationOnCron, "condition", "cron"}
	var onCron, cond *yaml.Node
	for _, e := range d.entries(n, field) {
		f := yamlJoin(field, e.name)
		val := e.val
		if val.Kind == yaml.AliasNode && val.Alias != nil {
			val = val.Alias
		}
		switch e.name {
		case AutomationOnCron:
			onCron = e.key
			a.Condition = AutomationOnCron
			d.recordEntry(f, e)
			d.recordEntry(field+".cron", e)
			if s, ok := d.scalar(val, f, "a cron expression"); ok {
				a.Cron = s
			}
		case "condition":
			cond = e.key
			d.recordEntry(f, e)
			if s, ok := d.scalar(val, f, "a condition"); ok && onCron == nil {
				a.Condition = s
			}
		case "cron":
			cond = e.key
			d.recordEntry(f, e)
			if s, ok := d.scalar(val, f, "a cron expression"); ok && onCron == nil {
				a.Cron = s
			}
		default:
			d.errorAt(e.key, f, "unknown field %q%s", e.name, yamlDidYouMean(e.name, names))
		}
	}
	if onCron != nil && cond != nil {
		d.errorAt(cond, field, "write either {on_cron: CRON} or {condition, cron}, not both")
	}
}

// yamlDidYouMean returns `; did you mean "x"?` for the closest name, when
// one is close enough to be a likely typo, and "" otherwise.
func yamlDidYouMean(got string, names []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "") }
	best, bestD := "", 1<<30
	for _, name := range names {
		if norm(name) == norm(got) {
			return fmt.Sprintf("; did you mean %q?", name)
		}
		dist := yamlEditDistance(strings.ToLower(got), name)
		if dist < bestD {
			best, bestD = name, dist
		}
	}
	limit := 2
	if len(got) <= 4 {
		limit = 1
	}
	if best != "" && bestD <= limit {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return ""
}

// yamlEditDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent bytes cost 1.
func yamlEditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
