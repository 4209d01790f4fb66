package materializer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-data/strata/asset"
)

// ContextVersion is the version of the context file schema (see the package
// documentation). It changes only when a field changes meaning or goes away.
const ContextVersion = 1

// Names of the files the materializer writes into a run's directory.
const (
	ContextFileName  = "context.json"
	MessagesFileName = "messages.jsonl"
)

// maxEnvKeysBytes bounds STRATA_PARTITION_KEYS: Linux refuses to exec with
// one environment string over 128 KiB, so longer lists are only in the
// context file.
const maxEnvKeysBytes = 32 << 10

// Job is everything an executor needs to run one attempt of one run: the
// command, the partitions it produces, where it writes, what it reads and the
// size it was granted.
type Job struct {
	RunID   string
	Attempt int
	Asset   asset.Key
	// PartitionKeys are the partitions the run produces: one, or several for
	// a backfill batch. An unpartitioned asset has none.
	PartitionKeys []string
	// Window is the time window covered by the partitions (from the start
	// of the first to the end of the last), for time-window partitions.
	Window *Window
	// Shard is this job's shard index in [0, Grant.Shards) when the run is
	// sharded.
	Shard int

	Command []string
	// Env is the declared environment; it cannot override STRATA_* names.
	Env map[string]string
	// Workdir is the working directory; empty means the server's.
	Workdir string
	// Timeout bounds the run; zero means the executor's default.
	Timeout time.Duration

	// Output is the run's output location (a path or a URL; see
	// OutputLocations). Outputs has one entry per partition key, in the
	// order of PartitionKeys; for a single partition Output equals its entry.
	Output  string
	Outputs []PartitionOutputLocation

	// Inputs are the upstream asset partitions the run reads.
	Inputs []Input
	// Grant is the size the run was given, per process.
	Grant Grant
	// CodeVersion is the asset's code version, passed on to the job.
	CodeVersion string
}

// Window is a half-open time window [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// PartitionOutputLocation is where one partition of a run's output goes.
type PartitionOutputLocation struct {
	Partition string `json:"partition"`
	Location  string `json:"location"`
}

// Input is one upstream asset partition a run reads, as recorded by the
// materialization that produced it.
type Input struct {
	Asset       asset.Key `json:"asset"`
	Partition   string    `json:"partition"`
	Location    string    `json:"location,omitempty"`
	DataVersion string    `json:"data_version,omitempty"`
	Rows        int64     `json:"rows"`
	Bytes       int64     `json:"bytes"`
}

// Grant is the size a job is given, for each of its processes: memory,
// CPUs, and how many shards the run was split into (each shard is one
// process with this grant; 0 or 1 means not sharded).
type Grant struct {
	MemoryBytes int64   `json:"memory_bytes"`
	CPUs        float64 `json:"cpus"`
	Shards      int     `json:"shards,omitempty"`
}

func (g Grant) shards() int { return max(g.Shards, 1) }

// Validate checks what an executor relies on.
func (j *Job) Validate() error {
	if j.RunID == "" {
		return errors.New("job has no run id")
	}
	if _, err := asset.ParseKey(string(j.Asset)); err != nil {
		return fmt.Errorf("job asset: %w", err)
	}
	if len(j.Command) == 0 || j.Command[0] == "" {
		return fmt.Errorf("job for %s has no command", j.Asset)
	}
	if j.Timeout < 0 {
		return fmt.Errorf("job for %s has a negative timeout %s", j.Asset, j.Timeout)
	}
	if j.Shard < 0 || j.Shard >= j.Grant.shards() {
		return fmt.Errorf("job for %s: shard %d is outside [0, %d)", j.Asset, j.Shard, j.Grant.shards())
	}
	if len(j.Outputs) != 0 && len(j.Outputs) != len(j.PartitionKeys) {
		return fmt.Errorf("job for %s has %d output locations for %d partitions", j.Asset, len(j.Outputs), len(j.PartitionKeys))
	}
	for i, o := range j.Outputs {
		if o.Partition != j.PartitionKeys[i] {
			return fmt.Errorf("job for %s: output %d is for partition %q, want %q", j.Asset, i, o.Partition, j.PartitionKeys[i])
		}
	}
	for k := range j.Env {
		if strings.HasPrefix(k, "STRATA_") {
			return fmt.Errorf("job for %s: env %s: STRATA_ names are reserved for the job protocol", j.Asset, k)
		}
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("job for %s: invalid env name %q", j.Asset, k)
		}
	}
	return nil
}

