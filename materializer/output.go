package materializer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/strata-data/strata/asset"
)

// UnpartitionedSegment is what {partition} expands to for an unpartitioned
// asset, so that every template gives a usable path.
const UnpartitionedSegment = "__all__"

// DefaultOutputTemplate returns the default output location template under
// dataDir: <data dir>/assets/{asset}/{partition}/, a directory per asset
// partition that the job writes files into.
func DefaultOutputTemplate(dataDir string) string {
	return filepath.Join(dataDir, "assets") + "/{asset}/{partition}/"
}

// PartitionPath makes a partition key safe as a relative path. The
// dimensions of a multi-dimensional key ("2024-01-01|us") become nested
// directories ("2024-01-01/us"); in each, bytes other than A-Z a-z 0-9 and
// "-_.=+,@" are percent-encoded (so ":" of hourly keys becomes %3A, which
// Hadoop-style readers also accept), as are leading dots, so no segment is
// "." or "..". The mapping is injective: distinct keys give distinct paths.
// The empty key (an unpartitioned asset) gives UnpartitionedSegment.
func PartitionPath(key string) string {
	if key == "" {
		return UnpartitionedSegment
	}
	dims := strings.Split(key, "|")
	for i, d := range dims {
		dims[i] = escapeSegment(d)
	}
	return strings.Join(dims, "/")
}

func escapeSegment(s string) string {
	if s == "" {
		return "%"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		safe := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("-_=+,@", c) >= 0 || (c == '.' && i > 0)
		if safe {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ExpandOutput expands an output location template for one asset partition.
// The template is a local path, a file:// URL or another URL (which only the
// job can write to); {asset} is the asset key (its segments become
// directories) and {partition} is PartitionPath(partition) (in a file://
// URL its "%" are escaped as "%25", so the file's name is the same as with
// a plain path template). A trailing "/" means a directory and is kept. Any
// other {name} is an error.
func ExpandOutput(template string, key asset.Key, partition string) (string, error) {
	if template == "" {
		return "", errors.New("output template is empty")
	}
	var b strings.Builder
	rest := template
	isFileURL := strings.HasPrefix(template, "file://")
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("output template %q has an unclosed {", template)
		}
		switch name := rest[i+1 : i+j]; name {
		case "asset":
			b.WriteString(string(key))
		case "partition":
			pp := PartitionPath(partition)
			if isFileURL {
				// In a file URL "%" starts an escape: keep the path's
				// percent signs literal, as a plain path template does.
				pp = strings.ReplaceAll(pp, "%", "%25")
			}
			b.WriteString(pp)
		default:
			return "", fmt.Errorf("output template %q has {%s}; only {asset} and {partition} are known", template, name)
		}
		rest = rest[i+j+1:]
	}
	loc := b.String()
	if _, ok, err := LocalPath(loc); err != nil {
		return "", fmt.Errorf("output template %q: %w", template, err)
	} else if !ok && !strings.Contains(loc, "://") {
		return "", fmt.Errorf("output template %q is neither an absolute path nor a URL", template)
	}
	return loc, nil
}

// LocalPath returns the local file system path of an output location: a
// plain absolute path or a file:// URL (ok is true), or says the location is
// elsewhere (a URL with another scheme: ok is false). A trailing "/" is kept.
func LocalPath(loc string) (p string, ok bool, err error) {
	if strings.HasPrefix(loc, "/") {
		return loc, true, nil
	}
	if !strings.Contains(loc, "://") {
		return "", false, nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", false, fmt.Errorf("location %q: %w", loc, err)
	}
	if u.Scheme != "file" {
		return "", false, nil
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", false, fmt.Errorf("location %q: file URL names host %q; use file:///path", loc, u.Host)
	}
	if !strings.HasPrefix(u.Path, "/") {
		return "", false, fmt.Errorf("location %q: file URL has no absolute path", loc)
	}
	return u.Path, true, nil
}

// OutputLocations expands template for each partition of a run. For one
// partition (or none: an unpartitioned asset) the run's output is that
// partition's location. For several, each partition keeps the location it
// would have alone (so the catalog records per-partition locations that
// downstream runs read), and the run's output, STRATA_OUTPUT, is the
// longest directory prefix the locations share (for the default template,
// <data dir>/assets/<asset key>/); such jobs find each partition's location
// in the context file's "outputs".
func OutputLocations(template string, key asset.Key, partitions []string) (run string, outs []PartitionOutputLocation, err error) {
	if len(partitions) == 0 {
		loc, err := ExpandOutput(template, key, "")
		return loc, nil, err
	}
	outs = make([]PartitionOutputLocation, len(partitions))
	for i, p := range partitions {
		loc, err := ExpandOutput(template, key, p)
		if err != nil {
			return "", nil, err
		}
		outs[i] = PartitionOutputLocation{Partition: p, Location: loc}
	}
	if len(outs) == 1 {
		return outs[0].Location, outs, nil
	}
	prefix := outs[0].Location
	for _, o := range outs[1:] {
		n := 0
		for n < len(prefix) && n < len(o.Location) && prefix[n] == o.Location[n] {
			n++
		}
		prefix = prefix[:n]
	}
	// Cut back to a directory boundary.
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		prefix = prefix[:i+1]
	}
	return prefix, outs, nil
}

