package asset_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/strata-data/strata/asset"
)

// errLines returns the FieldErrors of err as their Error() strings.
func errLines(err error) []string {
	var out []string
	for _, fe := range asset.FieldErrors(err) {
		out = append(out, fe.Error())
	}
	return out
}

func TestYAMLParseExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../examples/partitions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, src, err := asset.ParseFile("examples/partitions.yaml", data)
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	if len(f.Assets) != 6 {
		t.Fatalf("got %d assets, want 6", len(f.Assets))
	}
	byKey := map[string]*asset.AssetDecl{}
	for i := range f.Assets {
		byKey[f.Assets[i].Key] = &f.Assets[i]
	}
	rev := byKey["analytics/daily_revenue"]
	if rev == nil {
		t.Fatal("no analytics/daily_revenue")
	}
	if got := rev.Compute.Timeout.Std(); got != 30*time.Minute {
		t.Errorf("timeout = %v, want 30m", got)
	}
	if rev.Freshness.MaxLag.Std() != 6*time.Hour || rev.Freshness.WarnLag.Std() != 3*time.Hour {
		t.Errorf("freshness = %+v", rev.Freshness)
	}
	if rev.Retry.MaxAttempts != 3 || rev.Retry.Backoff.Std() != 30*time.Second {
		t.Errorf("retry = %+v", rev.Retry)
	}
	if rev.Automation.Condition != asset.AutomationEager {
		t.Errorf("automation = %+v", rev.Automation)
	}
	if m := rev.Deps[0].Mapping.TimeWindow; m == nil || m.StartOffset != -1 || m.EndOffset != 0 {
		t.Errorf("deps[0].mapping = %+v", rev.Deps[0].Mapping)
	}
	if rev.Deps[1].Mapping.All == nil {
		t.Errorf("deps[1].mapping.all not set: %+v", rev.Deps[1].Mapping)
	}
	if tw := rev.Partitions.TimeWindow; tw == nil || tw.Schedule != "daily" || tw.Timezone != "Europe/Berlin" {
		t.Errorf("partitions = %+v", rev.Partitions)
	}
	if rev.CodeVersion != "7" || rev.Tags["tier"] != "gold" {
		t.Errorf("code_version/tags = %q %v", rev.CodeVersion, rev.Tags)
	}
	ev := byKey["raw/events"]
	if ev.Automation.Condition != asset.AutomationOnCron || ev.Automation.Cron != "5 * * * *" {
		t.Errorf("raw/events automation = %+v", ev.Automation)
	}
	if got := byKey["analytics/sessions"].Resources.Memory; got != 4<<30 {
		t.Errorf("memory = %d, want 4GiB", got)
	}
	weekly := byKey["reports/weekly_summary"].Partitions.TimeWindow
	if weekly.DayOffset == nil || *weekly.DayOffset != 1 || weekly.HourOffset != 6 {
		t.Errorf("weekly = %+v", weekly)
	}
	multi := byKey["analytics/regional_orders"].Partitions.Multi
	if len(multi) != 2 || multi[0].Name != "date" || !slices.Equal(multi[1].Static, []string{"eu", "us", "apac"}) {
		t.Errorf("multi = %+v", multi)
	}
	pos, ok := src.Lookup("assets[3].freshness.max_lag")
	if !ok || pos.File != "examples/partitions.yaml" || pos.Line == 0 {
		t.Errorf("Lookup(assets[3].freshness.max_lag) = %+v, %v", pos, ok)
	}
	if err := f.Validate(); err != nil {
		t.Errorf("example does not validate:\n%v", src.Locate(err))
	}
}

func TestYAMLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string // FieldError.Error() of each problem, in order
	}{
		{
			name: "unknown field with suggestion",
			yaml: `assets:
  - key: a
    partitions:
      time_window: {scheudle: daily, start: "2026-01-01"}
`,
			want: []string{`f.yaml:4:21: assets[0].partitions.time_window.scheudle: unknown field "scheudle"; did you mean "schedule"?`},
		},
		{
			name: "unknown field without suggestion",
			yaml: "assets:\n  - key: a\n    colour: red\n",
			want: []string{`f.yaml:3:5: assets[0].colour: unknown field "colour"`},
		},
		{
			name: "camel case suggestion",
			yaml: "assets:\n  - key: a\n    codeVersion: \"1\"\n",
			want: []string{`f.yaml:3:5: assets[0].codeVersion: unknown field "codeVersion"; did you mean "code_version"?`},
		},
		{
			name: "top level",
			yaml: "asset:\n  - key: a\n",
			want: []string{`f.yaml:1:1: asset: unknown field "asset"; did you mean "assets"?`},
		},
		{
			name: "wrong types",
			yaml: `assets:
  - key: a
  - key: b
  - key: c
    retry: {max_attempts: three}
    owners: alice
    resources: {cpus: many}
    compute: {shardable: yes, command: python}
`,
			want: []string{
				`f.yaml:5:27: assets[2].retry.max_attempts: expected an integer, got "three"`,
				`f.yaml:6:13: assets[2].owners: expected a list, got "alice"`,
				`f.yaml:7:23: assets[2].resources.cpus: expected a number, got "many"`,
				`f.yaml:8:26: assets[2].compute.shardable: expected true or false, got "yes"`,
				`f.yaml:8:40: assets[2].compute.command: expected a list, got "python"`,
			},
		},
		{
			name: "mapping where a scalar belongs",
			yaml: "assets:\n  - key: {a: b}\n    deps: {asset: x}\n  - key: c\n    deps: [raw/orders]\n",
			want: []string{
				`f.yaml:2:10: assets[0].key: expected a string, got a mapping`,
				`f.yaml:3:11: assets[0].deps: expected a list, got a mapping`,
				`f.yaml:5:12: assets[1].deps[0]: expected a mapping like {asset: raw/orders}, got "raw/orders"`,
			},
		},
		{
			name: "durations and sizes",
			yaml: `assets:
  - key: a
    compute: {command: [x], timeout: 30}
    retry: {max_attempts: 1, backoff: soon}
    resources: {memory: 4 gigs}
`,
			want: []string{
				`f.yaml:3:38: assets[0].compute.timeout: invalid duration "30" (use e.g. 30s, 15m, 2h, 1d)`,
				`f.yaml:4:39: assets[0].retry.backoff: invalid duration "soon" (use e.g. 30s, 15m, 2h, 1d)`,
				`f.yaml:5:25: assets[0].resources.memory: invalid size "4 gigs" (use e.g. 512MiB, 4GiB)`,
			},
		},
		{
			name: "duplicate keys",
			yaml: "assets:\n  - key: a\n    group: g\n    key: b\n    tags: {x: 1, x: 2}\n",
			want: []string{
				`f.yaml:4:5: assets[0].key: duplicate key "key" (first at line 2)`,
				`f.yaml:5:18: assets[0].tags.x: duplicate key "x" (first at line 5)`,
			},
		},
		{
			name: "automation",
			yaml: `assets:
  - key: a
    automation: [eager]
  - key: b
    automation: {on_corn: "0 * * * *"}
  - key: c
    automation: {on_cron: {at: 1}}
`,
			want: []string{
				`f.yaml:3:17: assets[0].automation: expected eager, on_missing, none or {on_cron: "CRON"}, got a list`,
				`f.yaml:5:18: assets[1].automation.on_corn: unknown field "on_corn"; did you mean "on_cron"?`,
				`f.yaml:7:27: assets[2].automation.on_cron: expected a cron expression, got a mapping`,
			},
		},
		{
			name: "empty kinds take no parameters",
			yaml: "assets:\n  - key: a\n    deps:\n      - asset: b\n        mapping: {identity: {x: 1}}\n",
			want: []string{`f.yaml:5:29: assets[0].deps[0].mapping.identity: takes no parameters; write {}`},
		},
		{
			name: "multiple documents",
			yaml: "assets: []\n---\nassets: []\n",
			want: []string{`f.yaml:2:1: the file holds 2 YAML documents; declare every asset in one assets: list (or use one file per document)`},
		},
		{
			name: "syntax error",
			yaml: "assets:\n  - key: a\n    group: [x\n",
			want: []string{`f.yaml:2: invalid YAML: did not find expected ',' or ']'`},
		},
		{
			name: "not a mapping",
			yaml: "- key: a\n",
			want: []string{`f.yaml:1:1: expected a mapping with an assets: list, got a list`},
		},
		{
			name: "complex key",
			yaml: "assets:\n  - ? [a]\n    : b\n",
			want: []string{`f.yaml:2:7: assets[0]: expected a field name, got a list`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := asset.ParseFile("f.yaml", []byte(tt.yaml))
			var ve *asset.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ParseFile error = %v, want a *ValidationError", err)
			}
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestYAMLLimits(t *testing.T) {
	t.Parallel()
	// Each level maps a hundred dimensions to the level below: 10^8
	// mappings once expanded, from a file of a few kilobytes.
	var b strings.Builder
	b.WriteString("x:\n  - &m0 {all: {}}\n")
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&b, "  - &m%d {multi: {", i)
		for j := range 100 {
			fmt.Fprintf(&b, "d%d: *m%d, ", j, i-1)
		}
		b.WriteString("}}\n")
	}
	b.WriteString("assets:\n  - key: a\n    deps:\n      - asset: b\n        mapping: *m4\n")
	_, _, err := asset.ParseFile("f.yaml", []byte(b.String()))
	lines := errLines(err)
	if len(lines) != 2 || !strings.Contains(lines[1], "the document is too large once its aliases are expanded") {
		t.Errorf("errors = %q", lines)
	}

	// Deep nesting stops early too (field paths grow with the depth).
	deep := "assets:\n  - key: a\n    deps:\n      - asset: b\n        mapping: " +
		strings.Repeat("{multi: {a: ", 1000) + "{all: {}}" + strings.Repeat("}}", 1000) + "\n"
	_, _, err = asset.ParseFile("f.yaml", []byte(deep))
	if lines := errLines(err); len(lines) != 1 || !strings.HasSuffix(lines[0], ": nested too deeply") {
		t.Errorf("errors = %q", lines)
	}
}

