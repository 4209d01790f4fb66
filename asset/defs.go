package asset

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on static keys and dimension names.
const (
	// MaxPartitionKeyLength bounds the length in bytes of a static or
	// dynamic partition key.
	MaxPartitionKeyLength = 255
	// MaxDimensionNameLength bounds the length of a dimension name.
	MaxDimensionNameLength = 64
	// MultiKeySeparator joins the dimension keys of a multi-dimensional
	// partition key, as Dagster's MultiPartitionKey does.
	MultiKeySeparator = "|"
)

// BuildPartitionsDef builds the definition declared by d; nil d means
// Unpartitioned. Errors are *ValidationError with field names relative to
// the partitions declaration ("time_window.cron", "static[2]", "multi[0].name").
func BuildPartitionsDef(d *PartitionsDecl) (PartitionsDef, error) {
	if d == nil {
		return Unpartitioned{}, nil
	}
	ve := &ValidationError{}
	set := 0
	if d.TimeWindow != nil {
		set++
	}
	if d.Static != nil {
		set++
	}
	if d.Dynamic != nil {
		set++
	}
	if d.Multi != nil {
		set++
	}
	if set != 1 {
		ve.Add("", "set exactly one of time_window, static, dynamic, multi (%d set)", set)
		return nil, ve
	}
	var def PartitionsDef
	switch {
	case d.TimeWindow != nil:
		def = buildTimeWindow(ve, "time_window", *d.TimeWindow)
	case d.Static != nil:
		def = buildStatic(ve, "static", d.Static)
	case d.Dynamic != nil:
		def = buildDynamic(ve, "dynamic", d.Dynamic)
	case d.Multi != nil:
		def = buildMulti(ve, "multi", d.Multi)
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return def, nil
}

// joinField joins a field path prefix and a relative path.
func joinField(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case strings.HasPrefix(field, "["):
		return prefix + field
	}
	return prefix + "." + field
}

// addErr copies the field errors of err into ve under prefix.
func addErr(ve *ValidationError, prefix string, err error) {
	fes := FieldErrors(err)
	if len(fes) == 0 {
		ve.Add(prefix, "%s", err.Error())
		return
	}
	for _, fe := range fes {
		c := *fe
		c.Field = joinField(prefix, fe.Field)
		ve.Errors = append(ve.Errors, &c)
	}
}

func buildTimeWindow(ve *ValidationError, field string, d TimeWindowDecl) *TimeWindowDef {
	def, err := NewTimeWindowDef(d)
	if err != nil {
		addErr(ve, field, err)
		return nil
	}
	return def
}

func buildStatic(ve *ValidationError, field string, keys []string) *StaticDef {
	def, err := NewStaticDef(keys)
	if err != nil {
		addErr(ve, field, err)
		return nil
	}
	return def
}

func buildDynamic(ve *ValidationError, field string, d *DynamicDecl) *DynamicDef {
	def, err := NewDynamicDef(d.Name)
	if err != nil {
		addErr(ve, joinField(field, "name"), err)
		return nil
	}
	return def
}

func buildMulti(ve *ValidationError, field string, decls []DimensionDecl) *MultiDef {
	before := len(ve.Errors)
	if len(decls) < 2 {
		ve.Add(field, "multi-dimensional partitions need at least two dimensions (%d given)", len(decls))
	}
	checkDimensionNames(ve, field, dimensionNames(decls))
	dims := make([]Dimension, 0, len(decls))
	timeDims := 0
	for i, dd := range decls {
		f := fmt.Sprintf("%s[%d]", field, i)
		set := 0
		if dd.TimeWindow != nil {
			set++
		}
		if dd.Static != nil {
			set++
		}
		if dd.Dynamic != nil {
			set++
		}
		if set != 1 {
			ve.Add(f, "set exactly one of time_window, static, dynamic (%d set)", set)
			continue
		}
		switch {
		case dd.TimeWindow != nil:
			timeDims++
			if d := buildTimeWindow(ve, f+".time_window", *dd.TimeWindow); d != nil {
				dims = append(dims, Dimension{Name: dd.Name, Def: d})
			}
		case dd.Static != nil:
			if d := buildStatic(ve, f+".static", dd.Static); d != nil {
				dims = append(dims, Dimension{Name: dd.Name, Def: d})
			}
		case dd.Dynamic != nil:
			if d := buildDynamic(ve, f+".dynamic", dd.Dynamic); d != nil {
				dims = append(dims, Dimension{Name: dd.Name, Def: d})
			}
		}
	}
	if timeDims > 1 {
		ve.Add(field, "%d time_window dimensions; at most one dimension may be a time window", timeDims)
	}
	if len(ve.Errors) > before {
		return nil
	}
	def, err := NewMultiDef(dims)
	if err != nil {
		addErr(ve, field, err)
		return nil
	}
	return def
}