// Inspection depth for Parquet output.
type Verify int

const (
	// VerifyPages decodes every page of every column chunk: a file whose
	// footer is fine but whose data is corrupt fails. The default.
	VerifyPages Verify = iota
	// VerifyFirstPages decodes the first page of each column chunk: cheap,
	// and catches most writer bugs and truncation in the middle of a file.
	VerifyFirstPages
	// VerifyFooter reads only the footers.
	VerifyFooter
)

func (v Verify) String() string {
	switch v {
	case VerifyPages:
		return "all pages"
	case VerifyFirstPages:
		return "first page of each column chunk"
	case VerifyFooter:
		return "footer only"
	}
	return fmt.Sprintf("Verify(%d)", int(v))
}

// InspectOptions tune InspectOutput. The zero value decodes every page.
type InspectOptions struct {
	Verify Verify
	// MaxFiles bounds the number of Parquet files in a directory output
	// (10,000 if 0).
	MaxFiles int
}

// OutputStats describe a Parquet output: one file or a directory of files.
type OutputStats struct {
	Files int   `json:"files"`
	Rows  int64 `json:"rows"`
	// Bytes is the size of the files on disk; UncompressedBytes the sum of
	// the row groups' uncompressed sizes from the footers.
	Bytes             int64 `json:"bytes"`
	UncompressedBytes int64 `json:"uncompressed_bytes"`
	RowGroups         int   `json:"row_groups"`
	// SchemaJSON is the Arrow schema of the data, a JSON array of fields
	// {name, type, nullable, children}; see ArrowField.
	SchemaJSON json.RawMessage `json:"schema"`
	// DataVersion is "sha256:" and the hex SHA-256 of the sorted SHA-256s of
	// the files' footers: the same files give the same version whatever
	// their names or order.
	DataVersion string `json:"data_version"`
	// Verified says how deep the files were read.
	Verified string `json:"verified"`
}

// ArrowField is one field of an Arrow schema: Type is Arrow's type name as
// Arrow's libraries print it ("int64", "utf8", "timestamp[us, tz=UTC]",
// "decimal(10, 2)", "fixed_size_binary[16]"), or "list", "map", "struct"
// with Children (a list's one child is "element"; a map's two children are
// "key" and "value").
type ArrowField struct {
	Name     string       `json:"name"`
	Type     string       `json:"type"`
	Nullable bool         `json:"nullable"`
	Children []ArrowField `json:"children,omitempty"`
}

// ErrNoOutput is returned by InspectOutput when there is nothing at the
// location, or nothing that is Parquet.
var ErrNoOutput = errors.New("no parquet output")

const defaultMaxFiles = 10000