func TestYAMLAccepts(t *testing.T) {
	t.Parallel()
	f, _, err := asset.ParseFile("f.yaml", []byte(`
defaults: &compute
  command: [python3, job.py]
  env: {A: "1"}
assets:
  - key: a
    code_version: 7
    automation: none
    partitions: {static: [eu, us]}
  - key: b
    compute:
      <<: *compute
      timeout: 1d
    automation: {condition: on_cron, cron: "0 * * * *"}
    partitions: {static: [x, y]}
    deps:
      - asset: a
        mapping: {static: {eu: x, us: [x, y]}}
      - asset: c
        mapping: {identity: , multi: {date: {time_window: {start_offset: -1}}, region: {identity: {}}}}
    resources: {memory: 1048576, cpus: 0.5}
`))
	// "defaults" is not a field: anchors must live inside known fields, or
	// the file is rejected. Check the rest decoded as meant.
	if got := errLines(err); !slices.Equal(got, []string{`f.yaml:2:1: defaults: unknown field "defaults"`}) {
		t.Fatalf("errors = %q", got)
	}
	a, b := f.Assets[0], f.Assets[1]
	if a.CodeVersion != "7" || a.Automation.Condition != "none" {
		t.Errorf("a = %+v", a)
	}
	if !slices.Equal(b.Compute.Command, []string{"python3", "job.py"}) || b.Compute.Env["A"] != "1" || b.Compute.Timeout.Std() != 24*time.Hour {
		t.Errorf("b.compute (merge key) = %+v", b.Compute)
	}
	if b.Automation.Condition != asset.AutomationOnCron || b.Automation.Cron != "0 * * * *" {
		t.Errorf("b.automation = %+v", b.Automation)
	}
	st := b.Deps[0].Mapping.Static
	if !slices.Equal(st["eu"], []string{"x"}) || !slices.Equal(st["us"], []string{"x", "y"}) {
		t.Errorf("static mapping = %v", st)
	}
	m := b.Deps[1].Mapping
	if m.Identity == nil {
		t.Errorf("identity with no value is not set")
	}
	if m.Multi["date"].TimeWindow.StartOffset != -1 || m.Multi["region"].Identity == nil {
		t.Errorf("multi mapping = %+v", m.Multi)
	}
	if b.Resources.Memory != 1<<20 || b.Resources.CPUs != 0.5 {
		t.Errorf("resources = %+v", b.Resources)
	}
}

func TestYAMLEmptyFile(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n", "---\n...\n", "assets:\n", "assets: []\n"} {
		f, src, err := asset.ParseFile("f.yaml", []byte(in))
		if err != nil || f == nil || src == nil || len(f.Assets) != 0 {
			t.Errorf("ParseFile(%q) = %v, %v, %v; want no assets, no error", in, f, src, err)
		}
	}
}

