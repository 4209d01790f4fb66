package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
	"github.com/strata-data/strata/examples/demo"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// TestMain stops the throwaway PostgreSQL that pgtest may start.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestDemoExitAfterBackfill runs the built binary's `strata demo
// --exit-after-backfill` end to end, on SQLite and on PostgreSQL: the
// server, the dispatcher, the real example jobs (the binary's hidden `job`
// subcommand) and the backfill of the last 7 days with every asset. Events
// are scaled down to 2% so it takes seconds, not minutes, on 2 cores.
func TestDemoExitAfterBackfill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and runs the whole demo")
	}
	bin := filepath.Join(t.TempDir(), "strata-under-test") // any name: the demo links it as strata
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return pgtest.SchemaURL(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dataDir := filepath.Join(t.TempDir(), "data")
			args := []string{"demo", "--exit-after-backfill", "--listen", "127.0.0.1:0", "--days", "7", "--scale", "0.02",
				"--data-dir", dataDir}
			db := tc.db(t)
			if db != "" {
				args = append(args, "--db", db)
			} else {
				db = "sqlite://" + filepath.Join(dataDir, "strata.db")
			}
			cmd := exec.Command(bin, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			began := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("strata %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
			}
			t.Logf("demo on %s took %s", tc.name, time.Since(began).Round(time.Millisecond))
			out := stdout.String()
			if !strings.Contains(out, "succeeded") {
				t.Errorf("no success line:\n%s", out)
			}
			// The catalog agrees: every partition of the backfill has a
			// succeeded run and a row count, the weekly report included.
			cat, err := catalog.Open(t.Context(), db, catalog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer cat.Close()
			f, _, err := asset.ParseFile(demo.AssetsFile, demo.AssetsYAML())
			if err != nil {
				t.Fatal(err)
			}
			start, end := demoRange(began, 7)
			rep, err := verifyBackfills(t.Context(), cat, f.Assets, start, end, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.ok() || len(rep.assets) != 6 || rep.partitions < 200 {
				t.Errorf("catalog: %d partitions of %d assets, not ok: %v", rep.partitions, len(rep.assets), rep.bad)
			}
			// Every asset of the graph was backfilled, with rows.
			for _, key := range []string{"raw/events", "raw/customers", "analytics/sessions", "analytics/daily_revenue",
				"reports/weekly_summary", "analytics/regional_sales"} {
				rows := reportRows(out, key)
				if rows <= 0 {
					t.Errorf("%s: %d rows in the report, want > 0:\n%s", key, rows, out)
				}
			}
		})
	}
}

// reportRows returns the ROWS column of key's line of the demo's report, or
// -1.
func reportRows(out, key string) int64 {
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == key {
			n, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

func TestDemoRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		now        string
		days       int
		start, end string
	}{
		// Saturday: 7 days back is a Saturday; the Monday before is 11-09.
		{"2026-11-21T15:04:05Z", 7, "2026-11-09", "2026-11-21"},
		// Monday: 7 days back is a Monday already.
		{"2026-11-23T00:30:00Z", 7, "2026-11-16", "2026-11-23"},
		{"2026-11-20T23:59:59+01:00", 2, "2026-11-16", "2026-11-20"},
	} {
		now, err := time.Parse(time.RFC3339, tc.now)
		if err != nil {
			t.Fatal(err)
		}
		s, e := demoRange(now, tc.days)
		if got := s.Format(time.DateOnly) + " " + e.Format(time.DateOnly); got != tc.start+" "+tc.end {
			t.Errorf("demoRange(%s, %d) = %s, want %s %s", tc.now, tc.days, got, tc.start, tc.end)
		}
		if s.Weekday() != time.Monday {
			t.Errorf("start %s is a %s", s, s.Weekday())
		}
	}
}

func TestDemoProgress(t *testing.T) {
	t.Parallel()
	p := &stratav1.BackfillProgress{Total: 10, Succeeded: 4, Failed: 1, Running: 2, Queued: 3}
	got := demoProgress(p, 3*time.Second, 10)
	want := "[#####-----]  50%  4/10 partitions  2 running  3 queued  1 failed  3s"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestDemoRefusesUsedDataDir: the demo never writes into a directory that
// holds something.
func TestDemoRefusesUsedDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "demo", "--data-dir", dir, "--listen", "127.0.0.1:0")
	if r.code != exitUsage || !strings.Contains(r.stderr, "not empty") {
		t.Fatalf("exit %d, stderr %q; want a usage error naming the non-empty directory", r.code, r.stderr)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the demo wrote into %s: %d entries", dir, len(entries))
	}
}

func TestDemoFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"demo", "--days", "0"},
		{"demo", "--scale", "-1"},
		{"demo", "--listen", "0.0.0.0:7070"},
		{"demo", "extra"},
	} {
		if r := runCLI(t, args...); r.code != exitUsage {
			t.Errorf("strata %s: exit %d, want %d (%s)", strings.Join(args, " "), r.code, exitUsage, r.stderr)
		}
	}
}

func TestJobUsage(t *testing.T) {
	t.Parallel()
	if r := runCLI(t, "job"); r.code != exitUsage || !strings.Contains(r.stderr, "events") {
		t.Errorf("strata job: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, "job", "nope"); r.code != exitFail {
		t.Errorf("strata job nope: exit %d, stderr %q", r.code, r.stderr)
	}
}
