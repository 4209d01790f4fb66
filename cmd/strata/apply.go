package main

import (
	"flag"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-data/strata/asset"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/server"
)

// cmdApply runs `strata apply -f FILE|DIR`: it sends the declarations to the
// server and prints the diff.
func (c *cli) cmdApply(args []string) error {
	fs := flag.NewFlagSet("strata apply", flag.ContinueOnError)
	af := newAPIFlags(fs)
	file := fs.String("f", "", "declarations file, or a directory of *.yaml files (required)")
	dryRun := fs.Bool("dry-run", false, "print the diff without applying it")
	prune := fs.Bool("prune", false, "delete the assets that are not declared")
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("apply: unexpected argument %q", pos[0])
	}
	if *file == "" {
		return usageErrorf("apply: -f FILE|DIR is required")
	}
	f, src, err := loadDecls(*file)
	if err != nil {
		return err
	}
	// Check what can be checked offline, with file positions.
	if err := f.Validate(); err != nil {
		return usageError(src.Locate(err))
	}
	a, err := c.dial(af)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, cancel := a.ctx()
	defer cancel()
	resp, err := a.assets().ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: server.DeclsToProto(f.Assets), DryRun: *dryRun, Prune: *prune})
	if err != nil {
		return located(err, src)
	}
	if ok, err := a.structured(resp); ok {
		return err
	}
	counts := map[stratav1.AssetChangeKind]int{}
	for _, ch := range resp.Changes {
		counts[ch.Kind]++
		switch ch.Kind {
		case stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CREATED:
			fmt.Fprintf(c.stdout, "+ %s\n", ch.Key)
		case stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CHANGED:
			fmt.Fprintf(c.stdout, "~ %s (%s)\n", ch.Key, strings.Join(ch.ChangedFields, ", "))
		case stratav1.AssetChangeKind_ASSET_CHANGE_KIND_DELETED:
			fmt.Fprintf(c.stdout, "- %s\n", ch.Key)
		}
	}
	verb := "applied"
	if resp.DryRun {
		verb = "dry run, nothing applied"
	}
	fmt.Fprintf(c.stdout, "%d created, %d changed, %d unchanged, %d deleted (revision %d, %s)\n",
		counts[stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CREATED], counts[stratav1.AssetChangeKind_ASSET_CHANGE_KIND_CHANGED],
		counts[stratav1.AssetChangeKind_ASSET_CHANGE_KIND_UNCHANGED], counts[stratav1.AssetChangeKind_ASSET_CHANGE_KIND_DELETED],
		resp.Revision, verb)
	return nil
}

// located reports the field violations of an apply error at their
// positions in the declaration files.
func located(err error, src *asset.Source) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return rpcError(err)
	}
	var ve asset.ValidationError
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				ve.Errors = append(ve.Errors, &asset.FieldError{Field: v.GetField(), Problem: v.GetDescription()})
			}
		}
	}
	if len(ve.Errors) == 0 {
		return rpcError(err)
	}
	return usageError(src.Locate(&ve))
}