// InspectOutput reads the Parquet output at p: a file, or a directory whose
// *.parquet files are read recursively (files and directories whose names
// start with "." or "_", like _SUCCESS and .crc files, are skipped; symbolic
// links are not followed). A single file is read when it is named *.parquet
// or starts with the Parquet magic bytes. A missing path, a file that is not
// Parquet or a directory without Parquet files gives ErrNoOutput: the job
// may write elsewhere and report its output in messages. A .parquet file
// that cannot be read gives an error naming the file and the problem. All
// files of a directory must have the same schema.
func InspectOutput(p string, opts InspectOptions) (OutputStats, error) {
	st, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return OutputStats{}, ErrNoOutput
	}
	if err != nil {
		return OutputStats{}, fmt.Errorf("inspect output: %w", err)
	}
	var files []string
	if !st.IsDir() {
		if !strings.EqualFold(filepath.Ext(p), ".parquet") && !hasParquetMagic(p) {
			return OutputStats{}, ErrNoOutput
		}
		files = []string{p}
	} else {
		maxFiles := opts.MaxFiles
		if maxFiles <= 0 {
			maxFiles = defaultMaxFiles
		}
		err := filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if hiddenEntry(p, fp, d) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && strings.EqualFold(filepath.Ext(d.Name()), ".parquet") {
				if len(files) == maxFiles {
					return fmt.Errorf("more than %d parquet files", maxFiles)
				}
				files = append(files, fp)
			}
			return nil
		})
		if err != nil {
			return OutputStats{}, fmt.Errorf("inspect output %s: %w", p, err)
		}
		if len(files) == 0 {
			return OutputStats{}, ErrNoOutput
		}
	}

	stats := OutputStats{Verified: opts.Verify.String()}
	var schema []ArrowField
	var schemaFrom string
	sums := make([][sha256.Size]byte, 0, len(files))
	for _, f := range files {
		fs, err := inspectFile(f, opts.Verify)
		if err != nil {
			return OutputStats{}, err
		}
		if schemaFrom == "" {
			schema, schemaFrom = fs.schema, f
		} else if !slices.EqualFunc(schema, fs.schema, fieldsEqual) {
			return OutputStats{}, fmt.Errorf("parquet file %s: schema differs from %s", f, schemaFrom)
		}
		stats.Files++
		stats.Rows += fs.rows
		stats.Bytes += fs.size
		stats.UncompressedBytes += fs.uncompressed
		stats.RowGroups += fs.rowGroups
		sums = append(sums, fs.footerSum)
	}
	slices.SortFunc(sums, func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
	h := sha256.New()
	for _, s := range sums {
		h.Write(s[:])
	}
	stats.DataVersion = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if schema == nil {
		schema = []ArrowField{}
	}
	stats.SchemaJSON, err = json.Marshal(schema)
	if err != nil {
		return OutputStats{}, fmt.Errorf("encode schema: %w", err)
	}
	return stats, nil
}

func fieldsEqual(a, b ArrowField) bool {
	return a.Name == b.Name && a.Type == b.Type && a.Nullable == b.Nullable &&
		slices.EqualFunc(a.Children, b.Children, fieldsEqual)
}

func hasParquetMagic(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && (string(magic[:]) == "PAR1" || string(magic[:]) == "PARE")
}

type fileStats struct {
	rows, size, uncompressed int64
	rowGroups                int
	schema                   []ArrowField
	footerSum                [sha256.Size]byte
}

// maxFooterBytes bounds the footer read into memory.
const maxFooterBytes = 256 << 20