func TestYAMLLocate(t *testing.T) {
	t.Parallel()
	f, src, err := asset.ParseFile("f.yaml", []byte(`assets:
  - key: a
  - key: Bad/Key
    retry: {max_attempts: 0}
    deps:
      - asset: a
        mapping:
          time_window: {start_offset: -1}
`))
	if err != nil {
		t.Fatal(err)
	}
	// Validation finds problems after parsing; Locate points at them.
	got := errLines(src.Locate(f.Validate()))
	want := []string{
		`f.yaml:3:10: assets[1].key: asset key "Bad/Key": segment "Bad" has 'B'; segments take only a-z, 0-9 and _`,
		`f.yaml:4:27: assets[1].retry.max_attempts: must be between 1 and 100, got 0`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("located:\n got %q\nwant %q", got, want)
	}

	// A path without a node of its own falls back to its nearest parent.
	ve := &asset.ValidationError{}
	ve.Add("assets[1].deps[0].mapping.time_window.end_offset", "too far")
	ve.Add("assets[1].deps[0].mapping.time_window.start_offset", "too early")
	ve.Add("assets[1].deps[0].mapping", "does not fit")
	ve.Add("assets[7].key", "no such asset")
	ve.Add("", "no field")
	got = errLines(src.Locate(ve))
	want = []string{
		`f.yaml:8:24: assets[1].deps[0].mapping.time_window.end_offset: too far`,
		`f.yaml:8:39: assets[1].deps[0].mapping.time_window.start_offset: too early`,
		`f.yaml:7:9: assets[1].deps[0].mapping: does not fit`,
		`f.yaml:1:1: assets[7].key: no such asset`,
		`no field`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("located:\n got %q\nwant %q", got, want)
	}

	// Errors that are not validation errors pass through; nil stays nil.
	plain := errors.New("plain")
	if src.Locate(plain) != plain || src.Locate(nil) != nil {
		t.Error("Locate changed a plain error or nil")
	}
}

func TestYAMLLoadDir(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"decl/a.yaml":      {Data: []byte("assets:\n  - key: a\n  - key: b\n")},
		"decl/b.yml":       {Data: []byte("assets:\n  - key: c\n    retry: {max_attempts: 0}\n    colour: red\n")},
		"decl/README.md":   {Data: []byte("not yaml")},
		"decl/.hidden.yml": {Data: []byte("garbage: [")},
		"decl/sub/x.yaml":  {Data: []byte("garbage: [")},
	}
	f, src, err := asset.LoadDir(fsys, "decl")
	if got, want := errLines(err), []string{`decl/b.yml:4:5: assets[2].colour: unknown field "colour"`}; !slices.Equal(got, want) {
		t.Fatalf("LoadDir errors:\n got %q\nwant %q", got, want)
	}
	var keys []string
	for _, a := range f.Assets {
		keys = append(keys, a.Key)
	}
	if !slices.Equal(keys, []string{"a", "b", "c"}) {
		t.Fatalf("keys = %q", keys)
	}
	got := errLines(src.Locate(f.Validate()))
	want := []string{`decl/b.yml:3:27: assets[2].retry.max_attempts: must be between 1 and 100, got 0`}
	if !slices.Equal(got, want) {
		t.Errorf("located:\n got %q\nwant %q", got, want)
	}
	if pos, ok := src.Lookup("assets[1]"); !ok || pos != (asset.SourcePos{File: "decl/a.yaml", Line: 3, Column: 5}) {
		t.Errorf("Lookup(assets[1]) = %+v, %v", pos, ok)
	}

	if _, _, err := asset.LoadDir(fsys, "missing"); err == nil || !strings.Contains(err.Error(), "load declarations from missing") {
		t.Errorf("LoadDir(missing) = %v", err)
	}
}

func ExampleParseFile() {
	data := []byte(`assets:
  - key: raw/orders
    retry: {max_attemps: 3}
`)
	_, _, err := asset.ParseFile("assets.yaml", data)
	fmt.Println(err)
	// Output: assets.yaml:3:13: assets[0].retry.max_attemps: unknown field "max_attemps"; did you mean "max_attempts"?
}

func ExampleSource_Locate() {
	data := []byte(`assets:
  - key: raw/orders
    retry: {max_attempts: 0}
`)
	f, src, err := asset.ParseFile("assets.yaml", data)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Validate (and NewGraph) know fields, not positions; Locate adds them.
	fmt.Println(src.Locate(f.Validate()))
	// Output: assets.yaml:3:27: assets[0].retry.max_attempts: must be between 1 and 100, got 0
}
