package materializer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

func TestPartitionPath(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"2024-01-01":            "2024-01-01",
		"2024-01-01-13:00":      "2024-01-01-13%3A00",
		"2021-11-07-01:00-0600": "2021-11-07-01%3A00-0600",
		"2024-01-01|us":         "2024-01-01/us",
		"a/b":                   "a%2Fb",
		"..":                    "%2E.",
		".hidden":               "%2Ehidden",
		"x.y":                   "x.y",
		"with space":            "with%20space",
		"100%":                  "100%25",
		"a||b":                  "a/%/b",
		"":                      UnpartitionedSegment,
		"é":                     "%C3%A9",
	} {
		if got := PartitionPath(key); got != want {
			t.Errorf("PartitionPath(%q) = %q, want %q", key, got, want)
		}
	}
}

func FuzzPartitionPath(f *testing.F) {
	for _, s := range []string{"2024-01-01", "a|b", "..", "a/b", "", "|", "x%y"} {
		f.Add(s, s+"x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		pa := PartitionPath(a)
		for _, seg := range strings.Split(pa, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
				t.Fatalf("PartitionPath(%q) = %q has segment %q", a, pa, seg)
			}
		}
		if filepath.Clean(pa) != pa || filepath.IsAbs(pa) {
			t.Fatalf("PartitionPath(%q) = %q is not a clean relative path", a, pa)
		}
		if a != b && pa == PartitionPath(b) {
			t.Fatalf("PartitionPath(%q) == PartitionPath(%q) == %q", a, b, pa)
		}
	})
}

func TestExpandOutput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tmpl, partition, want, err string
	}{
		{DefaultOutputTemplate("/data"), "2024-01-01", "/data/assets/analytics/rev/2024-01-01/", ""},
		{DefaultOutputTemplate("/data/"), "2024-01-01|eu", "/data/assets/analytics/rev/2024-01-01/eu/", ""},
		{DefaultOutputTemplate("/data"), "", "/data/assets/analytics/rev/__all__/", ""},
		{"file:///lake/{asset}/{partition}.parquet", "2024-01-01-13:00", "file:///lake/analytics/rev/2024-01-01-13%253A00.parquet", ""},
		{"s3://bucket/{asset}/{partition}/", "p", "s3://bucket/analytics/rev/p/", ""},
		{"/lake/{asset}/{date}", "p", "", "only {asset} and {partition}"},
		{"/lake/{asset", "p", "", "unclosed"},
		{"lake/{asset}", "p", "", "neither an absolute path nor a URL"},
		{"file://host/lake", "p", "", "names host"},
		{"", "p", "", "empty"},
	} {
		got, err := ExpandOutput(tc.tmpl, "analytics/rev", tc.partition)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ExpandOutput(%q) error %v, want %q", tc.tmpl, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ExpandOutput(%q, %q) = %q, %v; want %q", tc.tmpl, tc.partition, got, err, tc.want)
		}
	}

	p, ok, err := LocalPath("file:///lake/a%253Ab/x.parquet")
	if err != nil || !ok || p != "/lake/a%3Ab/x.parquet" {
		t.Errorf("LocalPath = %q %v %v", p, ok, err)
	}
	if _, ok, _ := LocalPath("s3://b/k"); ok {
		t.Error("s3 location is local")
	}
}

func TestOutputLocations(t *testing.T) {
	t.Parallel()
	run, outs, err := OutputLocations(DefaultOutputTemplate("/data"), "a/b", []string{"2024-01-01", "2024-01-02"})
	if err != nil {
		t.Fatal(err)
	}
	if run != "/data/assets/a/b/" || len(outs) != 2 || outs[1].Location != "/data/assets/a/b/2024-01-02/" {
		t.Errorf("run %q outs %+v", run, outs)
	}
	run, outs, err = OutputLocations("file:///lake/{asset}/{partition}.parquet", "a", []string{"2024-01-01"})
	if err != nil || run != "file:///lake/a/2024-01-01.parquet" || outs[0].Location != run {
		t.Errorf("run %q outs %+v %v", run, outs, err)
	}
	// Keys sharing a prefix do not cut a directory name.
	run, _, _ = OutputLocations("/lake/{asset}/{partition}.parquet", "a", []string{"2024-01-10", "2024-01-11"})
	if run != "/lake/a/" {
		t.Errorf("run %q", run)
	}
	run, outs, err = OutputLocations(DefaultOutputTemplate("/data"), "a", nil)
	if err != nil || run != "/data/assets/a/__all__/" || outs != nil {
		t.Errorf("unpartitioned: %q %+v %v", run, outs, err)
	}
}