// inspectFile reads one Parquet file. parquet-go may panic on corrupt
// input; a panic becomes an error naming the file.
func inspectFile(p string, verify Verify) (fs fileStats, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet file %s: corrupt (reader panicked: %v)", p, r)
		}
	}()
	f, err := os.Open(p)
	if err != nil {
		return fs, fmt.Errorf("parquet file %s: %w", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fs, fmt.Errorf("parquet file %s: %w", p, err)
	}
	fs.size = st.Size()
	if fs.size < 12 {
		return fs, fmt.Errorf("parquet file %s: %d bytes is too short to be Parquet (empty or truncated)", p, fs.size)
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], fs.size-8); err != nil {
		return fs, fmt.Errorf("parquet file %s: read footer: %w", p, err)
	}
	switch string(tail[4:]) {
	case "PAR1":
	case "PARE":
		return fs, fmt.Errorf("parquet file %s: footer is encrypted; Strata cannot read encrypted Parquet", p)
	default:
		return fs, fmt.Errorf("parquet file %s: no Parquet magic at the end (truncated, or not Parquet)", p)
	}
	footerLen := int64(binary.LittleEndian.Uint32(tail[:4]))
	if footerLen <= 0 || footerLen > fs.size-12 || footerLen > maxFooterBytes {
		return fs, fmt.Errorf("parquet file %s: footer length %d does not fit a %d-byte file", p, footerLen, fs.size)
	}
	footer := make([]byte, footerLen)
	if _, err := f.ReadAt(footer, fs.size-8-footerLen); err != nil {
		return fs, fmt.Errorf("parquet file %s: read footer: %w", p, err)
	}
	fs.footerSum = sha256.Sum256(footer)

	pf, err := parquet.OpenFile(f, fs.size, parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		return fs, fmt.Errorf("parquet file %s: %w", p, err)
	}
	md := pf.Metadata()
	fs.rowGroups = len(md.RowGroups)
	var sum int64
	for _, rg := range md.RowGroups {
		if rg.NumRows < 0 {
			return fs, fmt.Errorf("parquet file %s: row group has %d rows", p, rg.NumRows)
		}
		sum += rg.NumRows
		fs.uncompressed += rg.TotalByteSize
	}
	fs.rows = md.NumRows
	if len(md.RowGroups) > 0 && sum != md.NumRows {
		return fs, fmt.Errorf("parquet file %s: footer says %d rows but its row groups hold %d", p, md.NumRows, sum)
	}
	fs.schema, err = arrowSchema(md.Schema)
	if err != nil {
		return fs, fmt.Errorf("parquet file %s: schema: %w", p, err)
	}
	if verify != VerifyFooter {
		if err := verifyPages(pf, verify == VerifyFirstPages); err != nil {
			return fs, fmt.Errorf("parquet file %s: %w", p, err)
		}
	}
	return fs, nil
}

// verifyPages decodes the pages of every column chunk (or the first one of
// each) and their values.
func verifyPages(f *parquet.File, firstOnly bool) error {
	values := make([]parquet.Value, 1024)
	leaves := f.Schema().Columns()
	for g, rg := range f.RowGroups() {
		for c, cc := range rg.ColumnChunks() {
			col := fmt.Sprint(c)
			if c < len(leaves) {
				col = strings.Join(leaves[c], ".")
			}
			if err := verifyChunk(cc, values, firstOnly); err != nil {
				return fmt.Errorf("row group %d, column %q: %w", g, col, err)
			}
		}
	}
	return nil
}

func verifyChunk(cc parquet.ColumnChunk, values []parquet.Value, firstOnly bool) error {
	pages := cc.Pages()
	defer pages.Close()
	for n := 0; ; n++ {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		vr := p.Values()
		for {
			_, err := vr.ReadValues(values)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				parquet.Release(p)
				return fmt.Errorf("page %d: %w", n, err)
			}
		}
		parquet.Release(p)
		if firstOnly {
			return nil
		}
	}
}

// arrowSchema maps a Parquet schema (the footer's flattened list of schema
// elements) to Arrow fields. Leaf types follow arrow/go/v17 pqarrow
// (logical types first, then converted types, then the physical type;
// checked against pqarrow on the parquet-testing files); LIST and MAP
// groups are read in their standard and legacy shapes; a repeated field
// outside a LIST becomes a non-nullable list of it. Unlike pqarrow, and like
// Arrow C++ (pyarrow), a list's child is named "element" and a list
// element's or map value's nullability is the Parquet field's (pqarrow names
// the child after the repeated group and makes it nullable).
func arrowSchema(elems []format.SchemaElement) ([]ArrowField, error) {
	if len(elems) == 0 {
		return nil, errors.New("no schema elements")
	}
	pos := 1
	n, _ := elems[0].NumChildren.Get()
	fields, err := arrowChildren(elems, &pos, int(n), 1)
	if err != nil {
		return nil, err
	}
	if pos != len(elems) {
		return nil, fmt.Errorf("schema has %d elements but the tree holds %d", len(elems), pos)
	}
	return fields, nil
}

