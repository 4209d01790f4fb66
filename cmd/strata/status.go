package main

import (
	"flag"
	"fmt"
	"strings"

	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// cmdStatus runs `strata status ASSET`: the asset's partition statuses.
func (c *cli) cmdStatus(args []string) error {
	fs := flag.NewFlagSet("strata status", flag.ContinueOnError)
	af := newAPIFlags(fs)
	only := fs.String("only", "", "only these statuses, comma-separated: missing,fresh,stale,failed,running")
	limit := fs.Int("limit", 100, "maximum number of partitions to list (0: all)")
	desc := fs.Bool("newest-first", false, "list the newest partitions first")
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("status: want one asset key")
	}
	req := &stratav1.ListPartitionStatusesRequest{Asset: pos[0], Descending: *desc}
	if *only != "" {
		for _, s := range strings.Split(*only, ",") {
			v, ok := stratav1.PartitionStatus_value["PARTITION_STATUS_"+strings.ToUpper(strings.TrimSpace(s))]
			if !ok || v == 0 {
				return usageErrorf("--only %q: use missing, fresh, stale, failed or running", s)
			}
			req.Statuses = append(req.Statuses, stratav1.PartitionStatus(v))
		}
	}
	a, err := c.dial(af)
	if err != nil {
		return err
	}
	defer a.close()
	all := &stratav1.ListPartitionStatusesResponse{}
	for {
		req.PageSize = 1000
		if *limit > 0 {
			req.PageSize = int32(min(1000, *limit-len(all.Partitions)))
		}
		ctx, cancel := a.ctx()
		page, err := a.parts().ListPartitionStatuses(ctx, req)
		cancel()
		if err != nil {
			return rpcError(err)
		}
		all.Counts = page.Counts
		all.Partitions = append(all.Partitions, page.Partitions...)
		all.NextPageToken = page.NextPageToken
		if page.NextPageToken == "" || (*limit > 0 && len(all.Partitions) >= *limit) {
			break
		}
		req.PageToken = page.NextPageToken
	}
	if ok, err := a.structured(all); ok {
		return err
	}
	sc := all.Counts
	fmt.Fprintf(c.stdout, "%s: %d partitions: %d missing, %d fresh, %d stale, %d failed, %d running\n\n", pos[0],
		sc.GetTotal(), sc.GetMissing(), sc.GetFresh(), sc.GetStale(), sc.GetFailed(), sc.GetRunning())
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, "PARTITION\tSTATUS\tMATERIALIZED\tDATA VERSION\tCAUSES")
	for _, p := range all.Partitions {
		lm := p.GetLatestMaterialization()
		var causes []string
		for _, cs := range p.GetCauses() {
			causes = append(causes, cs.GetMessage())
		}
		key := p.GetPartitionKey()
		if key == "" {
			key = "(unpartitioned)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", key, statusName(p.GetStatus()),
			fmtTime(lm.GetCreateTime(), lm.GetCreateTime() != nil), dash(lm.GetDataVersion()), dash(strings.Join(causes, "; ")))
	}
	tw.Flush()
	if all.NextPageToken != "" {
		fmt.Fprintf(c.stdout, "(more partitions: raise --limit, or filter with --only)\n")
	}
	return nil
}

func statusName(s stratav1.PartitionStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "PARTITION_STATUS_"))
}