// parquetTesting is the directory of the apache/parquet-testing sample files
// in shared/, beside the repository.
func parquetTesting(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "parquet-testing")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("parquet-testing files not found: %v", err)
	}
	return dir
}

func TestInspectParquetTestingData(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(parquetTesting(t), "data")
	// Row counts and row groups as Arrow's Go Parquet reader
	// (arrow/go/v17) reports them for these files.
	want := map[string]struct {
		rows      int64
		rowGroups int
	}{
		"alltypes_dictionary.parquet":             {2, 1},
		"alltypes_plain.parquet":                  {8, 1},
		"alltypes_plain.snappy.parquet":           {2, 1},
		"alltypes_tiny_pages.parquet":             {7300, 1},
		"byte_stream_split.zstd.parquet":          {300, 1},
		"data_index_bloom_encoding_stats.parquet": {14, 1},
		"datapage_v2.snappy.parquet":              {5, 1},
		"floating_orders_nan_count.parquet":       {50, 5},
		"nested_lists.snappy.parquet":             {3, 1},
		"nested_maps.snappy.parquet":              {6, 1},
		"nulls.snappy.parquet":                    {8, 1},
		"sort_columns.parquet":                    {6, 2},
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(dir, e.Name())
			st, err := InspectOutput(p, InspectOptions{})
			if err != nil {
				t.Fatalf("InspectOutput: %v", err)
			}
			w, ok := want[e.Name()]
			if !ok {
				t.Fatalf("new file %s: add its row count", e.Name())
			}
			fi, _ := os.Stat(p)
			if st.Files != 1 || st.Rows != w.rows || st.RowGroups != w.rowGroups || st.Bytes != fi.Size() {
				t.Errorf("stats %+v, want %d rows in %d row groups, %d bytes", st, w.rows, w.rowGroups, fi.Size())
			}
			if !strings.HasPrefix(st.DataVersion, "sha256:") || len(st.DataVersion) != 7+64 {
				t.Errorf("data version %q", st.DataVersion)
			}
			var fields []ArrowField
			if err := json.Unmarshal(st.SchemaJSON, &fields); err != nil || len(fields) == 0 {
				t.Errorf("schema %s: %v", st.SchemaJSON, err)
			}
			// Footer-only and first-page inspection agree on the numbers.
			for _, v := range []Verify{VerifyFooter, VerifyFirstPages} {
				st2, err := InspectOutput(p, InspectOptions{Verify: v})
				if err != nil || st2.Rows != st.Rows || st2.DataVersion != st.DataVersion || string(st2.SchemaJSON) != string(st.SchemaJSON) {
					t.Errorf("verify %s: %+v %v", v, st2, err)
				}
			}
		})
	}
}

func schemaOf(t *testing.T, p string) string {
	t.Helper()
	st, err := InspectOutput(p, InspectOptions{Verify: VerifyFooter})
	if err != nil {
		t.Fatal(err)
	}
	var fields []ArrowField
	if err := json.Unmarshal(st.SchemaJSON, &fields); err != nil {
		t.Fatal(err)
	}
	return formatFields(fields)
}

