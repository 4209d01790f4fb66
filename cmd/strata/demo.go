package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/examples/demo"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/scheduler"
	"github.com/strata-data/strata/server"
	"github.com/strata-data/strata/ui"
)

// demoOptions are the flags of `strata demo`.
type demoOptions struct {
	dataDir, listen, db string
	exitAfter           bool
	days                int
	scale               float64
	capacity            string
}

// cmdDemo runs `strata demo`: a server on a fresh data directory (the
// embedded SQLite catalog unless --db says otherwise) with the local
// executor, the example asset graph applied, and a backfill of the last
// days, followed on a progress bar. Then it keeps serving the UI until
// Ctrl-C, or with --exit-after-backfill exits: 0 only when every partition
// of the backfill succeeded with its rows recorded.
func (c *cli) cmdDemo(args []string) error {
	fs := flag.NewFlagSet("strata demo", flag.ContinueOnError)
	o := demoOptions{}
	fs.StringVar(&o.dataDir, "data-dir", "", "directory for the catalog, the runs and the data; must be new or empty (default: a new temporary directory)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:7070", "address to serve the API and the UI on (loopback; port 0 picks a free one)")
	fs.StringVar(&o.db, "db", "", "catalog: sqlite://PATH or postgres://... (default: SQLite in the data directory)")
	fs.BoolVar(&o.exitAfter, "exit-after-backfill", false, "exit when the backfill ends: 0 if every partition succeeded with rows recorded, else 1")
	fs.IntVar(&o.days, "days", 7, "backfill the last N complete days (from the Monday before, so weekly reports have whole weeks)")
	fs.Float64Var(&o.scale, "scale", 1, "factor on the number of generated events (tests use less)")
	fs.StringVar(&o.capacity, "capacity", "", "local executor capacity, as for strata server: memory=SIZE,cpus=N[,slots=N] (default: 80% of memory, all CPUs)")
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("demo: unexpected argument %q", pos[0])
	}
	if o.days < 1 || o.days > 60 {
		return usageErrorf("demo: --days %d: use 1 to 60", o.days)
	}
	if o.scale <= 0 || o.scale > 10 {
		return usageErrorf("demo: --scale %v: use a number in (0, 10]", o.scale)
	}
	if _, err := parseCapacity(o.capacity); err != nil || o.capacity == "none" {
		return usageErrorf("demo: --capacity %q: want memory=SIZE,cpus=N[,slots=N]", o.capacity)
	}
	if err := server.CheckListen(o.listen, 0, false); err != nil {
		return usageError(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.runDemo(ctx, o)
}

func (c *cli) runDemo(ctx context.Context, o demoOptions) (err error) {
	dir, err := demoDataDir(o.dataDir)
	if err != nil {
		return err
	}
	if o.db == "" {
		o.db = "sqlite://" + filepath.Join(dir, "strata.db")
	}
	logPath := filepath.Join(dir, "strata.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return failErrorf("create log: %v", err)
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := demoPath(dir); err != nil {
		return failErrorf("%v", err)
	}

	fmt.Fprintf(c.stdout, "Strata demo\n  data directory  %s\n  catalog         %s\n  server log      %s\n", dir, redactURL(o.db), logPath)
	cat, err := catalog.Open(ctx, o.db, catalog.Options{Logger: log})
	if err != nil {
		return failErrorf("open catalog: %v", err)
	}
	defer func() {
		if cerr := cat.Close(); cerr != nil && err == nil {
			err = failErrorf("close catalog: %v", cerr)
		}
	}()
	// The same dispatcher as `strata server`'s: the local executor, and
	// remote workers through the WorkerService.
	disp, err := newServerDispatcher(cat, log, dir, o.capacity)
	if err != nil {
		return err
	}
	// The planner loop, as in `strata server`: statuses with their causes,
	// and automation (the weekly report's eager condition).
	sched, err := scheduler.New(scheduler.Config{Catalog: cat, Logger: log.With("component", "planner"), Notify: disp.Notify})
	if err != nil {
		return failErrorf("%v", err)
	}
	// Workers: `strata worker --server ADDR` on another terminal joins in.
	srv, err := server.New(server.Config{Catalog: cat, Logger: log, Registry: prometheus.NewRegistry(),
		UI: ui.Handler(ui.Options{Title: "Strata demo"}), Workers: disp,
		Status: &server.PlannerStatus{Scheduler: sched, Catalog: cat}})
	if err != nil {
		return failErrorf("%v", err)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return failErrorf("listen: %v (another strata running? try --listen 127.0.0.1:0)", err)
	}

	// The planner loop, the server, the dispatcher, then the demo itself; stopping the demo
	// (Ctrl-C, or the backfill's end with --exit-after-backfill) stops all.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := sched.Run(runCtx); err != nil {
			errs <- fmt.Errorf("planner: %w", err)
			cancel()
		}
	}()
	go func() {
		defer wg.Done()
		if err := srv.Serve(runCtx, ln); err != nil {
			errs <- fmt.Errorf("serve: %w", err)
			cancel()
		}
	}()
	go func() {
		defer wg.Done()
		if err := disp.Run(runCtx); err != nil {
			errs <- fmt.Errorf("dispatcher: %w", err)
			cancel()
		}
	}()
	addr := ln.Addr().String()
	derr := c.demo(runCtx, o, addr, cat)
	cancel()
	wg.Wait()
	close(errs)
	for e := range errs {
		if derr == nil {
			derr = failErrorf("%v", e)
		}
	}
	if derr != nil && ctx.Err() != nil && !o.exitAfter {
		// Ctrl-C while serving: a clean stop.
		fmt.Fprintf(c.stdout, "\nstopped; the data stays in %s\n", dir)
		return nil
	}
	return derr
}

