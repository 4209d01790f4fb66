package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// cmdBackfill runs `strata backfill create|list|get|cancel|retry`.
func (c *cli) cmdBackfill(args []string) error {
	return c.apiSubcommand("backfill", map[string]func([]string) error{
		"create": c.backfillCreate,
		"list":   c.backfillList,
		"get":    func(a []string) error { return c.backfillByID("get", a) },
		"cancel": func(a []string) error { return c.backfillByID("cancel", a) },
		"retry":  func(a []string) error { return c.backfillByID("retry", a) },
	}, []string{"create", "list", "get", "cancel", "retry"}, args)
}

func (c *cli) backfillCreate(args []string) error {
	fs := flag.NewFlagSet("strata backfill create", flag.ContinueOnError)
	af := newAPIFlags(fs)
	from := fs.String("from", "", "first partition key, or an RFC 3339 time")
	to := fs.String("to", "", "last partition key (inclusive), or an RFC 3339 time (exclusive)")
	var keys stringsFlag
	fs.Var(&keys, "key", "a partition key (repeatable); instead of --from/--to")
	only := fs.String("only", "missing", "which partitions: missing, stale (and missing), failed, or all")
	priority := fs.Int("priority", 0, "priority (higher runs first)")
	desc := fs.String("description", "", "what the backfill is for")
	dryRun := fs.Bool("dry-run", false, "print the counts per asset without enqueuing")
	wait := fs.Bool("wait", false, "wait until the backfill finishes, showing its progress")
	interval := fs.Duration("interval", 2*time.Second, "how often --wait polls")
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("backfill create: want one selection (quote it), e.g. strata backfill create 'analytics/*' --from 2026-01-01 --to 2026-01-31")
	}
	if (*from == "") != (*to == "") {
		return usageErrorf("backfill create: give both --from and --to")
	}
	if *from != "" && len(keys) > 0 {
		return usageErrorf("backfill create: give --from/--to or --key, not both")
	}
	filter, ok := stratav1.BackfillFilter_value["BACKFILL_FILTER_"+strings.ToUpper(*only)]
	if !ok || filter == 0 {
		return usageErrorf("--only %q: use missing, stale, failed or all", *only)
	}
	req := &stratav1.CreateBackfillRequest{Selection: pos[0], PartitionKeys: keys, Filter: stratav1.BackfillFilter(filter),
		Priority: int32(*priority), Description: *desc, DryRun: *dryRun}
	if *from != "" {
		req.PartitionRange = &stratav1.PartitionKeyRange{Start: *from, End: *to}
	}
	if !*dryRun {
		req.RequestId = fmt.Sprintf("cli-%d", time.Now().UnixNano())
	}
	a, err := c.dial(af)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, cancel := a.ctx()
	resp, err := a.backfills().CreateBackfill(ctx, req)
	cancel()
	if err != nil {
		return rpcError(err)
	}
	if *wait && !*dryRun {
		return c.waitBackfill(a, resp.Backfill, *interval)
	}
	if ok, err := a.structured(resp); ok {
		return err
	}
	if *dryRun {
		fmt.Fprintf(c.stdout, "dry run: nothing enqueued\n")
	} else {
		fmt.Fprintf(c.stdout, "backfill %s created\n", resp.Backfill.Id)
	}
	c.printBackfill(resp.Backfill)
	return nil
}

func (c *cli) printBackfill(b *stratav1.Backfill) {
	tw := newTable(c.stdout)
	if b.Id != "" {
		fmt.Fprintf(tw, "id:\t%s\nstate:\t%s\n", b.Id, backfillStateName(b.State))
	}
	fmt.Fprintf(tw, "selection:\t%s\n", b.Selection)
	switch {
	case b.PartitionRange != nil:
		fmt.Fprintf(tw, "partitions:\t%s .. %s\n", b.PartitionRange.Start, b.PartitionRange.End)
	case len(b.PartitionKeys) > 0:
		fmt.Fprintf(tw, "partitions:\t%s\n", strings.Join(b.PartitionKeys, ", "))
	default:
		fmt.Fprintf(tw, "partitions:\tall\n")
	}
	if b.RetryOfId != "" {
		fmt.Fprintf(tw, "retry of:\t%s\n", b.RetryOfId)
	}
	fmt.Fprintf(tw, "progress:\t%s\n", progressLine(b.Progress))
	tw.Flush()
	if len(b.Assets) > 0 {
		fmt.Fprintln(c.stdout)
		tw = newTable(c.stdout)
		fmt.Fprintln(tw, "ASSET\tSELECTED\tSKIPPED\tQUEUED\tRUNNING\tSUCCEEDED\tFAILED\tCANCELED\tRUNS")
		for _, ap := range b.Assets {
			p := ap.Progress
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", ap.Asset, p.GetTotal(), p.GetSkipped(), p.GetQueued(),
				p.GetRunning(), p.GetSucceeded(), p.GetFailed(), p.GetCanceled(), p.GetRuns())
		}
		tw.Flush()
	}
}

func backfillStateName(s stratav1.BackfillState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "BACKFILL_STATE_"))
}

func progressLine(p *stratav1.BackfillProgress) string {
	return fmt.Sprintf("%d partitions: %d queued, %d running, %d succeeded, %d failed, %d canceled, %d skipped (%d runs)",
		p.GetTotal(), p.GetQueued(), p.GetRunning(), p.GetSucceeded(), p.GetFailed(), p.GetCanceled(), p.GetSkipped(), p.GetRuns())
}