// formatFields prints fields compactly: name:type (? when nullable), with
// children in angle brackets.
func formatFields(fs []ArrowField) string {
	var parts []string
	for _, f := range fs {
		s := f.Name + ":" + f.Type
		if f.Nullable {
			s += "?"
		}
		if f.Children != nil {
			s += "<" + formatFields(f.Children) + ">"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestArrowSchemas(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(parquetTesting(t), "data")
	for file, want := range map[string]string{
		"alltypes_plain.parquet": "id:int32? bool_col:bool? tinyint_col:int32? smallint_col:int32? int_col:int32? bigint_col:int64? " +
			"float_col:float32? double_col:float64? date_string_col:binary? string_col:binary? timestamp_col:timestamp[ns, tz=UTC]?",
		"alltypes_tiny_pages.parquet": "id:int32? bool_col:bool? tinyint_col:int8? smallint_col:int16? int_col:int32? bigint_col:int64? " +
			"float_col:float32? double_col:float64? date_string_col:utf8? string_col:utf8? timestamp_col:timestamp[ns, tz=UTC]? year:int32? month:int32?",
		"datapage_v2.snappy.parquet":  "a:utf8? b:int32 c:float64 d:bool e:list?<element:int32>",
		"nested_lists.snappy.parquet": "a:list?<element:list?<element:list?<element:utf8?>>> b:int32",
		"nested_maps.snappy.parquet":  "a:map?<key:utf8 value:map?<key:int32 value:bool>> b:int32 c:float64",
		"nulls.snappy.parquet":        "b_struct:struct?<b_c_int:int32?>",
		"floating_orders_nan_count.parquet": "float_ieee754:float32 float_typedef:float32 double_ieee754:float64 double_typedef:float64 " +
			"float16_ieee754:float16 float16_typedef:float16",
		"byte_stream_split.zstd.parquet": "f32:float32? f64:float64?",
	} {
		if got := schemaOf(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s schema:\n got %s\nwant %s", file, got, want)
		}
	}
}

func TestInspectParquetTestingBadData(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(parquetTesting(t), "bad_data")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no bad_data files")
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(dir, e.Name())
			for _, v := range []Verify{VerifyPages, VerifyFirstPages} {
				_, err := InspectOutput(p, InspectOptions{Verify: v})
				if err == nil || errors.Is(err, ErrNoOutput) {
					t.Fatalf("verify %s: InspectOutput = %v, want an error", v, err)
				}
				if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "row group 0, column") {
					t.Errorf("error does not name the file and column: %v", err)
				}
			}
			// Their footers are fine: footer-only inspection cannot tell.
			if _, err := InspectOutput(p, InspectOptions{Verify: VerifyFooter}); err != nil {
				t.Errorf("footer only: %v", err)
			}
		})
	}
}

type testRow struct {
	ID      int64     `parquet:"id"`
	Name    string    `parquet:"name"`
	Score   float64   `parquet:"score"`
	Comment *string   `parquet:"comment,optional"`
	At      time.Time `parquet:"at,timestamp(microsecond)"`
	Tags    []string  `parquet:"tags,list"`
}