// demo applies the declarations, runs the backfill and then serves until
// ctx ends (or returns, with --exit-after-backfill).
func (c *cli) demo(ctx context.Context, o demoOptions, addr string, cat *catalog.Catalog) error {
	a, err := c.dial(&apiFlags{server: addr, output: "table", timeout: time.Minute})
	if err != nil {
		return err
	}
	defer a.close()
	rctx := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, time.Minute) }

	f, src, err := asset.ParseFile(demo.AssetsFile, demo.AssetsYAML())
	if err != nil {
		return failErrorf("embedded declarations: %v", err)
	}
	if err := f.Validate(); err != nil {
		return failErrorf("embedded declarations: %v", src.Locate(err))
	}
	if o.scale != 1 {
		for i := range f.Assets {
			if d := &f.Assets[i]; d.Key == "raw/events" && d.Compute != nil {
				d.Compute.Env = map[string]string{"SCALE": strconv.FormatFloat(o.scale, 'f', -1, 64)}
			}
		}
	}
	actx, acancel := rctx()
	ar, err := a.assets().ApplyAssets(actx, &stratav1.ApplyAssetsRequest{Assets: server.DeclsToProto(f.Assets)})
	acancel()
	if err != nil {
		return located(err, src)
	}
	keys := make([]string, 0, len(f.Assets))
	for _, d := range f.Assets {
		keys = append(keys, d.Key)
	}
	fmt.Fprintf(c.stdout, "  applied         %d assets from %s (revision %d): %s\n", len(f.Assets), demo.AssetsFile, ar.GetRevision(), strings.Join(keys, ", "))

	start, end := demoRange(time.Now(), o.days)
	span := &stratav1.PartitionKeyRange{Start: start.Format(time.RFC3339), End: end.Format(time.RFC3339)}
	// One backfill of every asset: the planner enqueues it in waves, each
	// partition once the upstream partitions it reads have succeeded.
	req := &stratav1.CreateBackfillRequest{Selection: demoSelection(keys), PartitionRange: span,
		Filter: stratav1.BackfillFilter_BACKFILL_FILTER_ALL, DryRun: true}
	dctx, dcancel := rctx()
	dr, err := a.backfills().CreateBackfill(dctx, req)
	dcancel()
	if err != nil {
		return rpcError(err)
	}
	p := dr.GetBackfill().GetProgress()
	total := p.GetTotal() - p.GetSkipped()
	url := "http://" + addr + "/"
	fmt.Fprintf(c.stdout, "  backfill        every asset, %s to %s: %d partitions in %d runs\n",
		start.Format("2006-01-02"), end.Add(-time.Second).Format("2006-01-02"), total, p.GetRuns())
	fmt.Fprintf(c.stdout, "  UI              %s\n\n", url)

	tty := demoIsTTY(c.stdout)
	began := time.Now()
	req.DryRun = false
	req.Description = fmt.Sprintf("strata demo: the last %d days", o.days)
	bctx, bcancel := rctx()
	br, err := a.backfills().CreateBackfill(bctx, req)
	bcancel()
	if err != nil {
		return rpcError(err)
	}
	id := br.GetBackfill().GetId()
	ids := []string{id}
	final, err := c.followBackfill(ctx, a, id, tty, &stratav1.BackfillProgress{}, total, began, true)
	if err != nil {
		return err
	}
	completed := final.GetState() == stratav1.BackfillState_BACKFILL_STATE_COMPLETED
	if !completed {
		fmt.Fprintf(c.stdout, "backfill %s ended %s\n", id, stateWord(final.GetState()))
	}
	report, rerr := verifyBackfills(ctx, cat, f.Assets, start, end, ids)
	if rerr != nil {
		return failErrorf("check backfills %s: %v", strings.Join(ids, ", "), rerr)
	}
	report.print(c.stdout)
	ok := completed && report.ok()
	if o.exitAfter {
		if !ok {
			return failErrorf("backfill %s: %d of %d partitions not materialized with rows recorded",
				strings.Join(ids, ", "), len(report.bad), report.partitions)
		}
		fmt.Fprintf(c.stdout, "\nbackfill %s succeeded: %d partitions, rows recorded for each\n", strings.Join(ids, ", "), report.partitions)
		return nil
	}
	server := ""
	if addr != defaultServer {
		server = " --server " + addr
	}
	fmt.Fprintf(c.stdout, `
Strata is serving the UI at %s  (Ctrl-C to stop)

Try, in another terminal (from the repository; go install ./cmd/strata puts strata on PATH):
  strata status analytics/daily_revenue%[2]s
  # bump code_version of analytics/daily_revenue in %[3]s, then
  strata apply -f %[3]s%[2]s
  strata status analytics/daily_revenue --only stale%[2]s     # stale: code version changed
  strata backfill create 'analytics/daily_revenue+' --from %[4]s --to %[5]s --only stale --wait%[2]s
`, url, server, demo.AssetsFile, start.Format("2006-01-02"), end.Add(-time.Second).Format("2006-01-02"))
	<-ctx.Done()
	return ctx.Err()
}

