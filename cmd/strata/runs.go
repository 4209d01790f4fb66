package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/proto"

	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// cmdRuns runs `strata runs list|get|logs`.
func (c *cli) cmdRuns(args []string) error {
	return c.apiSubcommand("runs", map[string]func([]string) error{
		"list": c.runsList,
		"get":  c.runsGet,
		"logs": c.runsLogs,
	}, []string{"list", "get", "logs"}, args)
}

func runStateName(s stratav1.RunState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "RUN_STATE_"))
}

func (c *cli) runsList(args []string) error {
	fs := flag.NewFlagSet("strata runs list", flag.ContinueOnError)
	af := newAPIFlags(fs)
	assetKey := fs.String("asset", "", "only runs of this asset")
	partition := fs.String("partition", "", "only runs covering this partition key")
	backfill := fs.String("backfill", "", "only runs of this backfill")
	state := fs.String("state", "", "only runs in these states, comma-separated (queued, running, succeeded, failed, canceled)")
	limit := fs.Int("limit", 50, "maximum number of runs")
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("runs list: unexpected argument %q", pos[0])
	}
	req := &stratav1.ListRunsRequest{Asset: *assetKey, PartitionKey: *partition, BackfillId: *backfill, PageSize: int32(*limit)}
	if *state != "" {
		for _, s := range strings.Split(*state, ",") {
			v, ok := stratav1.RunState_value["RUN_STATE_"+strings.ToUpper(strings.TrimSpace(s))]
			if !ok || v == 0 {
				return usageErrorf("--state %q: use queued, running, succeeded, failed or canceled", s)
			}
			req.States = append(req.States, stratav1.RunState(v))
		}
	}
	a, err := c.dial(af)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, cancel := a.ctx()
	defer cancel()
	resp, err := a.runs().ListRuns(ctx, req)
	if err != nil {
		return rpcError(err)
	}
	if ok, err := a.structured(resp); ok {
		return err
	}
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, "ID\tASSET\tPARTITIONS\tSTATE\tREASON\tATTEMPT\tCREATED\tERROR")
	for _, r := range resp.Runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.Id, r.Asset, partitionsLabel(r.PartitionKeys), runStateName(r.State),
			strings.ToLower(strings.TrimPrefix(r.Reason.String(), "RUN_REASON_")), r.Attempt, r.MaxAttempts,
			fmtTime(r.CreateTime, r.CreateTime != nil), dash(firstLine(r.Error)))
	}
	return tw.Flush()
}

func partitionsLabel(keys []string) string {
	switch {
	case len(keys) == 0 || (len(keys) == 1 && keys[0] == ""):
		return "-"
	case len(keys) == 1:
		return keys[0]
	}
	return fmt.Sprintf("%s .. %s (%d)", keys[0], keys[len(keys)-1], len(keys))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func (c *cli) runsGet(args []string) error {
	fs := flag.NewFlagSet("strata runs get", flag.ContinueOnError)
	af := newAPIFlags(fs)
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("runs get: want one run id")
	}
	a, err := c.dial(af)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, cancel := a.ctx()
	defer cancel()
	resp, err := a.runs().GetRun(ctx, &stratav1.GetRunRequest{Id: pos[0]})
	if err != nil {
		return rpcError(err)
	}
	if ok, err := a.structured(resp); ok {
		return err
	}
	r := resp.Run
	tw := newTable(c.stdout)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("id", r.Id)
	row("asset", r.Asset)
	row("partitions", partitionsLabel(r.PartitionKeys))
	row("state", runStateName(r.State))
	row("reason", strings.ToLower(strings.TrimPrefix(r.Reason.String(), "RUN_REASON_"))+" "+r.ReasonDetail)
	row("priority", fmt.Sprint(r.Priority))
	row("backfill", dash(r.BackfillId))
	row("attempt", fmt.Sprintf("%d of %d", r.Attempt, r.MaxAttempts))
	row("worker", dash(r.WorkerId))
	row("created", fmtTime(r.CreateTime, r.CreateTime != nil))
	row("started", fmtTime(r.StartTime, r.StartTime != nil))
	row("ended", fmtTime(r.EndTime, r.EndTime != nil))
	if r.Error != "" {
		row("error", r.Error)
	}
	if sz := r.GetSizing(); sz != nil && sz.GetReason() != "" {
		row("sizing", sz.GetReason())
	}
	return tw.Flush()
}

func (c *cli) runsLogs(args []string) error {
	fs := flag.NewFlagSet("strata runs logs", flag.ContinueOnError)
	af := newAPIFlags(fs)
	follow := fs.Bool("f", false, "follow the log until the run ends")
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("runs logs: want one run id")
	}
	a, err := c.dial(af)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, cancel := a.streamCtx()
	defer cancel()
	stream, err := a.runs().StreamRunLogs(ctx, &stratav1.StreamRunLogsRequest{Id: pos[0], Follow: *follow})
	if err != nil {
		return rpcError(err)
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return rpcError(err)
		}
		if a.output != "table" {
			for _, l := range msg.Lines {
				if err := printLogLine(c.stdout, l, a.output); err != nil {
					return err
				}
			}
			continue
		}
		for _, l := range msg.Lines {
			fmt.Fprintln(c.stdout, l.Text)
		}
	}
}

func printLogLine(w io.Writer, l proto.Message, format string) error {
	return printMessage(w, l, format)
}
