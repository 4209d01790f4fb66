package materializer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func testJob() Job {
	return Job{
		RunID:         "r-1",
		Attempt:       2,
		Asset:         "analytics/daily_revenue",
		PartitionKeys: []string{"2024-01-01"},
		Window:        &Window{Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
		Command:       []string{"true"},
		Env:           map[string]string{"FOO": "bar"},
		Output:        "/data/assets/analytics/daily_revenue/2024-01-01/",
		Outputs:       []PartitionOutputLocation{{Partition: "2024-01-01", Location: "/data/assets/analytics/daily_revenue/2024-01-01/"}},
		Inputs: []Input{{Asset: "raw/orders", Partition: "2024-01-01", Location: "/data/assets/raw/orders/2024-01-01/",
			DataVersion: "sha256:abc", Rows: 120, Bytes: 4096}},
		Grant:       Grant{MemoryBytes: 1 << 30, CPUs: 1.5},
		CodeVersion: "v3",
	}
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func TestProtocolEnv(t *testing.T) {
	t.Parallel()
	j := testJob()
	env := envMap(j.ProtocolEnv("/run/context.json", "/run/messages.jsonl"))
	want := map[string]string{
		"STRATA_RUN_ID":          "r-1",
		"STRATA_ATTEMPT":         "2",
		"STRATA_ASSET":           "analytics/daily_revenue",
		"STRATA_PARTITION_KEY":   "2024-01-01",
		"STRATA_PARTITION_KEYS":  "2024-01-01",
		"STRATA_PARTITION_COUNT": "1",
		"STRATA_PARTITION_START": "2024-01-01T00:00:00Z",
		"STRATA_PARTITION_END":   "2024-01-02T00:00:00Z",
		"STRATA_OUTPUT":          "/data/assets/analytics/daily_revenue/2024-01-01/",
		"STRATA_CONTEXT":         "/run/context.json",
		"STRATA_MESSAGES":        "/run/messages.jsonl",
		"STRATA_MEMORY_BYTES":    "1073741824",
		"STRATA_CPUS":            "1.5",
		"STRATA_SHARDS":          "1",
		"STRATA_SHARD":           "0",
		"STRATA_CODE_VERSION":    "v3",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}

	t.Run("several keys", func(t *testing.T) {
		t.Parallel()
		j := testJob()
		j.PartitionKeys = []string{"a", "b", "c"}
		env := envMap(j.ProtocolEnv("c", "m"))
		if env["STRATA_PARTITION_KEYS"] != "a\nb\nc" || env["STRATA_PARTITION_COUNT"] != "3" {
			t.Errorf("keys %q count %q", env["STRATA_PARTITION_KEYS"], env["STRATA_PARTITION_COUNT"])
		}
	})
	t.Run("too many keys for the environment", func(t *testing.T) {
		t.Parallel()
		j := testJob()
		j.PartitionKeys = nil
		for i := range 5000 {
			j.PartitionKeys = append(j.PartitionKeys, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour).Format("2006-01-02-15:04"))
		}
		env := envMap(j.ProtocolEnv("c", "m"))
		if _, ok := env["STRATA_PARTITION_KEYS"]; ok {
			t.Error("STRATA_PARTITION_KEYS set for 5000 keys")
		}
		if env["STRATA_PARTITION_KEYS_IN_CONTEXT"] != "1" || env["STRATA_PARTITION_COUNT"] != "5000" {
			t.Errorf("env %v", env)
		}
	})
}

func TestWriteProtocolFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := testJob()
	cp, mp, err := j.WriteProtocolFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(mp); err != nil || st.Size() != 0 {
		t.Fatalf("messages file: %v %v", st, err)
	}
	b, err := os.ReadFile(cp)
	if err != nil {
		t.Fatal(err)
	}
	// Decode generically: the schema is what jobs in any language see.
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"version": 1.0, "run_id": "r-1", "attempt": 2.0, "asset": "analytics/daily_revenue", "code_version": "v3",
		"partition_keys":   []any{"2024-01-01"},
		"partition_window": map[string]any{"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"},
		"output":           "/data/assets/analytics/daily_revenue/2024-01-01/",
		"outputs":          []any{map[string]any{"partition": "2024-01-01", "location": "/data/assets/analytics/daily_revenue/2024-01-01/"}},
		"messages":         filepath.Join(dir, MessagesFileName),
		"resources":        map[string]any{"memory_bytes": float64(1 << 30), "cpus": 1.5, "shards": 1.0, "shard": 0.0},
		"inputs": []any{map[string]any{"asset": "raw/orders", "partition": "2024-01-01", "location": "/data/assets/raw/orders/2024-01-01/",
			"data_version": "sha256:abc", "rows": 120.0, "bytes": 4096.0}},
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("context file:\n got %s\nwant %s", gotJSON, wantJSON)
	}

	// Unpartitioned, no inputs: lists are [], never null.
	j = Job{RunID: "r", Asset: "a", Command: []string{"true"}, Output: "/o/"}
	cp, _, err = j.WriteProtocolFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(cp)
	for _, s := range []string{`"partition_keys": []`, `"outputs": []`, `"inputs": []`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("context file lacks %s:\n%s", s, b)
		}
	}
}

func TestJobValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		mod  func(*Job)
		want string
	}{
		"no run id":      {func(j *Job) { j.RunID = "" }, "no run id"},
		"bad asset":      {func(j *Job) { j.Asset = "Bad Key" }, "job asset"},
		"no command":     {func(j *Job) { j.Command = nil }, "no command"},
		"reserved env":   {func(j *Job) { j.Env = map[string]string{"STRATA_OUTPUT": "/x"} }, "reserved"},
		"bad env name":   {func(j *Job) { j.Env = map[string]string{"A=B": "x"} }, "invalid env name"},
		"outputs count":  {func(j *Job) { j.PartitionKeys = []string{"a", "b"} }, "1 output locations for 2 partitions"},
		"shard range":    {func(j *Job) { j.Shard = 2; j.Grant.Shards = 2 }, "shard 2 is outside [0, 2)"},
		"negative limit": {func(j *Job) { j.Timeout = -time.Second }, "negative timeout"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			j := testJob()
			tc.mod(&j)
			err := j.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	j := testJob()
	if err := j.Validate(); err != nil {
		t.Errorf("valid job: %v", err)
	}
}

func TestParseMessages(t *testing.T) {
	t.Parallel()
	input := strings.Join([]string{
		`{"type":"metadata","metadata":{"source":"api","n":12345678901234567890}}`,
		`{"type":"metadata","metadata":{"late":3}}`,
		`{"type":"data_version","data_version":"v-77"}`,
		`{"type":"output","rows":100,"bytes":2048}`,
		`{"type":"output","partition":"b","rows":7}`,
		`{"type":"check","name":"no_nulls","passed":true,"severity":"warn","metadata":{"nulls":0}}`,
		`{"type":"check","name":"unique","passed":false}`,
		`{"type":"log","level":"INFO","message":"hello"}`,
		``,
		`not json`,
		`{"type":"wat"}`,
		`{"type":"check","name":"x","passed":true,"severity":"fatal"}`,
		`{"type":"output","rows":"many"}`,
		`{"type":"data_version"}`,
		`{"no":"type"}`,
		`{"type":"log","message":"a"} {"type":"log"}`,
		`{"type":"log","message":"cut sho`,
	}, "\n")
	m, err := ParseMessages(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	run := m.Reports[""]
	if run == nil || run.DataVersion != "v-77" || *run.Rows != 100 || *run.Bytes != 2048 {
		t.Fatalf("run report %+v", run)
	}
	if run.Metadata["source"] != "api" || run.Metadata["late"].(json.Number) != "3" || run.Metadata["n"].(json.Number) != "12345678901234567890" {
		t.Errorf("metadata %v", run.Metadata)
	}
	if b := m.Reports["b"]; b == nil || *b.Rows != 7 || b.Bytes != nil {
		t.Errorf("partition b report %+v", b)
	}
	wantChecks := []CheckResult{
		{Name: "no_nulls", Passed: true, Severity: "warn", Metadata: map[string]any{"nulls": json.Number("0")}},
		{Name: "unique", Passed: false, Severity: "error"},
	}
	if len(m.Checks) != 2 || m.Checks[0].Name != wantChecks[0].Name || m.Checks[0].Severity != "warn" ||
		m.Checks[1].Severity != "error" || m.Checks[1].Passed {
		t.Errorf("checks %+v", m.Checks)
	}
	if len(m.Logs) != 1 || m.Logs[0] != (LogLine{Level: "info", Message: "hello"}) {
		t.Errorf("logs %+v", m.Logs)
	}
	wantWarn := []string{
		"line 10: not a JSON object",
		`line 11: unknown type "wat"`,
		`line 12: check "x" has severity "fatal"`,
		`line 13: not a JSON object: field "rows"`,
		`line 14: data_version line has an empty "data_version"`,
		`line 15: no "type"`,
		"line 16: more than one JSON value",
		"line 17: last line is incomplete",
	}
	if len(m.Warnings) != len(wantWarn) {
		t.Fatalf("warnings:\n%s", strings.Join(m.Warnings, "\n"))
	}
	for i, w := range wantWarn {
		if !strings.HasPrefix(m.Warnings[i], w) {
			t.Errorf("warning %d = %q, want prefix %q", i, m.Warnings[i], w)
		}
	}
	if m.Lines != 17 {
		t.Errorf("lines = %d", m.Lines)
	}
}

func TestParseMessagesCompleteLastLine(t *testing.T) {
	t.Parallel()
	// A last line without a newline that parses is kept.
	m, err := ParseMessages(strings.NewReader(`{"type":"data_version","data_version":"x"}`))
	if err != nil || m.Reports[""].DataVersion != "x" || len(m.Warnings) != 0 {
		t.Errorf("%+v %v", m, err)
	}
}

func TestReadMessagesBounds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if m, err := ReadMessages(filepath.Join(dir, "missing"), 0); err != nil || m.Lines != 0 {
		t.Errorf("missing file: %+v %v", m, err)
	}

	p := filepath.Join(dir, "m.jsonl")
	long := `{"type":"log","message":"` + strings.Repeat("x", 2<<20) + `"}`
	line := `{"type":"log","message":"ok"}`
	content := line + "\n" + long + "\n" + line + "\n" + strings.Repeat(line+"\n", 1000)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMessages(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Logs) != 1002 || len(m.Warnings) != 1 || !strings.HasPrefix(m.Warnings[0], "line 2: longer than") {
		t.Errorf("logs %d warnings %q", len(m.Logs), m.Warnings)
	}

	// Reading stops at the bound; the cut line is incomplete, not an error.
	m, err = ReadMessages(p, int64(len(line)+10))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Logs) != 1 || len(m.Warnings) != 2 || !strings.Contains(m.Warnings[1], "only the first") {
		t.Errorf("logs %d warnings %q", len(m.Logs), m.Warnings)
	}
}

func TestParseMessagesWarningsBounded(t *testing.T) {
	t.Parallel()
	m, err := ParseMessages(strings.NewReader(strings.Repeat("garbage\n", 1000)))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != maxMessageWarnings+1 || m.Warnings[maxMessageWarnings] != "more warnings left out" {
		t.Errorf("%d warnings, last %q", len(m.Warnings), m.Warnings[len(m.Warnings)-1])
	}
}

func FuzzParseMessages(f *testing.F) {
	for _, s := range []string{
		`{"type":"metadata","metadata":{"a":1}}` + "\n",
		`{"type":"check","name":"c","passed":false,"severity":"warn"}`,
		`{"type":"output","rows":1,"bytes":2,"partition":"p"}` + "\n" + `{"type":"log"`,
		"\n\n\r\n{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessages(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Warnings) > maxMessageWarnings+1 {
			t.Fatalf("%d warnings", len(m.Warnings))
		}
		for _, c := range m.Checks {
			if c.Name == "" || !slices.Contains([]string{SeverityWarn, SeverityError}, c.Severity) {
				t.Fatalf("bad check %+v", c)
			}
		}
	})
}