const maxSchemaDepth = 100

type schemaNode struct {
	elem     *format.SchemaElement
	children []schemaNode
}

func readNode(elems []format.SchemaElement, pos *int, depth int) (schemaNode, error) {
	if depth > maxSchemaDepth {
		return schemaNode{}, fmt.Errorf("nested deeper than %d", maxSchemaDepth)
	}
	if *pos >= len(elems) {
		return schemaNode{}, errors.New("schema ends early")
	}
	e := &elems[*pos]
	*pos++
	node := schemaNode{elem: e}
	if n, ok := e.NumChildren.Get(); ok && !e.Type.Valid {
		if n < 0 || int(n) > len(elems)-*pos {
			return schemaNode{}, fmt.Errorf("element %q has %d children", e.Name, n)
		}
		for range n {
			c, err := readNode(elems, pos, depth+1)
			if err != nil {
				return schemaNode{}, err
			}
			node.children = append(node.children, c)
		}
	}
	return node, nil
}

func arrowChildren(elems []format.SchemaElement, pos *int, n, depth int) ([]ArrowField, error) {
	if n < 0 || n > len(elems) {
		return nil, fmt.Errorf("root has %d children", n)
	}
	fields := make([]ArrowField, 0, n)
	for range n {
		node, err := readNode(elems, pos, depth)
		if err != nil {
			return nil, err
		}
		f, err := arrowField(node)
		if err != nil {
			return nil, err
		}
		fields = append(fields, f)
	}
	return fields, nil
}

func repetition(e *format.SchemaElement) format.FieldRepetitionType {
	r, ok := e.RepetitionType.Get()
	if !ok {
		return format.Optional
	}
	return r
}

func isGroup(n schemaNode) bool { return !n.elem.Type.Valid }

func convertedIs(e *format.SchemaElement, c deprecated.ConvertedType) bool {
	v, ok := e.ConvertedType.Get()
	return ok && v == c
}

// arrowField maps one Parquet field, taking its repetition into account.
func arrowField(n schemaNode) (ArrowField, error) {
	e := n.elem
	if repetition(e) == format.Repeated {
		// A repeated field outside a LIST: a required list of required items.
		item, err := arrowValue(n)
		if err != nil {
			return ArrowField{}, err
		}
		item.Name, item.Nullable = "element", false
		return ArrowField{Name: e.Name, Type: "list", Nullable: false, Children: []ArrowField{item}}, nil
	}
	f, err := arrowValue(n)
	if err != nil {
		return ArrowField{}, err
	}
	f.Nullable = repetition(e) == format.Optional
	return f, nil
}

// arrowValue maps a field ignoring its own repetition.
func arrowValue(n schemaNode) (ArrowField, error) {
	e := n.elem
	f := ArrowField{Name: e.Name, Nullable: true}
	if !isGroup(n) {
		t, err := arrowPrimitive(e)
		f.Type = t
		return f, err
	}
	_, isList := e.LogicalType.Value.(*format.ListType)
	_, isMap := e.LogicalType.Value.(*format.MapType)
	switch {
	case isList || convertedIs(e, deprecated.List):
		item, err := listElement(n)
		if err != nil {
			return f, fmt.Errorf("list %q: %w", e.Name, err)
		}
		f.Type, f.Children = "list", []ArrowField{item}
	case isMap || convertedIs(e, deprecated.Map) || convertedIs(e, deprecated.MapKeyValue):
		kv, err := mapEntries(n)
		if err != nil {
			return f, fmt.Errorf("map %q: %w", e.Name, err)
		}
		f.Type, f.Children = "map", kv
	default:
		f.Type = "struct"
		f.Children = []ArrowField{}
		for _, c := range n.children {
			cf, err := arrowField(c)
			if err != nil {
				return f, err
			}
			f.Children = append(f.Children, cf)
		}
	}
	return f, nil
}