// ContextFile is the JSON document at STRATA_CONTEXT. Its schema is
// documented in the package documentation.
type ContextFile struct {
	Version       int                       `json:"version"`
	RunID         string                    `json:"run_id"`
	Attempt       int                       `json:"attempt"`
	Asset         asset.Key                 `json:"asset"`
	CodeVersion   string                    `json:"code_version,omitempty"`
	PartitionKeys []string                  `json:"partition_keys"`
	Window        *Window                   `json:"partition_window,omitempty"`
	Output        string                    `json:"output"`
	Outputs       []PartitionOutputLocation `json:"outputs"`
	Messages      string                    `json:"messages"`
	Resources     ContextResources          `json:"resources"`
	Inputs        []Input                   `json:"inputs"`
}

// ContextResources is the sizing part of the context file.
type ContextResources struct {
	MemoryBytes int64   `json:"memory_bytes"`
	CPUs        float64 `json:"cpus"`
	Shards      int     `json:"shards"`
	Shard       int     `json:"shard"`
}

// jobLocation is a location as a job sees it: a file:// URL becomes its
// path; other locations are unchanged.
func jobLocation(loc string) string {
	if p, ok, err := LocalPath(loc); err == nil && ok {
		return p
	}
	return loc
}

// Context returns the context file of j, given the messages file path.
// Local locations (file:// URLs) appear as paths.
func (j *Job) Context(messagesPath string) ContextFile {
	c := ContextFile{
		Version:       ContextVersion,
		RunID:         j.RunID,
		Attempt:       j.Attempt,
		Asset:         j.Asset,
		CodeVersion:   j.CodeVersion,
		PartitionKeys: j.PartitionKeys,
		Window:        j.Window,
		Output:        jobLocation(j.Output),
		Messages:      messagesPath,
		Resources: ContextResources{
			MemoryBytes: j.Grant.MemoryBytes,
			CPUs:        j.Grant.CPUs,
			Shards:      j.Grant.shards(),
			Shard:       j.Shard,
		},
	}
	// Lists are [] rather than null, so jobs can iterate without checks.
	if c.PartitionKeys == nil {
		c.PartitionKeys = []string{}
	}
	c.Outputs = make([]PartitionOutputLocation, len(j.Outputs))
	for i, o := range j.Outputs {
		c.Outputs[i] = PartitionOutputLocation{Partition: o.Partition, Location: jobLocation(o.Location)}
	}
	c.Inputs = make([]Input, len(j.Inputs))
	for i, in := range j.Inputs {
		in.Location = jobLocation(in.Location)
		c.Inputs[i] = in
	}
	if c.Window != nil {
		w := Window{Start: c.Window.Start.UTC(), End: c.Window.End.UTC()}
		c.Window = &w
	}
	return c
}