// demoDataDir returns the data directory: a new temporary one, or dir if it
// is new or empty. The demo never deletes or overwrites anything.
func demoDataDir(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "strata-demo-")
		if err != nil {
			return "", failErrorf("create data directory: %v", err)
		}
		return d, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", usageErrorf("--data-dir %s: %v", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", failErrorf("create data directory: %v", err)
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return "", failErrorf("read data directory: %v", err)
	}
	if len(entries) > 0 {
		return "", usageErrorf("--data-dir %s is not empty: the demo starts afresh and never deletes anything; give a new or empty directory", abs)
	}
	return abs, nil
}

// demoPath makes the example assets' command, `strata job NAME`, run this
// very binary: a link named strata in DIR/bin, put first on PATH (the
// executor resolves commands with the server's PATH and passes PATH on).
func demoPath(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the strata binary: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", bin, err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "strata")); err != nil {
		return fmt.Errorf("link the strata binary: %w", err)
	}
	return os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// demoRange is the span the demo backfills: the last days complete days
// (UTC), starting earlier on the Monday before so that the weekly report's
// weeks lie whole inside it.
func demoRange(now time.Time, days int) (start, end time.Time) {
	end = now.UTC().Truncate(24 * time.Hour)
	start = end.AddDate(0, 0, -days)
	back := (int(start.Weekday()) + 6) % 7 // days since Monday
	return start.AddDate(0, 0, -back), end
}

