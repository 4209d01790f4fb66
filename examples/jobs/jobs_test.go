package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-data/strata/materializer"
)

// testBundle is a scratch lake: each job runs in-process with a context
// file written the way the materializer writes it.
type testBundle struct {
	dir   string
	scale string
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	return &testBundle{dir: t.TempDir(), scale: "0.02"}
}

// loc is the default output location of an asset partition.
func (b *testBundle) loc(key, partition string) string {
	return filepath.Join(b.dir, "assets", key, materializer.PartitionPath(partition)) + "/"
}

// run runs job name for the partitions of asset key, reading inputs, and
// returns the parsed messages.
func (b *testBundle) run(t testing.TB, name, key string, partitions []string, inputs []input) (materializer.Messages, error) {
	t.Helper()
	runDir := t.TempDir()
	c := jobContext{Version: 1, RunID: "r-1", Asset: key, CodeVersion: "1", PartitionKeys: partitions,
		Messages: filepath.Join(runDir, "messages.jsonl"), Inputs: inputs}
	for _, p := range partitions {
		c.Outputs = append(c.Outputs, outputLoc{Partition: p, Location: b.loc(key, p)})
	}
	c.Output = c.Outputs[0].Location
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	ctxPath := filepath.Join(runDir, "context.json")
	if err := os.WriteFile(ctxPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"STRATA_CONTEXT": ctxPath, "SCALE": b.scale}
	var log bytes.Buffer
	err = Run(context.Background(), name, func(k string) string { return env[k] }, &log)
	if err != nil {
		return materializer.Messages{}, err
	}
	msgs, merr := materializer.ReadMessages(c.Messages, 0)
	if merr != nil {
		t.Fatal(merr)
	}
	if len(msgs.Warnings) > 0 {
		t.Fatalf("messages warnings: %v", msgs.Warnings)
	}
	return msgs, nil
}

// inspect reads an output the way Strata does and returns its stats.
func (b *testBundle) inspect(t testing.TB, key, partition string) materializer.OutputStats {
	t.Helper()
	st, err := materializer.InspectOutput(b.loc(key, partition), materializer.InspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s %s: %v", key, partition, err)
	}
	return st
}

// inputsFor lists partitions of key as inputs, as the materializer would.
func (b *testBundle) inputsFor(t testing.TB, key string, partitions ...string) []input {
	t.Helper()
	var out []input
	for _, p := range partitions {
		st := b.inspect(t, key, p)
		out = append(out, input{Asset: key, Partition: p, Location: b.loc(key, p), DataVersion: st.DataVersion, Rows: st.Rows, Bytes: st.Bytes})
	}
	return out
}

func hoursOf(day string) []string {
	d, _ := time.Parse(dailyFmt, day)
	out := make([]string, 24)
	for i := range out {
		out[i] = d.Add(time.Duration(i) * time.Hour).Format(hourlyFmt)
	}
	return out
}