// ProtocolEnv returns the STRATA_* variables of the job protocol for j,
// given the paths of its context and messages files.
func (j *Job) ProtocolEnv(contextPath, messagesPath string) []string {
	env := []string{
		"STRATA_RUN_ID=" + j.RunID,
		"STRATA_ATTEMPT=" + strconv.Itoa(j.Attempt),
		"STRATA_ASSET=" + string(j.Asset),
		"STRATA_OUTPUT=" + jobLocation(j.Output),
		"STRATA_CONTEXT=" + contextPath,
		"STRATA_MESSAGES=" + messagesPath,
		"STRATA_MEMORY_BYTES=" + strconv.FormatInt(j.Grant.MemoryBytes, 10),
		"STRATA_CPUS=" + strconv.FormatFloat(j.Grant.CPUs, 'f', -1, 64),
		"STRATA_SHARDS=" + strconv.Itoa(j.Grant.shards()),
		"STRATA_SHARD=" + strconv.Itoa(j.Shard),
		"STRATA_PARTITION_COUNT=" + strconv.Itoa(len(j.PartitionKeys)),
	}
	if j.CodeVersion != "" {
		env = append(env, "STRATA_CODE_VERSION="+j.CodeVersion)
	}
	if len(j.PartitionKeys) > 0 {
		env = append(env, "STRATA_PARTITION_KEY="+j.PartitionKeys[0])
		keys := strings.Join(j.PartitionKeys, "\n")
		if len(keys) <= maxEnvKeysBytes {
			env = append(env, "STRATA_PARTITION_KEYS="+keys)
		} else {
			env = append(env, "STRATA_PARTITION_KEYS_IN_CONTEXT=1")
		}
	}
	if j.Window != nil {
		env = append(env,
			"STRATA_PARTITION_START="+j.Window.Start.UTC().Format(time.RFC3339),
			"STRATA_PARTITION_END="+j.Window.End.UTC().Format(time.RFC3339))
	}
	return env
}