// listElement applies the Parquet LIST backward-compatibility rules
// (LogicalTypes.md) to find the element of a LIST group.
func listElement(n schemaNode) (ArrowField, error) {
	if len(n.children) != 1 {
		return ArrowField{}, fmt.Errorf("has %d children, want 1", len(n.children))
	}
	rep := n.children[0]
	if repetition(rep.elem) != format.Repeated {
		return ArrowField{}, fmt.Errorf("child %q is not repeated", rep.elem.Name)
	}
	var item ArrowField
	var err error
	switch {
	case !isGroup(rep):
		// Legacy: the repeated primitive is the element, required.
		item, err = arrowValue(rep)
		item.Nullable = false
	case len(rep.children) > 1 || rep.elem.Name == "array" || rep.elem.Name == n.elem.Name+"_tuple":
		// Legacy: the repeated group is the element (a struct), required.
		item, err = arrowValue(rep)
		item.Nullable = false
	default:
		// Standard three-level list: repeated group with one child.
		if len(rep.children) == 0 {
			return ArrowField{}, fmt.Errorf("repeated group %q is empty", rep.elem.Name)
		}
		item, err = arrowField(rep.children[0])
	}
	if err != nil {
		return ArrowField{}, err
	}
	item.Name = "element"
	return item, nil
}

func mapEntries(n schemaNode) ([]ArrowField, error) {
	if len(n.children) != 1 || !isGroup(n.children[0]) || repetition(n.children[0].elem) != format.Repeated {
		return nil, errors.New("want one repeated key_value group")
	}
	kv := n.children[0]
	if len(kv.children) < 1 || len(kv.children) > 2 {
		return nil, fmt.Errorf("key_value group has %d children, want key and value", len(kv.children))
	}
	key, err := arrowField(kv.children[0])
	if err != nil {
		return nil, err
	}
	key.Name, key.Nullable = "key", false
	out := []ArrowField{key}
	if len(kv.children) == 2 {
		val, err := arrowField(kv.children[1])
		if err != nil {
			return nil, err
		}
		val.Name = "value"
		out = append(out, val)
	}
	return out, nil
}

func timeUnit(u format.TimeUnit) string {
	switch u.Value.(type) {
	case *format.MilliSeconds:
		return "ms"
	case *format.MicroSeconds:
		return "us"
	case *format.NanoSeconds:
		return "ns"
	}
	return ""
}

func decimalType(precision, scale int32) string {
	if precision > 38 {
		return fmt.Sprintf("decimal256(%d, %d)", precision, scale)
	}
	return fmt.Sprintf("decimal(%d, %d)", precision, scale)
}