func dimensionNames(decls []DimensionDecl) []string {
	names := make([]string, len(decls))
	for i, d := range decls {
		names[i] = d.Name
	}
	return names
}

// checkDimensionNames reports problems with dimension names at
// field[i].name and reports whether it found any.
func checkDimensionNames(ve *ValidationError, field string, names []string) bool {
	found := false
	seen := make(map[string]int, len(names))
	for i, n := range names {
		f := fmt.Sprintf("%s[%d].name", field, i)
		if err := validateDimensionName(n); err != nil {
			ve.Add(f, "%s", err.Error())
			found = true
			continue
		}
		if j, dup := seen[n]; dup {
			ve.Add(f, "duplicate dimension name %q (also %s[%d].name)", n, field, j)
			found = true
			continue
		}
		seen[n] = i
	}
	return found
}

func validateDimensionName(n string) error {
	if n == "" {
		return errors.New("dimension name is empty")
	}
	if len(n) > MaxDimensionNameLength {
		return fmt.Errorf("dimension name is %d characters long, more than %d", len(n), MaxDimensionNameLength)
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return fmt.Errorf("dimension name %q has %q; names take only letters, digits, _, - and .", n, r)
		}
	}
	return nil
}

// validatePartitionKey checks a static (or dynamic) partition key.
func validatePartitionKey(k string) error {
	if k == "" {
		return errors.New("partition key is empty")
	}
	if len(k) > MaxPartitionKeyLength {
		return fmt.Errorf("partition key is %d bytes long, more than %d", len(k), MaxPartitionKeyLength)
	}
	if !utf8.ValidString(k) {
		return fmt.Errorf("partition key %q is not valid UTF-8", k)
	}
	if strings.Contains(k, MultiKeySeparator) {
		return fmt.Errorf("partition key %q contains %q, which separates the keys of multi-dimensional partitions", k, MultiKeySeparator)
	}
	for _, r := range k {
		if unicode.IsControl(r) {
			return fmt.Errorf("partition key %q contains the control character %q", k, r)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Static

// StaticDef is a fixed, ordered list of partition keys.
type StaticDef struct {
	keys  []string
	index map[string]int64
}

// NewStaticDef builds a static definition: at least one key, each unique,
// non-empty, at most MaxPartitionKeyLength bytes, without "|" or control
// characters. The order of keys is kept. Errors are *ValidationError with
// fields "[i]".
func NewStaticDef(keys []string) (*StaticDef, error) {
	ve := &ValidationError{}
	if len(keys) == 0 {
		ve.Add("", "static partitions need at least one key")
		return nil, ve
	}
	d := &StaticDef{keys: slices.Clone(keys), index: make(map[string]int64, len(keys))}
	for i, k := range keys {
		f := fmt.Sprintf("[%d]", i)
		if err := validatePartitionKey(k); err != nil {
			ve.Add(f, "%s", err.Error())
			continue
		}
		if j, dup := d.index[k]; dup {
			ve.Add(f, "duplicate partition key %q (also [%d])", k, j)
			continue
		}
		d.index[k] = int64(i)
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return d, nil
}

// Kind returns KindStatic.
func (d *StaticDef) Kind() PartitionsKind { return KindStatic }

// At returns the keys; they do not depend on now.
func (d *StaticDef) At(now time.Time, _ DynamicKeys) Partitions {
	return &staticPartitions{def: d, now: now}
}

// Equal reports whether o is a static definition with the same keys in the
// same order.
func (d *StaticDef) Equal(o PartitionsDef) bool {
	s, ok := o.(*StaticDef)
	return ok && (s == d || slices.Equal(s.keys, d.keys))
}

func (d *StaticDef) String() string {
	const show = 5
	var b strings.Builder
	b.WriteString("static [")
	for i, k := range d.keys {
		if i == show {
			fmt.Fprintf(&b, ", ... %d more", len(d.keys)-show)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
	}
	b.WriteString("]")
	return b.String()
}

// Keys returns the keys in order. The caller must not modify the slice.
func (d *StaticDef) Keys() []string { return d.keys }

type staticPartitions struct {
	def *StaticDef
	now time.Time
}

func (p *staticPartitions) Def() PartitionsDef { return p.def }
func (p *staticPartitions) Now() time.Time     { return p.now }
func (p *staticPartitions) Len() int64         { return int64(len(p.def.keys)) }
func (p *staticPartitions) Key(i int64) string { return p.def.keys[i] }
func (p *staticPartitions) Index(key string) (int64, bool) {
	i, ok := p.def.index[key]
	return i, ok
}

// ---------------------------------------------------------------------------
// Dynamic

// DynamicDef is a named set of keys added over the API.
type DynamicDef struct{ name string }

// NewDynamicDef builds a dynamic definition. The name is non-empty, at most
// MaxPartitionKeyLength bytes, without control characters.
func NewDynamicDef(name string) (*DynamicDef, error) {
	if name == "" {
		return nil, errors.New("dynamic partitions need a name")
	}
	if len(name) > MaxPartitionKeyLength {
		return nil, fmt.Errorf("dynamic partitions name is %d bytes long, more than %d", len(name), MaxPartitionKeyLength)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return nil, fmt.Errorf("dynamic partitions name %q contains the control character %q", name, r)
		}
	}
	return &DynamicDef{name: name}, nil
}

// Kind returns KindDynamic.
func (d *DynamicDef) Kind() PartitionsKind { return KindDynamic }

// At returns the keys dyn holds for the definition's name, in the order they
// were added; a repeated key keeps its first position. The partitions share
// the slice dyn returns (no copy of a million keys per call), so dyn must
// not modify it afterwards.
func (d *DynamicDef) At(now time.Time, dyn DynamicKeys) Partitions {
	return d.at(now, dyn, false)
}

// at builds the partitions; inMulti drops keys containing the multi key
// separator, which could not be told apart in a multi-dimensional key.
func (d *DynamicDef) at(now time.Time, dyn DynamicKeys, inMulti bool) *dynamicPartitions {
	p := &dynamicPartitions{def: d, now: now}
	if dyn == nil {
		return p
	}
	keys := dyn.DynamicPartitionKeys(d.name)
	clean := true
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if _, dup := seen[k]; dup || inMulti && strings.Contains(k, MultiKeySeparator) {
			clean = false
			break
		}
		seen[k] = struct{}{}
	}
	if clean {
		p.keys = keys
		return p
	}
	out := make([]string, 0, len(keys))
	clear(seen)
	for _, k := range keys {
		if _, dup := seen[k]; dup || inMulti && strings.Contains(k, MultiKeySeparator) {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, k)
	}
	p.keys = out
	return p
}

// Equal reports whether o is a dynamic definition with the same name.
func (d *DynamicDef) Equal(o PartitionsDef) bool {
	x, ok := o.(*DynamicDef)
	return ok && x.name == d.name
}

func (d *DynamicDef) String() string { return fmt.Sprintf("dynamic %q", d.name) }

// Name is the definition's name.
func (d *DynamicDef) Name() string { return d.name }

type dynamicPartitions struct {
	def  *DynamicDef
	now  time.Time
	keys []string

	once  sync.Once
	index map[string]int64
}

func (p *dynamicPartitions) Def() PartitionsDef { return p.def }
func (p *dynamicPartitions) Now() time.Time     { return p.now }
func (p *dynamicPartitions) Len() int64         { return int64(len(p.keys)) }
func (p *dynamicPartitions) Key(i int64) string { return p.keys[i] }
func (p *dynamicPartitions) Index(key string) (int64, bool) {
	p.once.Do(func() {
		p.index = make(map[string]int64, len(p.keys))
		for i, k := range p.keys {
			p.index[k] = int64(i)
		}
	})
	i, ok := p.index[key]
	return i, ok
}

// ---------------------------------------------------------------------------
// Multi

// Dimension is one named dimension of a MultiDef.
type Dimension struct {
	Name string
	Def  PartitionsDef
}

// MultiDef is the product of any number (at least two) of dimensions, each a
// time-window, static or dynamic definition; at most one dimension is a time
// window (as in Dagster), so that a multi partition has one time window.
// Dimensions are kept sorted by name. A key joins the dimension keys with
// "|" in that order (Dagster's MultiPartitionKey), and partition indices
// are row-major (mixed radix) over the sorted dimensions: the first
// dimension varies slowest.
type MultiDef struct{ dims []Dimension }

// NewMultiDef builds a multi-dimensional definition. Errors are
// *ValidationError with fields "[i].name" relative to the sorted dimensions.
func NewMultiDef(dims []Dimension) (*MultiDef, error) {
	ve := &ValidationError{}
	if len(dims) < 2 {
		ve.Add("", "multi-dimensional partitions need at least two dimensions (%d given)", len(dims))
		return nil, ve
	}
	sorted := slices.Clone(dims)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	names := make([]string, len(sorted))
	timeDims := 0
	for i, d := range sorted {
		names[i] = d.Name
		switch d.Def.(type) {
		case *TimeWindowDef:
			timeDims++
		case *StaticDef, *DynamicDef:
		default:
			kind := "nil"
			if d.Def != nil {
				kind = d.Def.Kind().String()
			}
			ve.Add(fmt.Sprintf("[%d]", i), "dimension %q is %s; a dimension is time_window, static or dynamic", d.Name, kind)
		}
	}
	checkDimensionNames(ve, "", names)
	if timeDims > 1 {
		ve.Add("", "%d time_window dimensions; at most one dimension may be a time window", timeDims)
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return &MultiDef{dims: sorted}, nil
}

// Kind returns KindMulti.
func (d *MultiDef) Kind() PartitionsKind { return KindMulti }

// At returns the product of the dimensions' partitions existing at now: a
// *MultiPartitions, or a *WindowedMultiPartitions (which implements
// Windowed) when the definition has a time-window dimension. AsMulti
// returns the *MultiPartitions of either.
func (d *MultiDef) At(now time.Time, dyn DynamicKeys) Partitions {
	p := d.at(now, dyn)
	if p.timeDim >= 0 {
		return &WindowedMultiPartitions{p}
	}
	return p
}

func (d *MultiDef) at(now time.Time, dyn DynamicKeys) *MultiPartitions {
	p := &MultiPartitions{def: d, now: now, timeDim: -1}
	n := len(d.dims)
	p.dims = make([]Partitions, n)
	p.sizes = make([]int64, n)
	p.strides = make([]int64, n)
	for i, dim := range d.dims {
		switch x := dim.Def.(type) {
		case *DynamicDef:
			p.dims[i] = x.at(now, dyn, true)
		case *TimeWindowDef:
			p.dims[i] = x.At(now, dyn)
			p.timeDim = i
		default:
			p.dims[i] = dim.Def.At(now, dyn)
		}
		p.sizes[i] = p.dims[i].Len()
	}
	total := int64(1)
	for i := n - 1; i >= 0; i-- {
		p.strides[i] = total
		if p.sizes[i] != 0 && total > math.MaxInt64/p.sizes[i] {
			// More partitions than an index can hold: refuse them all
			// rather than wrap around.
			total = 0
			break
		}
		total *= p.sizes[i]
	}
	p.n = total
	return p
}

// Equal reports whether o has the same dimension names with equal definitions.
func (d *MultiDef) Equal(o PartitionsDef) bool {
	x, ok := o.(*MultiDef)
	if !ok || len(x.dims) != len(d.dims) {
		return false
	}
	for i := range d.dims {
		if d.dims[i].Name != x.dims[i].Name || !d.dims[i].Def.Equal(x.dims[i].Def) {
			return false
		}
	}
	return true
}

func (d *MultiDef) String() string {
	parts := make([]string, len(d.dims))
	for i, dim := range d.dims {
		parts[i] = dim.Name + ": " + dim.Def.String()
	}
	return "multi (" + strings.Join(parts, "; ") + ")"
}

// Dimensions returns the dimensions sorted by name. The caller must not
// modify the slice.
func (d *MultiDef) Dimensions() []Dimension { return d.dims }

// Dimension returns the position and the dimension named name.
func (d *MultiDef) Dimension(name string) (int, Dimension, bool) {
	for i, dim := range d.dims {
		if dim.Name == name {
			return i, dim, true
		}
	}
	return -1, Dimension{}, false
}

// TimeDimension returns the position of the time-window dimension, or -1.
func (d *MultiDef) TimeDimension() int {
	for i, dim := range d.dims {
		if _, ok := dim.Def.(*TimeWindowDef); ok {
			return i
		}
	}
	return -1
}

// JoinMultiKey joins dimension keys (in the order of the sorted dimension
// names) into a multi-dimensional partition key.
func JoinMultiKey(keys []string) string { return strings.Join(keys, MultiKeySeparator) }

// SplitMultiKey splits a multi-dimensional partition key into its
// dimension keys.
func SplitMultiKey(key string) []string { return strings.Split(key, MultiKeySeparator) }

// MultiPartitions are the partitions of a MultiDef existing at one instant:
// the product of its dimensions' partitions. It implements Windowed when
// the definition has a time-window dimension.
type MultiPartitions struct {
	def     *MultiDef
	now     time.Time
	dims    []Partitions
	sizes   []int64
	strides []int64
	n       int64
	timeDim int
}

// Def returns the definition.
func (p *MultiPartitions) Def() PartitionsDef { return p.def }

// MultiDef returns the definition.
func (p *MultiPartitions) MultiDef() *MultiDef { return p.def }

// Now is the instant the set was taken at.
func (p *MultiPartitions) Now() time.Time { return p.now }

// Len is the number of partitions: the product of the dimensions' sizes.
func (p *MultiPartitions) Len() int64 { return p.n }

// Dimension returns the partitions of dimension i (in sorted name order).
func (p *MultiPartitions) Dimension(i int) Partitions { return p.dims[i] }

// Dimensions returns the partitions of every dimension, in sorted name
// order. The caller must not modify the slice.
func (p *MultiPartitions) Dimensions() []Partitions { return p.dims }

// Stride returns the index distance between consecutive keys of dimension i.
func (p *MultiPartitions) Stride(i int) int64 { return p.strides[i] }

// DimensionIndex returns the index in dimension dim of partition i.
func (p *MultiPartitions) DimensionIndex(i int64, dim int) int64 {
	return (i / p.strides[dim]) % p.sizes[dim]
}

// Split returns the dimension indices of partition i.
func (p *MultiPartitions) Split(i int64) []int64 {
	out := make([]int64, len(p.dims))
	for d := range p.dims {
		out[d] = (i / p.strides[d]) % p.sizes[d]
	}
	return out
}

// Join returns the partition index of the given dimension indices.
func (p *MultiPartitions) Join(idx []int64) int64 {
	var i int64
	for d, x := range idx {
		i += x * p.strides[d]
	}
	return i
}

// Key returns the key of partition i.
func (p *MultiPartitions) Key(i int64) string {
	var b strings.Builder
	for d := range p.dims {
		if d > 0 {
			b.WriteString(MultiKeySeparator)
		}
		b.WriteString(p.dims[d].Key((i / p.strides[d]) % p.sizes[d]))
	}
	return b.String()
}

// Index returns the index of key, or false when key is not a partition.
func (p *MultiPartitions) Index(key string) (int64, bool) {
	if p.n == 0 {
		return 0, false
	}
	var i int64
	rest := key
	for d := range p.dims {
		var part string
		if d == len(p.dims)-1 {
			part = rest
		} else {
			j := strings.Index(rest, MultiKeySeparator)
			if j < 0 {
				return 0, false
			}
			part, rest = rest[:j], rest[j+1:]
		}
		x, ok := p.dims[d].Index(part)
		if !ok {
			return 0, false
		}
		i += x * p.strides[d]
	}
	return i, true
}

// HasWindows reports whether the partitions have time windows (a
// time-window dimension).
func (p *MultiPartitions) HasWindows() bool { return p.timeDim >= 0 }

// TimeDimension returns the position of the time-window dimension, or -1.
func (p *MultiPartitions) TimeDimension() int { return p.timeDim }

// WindowedMultiPartitions are multi-dimensional partitions with a
// time-window dimension; each partition has that dimension's window.
type WindowedMultiPartitions struct {
	*MultiPartitions
}

var _ Windowed = (*WindowedMultiPartitions)(nil)

// Window returns the time window of partition i: the window of its
// time-window dimension.
func (p *WindowedMultiPartitions) Window(i int64) TimeWindow {
	w := p.dims[p.timeDim].(Windowed)
	return w.Window(p.DimensionIndex(i, p.timeDim))
}

// AsMulti returns the multi-dimensional partitions p holds, if any.
func AsMulti(p Partitions) (*MultiPartitions, bool) {
	switch x := p.(type) {
	case *MultiPartitions:
		return x, true
	case *WindowedMultiPartitions:
		return x.MultiPartitions, true
	}
	return nil, false
}
