package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
)

// This file is the job side of Strata's job protocol, written from its
// documentation without importing Strata: the context file, the messages
// file and the output locations. Any language can do the same in a page.

// jobContext is the part of the STRATA_CONTEXT file the example jobs use.
type jobContext struct {
	Version       int         `json:"version"`
	RunID         string      `json:"run_id"`
	Asset         string      `json:"asset"`
	CodeVersion   string      `json:"code_version"`
	PartitionKeys []string    `json:"partition_keys"`
	Output        string      `json:"output"`
	Outputs       []outputLoc `json:"outputs"`
	Messages      string      `json:"messages"`
	Inputs        []input     `json:"inputs"`
}

type outputLoc struct {
	Partition string `json:"partition"`
	Location  string `json:"location"`
}

// input is one upstream asset partition of the run.
type input struct {
	Asset       string `json:"asset"`
	Partition   string `json:"partition"`
	Location    string `json:"location"`
	DataVersion string `json:"data_version"`
	Rows        int64  `json:"rows"`
	Bytes       int64  `json:"bytes"`
}

// readContext reads the context file named by STRATA_CONTEXT, falling back
// to the environment alone (STRATA_PARTITION_KEYS, STRATA_OUTPUT) when there
// is none, so a job can also be run by hand.
func readContext(getenv func(string) string) (*jobContext, error) {
	c := &jobContext{}
	if path := getenv("STRATA_CONTEXT"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read context: %w", err)
		}
		if err := json.Unmarshal(b, c); err != nil {
			return nil, fmt.Errorf("decode context %s: %w", path, err)
		}
	}
	if c.Asset == "" {
		c.Asset = getenv("STRATA_ASSET")
	}
	if c.Messages == "" {
		c.Messages = getenv("STRATA_MESSAGES")
	}
	if c.Output == "" {
		c.Output = getenv("STRATA_OUTPUT")
	}
	if len(c.PartitionKeys) == 0 {
		if keys := getenv("STRATA_PARTITION_KEYS"); keys != "" {
			c.PartitionKeys = strings.Split(keys, "\n")
		}
	}
	if len(c.Outputs) == 0 {
		switch len(c.PartitionKeys) {
		case 0:
			c.Outputs = []outputLoc{{Location: c.Output}}
		case 1:
			c.Outputs = []outputLoc{{Partition: c.PartitionKeys[0], Location: c.Output}}
		default:
			return nil, errors.New("several partitions but no per-partition outputs in the context")
		}
	}
	for _, o := range c.Outputs {
		if o.Location == "" {
			return nil, fmt.Errorf("partition %q has no output location (set STRATA_OUTPUT)", o.Partition)
		}
	}
	return c, nil
}

// inputsOf returns the inputs from upstream asset up, in partition order. It
// fails when one of them was never materialized: a job must not silently
// compute from missing data.
func (c *jobContext) inputsOf(up string) ([]input, error) {
	var out []input
	for _, in := range c.Inputs {
		if in.Asset != up {
			continue
		}
		if in.Location == "" {
			return nil, fmt.Errorf("upstream %s partition %q has no materialization yet", in.Asset, in.Partition)
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out, nil
}

// messages appends JSON lines to the STRATA_MESSAGES file.
type messages struct {
	mu   sync.Mutex
	path string
}

// send appends one message; without a messages file it does nothing.
func (m *messages) send(msg map[string]any) error {
	if m == nil || m.path == "" {
		return nil
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := os.OpenFile(m.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open messages: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write messages: %w", err)
	}
	return f.Close()
}

// metadata reports user metadata about one partition.
func (m *messages) metadata(partition string, md map[string]any) error {
	return m.send(map[string]any{"type": "metadata", "partition": partition, "metadata": md})
}

// check reports an asset check result about one partition.
func (m *messages) check(partition, name string, passed bool, description string) error {
	return m.send(map[string]any{"type": "check", "partition": partition, "name": name, "passed": passed,
		"severity": "error", "description": description})
}

// outputFile is the Parquet file to write for an output location: the
// location itself when it names a .parquet file, else part-0.parquet inside
// the directory it names.
func outputFile(loc string) (string, error) {
	loc = strings.TrimPrefix(loc, "file://")
	if strings.Contains(loc, "://") {
		return "", fmt.Errorf("output %s: the example jobs write local files only", loc)
	}
	if strings.HasSuffix(loc, ".parquet") {
		return loc, nil
	}
	return filepath.Join(loc, "part-0.parquet"), nil
}

// writeParquet writes rows to the output location atomically: a hidden
// temporary file (which Strata's inspection skips) renamed into place, so a
// crashed attempt never leaves half a file that looks complete.
func writeParquet[T any](loc string, rows []T) (string, error) {
	path, err := outputFile(loc)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("create output directory: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := parquet.WriteFile(tmp, rows, parquet.Compression(&parquet.Snappy), parquet.PageBufferSize(1<<20)); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// readParquet reads every row of the Parquet data at loc: a file, or the
// *.parquet files of a directory (recursively, in name order, leaving out
// names starting with "." or "_", as Strata's inspection does).
func readParquet[T any](loc string) ([]T, error) {
	loc = strings.TrimPrefix(loc, "file://")
	st, err := os.Stat(loc)
	if err != nil {
		return nil, fmt.Errorf("read input: %w", err)
	}
	files := []string{loc}
	if st.IsDir() {
		files = nil
		err := filepath.WalkDir(loc, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if p != loc && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() && strings.HasSuffix(name, ".parquet") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read input %s: %w", loc, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("read input %s: no Parquet files", loc)
		}
	}
	var out []T
	for _, f := range files {
		rows, err := parquet.ReadFile[T](f)
		if err != nil {
			return nil, fmt.Errorf("read input %s: %w", f, err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

// Partition key formats of the example assets (UTC).
const (
	hourlyFmt = "2006-01-02-15:04"
	dailyFmt  = "2006-01-02"
)

func parseKey(layout, key string) (time.Time, error) {
	t, err := time.ParseInLocation(layout, key, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("partition key %q: want the form %s", key, layout)
	}
	return t, nil
}
