package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-data/strata/catalog"
)

const cliYAML = `assets:
  - key: raw/events
    description: Click events
    owners: [platform@example.com]
    partitions:
      time_window: {schedule: hourly, start: "2026-01-01-00:00", timezone: UTC}
    backfill_policy: {max_partitions_per_run: 24}
  - key: analytics/sessions
    partitions:
      time_window: {schedule: daily, start: "2026-01-01", timezone: UTC}
    deps:
      - asset: raw/events
  - key: dim/regions
    partitions:
      static: [eu, us]
`

type cliServer struct {
	addr string
	db   string
	cmd  *exec.Cmd
	errb *bytes.Buffer
}

// startCLIServer runs `strata server` on a free port.
func startCLIServer(t *testing.T, extra ...string) *cliServer {
	t.Helper()
	bin := strataBinary(t)
	db := filepath.Join(t.TempDir(), "data", "strata.db")
	args := append([]string{"server", "--listen", "127.0.0.1:0", "--db", "sqlite://" + db, "--log-format", "json"}, extra...)
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &cliServer{db: db, cmd: cmd, errb: &errb}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				lines <- a
			}
		}
	}()
	select {
	case s.addr = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start: %s", errb.String())
	}
	return s
}

func (s *cliServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("server exit: %v\n%s", err, s.errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop on SIGTERM")
	}
}

type cliResult struct {
	stdout, stderr string
	code           int
}