// followBackfill shows a backfill's progress until it ends: one redrawn
// line on a terminal, a line every few seconds otherwise.
//
// The line adds done (the backfills before this one) and counts against
// total partitions; last says whether this is the last backfill, whose end
// ends the line.
func (c *cli) followBackfill(ctx context.Context, a *api, id string, tty bool, done *stratav1.BackfillProgress, total int64, began time.Time, last bool) (*stratav1.Backfill, error) {
	var lastLine string
	var lastPrint time.Time
	settle := 0
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := a.backfills().GetBackfill(gctx, &stratav1.GetBackfillRequest{Id: id})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, rpcError(err)
		}
		bf := resp.GetBackfill()
		end := isEndState(bf.GetState())
		if p := bf.GetProgress(); end && p.GetRunning()+p.GetQueued() > 0 && settle < 20 {
			// The state and the counts are read apart: let the counts
			// catch up with an ended state before the last line.
			settle++
			end = false
		}
		shown := &stratav1.BackfillProgress{}
		demoAddProgress(shown, done)
		demoAddProgress(shown, bf.GetProgress())
		// Skipped: already in flight for another reason (automation).
		shown.Total = total
		line := demoProgress(shown, time.Since(began), 30)
		switch {
		case tty:
			fmt.Fprintf(c.stdout, "\r\033[K%s", line)
			if end && last {
				fmt.Fprintln(c.stdout)
			}
		case (end && last) || (line != lastLine && time.Since(lastPrint) >= 3*time.Second):
			fmt.Fprintln(c.stdout, line)
			lastLine, lastPrint = line, time.Now()
		}
		if end {
			return bf, nil
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(c.stdout)
			}
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// demoProgress draws a backfill's progress: a bar of done partitions
// (succeeded, failed, cancelled) and the counts.
func demoProgress(p *stratav1.BackfillProgress, elapsed time.Duration, width int) string {
	total := max(p.GetTotal()-p.GetSkipped(), 0)
	done := p.GetSucceeded() + p.GetFailed() + p.GetCanceled()
	filled := 0
	if total > 0 {
		filled = int(int64(width) * min(done, total) / total)
	}
	bar := strings.Repeat("#", filled) + strings.Repeat("-", width-filled)
	pct := 100
	if total > 0 {
		pct = int(100 * min(done, total) / total)
	}
	s := fmt.Sprintf("[%s] %3d%%  %d/%d partitions  %d running  %d queued  %d failed",
		bar, pct, p.GetSucceeded(), total, p.GetRunning(), p.GetQueued(), p.GetFailed())
	if p.GetCanceled() > 0 {
		s += fmt.Sprintf("  %d cancelled", p.GetCanceled())
	}
	return s + fmt.Sprintf("  %s", elapsed.Round(time.Second))
}

func isEndState(s stratav1.BackfillState) bool {
	switch s {
	case stratav1.BackfillState_BACKFILL_STATE_COMPLETED, stratav1.BackfillState_BACKFILL_STATE_FAILED,
		stratav1.BackfillState_BACKFILL_STATE_CANCELED:
		return true
	}
	return false
}

func stateWord(s stratav1.BackfillState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "BACKFILL_STATE_"))
}

// demoIsTTY reports whether w is a terminal (a character device).
func demoIsTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// backfillReport is what a backfill produced, checked in the catalog: per
// asset, partitions, rows and bytes of their latest materializations, and
// the partitions that did not succeed with rows recorded.
type backfillReport struct {
	partitions int
	assets     []assetReport
	bad        []string // "asset partition: why"
}

type assetReport struct {
	key                           asset.Key
	partitions, runs              int
	rows, bytes, minRows, maxRows int64
}

func (r *backfillReport) ok() bool { return len(r.bad) == 0 && r.partitions > 0 }