func terminalBackfill(s stratav1.BackfillState) bool {
	switch s {
	case stratav1.BackfillState_BACKFILL_STATE_COMPLETED, stratav1.BackfillState_BACKFILL_STATE_FAILED,
		stratav1.BackfillState_BACKFILL_STATE_CANCELED:
		return true
	}
	return false
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "[#####.....]  52% 520/1000 ...".
func progressBar(p *stratav1.BackfillProgress, width int) string {
	todo := p.GetTotal() - p.GetSkipped()
	doneN := p.GetSucceeded() + p.GetFailed() + p.GetCanceled()
	frac := 1.0
	if todo > 0 {
		frac = float64(doneN) / float64(todo)
	}
	n := int(frac * float64(width))
	return fmt.Sprintf("[%s%s] %3.0f%% %d/%d  running %d, failed %d", strings.Repeat("#", n), strings.Repeat(".", width-n),
		frac*100, doneN, todo, p.GetRunning(), p.GetFailed())
}

// waitBackfill polls until the backfill ends: a single redrawn line on a
// terminal, one line per change otherwise.
func (c *cli) waitBackfill(a *api, b *stratav1.Backfill, interval time.Duration) error {
	tty := isTerminal(c.stdout)
	fmt.Fprintf(c.stdout, "backfill %s created; waiting (Ctrl-C stops waiting, not the backfill)\n", b.Id)
	last := ""
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		line := progressBar(b.Progress, 30)
		if tty {
			fmt.Fprintf(c.stdout, "\r\033[K%s", line)
		} else if line != last {
			fmt.Fprintln(c.stdout, line)
		}
		last = line
		if terminalBackfill(b.State) {
			break
		}
		<-ticker.C
		ctx, cancel := a.ctx()
		resp, err := a.backfills().GetBackfill(ctx, &stratav1.GetBackfillRequest{Id: b.Id})
		cancel()
		if err != nil {
			if tty {
				fmt.Fprintln(c.stdout)
			}
			return rpcError(err)
		}
		b = resp.Backfill
	}
	if tty {
		fmt.Fprintln(c.stdout)
	}
	if a.output != "table" {
		return printMessage(c.stdout, &stratav1.GetBackfillResponse{Backfill: b}, a.output)
	}
	fmt.Fprintf(c.stdout, "backfill %s %s: %s\n", b.Id, backfillStateName(b.State), progressLine(b.Progress))
	if b.State != stratav1.BackfillState_BACKFILL_STATE_COMPLETED {
		return failErrorf("backfill %s %s", b.Id, backfillStateName(b.State))
	}
	return nil
}

func (c *cli) backfillList(args []string) error {
	fs := flag.NewFlagSet("strata backfill list", flag.ContinueOnError)
	af := newAPIFlags(fs)
	limit := fs.Int("limit", 50, "maximum number of backfills")
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("backfill list: unexpected argument %q", pos[0])
	}
	a, err := c.dial(af)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, cancel := a.ctx()
	defer cancel()
	resp, err := a.backfills().ListBackfills(ctx, &stratav1.ListBackfillsRequest{PageSize: int32(*limit)})
	if err != nil {
		return rpcError(err)
	}
	if ok, err := a.structured(resp); ok {
		return err
	}
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, "ID\tSTATE\tSELECTION\tPRIORITY\tCREATED\tPROGRESS")
	for _, b := range resp.Backfills {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", b.Id, backfillStateName(b.State), b.Selection, b.Priority,
			fmtTime(b.CreateTime, b.CreateTime != nil), progressBar(b.Progress, 10))
	}
	return tw.Flush()
}

func (c *cli) backfillByID(verb string, args []string) error {
	fs := flag.NewFlagSet("strata backfill "+verb, flag.ContinueOnError)
	af := newAPIFlags(fs)
	var dryRun, wait *bool
	var interval *time.Duration
	if verb == "retry" {
		dryRun = fs.Bool("dry-run", false, "print the counts without enqueuing")
		wait = fs.Bool("wait", false, "wait until the retry finishes, showing its progress")
		interval = fs.Duration("interval", 2*time.Second, "how often --wait polls")
	}
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("backfill %s: want one backfill id", verb)
	}
	a, err := c.dial(af)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, cancel := a.ctx()
	defer cancel()
	var b *stratav1.Backfill
	var msg proto.Message
	switch verb {
	case "get":
		resp, err := a.backfills().GetBackfill(ctx, &stratav1.GetBackfillRequest{Id: pos[0]})
		if err != nil {
			return rpcError(err)
		}
		b, msg = resp.Backfill, resp
	case "cancel":
		resp, err := a.backfills().CancelBackfill(ctx, &stratav1.CancelBackfillRequest{Id: pos[0]})
		if err != nil {
			return rpcError(err)
		}
		b, msg = resp.Backfill, resp
	case "retry":
		resp, err := a.backfills().RetryBackfill(ctx, &stratav1.RetryBackfillRequest{Id: pos[0], DryRun: *dryRun})
		if err != nil {
			return rpcError(err)
		}
		if *wait && !*dryRun {
			return c.waitBackfill(a, resp.Backfill, *interval)
		}
		b, msg = resp.Backfill, resp
	}
	if ok, err := a.structured(msg); ok {
		return err
	}
	c.printBackfill(b)
	return nil
}