func arrowPrimitive(e *format.SchemaElement) (string, error) {
	phys := e.Type.V
	switch lt := e.LogicalType.Value.(type) {
	case *format.StringType, *format.EnumType, *format.JsonType:
		return "utf8", nil
	case *format.BsonType:
		return "binary", nil
	case *format.DateType:
		return "date32", nil
	case *format.NullType:
		return "null", nil
	case *format.Float16Type:
		return "float16", nil
	case *format.UUIDType:
		return "fixed_size_binary[16]", nil
	case *format.DecimalType:
		return decimalType(lt.Precision, lt.Scale), nil
	case *format.IntType:
		sign := "int"
		if !lt.IsSigned {
			sign = "uint"
		}
		return fmt.Sprintf("%s%d", sign, lt.BitWidth), nil
	case *format.TimeType:
		u := timeUnit(lt.Unit)
		if u == "ms" {
			return "time32[ms]", nil
		}
		return "time64[" + u + "]", nil
	case *format.TimestampType:
		if lt.IsAdjustedToUTC {
			return "timestamp[" + timeUnit(lt.Unit) + ", tz=UTC]", nil
		}
		return "timestamp[" + timeUnit(lt.Unit) + "]", nil
	}
	if ct, ok := e.ConvertedType.Get(); ok {
		switch ct {
		case deprecated.UTF8, deprecated.Enum, deprecated.Json:
			return "utf8", nil
		case deprecated.Decimal:
			return decimalType(e.Precision.V, e.Scale.V), nil
		case deprecated.Date:
			return "date32", nil
		case deprecated.TimeMillis:
			return "time32[ms]", nil
		case deprecated.TimeMicros:
			return "time64[us]", nil
		case deprecated.TimestampMillis:
			return "timestamp[ms, tz=UTC]", nil
		case deprecated.TimestampMicros:
			return "timestamp[us, tz=UTC]", nil
		case deprecated.Int8:
			return "int8", nil
		case deprecated.Int16:
			return "int16", nil
		case deprecated.Int32:
			return "int32", nil
		case deprecated.Int64:
			return "int64", nil
		case deprecated.Uint8:
			return "uint8", nil
		case deprecated.Uint16:
			return "uint16", nil
		case deprecated.Uint32:
			return "uint32", nil
		case deprecated.Uint64:
			return "uint64", nil
		}
	}
	switch phys {
	case format.Boolean:
		return "bool", nil
	case format.Int32:
		return "int32", nil
	case format.Int64:
		return "int64", nil
	case format.Int96:
		// Legacy Impala/Spark timestamps, UTC-normalized: as pqarrow.
		return "timestamp[ns, tz=UTC]", nil
	case format.Float:
		return "float32", nil
	case format.Double:
		return "float64", nil
	case format.ByteArray:
		return "binary", nil
	case format.FixedLenByteArray:
		n, _ := e.TypeLength.Get()
		if n <= 0 {
			return "", fmt.Errorf("fixed_len_byte_array %q has length %d", e.Name, n)
		}
		return fmt.Sprintf("fixed_size_binary[%d]", n), nil
	}
	return "", fmt.Errorf("field %q has unknown physical type %d", e.Name, phys)
}

// localOutputPath is the file system path of a location for inspection, with
// any trailing slash removed; ok is false for non-local locations.
func localOutputPath(loc string) (string, bool) {
	p, ok, err := LocalPath(loc)
	if err != nil || !ok {
		return "", false
	}
	return path.Clean(p), true
}

// Parquet inspection in a helper process.
//
// parquet-go trusts the counts in a file: a corrupt run-length header can
// make it allocate gigabytes, and a Go runtime out-of-memory or stack
// overflow cannot be recovered. So the executor can inspect output in a
// helper process with a memory limit (RLIMIT_DATA): a binary (strata itself)
// whose main starts with RunInspectHelperIfRequested.

const (
	inspectHelperEnv   = "STRATA_INTERNAL_INSPECT"
	inspectPathEnv     = "STRATA_INTERNAL_INSPECT_PATH"
	inspectVerifyEnv   = "STRATA_INTERNAL_INSPECT_VERIFY"
	inspectMaxFilesEnv = "STRATA_INTERNAL_INSPECT_MAX_FILES"
	inspectMemoryEnv   = "STRATA_INTERNAL_INSPECT_MEMORY"
)

type helperAnswer struct {
	Stats    *OutputStats `json:"stats,omitempty"`
	NoOutput bool         `json:"no_output,omitempty"`
	Error    string       `json:"error,omitempty"`
}

// RunInspectHelperIfRequested makes the process an inspection helper when
// the executor started it as one: it inspects, writes its answer to stdout
// and exits. Otherwise it returns at once. Call it first in main (and in
// TestMain of tests that use LocalConfig.InspectCommand).
func RunInspectHelperIfRequested() {
	if os.Getenv(inspectHelperEnv) != "1" {
		return
	}
	os.Exit(inspectHelperMain())
}

