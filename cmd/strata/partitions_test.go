package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const exampleFile = "../../examples/partitions.yaml"

// result is what one in-process run of the CLI produced.
type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// runJSON runs the CLI, wants exit 0, and decodes its JSON output.
func runJSON[T any](t *testing.T, args ...string) T {
	t.Helper()
	r := runCLI(t, append(args, "-o", "json")...)
	if r.code != exitOK {
		t.Fatalf("strata %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("strata %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
	return v
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type keysOut struct {
	Total      int64           `json:"total"`
	Partitions []partitionJSON `json:"partitions"`
}

func TestPartitionsKeys(t *testing.T) {
	t.Parallel()
	const now = "2026-01-06T12:00:00+01:00"
	day := func(d string) partitionJSON {
		next := map[string]string{"01": "02", "02": "03", "03": "04", "04": "05", "05": "06"}[d]
		return partitionJSON{Key: "2026-01-" + d, Start: "2026-01-" + d + "T00:00:00+01:00", End: "2026-01-" + next + "T00:00:00+01:00"}
	}
	tests := []struct {
		name string
		args []string
		want keysOut
	}{
		{"all", []string{"--asset", "analytics/daily_revenue"},
			keysOut{5, []partitionJSON{day("01"), day("02"), day("03"), day("04"), day("05")}}},
		{"paged", []string{"--asset", "analytics/daily_revenue", "--offset", "1", "--limit", "2"},
			keysOut{5, []partitionJSON{day("02"), day("03")}}},
		{"range", []string{"--asset", "analytics/daily_revenue", "--from", "2026-01-02", "--to", "2026-01-04"},
			keysOut{3, []partitionJSON{day("02"), day("03"), day("04")}}},
		{"range paged past the end", []string{"--asset", "analytics/daily_revenue", "--from", "2026-01-04", "--offset", "5"},
			keysOut{2, []partitionJSON{}}},
		{"static", []string{"--asset", "raw/customers"},
			keysOut{3, []partitionJSON{{Key: "eu"}, {Key: "us"}, {Key: "apac"}}}},
		{"hourly", []string{"--asset", "raw/events", "--limit", "2", "--from", "2026-01-06-10:00"},
			keysOut{2, []partitionJSON{
				{Key: "2026-01-06-10:00", Start: "2026-01-06T10:00:00+01:00", End: "2026-01-06T11:00:00+01:00"},
				{Key: "2026-01-06-11:00", Start: "2026-01-06T11:00:00+01:00", End: "2026-01-06T12:00:00+01:00"},
			}}},
		// Fall back in Berlin: the repeated 02:00 hour gets the offset appended.
		{"hourly fall back", []string{"--asset", "raw/events", "--now", "2026-11-01T00:00:00Z", "--from", "2026-10-25-01:00", "--to", "2026-10-25-03:00"},
			keysOut{4, []partitionJSON{
				{Key: "2026-10-25-01:00", Start: "2026-10-25T01:00:00+02:00", End: "2026-10-25T02:00:00+02:00"},
				{Key: "2026-10-25-02:00", Start: "2026-10-25T02:00:00+02:00", End: "2026-10-25T02:00:00+01:00"},
				{Key: "2026-10-25-02:00+0100", Start: "2026-10-25T02:00:00+01:00", End: "2026-10-25T03:00:00+01:00"},
				{Key: "2026-10-25-03:00", Start: "2026-10-25T03:00:00+01:00", End: "2026-10-25T04:00:00+01:00"},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A later --now wins over the default one given first.
			got := runJSON[keysOut](t, append([]string{"partitions", "keys", "-f", exampleFile, "--now", now}, tt.args...)...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}

	t.Run("multi", func(t *testing.T) {
		t.Parallel()
		got := runJSON[keysOut](t, "partitions", "keys", "-f", exampleFile, "--now", now, "--asset", "analytics/regional_orders", "--limit", "1")
		if got.Total != 15 || len(got.Partitions) != 1 || got.Partitions[0].Start != "2026-01-01T00:00:00+01:00" {
			t.Errorf("got %+v; want 15 partitions (5 days x 3 regions), the first from 2026-01-01", got)
		}
	})

	t.Run("table", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, "partitions", "keys", "-f", exampleFile, "--now", now, "--asset", "analytics/daily_revenue", "--limit", "2")
		if r.code != exitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "KEY") ||
			strings.Join(strings.Fields(lines[1]), " ") != "2026-01-01 2026-01-01T00:00:00+01:00 2026-01-02T00:00:00+01:00" ||
			!strings.HasPrefix(lines[3], "(1-2 of 5;") {
			t.Errorf("table:\n%s", r.stdout)
		}
	})

	t.Run("dynamic", func(t *testing.T) {
		t.Parallel()
		file := writeFile(t, "dyn.yaml", "assets:\n  - key: customers\n    partitions: {dynamic: {name: customers}}\n")
		r := runCLI(t, "partitions", "keys", "-f", file, "--asset", "customers", "-o", "json")
		if r.code != exitOK || !strings.Contains(r.stderr, "--dynamic customers=k1,k2") || !strings.Contains(r.stdout, `"total": 0`) {
			t.Errorf("no keys offline: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		got := runJSON[keysOut](t, "partitions", "keys", "-f", file, "--asset", "customers", "--dynamic", "customers=acme,globex")
		if want := (keysOut{2, []partitionJSON{{Key: "acme"}, {Key: "globex"}}}); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
}

func TestPartitionsWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		asset, key string
		want       partitionJSON
	}{
		{"analytics/daily_revenue", "2026-01-03",
			partitionJSON{"2026-01-03", "2026-01-03T00:00:00+01:00", "2026-01-04T00:00:00+01:00"}},
		// Spring forward in Berlin: 02:00 does not exist, so 01:00 lasts one real hour.
		{"raw/events", "2026-03-29-01:00",
			partitionJSON{"2026-03-29-01:00", "2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"}},
		// Weekly from Monday 06:00.
		{"reports/weekly_summary", "2026-01-12",
			partitionJSON{"2026-01-12", "2026-01-12T06:00:00+01:00", "2026-01-19T06:00:00+01:00"}},
		{"raw/customers", "us", partitionJSON{Key: "us"}},
	}
	for _, tt := range tests {
		t.Run(tt.asset, func(t *testing.T) {
			t.Parallel()
			got := runJSON[partitionJSON](t, "partitions", "window", "-f", exampleFile, "--asset", tt.asset, "--key", tt.key, "--now", "2026-06-01T00:00:00Z")
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

type upstreamOut struct {
	Upstream []string `json:"upstream"`
	Missing  []string `json:"missing"`
}

type downstreamOut struct {
	Downstream []string `json:"downstream"`
}

const mappingFile = `assets:
  - key: up
    partitions: {time_window: {schedule: daily, start: "2026-01-01"}}
  - key: down
    partitions: {time_window: {schedule: daily, start: "2026-01-01", end_offset: 1}}
    deps: [{asset: up}]
  - key: dashboard
    deps: [{asset: down}]
`

func TestPartitionsUpstream(t *testing.T) {
	t.Parallel()
	hours := func(day string) []string {
		var out []string
		for h := range 24 {
			out = append(out, day+"-"+[]string{"00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
				"12", "13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23"}[h]+":00")
		}
		return out
	}
	file := writeFile(t, "m.yaml", mappingFile)
	tests := []struct {
		name string
		args []string
		want upstreamOut
	}{
		{"hourly to daily", []string{"-f", exampleFile, "--asset", "analytics/sessions", "--dep", "raw/events", "--key", "2026-01-02"},
			upstreamOut{hours("2026-01-02"), []string{}}},
		{"offset -1", []string{"-f", exampleFile, "--asset", "analytics/daily_revenue", "--dep", "analytics/sessions", "--key", "2026-01-03", "--key", "2026-01-05"},
			upstreamOut{[]string{"2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"}, []string{}}},
		{"all", []string{"-f", exampleFile, "--asset", "analytics/daily_revenue", "--dep", "raw/customers", "--key", "2026-01-03"},
			upstreamOut{[]string{"eu", "us", "apac"}, []string{}}},
		// At 2026-01-05T23:00Z, up has 01..04 and down (end_offset 1) 01..05.
		{"missing", []string{"-f", file, "--asset", "down", "--dep", "up", "--key", "2026-01-02", "--key", "2026-01-05"},
			upstreamOut{[]string{"2026-01-02"}, []string{"2026-01-05"}}},
		{"unpartitioned downstream", []string{"-f", file, "--asset", "dashboard", "--dep", "down"},
			upstreamOut{[]string{"2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"}, []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := runJSON[upstreamOut](t, append([]string{"partitions", "upstream", "--now", "2026-01-06T00:00:00+01:00"}, tt.args...)...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPartitionsDownstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		now  string
		args []string
		want []string
	}{
		{"hourly to daily", "2026-01-06T00:00:00+01:00",
			[]string{"--asset", "analytics/sessions", "--dep", "raw/events", "--key", "2026-01-02-05:00", "--key", "2026-01-03-23:00"},
			[]string{"2026-01-02", "2026-01-03"}},
		// The day of an hour that just ended does not exist yet.
		{"day not complete", "2026-01-05T01:00:00+01:00",
			[]string{"--asset", "analytics/sessions", "--dep", "raw/events", "--key", "2026-01-05-00:00"},
			[]string{}},
		{"offset -1", "2026-01-06T00:00:00+01:00",
			[]string{"--asset", "analytics/daily_revenue", "--dep", "analytics/sessions", "--key", "2026-01-03"},
			[]string{"2026-01-03", "2026-01-04"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := runJSON[downstreamOut](t, append([]string{"partitions", "downstream", "-f", exampleFile, "--now", tt.now}, tt.args...)...)
			if !reflect.DeepEqual(got.Downstream, tt.want) {
				t.Errorf("got %q, want %q", got.Downstream, tt.want)
			}
		})
	}
}

func TestPartitionsErrors(t *testing.T) {
	t.Parallel()
	badField := writeFile(t, "bad.yaml", `assets:
  - key: a
    partitions:
      time_window: {scheudle: daily, start: "2026-01-01"}
`)
	badGraph := writeFile(t, "graph.yaml", `assets:
  - key: a
    retry: {max_attempts: 0}
  - key: b
    deps:
      - asset: c
`)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string // substrings of stderr
	}{
		{"no command", nil, exitUsage, []string{"Usage: strata", "no command given"}},
		{"unknown command", []string{"serve"}, exitUsage, []string{`unknown command "serve"`}},
		{"no partitions command", []string{"partitions"}, exitUsage, []string{"Usage: strata partitions"}},
		{"unknown flag", []string{"partitions", "keys", "--bogus"}, exitUsage, []string{"flag provided but not defined: -bogus"}},
		{"no file", []string{"partitions", "keys", "--asset", "a"}, exitUsage, []string{"-f FILE is required"}},
		{"missing file", []string{"partitions", "keys", "-f", "nope.yaml", "--asset", "a"}, exitUsage, []string{"read declarations: stat nope.yaml"}},
		{"bad now", []string{"partitions", "keys", "-f", exampleFile, "--asset", "raw/events", "--now", "2026-01-01"}, exitUsage, []string{`--now "2026-01-01"`}},
		{"bad output", []string{"partitions", "keys", "-f", exampleFile, "--asset", "raw/events", "-o", "xml"}, exitUsage, []string{`-o "xml"`}},
		{"unknown asset", []string{"partitions", "keys", "-f", exampleFile, "--asset", "raw/event"}, exitUsage, []string{`--asset "raw/event": no such asset`}},
		{"unknown field", []string{"partitions", "keys", "-f", badField, "--asset", "a"}, exitUsage,
			[]string{badField + `:4:21: assets[0].partitions.time_window.scheudle: unknown field "scheudle"; did you mean "schedule"?`}},
		{"graph errors located", []string{"partitions", "keys", "-f", badGraph, "--asset", "a"}, exitUsage,
			[]string{
				badGraph + `:3:27: assets[0].retry.max_attempts: must be between 1 and 100, got 0`,
				badGraph + `:6:16: assets[1].deps[0].asset: unknown asset "c"`,
			}},
		{"not a dep", []string{"partitions", "upstream", "-f", exampleFile, "--asset", "analytics/sessions", "--dep", "raw/customers", "--key", "2026-01-01"}, exitUsage,
			[]string{`--dep "raw/customers": analytics/sessions does not depend on it (its deps: raw/events)`}},
		{"no key", []string{"partitions", "upstream", "-f", exampleFile, "--asset", "analytics/sessions", "--dep", "raw/events"}, exitUsage,
			[]string{"give at least one --key of analytics/sessions"}},
		{"from not a key", []string{"partitions", "keys", "-f", exampleFile, "--asset", "analytics/daily_revenue", "--now", "2026-01-06T00:00:00Z", "--from", "2026-02-01"}, exitFail,
			[]string{`--from "2026-02-01" is not a partition key of analytics/daily_revenue`}},
		{"to not a key", []string{"partitions", "keys", "-f", exampleFile, "--asset", "analytics/daily_revenue", "--now", "2026-01-06T00:00:00Z", "--to", "2026-01-02-00:00"}, exitFail,
			[]string{`--to "2026-01-02-00:00" is not a partition key`}},
		{"from after to", []string{"partitions", "keys", "-f", exampleFile, "--asset", "analytics/daily_revenue", "--now", "2026-01-06T00:00:00Z", "--from", "2026-01-04", "--to", "2026-01-02"}, exitFail,
			[]string{`--from "2026-01-04" comes after --to "2026-01-02"`}},
		{"bad dynamic flag", []string{"partitions", "keys", "-f", exampleFile, "--asset", "raw/events", "--dynamic", "customers"}, exitUsage,
			[]string{`invalid value "customers" for flag -dynamic: want NAME=k1,k2`}},
		{"window invalid key", []string{"partitions", "window", "-f", exampleFile, "--asset", "analytics/daily_revenue", "--key", "yesterday"}, exitFail,
			[]string{`"yesterday" is not a partition key of analytics/daily_revenue`}},
		{"window static invalid key", []string{"partitions", "window", "-f", exampleFile, "--asset", "raw/customers", "--key", "mars"}, exitFail,
			[]string{`"mars" is not a partition key of raw/customers`}},
		{"upstream key not a partition", []string{"partitions", "upstream", "-f", exampleFile, "--asset", "analytics/sessions", "--dep", "raw/events", "--now", "2026-01-06T00:00:00Z", "--key", "2026-01-07"}, exitFail,
			[]string{`--key "2026-01-07" is not a partition key of analytics/sessions`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"partitions", "help"}, {"partitions", "keys", "-h"}} {
		r := runCLI(t, args...)
		if r.code != exitOK || !strings.Contains(r.stdout+r.stderr, "Usage: strata") {
			t.Errorf("strata %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

// TestBinary builds the strata binary and runs README's command once.
func TestBinary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "strata")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "partitions", "keys", "-f", exampleFile, "--asset", "analytics/daily_revenue",
		"--limit", "5", "--now", "2026-02-01T00:00:00Z", "-o", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("strata: %v\n%s", err, stderr.String())
	}
	var got keysOut
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if got.Total != 31 || len(got.Partitions) != 5 || got.Partitions[4].Key != "2026-01-05" {
		t.Errorf("got %+v; want 31 partitions, the first five shown", got)
	}

	// Bad input exits 2 from the real binary too.
	err = exec.Command(bin, "partitions", "keys").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitUsage {
		t.Errorf("strata partitions keys: %v, want exit %d", err, exitUsage)
	}
}