func writeTestParquet(t testing.TB, p string, n, offset int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[testRow](f, parquet.CreatedBy("strata-test", "1", "x"))
	rows := make([]testRow, n)
	c := "hi"
	for i := range rows {
		rows[i] = testRow{ID: int64(offset + i), Name: "row", Score: float64(i) / 3, At: time.Unix(int64(i), 0).UTC(), Tags: []string{"a", "b"}}
		if i%2 == 0 {
			rows[i].Comment = &c
		}
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestInspectWrittenParquet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "one.parquet")
	writeTestParquet(t, p, 1000, 0)
	st, err := InspectOutput(p, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 1000 || st.Files != 1 || st.UncompressedBytes <= 0 {
		t.Errorf("stats %+v", st)
	}
	var fields []ArrowField
	if err := json.Unmarshal(st.SchemaJSON, &fields); err != nil {
		t.Fatal(err)
	}
	want := "id:int64 name:utf8 score:float64 comment:utf8? at:timestamp[us, tz=UTC] tags:list<element:utf8>"
	if got := formatFields(fields); got != want {
		t.Errorf("schema\n got %s\nwant %s", got, want)
	}

	// Deterministic: the same data written again has the same version.
	p2 := filepath.Join(dir, "again", "x.parquet")
	writeTestParquet(t, p2, 1000, 0)
	st2, err := InspectOutput(p2, InspectOptions{})
	if err != nil || st2.DataVersion != st.DataVersion {
		t.Errorf("rewrite: %q vs %q (%v)", st2.DataVersion, st.DataVersion, err)
	}
	// Different data, different version.
	p3 := filepath.Join(dir, "other.parquet")
	writeTestParquet(t, p3, 1000, 1)
	st3, _ := InspectOutput(p3, InspectOptions{})
	if st3.DataVersion == st.DataVersion {
		t.Error("different data has the same data version")
	}
}

func TestInspectDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTestParquet(t, filepath.Join(dir, "part-0.parquet"), 10, 0)
	writeTestParquet(t, filepath.Join(dir, "sub", "part-1.parquet"), 20, 10)
	writeTestParquet(t, filepath.Join(dir, "_tmp", "part-2.parquet"), 30, 0) // skipped
	writeTestParquet(t, filepath.Join(dir, ".staging.parquet"), 30, 0)       // skipped
	for _, name := range []string{"_SUCCESS", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := InspectOutput(dir, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 2 || st.Rows != 30 {
		t.Errorf("stats %+v", st)
	}

	// Renaming files keeps the version; the footers are the data's identity.
	dir2 := t.TempDir()
	writeTestParquet(t, filepath.Join(dir2, "b.parquet"), 10, 0)
	writeTestParquet(t, filepath.Join(dir2, "a.parquet"), 20, 10)
	st2, err := InspectOutput(dir2, InspectOptions{})
	if err != nil || st2.DataVersion != st.DataVersion {
		t.Errorf("renamed files: %q vs %q (%v)", st2.DataVersion, st.DataVersion, err)
	}

	if _, err := InspectOutput(dir, InspectOptions{MaxFiles: 1}); err == nil || !strings.Contains(err.Error(), "more than 1 parquet files") {
		t.Errorf("MaxFiles: %v", err)
	}

	// A file with another schema in the same output is an error.
	if err := os.WriteFile(filepath.Join(dir2, "c.parquet"), mustRead(t, filepath.Join(parquetTesting(t), "data", "alltypes_plain.parquet")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := InspectOutput(dir2, InspectOptions{}); err == nil || !strings.Contains(err.Error(), "schema differs") {
		t.Errorf("mixed schemas: %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInspectNoOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := InspectOutput(filepath.Join(dir, "missing"), InspectOptions{}); !errors.Is(err, ErrNoOutput) {
		t.Errorf("missing: %v", err)
	}
	if _, err := InspectOutput(dir, InspectOptions{}); !errors.Is(err, ErrNoOutput) {
		t.Errorf("empty dir: %v", err)
	}
	csv := filepath.Join(dir, "out.csv")
	if err := os.WriteFile(csv, []byte("a,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := InspectOutput(csv, InspectOptions{}); !errors.Is(err, ErrNoOutput) {
		t.Errorf("csv: %v", err)
	}
}

func TestInspectCorrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeTestParquet(t, good, 100, 0)
	data := mustRead(t, good)

	flipped := append([]byte(nil), data...)
	for i := 8; i < len(flipped)/2; i++ { // garble the column data, keep the footer
		flipped[i] ^= 0x5a
	}
	for name, tc := range map[string]struct {
		content []byte
		want    string
	}{
		"empty.parquet":     {nil, "too short"},
		"garbage.parquet":   {[]byte("this is not parquet at all, just text\n"), "no Parquet magic"},
		"truncated.parquet": {data[:len(data)/2], "no Parquet magic"},
		"badfooter.parquet": {append(append([]byte("PAR1"), make([]byte, 20)...), 0xff, 0xff, 0, 0, 'P', 'A', 'R', '1'), "footer length"},
		"zeros.parquet": {append(append([]byte("PAR1"), make([]byte, 40)...), 30, 0, 0, 0, 'P', 'A', 'R', '1'),
			"parquet file"},
		"encrypted.parquet": {append(append([]byte("PARE"), make([]byte, 20)...), 10, 0, 0, 0, 'P', 'A', 'R', 'E'), "encrypted"},
		"flipped.parquet":   {flipped, "row group 0"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := InspectOutput(p, InspectOptions{})
			if err == nil || errors.Is(err, ErrNoOutput) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("InspectOutput = %v, want an error naming %s and saying %q", err, p, tc.want)
			}
		})
	}
}

func FuzzInspectOutput(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "seed.parquet")
	writeTestParquet(f, good, 5, 0)
	b, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("PAR1PAR1"))
	// One file per fuzzing process, rewritten for each input.
	p := filepath.Join(dir, "f.parquet")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// Must not panic (a recovered panic is an error) or hang.
		_, _ = InspectOutput(p, InspectOptions{})
	})
}