// writeContextFile writes the context file dir/name.context.json with one
// write (creating dir when missing) and leaves the messages file,
// dir/name.messages.jsonl, to the job, which creates it when it first
// appends a line. When the context file exists already (the same attempt
// started again after an interruption), a messages file left by the
// earlier start is removed, so the attempt starts afresh.
func (j *Job) writeContextFile(dir, name string) (contextPath, messagesPath string, err error) {
	contextPath = filepath.Join(dir, name+"."+ContextFileName)
	messagesPath = filepath.Join(dir, name+"."+MessagesFileName)
	b, err := json.MarshalIndent(j.Context(messagesPath), "", "  ")
	if err != nil {
		return "", "", fmt.Errorf("encode context file: %w", err)
	}
	b = append(b, '\n')
	// O_EXCL tells a fresh attempt (the usual case: nothing else to do)
	// from one started again after an interruption, whose old messages must
	// not be read as this run's.
	f, err := os.OpenFile(contextPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", "", fmt.Errorf("create run directory: %w", err)
		}
		f, err = os.OpenFile(contextPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	}
	if errors.Is(err, os.ErrExist) {
		if err := os.Remove(messagesPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", "", fmt.Errorf("remove old messages file: %w", err)
		}
		f, err = os.OpenFile(contextPath, os.O_TRUNC|os.O_WRONLY, 0o644)
	}
	if err != nil {
		return "", "", fmt.Errorf("write context file: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", "", fmt.Errorf("write context file: %w", err)
	}
	return contextPath, messagesPath, nil
}

// WriteProtocolFiles writes the context file and creates an empty messages
// file in dir, returning their paths. (The local executor creates no
// messages file: see writeContextFile.)
func (j *Job) WriteProtocolFiles(dir string) (contextPath, messagesPath string, err error) {
	contextPath = filepath.Join(dir, ContextFileName)
	messagesPath = filepath.Join(dir, MessagesFileName)
	b, err := json.MarshalIndent(j.Context(messagesPath), "", "  ")
	if err != nil {
		return "", "", fmt.Errorf("encode context file: %w", err)
	}
	if err := os.WriteFile(contextPath, append(b, '\n'), 0o644); err != nil {
		return "", "", fmt.Errorf("write context file: %w", err)
	}
	// O_TRUNC: a retried attempt in the same directory starts afresh.
	f, err := os.OpenFile(messagesPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o666)
	if err != nil {
		return "", "", fmt.Errorf("create messages file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", "", fmt.Errorf("create messages file: %w", err)
	}
	return contextPath, messagesPath, nil
}

// Message types a job may append to STRATA_MESSAGES, one JSON object a line.
const (
	MessageMetadata    = "metadata"
	MessageDataVersion = "data_version"
	MessageOutput      = "output"
	MessageCheck       = "check"
	MessageLog         = "log"
)

// Check severities.
const (
	SeverityWarn  = "warn"
	SeverityError = "error"
)

// Message is one line of the messages file. Partition, when set, says which
// of the run's partitions a metadata, data_version or output line is about.
type Message struct {
	Type        string         `json:"type"`
	Partition   *string        `json:"partition,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	DataVersion string         `json:"data_version,omitempty"`
	Rows        *int64         `json:"rows,omitempty"`
	Bytes       *int64         `json:"bytes,omitempty"`
	Name        string         `json:"name,omitempty"`
	Passed      *bool          `json:"passed,omitempty"`
	Severity    string         `json:"severity,omitempty"`
	Description string         `json:"description,omitempty"`
	Level       string         `json:"level,omitempty"`
	Message     string         `json:"message,omitempty"`
	Time        *time.Time     `json:"time,omitempty"`
}

// Messages is what a job reported in its messages file.
type Messages struct {
	// Reports holds metadata, data versions and output sizes by partition;
	// the key "" holds lines that named no partition.
	Reports map[string]*Report
	Checks  []CheckResult
	Logs    []LogLine
	// Warnings describe lines that were ignored, with their line numbers.
	Warnings []string
	// Lines is the number of lines read.
	Lines int
}

// Report is what a job reported about one partition's output (or the run's,
// for the key "").
type Report struct {
	// Metadata merges every metadata line; a later key wins.
	Metadata    map[string]any `json:"metadata,omitempty"`
	DataVersion string         `json:"data_version,omitempty"`
	Rows        *int64         `json:"rows,omitempty"`
	Bytes       *int64         `json:"bytes,omitempty"`
}

// CheckResult is an asset check result reported by a job.
type CheckResult struct {
	Name        string         `json:"name"`
	Partition   string         `json:"partition,omitempty"`
	Passed      bool           `json:"passed"`
	Severity    string         `json:"severity"`
	Description string         `json:"description,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
}

// LogLine is a structured log line reported by a job.
type LogLine struct {
	Level   string     `json:"level"`
	Message string     `json:"message"`
	Time    *time.Time `json:"time,omitempty"`
}

// Bounds of the messages file.
const (
	DefaultMaxMessagesBytes = 16 << 20
	maxMessageLineBytes     = 1 << 20
	maxMessageWarnings      = 100
)

// ReadMessages parses the messages file at path, reading at most maxBytes
// (DefaultMaxMessagesBytes if <= 0). A missing file is no messages. Bad
// lines never fail the parse: they are skipped and described in Warnings; a
// last line without a newline that does not parse is taken as cut short by
// the job's end. Only I/O errors are returned.
func ReadMessages(path string, maxBytes int64) (Messages, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMessagesBytes
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Messages{}, nil
	}
	if err != nil {
		return Messages{}, fmt.Errorf("read messages: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Messages{}, fmt.Errorf("read messages: %w", err)
	}
	m, err := ParseMessages(io.LimitReader(f, maxBytes))
	if err != nil {
		return m, fmt.Errorf("read messages %s: %w", path, err)
	}
	if st.Size() > maxBytes {
		m.warn(fmt.Sprintf("messages file is %d bytes; only the first %d were read", st.Size(), maxBytes))
	}
	return m, nil
}

// ParseMessages parses JSON lines from r (see ReadMessages).
func ParseMessages(r io.Reader) (Messages, error) {
	var m Messages
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for n := 1; ; n++ {
		line = line[:0]
		tooLong := false
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			if len(line)+len(chunk) <= maxMessageLineBytes {
				line = append(line, chunk...)
			} else {
				tooLong = true
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return m, err
		}
		complete := len(line) > 0 && line[len(line)-1] == '\n'
		if len(line) == 0 && errors.Is(err, io.EOF) {
			break
		}
		m.Lines = n
		switch {
		case tooLong:
			m.warn(fmt.Sprintf("line %d: longer than %d bytes; ignored", n, maxMessageLineBytes))
		case len(bytes.TrimSpace(line)) == 0:
		default:
			if perr := m.add(line); perr != nil {
				if !complete {
					m.warn(fmt.Sprintf("line %d: last line is incomplete (%d bytes, no newline); ignored", n, len(line)))
				} else {
					m.warn(fmt.Sprintf("line %d: %v; ignored", n, perr))
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	return m, nil
}

func (m *Messages) warn(s string) {
	switch {
	case len(m.Warnings) < maxMessageWarnings:
		m.Warnings = append(m.Warnings, s)
	case len(m.Warnings) == maxMessageWarnings:
		m.Warnings = append(m.Warnings, "more warnings left out")
	}
}

func (m *Messages) report(p *string) *Report {
	key := ""
	if p != nil {
		key = *p
	}
	if m.Reports == nil {
		m.Reports = map[string]*Report{}
	}
	r := m.Reports[key]
	if r == nil {
		r = &Report{}
		m.Reports[key] = r
	}
	return r
}

func (m *Messages) add(line []byte) error {
	var msg Message
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&msg); err != nil {
		return fmt.Errorf("not a JSON object: %s", shortJSONError(err))
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	switch msg.Type {
	case MessageMetadata:
		if msg.Metadata == nil {
			return errors.New(`metadata line has no "metadata" object`)
		}
		r := m.report(msg.Partition)
		if r.Metadata == nil {
			r.Metadata = map[string]any{}
		}
		for k, v := range msg.Metadata {
			r.Metadata[k] = v
		}
	case MessageDataVersion:
		if msg.DataVersion == "" {
			return errors.New(`data_version line has an empty "data_version"`)
		}
		if len(msg.DataVersion) > 512 {
			return fmt.Errorf("data_version is %d characters long, more than 512", len(msg.DataVersion))
		}
		m.report(msg.Partition).DataVersion = msg.DataVersion
	case MessageOutput:
		if msg.Rows == nil && msg.Bytes == nil {
			return errors.New(`output line has neither "rows" nor "bytes"`)
		}
		if (msg.Rows != nil && *msg.Rows < 0) || (msg.Bytes != nil && *msg.Bytes < 0) {
			return errors.New("output line has a negative count")
		}
		r := m.report(msg.Partition)
		if msg.Rows != nil {
			r.Rows = msg.Rows
		}
		if msg.Bytes != nil {
			r.Bytes = msg.Bytes
		}
	case MessageCheck:
		if msg.Name == "" {
			return errors.New(`check line has no "name"`)
		}
		if msg.Passed == nil {
			return fmt.Errorf(`check %q has no "passed"`, msg.Name)
		}
		sev := msg.Severity
		switch sev {
		case "":
			sev = SeverityError
		case SeverityWarn, SeverityError:
		default:
			return fmt.Errorf("check %q has severity %q; want warn or error", msg.Name, sev)
		}
		c := CheckResult{Name: msg.Name, Passed: *msg.Passed, Severity: sev, Description: msg.Description, Metadata: msg.Metadata}
		if msg.Partition != nil {
			c.Partition = *msg.Partition
		}
		m.Checks = append(m.Checks, c)
	case MessageLog:
		level := strings.ToLower(msg.Level)
		if level == "" {
			level = "info"
		}
		if !slices.Contains([]string{"debug", "info", "warn", "warning", "error"}, level) {
			return fmt.Errorf("log line has level %q; want debug, info, warn or error", msg.Level)
		}
		if level == "warning" {
			level = "warn"
		}
		m.Logs = append(m.Logs, LogLine{Level: level, Message: msg.Message, Time: msg.Time})
	case "":
		return errors.New(`no "type"`)
	default:
		return fmt.Errorf("unknown type %q", msg.Type)
	}
	return nil
}

func shortJSONError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at offset %d", se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q is %s, want %s", te.Field, te.Value, te.Type)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of line"
	}
	return err.Error()
}