// verifyBackfills checks, in the catalog, every partition of decls in
// [start, end) (every partition of an asset without time windows) once no
// run is queued or running any more: it has a materialization with its row
// count recorded. Partitions the planner's automation produced while the
// backfills ran (a backfill skips a partition already in flight) count
// too. Runs are counted over the backfills ids.
func verifyBackfills(ctx context.Context, cat *catalog.Catalog, decls []asset.AssetDecl, start, end time.Time, ids []string) (*backfillReport, error) {
	if err := waitIdle(ctx, cat); err != nil {
		return nil, err
	}
	runs := map[asset.Key]int{}
	for _, id := range ids {
		bid, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("backfill id %q: %w", id, err)
		}
		before := int64(0)
		for {
			rs, err := cat.ListRuns(ctx, catalog.RunFilter{BackfillID: bid, BeforeID: before, Limit: 1000})
			if err != nil {
				return nil, fmt.Errorf("list runs of backfill %s: %w", id, err)
			}
			for _, r := range rs {
				before = r.ID
				runs[r.Asset]++
			}
			if len(rs) < 1000 {
				break
			}
		}
	}
	g, err := asset.NewGraph(decls)
	if err != nil {
		return nil, err
	}
	rep := &backfillReport{}
	assets := slices.Clone(g.Assets())
	slices.SortFunc(assets, func(a, b *asset.Asset) int { return strings.Compare(string(a.Key), string(b.Key)) })
	for _, a := range assets {
		ar := assetReport{key: a.Key, runs: runs[a.Key], minRows: -1}
		parts := a.Partitions.At(end, nil)
		w, windowed := parts.(asset.Windowed)
		for i := int64(0); i < parts.Len(); i++ {
			if windowed {
				if tw := w.Window(i); !tw.Start.Before(end) || !tw.End.After(start) || tw.End.After(end) {
					continue
				}
			}
			key := parts.Key(i)
			ar.partitions++
			rep.partitions++
			h, err := cat.MaterializationHistory(ctx, a.Key, key, 1)
			if err != nil {
				return nil, fmt.Errorf("materializations of %s %s: %w", a.Key, key, err)
			}
			if len(h) == 0 || h[0].RowCount == nil {
				rep.bad = append(rep.bad, fmt.Sprintf("%s %s: no materialization with a row count", a.Key, key))
				continue
			}
			n := *h[0].RowCount
			ar.rows += n
			if h[0].ByteCount != nil {
				ar.bytes += *h[0].ByteCount
			}
			if ar.minRows < 0 || n < ar.minRows {
				ar.minRows = n
			}
			ar.maxRows = max(ar.maxRows, n)
		}
		rep.assets = append(rep.assets, ar)
	}
	return rep, nil
}

// waitIdle waits until no run is queued or running.
func waitIdle(ctx context.Context, cat *catalog.Catalog) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		rs, err := cat.ListRuns(ctx, catalog.RunFilter{States: []catalog.RunState{catalog.RunQueued, catalog.RunRunning}, Limit: 1})
		if err != nil {
			return fmt.Errorf("list runs in flight: %w", err)
		}
		if len(rs) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (r *backfillReport) print(w io.Writer) {
	t := newTable(w)
	fmt.Fprintln(t, "ASSET\tPARTITIONS\tRUNS\tROWS\tROWS/PARTITION (MIN-MAX)\tBYTES")
	for _, a := range r.assets {
		fmt.Fprintf(t, "%s\t%d\t%d\t%d\t%d-%d\t%s\n", a.key, a.partitions, a.runs, a.rows, max(a.minRows, 0), a.maxRows, humanBytes(a.bytes))
	}
	t.Flush()
	for i, b := range r.bad {
		if i == 20 {
			fmt.Fprintf(w, "... and %d more\n", len(r.bad)-20)
			break
		}
		fmt.Fprintf(w, "FAILED %s\n", b)
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// redactURL hides the password of a database URL.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return u
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return u
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// demoSelection selects exactly keys.
func demoSelection(keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = "key:" + k
	}
	return strings.Join(parts, " or ")
}

func demoAddProgress(dst, src *stratav1.BackfillProgress) {
	dst.Total += src.GetTotal()
	dst.Skipped += src.GetSkipped()
	dst.Queued += src.GetQueued()
	dst.Running += src.GetRunning()
	dst.Succeeded += src.GetSucceeded()
	dst.Failed += src.GetFailed()
	dst.Canceled += src.GetCanceled()
	dst.Runs += src.GetRuns()
}
