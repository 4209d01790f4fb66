// Package jobs holds the example jobs of Strata's demo: real programs that
// follow Strata's job protocol (environment variables, a context file, a
// messages file, Parquet output) without importing any Strata package.
//
// They make up a small shop's analytics: raw/events (hourly click-stream,
// synthetic), raw/customers (one partition per region, synthetic),
// analytics/sessions (daily, stitched from the 24 hourly event files and
// joined with the customers), analytics/daily_revenue (daily, per buying
// customer), reports/weekly_summary (weekly, from seven days of revenue) and
// analytics/regional_sales (date x region). The source data is
// deterministic: a partition key always gives the same rows, so rerunning a
// job gives the same data version; the number of events varies with the
// hour of day and the day of week (2,000 to 100,000 an hour), so the sizes
// that Strata records and sizes jobs from visibly differ.
//
// The strata binary runs them as the hidden subcommand `strata job NAME`;
// examples/demo/assets.yaml declares them.
package jobs

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"time"
)

// job is one example job: it produces every partition of its run.
type job func(ctx context.Context, env *runEnv) error

// runEnv is what a job gets: its context, its messages file, its log, and
// the declared environment it reads.
type runEnv struct {
	c      *jobContext
	msgs   *messages
	log    io.Writer
	getenv func(string) string
}

func (e *runEnv) logf(format string, args ...any) { fmt.Fprintf(e.log, format+"\n", args...) }

// registry returns the jobs by name.
func registry() map[string]job {
	return map[string]job{
		"events":         eventsJob,
		"customers":      customersJob,
		"sessions":       sessionsJob,
		"daily_revenue":  dailyRevenueJob,
		"weekly_summary": weeklySummaryJob,
		"regional_sales": regionalSalesJob,
	}
}

// Names returns the names of the example jobs.
func Names() []string {
	names := make([]string, 0, 6)
	for n := range registry() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Run runs the job called name with the job protocol's environment, read
// through getenv, writing its log to log.
func Run(ctx context.Context, name string, getenv func(string) string, log io.Writer) error {
	j, ok := registry()[name]
	if !ok {
		return fmt.Errorf("unknown job %q (have %v)", name, Names())
	}
	c, err := readContext(getenv)
	if err != nil {
		return fmt.Errorf("job %s: %w", name, err)
	}
	env := &runEnv{c: c, msgs: &messages{path: c.Messages}, log: log, getenv: getenv}
	start := time.Now()
	env.logf("job %s: asset %s, %d partition(s), %d input(s), code version %q",
		name, c.Asset, len(c.Outputs), len(c.Inputs), c.CodeVersion)
	if err := j(ctx, env); err != nil {
		return fmt.Errorf("job %s: %w", name, err)
	}
	env.logf("job %s: done in %s", name, time.Since(start).Round(time.Millisecond))
	return nil
}

// scale reads the SCALE variable of the declared environment: a factor on
// the number of generated events (1 when unset).
func (e *runEnv) scale() (float64, error) {
	s := e.getenv("SCALE")
	if s == "" {
		return 1, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 10 {
		return 0, fmt.Errorf("SCALE=%q: want a number in (0, 10]", s)
	}
	return f, nil
}

// eventsJob generates raw/events: one Parquet file per hour.
func eventsJob(ctx context.Context, e *runEnv) error {
	scale, err := e.scale()
	if err != nil {
		return err
	}
	for _, o := range e.c.Outputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := parseKey(hourlyFmt, o.Partition)
		if err != nil {
			return err
		}
		evs := eventsForHour(t, scale)
		path, err := writeParquet(o.Location, evs)
		if err != nil {
			return err
		}
		var purchases int64
		for _, ev := range evs {
			if ev.Type == "purchase" {
				purchases++
			}
		}
		e.logf("%s: %d events (%d purchases) -> %s", o.Partition, len(evs), purchases, path)
		if err := e.msgs.metadata(o.Partition, map[string]any{"purchases": purchases, "source": "synthetic click-stream"}); err != nil {
			return err
		}
	}
	return nil
}

// customersJob generates raw/customers: the customers of one region.
func customersJob(ctx context.Context, e *runEnv) error {
	for _, o := range e.c.Outputs {
		if !slices.Contains(regions, o.Partition) {
			return fmt.Errorf("partition %q is not a region (want one of %v)", o.Partition, regions)
		}
		cs := customersOf(o.Partition)
		path, err := writeParquet(o.Location, cs)
		if err != nil {
			return err
		}
		e.logf("%s: %d customers -> %s", o.Partition, len(cs), path)
	}
	return nil
}

// onePartition returns the run's only partition: the downstream example
// jobs read inputs mapped from a single partition (their assets do not
// batch backfills).
func (e *runEnv) onePartition() (outputLoc, error) {
	if len(e.c.Outputs) != 1 {
		return outputLoc{}, fmt.Errorf("this job produces one partition per run, got %d", len(e.c.Outputs))
	}
	return e.c.Outputs[0], nil
}
