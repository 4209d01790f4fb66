package main

import (
	"flag"
	"fmt"
	"sort"
	"strings"

	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// cmdAssets runs `strata assets list|get`.
func (c *cli) cmdAssets(args []string) error {
	return c.apiSubcommand("assets", map[string]func([]string) error{
		"list": c.assetsList,
		"get":  c.assetsGet,
	}, []string{"list", "get"}, args)
}

func (c *cli) assetsList(args []string) error {
	fs := flag.NewFlagSet("strata assets list", flag.ContinueOnError)
	af := newAPIFlags(fs)
	sel := fs.String("selection", "", "asset selection, e.g. \"analytics/*\" or \"+daily_revenue\"")
	query := fs.String("query", "", "text search over key, description, owners and tags")
	limit := fs.Int("limit", 0, "maximum number of assets (0: all)")
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) == 1 && *sel == "" {
		*sel = pos[0]
	} else if len(pos) > 0 {
		return usageErrorf("assets list: unexpected argument %q", pos[len(pos)-1])
	}
	a, err := c.dial(af)
	if err != nil {
		return err
	}
	defer a.close()
	all := &stratav1.ListAssetsResponse{}
	tok := ""
	for {
		ctx, cancel := a.ctx()
		page, err := a.assets().ListAssets(ctx, &stratav1.ListAssetsRequest{Selection: *sel, Query: *query, PageSize: 1000, PageToken: tok})
		cancel()
		if err != nil {
			return rpcError(err)
		}
		all.Assets = append(all.Assets, page.Assets...)
		all.TotalSize = page.TotalSize
		if *limit > 0 && len(all.Assets) >= *limit {
			all.Assets = all.Assets[:*limit]
			all.NextPageToken = page.NextPageToken
			break
		}
		if tok = page.NextPageToken; tok == "" {
			break
		}
	}
	if ok, err := a.structured(all); ok {
		return err
	}
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, "KEY\tGROUP\tPARTITIONS\tMISSING\tFRESH\tSTALE\tFAILED\tRUNNING\tLAST MATERIALIZED")
	for _, as := range all.Assets {
		sc := as.GetStatusCounts()
		last := "-"
		if lm := as.GetLatestMaterialization(); lm != nil {
			last = fmtTime(lm.GetCreateTime(), lm.GetCreateTime() != nil)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", as.GetDecl().GetKey(), dash(as.GetDecl().GetGroup()),
			sc.GetTotal(), sc.GetMissing(), sc.GetFresh(), sc.GetStale(), sc.GetFailed(), sc.GetRunning(), last)
	}
	tw.Flush()
	fmt.Fprintf(c.stdout, "%d of %d assets\n", len(all.Assets), all.TotalSize)
	return nil
}

func (c *cli) assetsGet(args []string) error {
	fs := flag.NewFlagSet("strata assets get", flag.ContinueOnError)
	af := newAPIFlags(fs)
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("assets get: want one asset key")
	}
	a, err := c.dial(af)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, cancel := a.ctx()
	defer cancel()
	resp, err := a.assets().GetAsset(ctx, &stratav1.GetAssetRequest{Key: pos[0]})
	if err != nil {
		return rpcError(err)
	}
	if ok, err := a.structured(resp); ok {
		return err
	}
	as := resp.Asset
	d := as.GetDecl()
	tw := newTable(c.stdout)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("key", d.GetKey())
	row("description", dash(d.GetDescription()))
	row("group", dash(d.GetGroup()))
	row("owners", dash(strings.Join(d.GetOwners(), ", ")))
	var tags []string
	for k, v := range d.GetTags() {
		tags = append(tags, k+"="+v)
	}
	sort.Strings(tags)
	row("tags", dash(strings.Join(tags, ", ")))
	row("code version", dash(d.GetCodeVersion()))
	row("partitions", partitionsSummary(d.GetPartitions()))
	row("upstream", dash(strings.Join(as.GetUpstream(), ", ")))
	row("downstream", dash(strings.Join(as.GetDownstream(), ", ")))
	sc := as.GetStatusCounts()
	row("status", fmt.Sprintf("%d partitions: %d missing, %d fresh, %d stale, %d failed, %d running",
		sc.GetTotal(), sc.GetMissing(), sc.GetFresh(), sc.GetStale(), sc.GetFailed(), sc.GetRunning()))
	if lm := as.GetLatestMaterialization(); lm != nil {
		row("last materialized", fmt.Sprintf("%s (partition data version %s)", fmtTime(lm.GetCreateTime(), true), dash(lm.GetDataVersion())))
	}
	row("revision", fmt.Sprint(as.GetRevision()))
	row("updated", fmtTime(as.GetUpdateTime(), as.GetUpdateTime() != nil))
	return tw.Flush()
}

func partitionsSummary(p *stratav1.PartitionsDecl) string {
	switch {
	case p == nil:
		return "unpartitioned"
	case p.GetTimeWindow() != nil:
		tw := p.GetTimeWindow()
		sched := tw.GetSchedule()
		if sched == "" {
			sched = "cron " + tw.GetCron()
		}
		s := fmt.Sprintf("%s from %s", sched, tw.GetStart())
		if tw.GetTimezone() != "" {
			s += " (" + tw.GetTimezone() + ")"
		}
		return s
	case len(p.GetStatic()) > 0:
		return "static: " + strings.Join(p.GetStatic(), ", ")
	case p.GetDynamic() != nil:
		return "dynamic: " + p.GetDynamic().GetName()
	case len(p.GetMulti()) > 0:
		var dims []string
		for _, d := range p.GetMulti() {
			dims = append(dims, d.GetName())
		}
		return "multi: " + strings.Join(dims, " x ")
	}
	return "-"
}