func TestPipeline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	day := "2026-11-20" // a Friday
	hours := hoursOf(day)
	if _, err := b.run(t, "events", "raw/events", hours, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.run(t, "customers", "raw/customers", regions, nil); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, r := range regions {
		total += b.inspect(t, "raw/customers", r).Rows
	}
	if total != numCustomers {
		t.Errorf("customers: %d rows in all regions, want %d", total, numCustomers)
	}
	night, evening := b.inspect(t, "raw/events", day+"-03:00").Rows, b.inspect(t, "raw/events", day+"-19:00").Rows
	if evening < 5*night {
		t.Errorf("events at 19:00 = %d, at 03:00 = %d: want the evening much busier", evening, night)
	}

	ins := append(b.inputsFor(t, "raw/events", hours...), b.inputsFor(t, "raw/customers", regions...)...)
	msgs, err := b.run(t, "sessions", "analytics/sessions", []string{day}, ins)
	if err != nil {
		t.Fatal(err)
	}
	sessions := b.inspect(t, "analytics/sessions", day)
	if sessions.Rows == 0 {
		t.Fatal("no sessions")
	}
	if len(msgs.Checks) != 1 || !msgs.Checks[0].Passed {
		t.Errorf("sessions checks = %+v, want customers_known passed", msgs.Checks)
	}

	msgs, err = b.run(t, "daily_revenue", "analytics/daily_revenue", []string{day}, b.inputsFor(t, "analytics/sessions", day))
	if err != nil {
		t.Fatal(err)
	}
	rev := b.inspect(t, "analytics/daily_revenue", day)
	if rev.Rows == 0 || rev.Rows >= sessions.Rows {
		t.Errorf("daily revenue has %d rows for %d sessions: want some buyers, fewer than sessions", rev.Rows, sessions.Rows)
	}
	eur, _ := msgs.Reports[day].Metadata["revenue_eur"].(json.Number).Float64()
	if eur <= 0 {
		t.Errorf("revenue_eur = %v, want > 0", msgs.Reports[day].Metadata["revenue_eur"])
	}

	week := "2026-11-16"
	msgs, err = b.run(t, "weekly_summary", "reports/weekly_summary", []string{week}, b.inputsFor(t, "analytics/daily_revenue", day))
	if err != nil {
		t.Fatal(err)
	}
	if b.inspect(t, "reports/weekly_summary", week).Rows == 0 {
		t.Error("weekly summary has no rows")
	}
	weekEUR, _ := msgs.Reports[week].Metadata["revenue_eur"].(json.Number).Float64()
	if weekEUR != eur {
		t.Errorf("week revenue %v, want the one day's %v", weekEUR, eur)
	}

	var regional float64
	for _, r := range regions {
		key := day + "|" + r
		ins := append(b.inputsFor(t, "analytics/sessions", day), b.inputsFor(t, "raw/customers", r)...)
		msgs, err := b.run(t, "regional_sales", "analytics/regional_sales", []string{key}, ins)
		if err != nil {
			t.Fatal(err)
		}
		if b.inspect(t, "analytics/regional_sales", key).Rows == 0 {
			t.Errorf("regional sales %s: no rows", key)
		}
		v, _ := msgs.Reports[key].Metadata["revenue_eur"].(json.Number).Float64()
		regional += v
	}
	if d := regional - eur; d > 0.01 || d < -0.01 {
		t.Errorf("regional revenue sums to %v, want the day's %v", regional, eur)
	}
}

// TestDeterministic: the same partition gives the same data version, in
// another directory, and another partition a different one.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	a, b := setup(t), setup(t)
	parts := []string{"2026-11-18-10:00", "2026-11-18-11:00"}
	for _, x := range []*testBundle{a, b} {
		if _, err := x.run(t, "events", "raw/events", parts, nil); err != nil {
			t.Fatal(err)
		}
	}
	v0, v1 := a.inspect(t, "raw/events", parts[0]), b.inspect(t, "raw/events", parts[0])
	if v0.DataVersion != v1.DataVersion || v0.Rows != v1.Rows {
		t.Errorf("same partition: %s (%d rows) and %s (%d rows)", v0.DataVersion, v0.Rows, v1.DataVersion, v1.Rows)
	}
	if o := a.inspect(t, "raw/events", parts[1]); o.DataVersion == v0.DataVersion {
		t.Errorf("different partitions share data version %s", o.DataVersion)
	}
}

// TestSizesVary: the number of events spans the documented range, with
// busy weekday evenings and quiet weekend nights.
func TestSizesVary(t *testing.T) {
	t.Parallel()
	lo, hi := maxEventsPerHour, 0
	start := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	for h := range 7 * 24 {
		at := start.Add(time.Duration(h) * time.Hour)
		n := eventsInHour(at, rngFor("raw/events", at.Format(hourlyFmt)))
		lo, hi = min(lo, n), max(hi, n)
	}
	if lo > 3000 || hi < 75000 {
		t.Errorf("events per hour in a week range over [%d, %d]; want about [2000, 100000]", lo, hi)
	}
}

func TestMissingInputFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ins := []input{{Asset: "analytics/sessions", Partition: "2026-11-20"}} // never materialized: no location
	_, err := b.run(t, "daily_revenue", "analytics/daily_revenue", []string{"2026-11-20"}, ins)
	if err == nil || !strings.Contains(err.Error(), "no materialization") {
		t.Fatalf("err = %v, want one naming the missing upstream", err)
	}
}

func TestUnknownJob(t *testing.T) {
	t.Parallel()
	err := Run(context.Background(), "nope", func(string) string { return "" }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "unknown job") {
		t.Fatalf("err = %v", err)
	}
}