func inspectHelperMain() int {
	if mem, err := strconv.ParseUint(os.Getenv(inspectMemoryEnv), 10, 64); err == nil && mem > 0 {
		// RLIMIT_DATA (private writable mappings since Linux 4.7) bounds
		// the Go heap without counting address space merely reserved, as
		// RLIMIT_AS would (thread stacks and malloc arenas of cgo builds).
		lim := &syscall.Rlimit{Cur: mem, Max: mem}
		if err := syscall.Setrlimit(syscall.RLIMIT_DATA, lim); err != nil {
			fmt.Fprintln(os.Stderr, "set memory limit:", err)
			return 3
		}
	}
	var opts InspectOptions
	opts.Verify = Verify(atoiOr(os.Getenv(inspectVerifyEnv), 0))
	opts.MaxFiles = atoiOr(os.Getenv(inspectMaxFilesEnv), 0)
	st, err := InspectOutput(os.Getenv(inspectPathEnv), opts)
	var ans helperAnswer
	switch {
	case errors.Is(err, ErrNoOutput):
		ans.NoOutput = true
	case err != nil:
		ans.Error = err.Error()
	default:
		ans.Stats = &st
	}
	if err := json.NewEncoder(os.Stdout).Encode(ans); err != nil {
		return 3
	}
	return 0
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// inspectInHelper runs InspectOutput(p, opts) in a helper process started
// with argv, limited to memory bytes of data and to timeout.
func inspectInHelper(ctx context.Context, argv []string, p string, opts InspectOptions, memory int64, timeout time.Duration) (OutputStats, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{
		inspectHelperEnv + "=1",
		inspectPathEnv + "=" + p,
		inspectVerifyEnv + "=" + strconv.Itoa(int(opts.Verify)),
		inspectMaxFilesEnv + "=" + strconv.Itoa(opts.MaxFiles),
		inspectMemoryEnv + "=" + strconv.FormatInt(memory, 10),
		"GOTRACEBACK=none",
		"GOMAXPROCS=2",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	err := cmd.Run()
	if ctx.Err() != nil {
		return OutputStats{}, fmt.Errorf("inspect output %s: gave up after %s", p, timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "out of memory") || strings.Contains(msg, "cannot allocate memory") {
			return OutputStats{}, fmt.Errorf("inspect output %s: reading it needs more than %s of memory; a Parquet file there is corrupt or has enormous pages", p, formatBytes(memory))
		}
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return OutputStats{}, fmt.Errorf("inspect output %s: the Parquet reader crashed under its %s memory limit (%v: %s); a Parquet file there is likely corrupt",
			p, formatBytes(memory), err, msg)
	}
	var ans helperAnswer
	if err := json.Unmarshal(stdout.Bytes(), &ans); err != nil {
		return OutputStats{}, fmt.Errorf("inspect output %s: helper answered %q: %w", p, shorten(stdout.String(), 200), err)
	}
	switch {
	case ans.NoOutput:
		return OutputStats{}, ErrNoOutput
	case ans.Error != "":
		return OutputStats{}, errors.New(ans.Error)
	case ans.Stats == nil:
		return OutputStats{}, fmt.Errorf("inspect output %s: helper gave no stats", p)
	}
	return *ans.Stats, nil
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.n -= k
		_, _ = l.w.Write(p[:k])
	}
	return len(p), nil
}

// hasParquetFiles says whether InspectOutput would read any file at p,
// without opening them: it saves starting a helper when there is no
// Parquet output.
func hasParquetFiles(p string) bool {
	st, err := os.Stat(p)
	if err != nil {
		return false
	}
	if !st.IsDir() {
		return strings.EqualFold(filepath.Ext(p), ".parquet") || hasParquetMagic(p)
	}
	found := false
	_ = filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if hiddenEntry(p, fp, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.EqualFold(filepath.Ext(d.Name()), ".parquet") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// hiddenEntry says whether a walk of an output below root passes over d:
// a name starting with "." or "_" (_SUCCESS, .crc files, _temporary
// directories), root itself excepted.
func hiddenEntry(root, fp string, d fs.DirEntry) bool {
	name := d.Name()
	return fp != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_"))
}
