package server_test

import (
	"context"
	"fmt"
	"testing"

	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// BenchmarkApplyAssets applies 10,000 daily assets (each depending on the
// previous one in groups of 100) over gRPC to a SQLite catalog, then lists
// a page of them.
func BenchmarkApplyAssets(b *testing.B) {
	decls := make([]*stratav1.AssetDecl, 10000)
	for i := range decls {
		d := &stratav1.AssetDecl{Key: fmt.Sprintf("g%d/a%d", i/100, i), Description: "bench", CodeVersion: "1",
			Partitions: &stratav1.PartitionsDecl{TimeWindow: &stratav1.TimeWindowDecl{Schedule: "daily", Start: "2026-01-01"}}}
		if i%100 != 0 {
			d.Deps = []*stratav1.DepDecl{{Asset: fmt.Sprintf("g%d/a%d", i/100, i-1)}}
		}
		decls[i] = d
	}
	for b.Loop() {
		b.StopTimer()
		bundle := setup(b, testOpts{})
		b.StartTimer()
		ctx := context.Background()
		if _, err := bundle.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: decls}); err != nil {
			b.Fatal(err)
		}
		if _, err := bundle.assets.ApplyAssets(ctx, &stratav1.ApplyAssetsRequest{Assets: decls, DryRun: true}); err != nil {
			b.Fatal(err)
		}
		if _, err := bundle.assets.ListAssets(ctx, &stratav1.ListAssetsRequest{Selection: "g5/*", PageSize: 100}); err != nil {
			b.Fatal(err)
		}
	}
}