func runCLI(t *testing.T, addr string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(strataBinary(t), args...)
	cmd.Env = append(os.Environ(), "STRATA_SERVER="+addr, "STRATA_TOKEN=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return cliResult{stdout: out.String(), stderr: errb.String(), code: code}
}

func (r cliResult) want(t *testing.T, code int, contains ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, c := range contains {
		if !strings.Contains(r.stdout+r.stderr, c) {
			t.Errorf("output does not contain %q\nstdout:\n%s\nstderr:\n%s", c, r.stdout, r.stderr)
		}
	}
}

func TestCLI(t *testing.T) {
	t.Parallel()
	// Nothing runs here (the runs stay queued for `runs list` to show).
	srv := startCLIServer(t, "--capacity", "none")
	dir := t.TempDir()
	file := filepath.Join(dir, "assets.yaml")
	if err := os.WriteFile(file, []byte(cliYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	a := srv.addr

	runCLI(t, a, "apply", "-f", file, "--dry-run").want(t, 0, "+ raw/events", "3 created", "dry run")
	runCLI(t, a, "apply", "-f", file).want(t, 0, "+ analytics/sessions", "3 created, 0 changed, 0 unchanged")
	runCLI(t, a, "apply", "-f", dir).want(t, 0, "0 created, 0 changed, 3 unchanged")

	// A declaration error points into the file.
	bad := filepath.Join(dir, "bad", "bad.yaml")
	os.MkdirAll(filepath.Dir(bad), 0o755)
	os.WriteFile(bad, []byte(strings.Replace(cliYAML, "asset: raw/events", "asset: raw/evnts", 1)), 0o644)
	r := runCLI(t, a, "apply", "-f", bad)
	r.want(t, 2, "bad.yaml:12:16:", "assets[1].deps[0].asset", "unknown asset")

	r = runCLI(t, a, "assets", "list", "-o", "json")
	r.want(t, 0)
	var list struct {
		Assets []struct {
			Decl struct {
				Key string `json:"key"`
			} `json:"decl"`
			StatusCounts map[string]any `json:"status_counts"`
		} `json:"assets"`
		TotalSize int `json:"total_size"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("assets list -o json: %v\n%s", err, r.stdout)
	}
	if list.TotalSize != 3 || list.Assets[0].Decl.Key != "analytics/sessions" || list.Assets[0].StatusCounts == nil {
		t.Errorf("assets list = %+v", list)
	}
	runCLI(t, a, "assets", "list", "--query", "platform").want(t, 0, "raw/events", "1 of 1 assets")
	runCLI(t, a, "assets", "get", "dim/regions", "-o", "yaml").want(t, 0, "key: dim/regions", "- eu")
	runCLI(t, a, "assets", "get", "dim/regions").want(t, 0, "static: eu, us")
	runCLI(t, a, "assets", "get", "no/such").want(t, 2, "not found")
	runCLI(t, a, "lineage", "raw/events", "--depth", "2").want(t, 0, "raw/events *", "└── analytics/sessions")
	runCLI(t, a, "lineage", "raw/events and (").want(t, 2, "position")
	runCLI(t, a, "status", "dim/regions").want(t, 0, "2 partitions: 2 missing", "eu", "never materialized")

	runCLI(t, a, "backfill", "create", "*", "--from", "2026-01-05", "--to", "2026-01-06", "--dry-run").
		want(t, 0, "dry run", "raw/events", "48")
	r = runCLI(t, a, "backfill", "create", "dim/regions", "--key", "eu", "--priority", "3", "-o", "json")
	r.want(t, 0)
	var created struct {
		Backfill struct {
			ID       string `json:"id"`
			Priority int    `json:"priority"`
		} `json:"backfill"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.Backfill.ID == "" || created.Backfill.Priority != 3 {
		t.Fatalf("backfill create -o json = %s (%v)", r.stdout, err)
	}
	id := created.Backfill.ID
	runCLI(t, a, "backfill", "list").want(t, 0, "running", "dim/regions")
	runCLI(t, a, "backfill", "get", id).want(t, 0, "state:", "running", "dim/regions")
	runCLI(t, a, "runs", "list", "--backfill", id).want(t, 0, "dim/regions", "queued", "eu")
	runCLI(t, a, "runs", "list", "--state", "bogus").want(t, 2, "--state")
	runCLI(t, a, "backfill", "cancel", id).want(t, 0, "canceled")
	runCLI(t, a, "backfill", "retry", id).want(t, 2, "no failed partitions")
	runCLI(t, a, "backfill", "create", "dim/regions", "--from", "eu").want(t, 2, "--from and --to")
	runCLI(t, a, "backfill", "get", "nope").want(t, 2, "not an id")
	runCLI(t, a, "nonsense").want(t, 2, "unknown command")
	runCLI(t, "127.0.0.1:1", "assets", "list", "--timeout", "2s").want(t, 1)

	// The UI at / and the API on the same port.
	for path, want := range map[string]string{"/": "<title>", "/openapi.json": `"swagger"`, "/v1/assets/dim/regions": `"key":"dim/regions"`} {
		resp, err := http.Get("http://" + a + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d %.200s", path, resp.StatusCode, body)
		}
	}

	srv.stop(t)
	if !strings.Contains(srv.errb.String(), `"msg":"stopped"`) {
		t.Errorf("server log lacks the stop line:\n%s", srv.errb.String())
	}
}

func TestCLIBackfillWait(t *testing.T) {
	t.Parallel()
	// No local executor: the test plays the worker.
	srv := startCLIServer(t, "--capacity", "none")
	file := filepath.Join(t.TempDir(), "assets.yaml")
	os.WriteFile(file, []byte(cliYAML), 0o644)
	runCLI(t, srv.addr, "apply", "-f", file).want(t, 0)

	cmd := exec.Command(strataBinary(t), "backfill", "create", "dim/regions", "--only", "all", "--wait", "--interval", "50ms")
	cmd.Env = append(os.Environ(), "STRATA_SERVER="+srv.addr)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Play the worker: claim and finish the runs through the catalog.
	ctx := context.Background()
	cat, err := catalog.Open(ctx, "sqlite://"+srv.db, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	finished := 0
	deadline := time.Now().Add(30 * time.Second)
	for finished < 2 && time.Now().Before(deadline) {
		runs, err := cat.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w", Lease: time.Minute, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if _, err := cat.FinishRun(ctx, catalog.RunResult{RunID: r.ID, Attempt: r.Attempt, Owner: "w", State: catalog.RunSucceeded,
				Log:              "done " + r.PartitionKeys[0] + "\n",
				Materializations: []catalog.Materialization{{Asset: r.Asset, Partition: r.PartitionKeys[0], DataVersion: "v1"}}}); err != nil {
				t.Fatal(err)
			}
			finished++
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("backfill --wait: %v\n%s\n%s", err, out.String(), errb.String())
	}
	if s := out.String(); !strings.Contains(s, "completed") || !strings.Contains(s, "100%") {
		t.Errorf("--wait output:\n%s", s)
	}
	runCLI(t, srv.addr, "status", "dim/regions").want(t, 0, "2 fresh")
	r := runCLI(t, srv.addr, "runs", "list", "--asset", "dim/regions", "-o", "json")
	r.want(t, 0)
	var runs struct {
		Runs []struct {
			ID string `json:"id"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil || len(runs.Runs) != 2 {
		t.Fatalf("runs list = %s, %v", r.stdout, err)
	}
	runCLI(t, srv.addr, "runs", "logs", runs.Runs[0].ID).want(t, 0, "done ")
	runCLI(t, srv.addr, "runs", "get", runs.Runs[0].ID).want(t, 0, "succeeded")
	srv.stop(t)
}

func TestCLIServerRefusesOpenAddress(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(strataBinary(t), "server", "--listen", "0.0.0.0:0", "--db", "sqlite://"+filepath.Join(t.TempDir(), "s.db"))
	cmd.Env = append(os.Environ(), "STRATA_TOKENS=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--insecure") {
		t.Errorf("server on 0.0.0.0 without tokens: %v\n%s", err, out)
	}
}
