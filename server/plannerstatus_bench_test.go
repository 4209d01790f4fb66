package server_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/scheduler"
	"github.com/strata-data/strata/server"
)

// BenchmarkPlannerStatus1M asks, through the API of a server whose
// statuses come from the planner loop (as `strata server` has them), for
// the health bar, the asset and one page of partitions of an hourly asset
// with 1,000,000 partitions, 999,000 of them materialized (a gap every
// 1,000: 2,000 ranges), on SQLite. Run it with
//
//	go test ./server -run '^$' -bench PlannerStatus1M -benchtime 20x
func BenchmarkPlannerStatus1M(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cat, err := catalog.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "strata.db"), catalog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	start := now.Add(-1_000_000 * time.Hour)
	decl := asset.AssetDecl{Key: "big/hourly", CodeVersion: "1", Partitions: &asset.PartitionsDecl{TimeWindow: &asset.TimeWindowDecl{
		Schedule: "hourly", Start: start.Format("2006-01-02-15:04")}}}
	if _, err := cat.ApplyAssets(ctx, []asset.AssetDecl{decl}, catalog.ApplyOptions{}); err != nil {
		b.Fatal(err)
	}
	g, err := asset.NewGraph([]asset.AssetDecl{decl})
	if err != nil {
		b.Fatal(err)
	}
	a, _ := g.Asset("big/hourly")
	parts := a.Partitions.At(now, nil)
	if parts.Len() != 1_000_000 {
		b.Fatalf("%d partitions", parts.Len())
	}
	rows := int64(100)
	batch := make([]catalog.Materialization, 0, 50_000)
	for i := int64(0); i < parts.Len(); i++ {
		if i%1000 == 0 {
			continue
		}
		batch = append(batch, catalog.Materialization{Asset: "big/hourly", Partition: parts.Key(i), DataVersion: "v", CodeVersion: "1", RowCount: &rows})
		if len(batch) == cap(batch) || i == parts.Len()-1 {
			if _, err := cat.RecordMaterializations(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	sched, err := scheduler.New(scheduler.Config{Catalog: cat, Clock: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = sched.Run(sctx) }()
	<-sched.Ready()
	srv, err := server.New(server.Config{Catalog: cat, Now: func() time.Time { return now }, Registry: prometheus.NewRegistry(),
		Status: &server.PlannerStatus{Scheduler: sched, Catalog: cat}})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(sctx, ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	parts2 := stratav1.NewPartitionServiceClient(conn)
	assets := stratav1.NewAssetServiceClient(conn)
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"Health", func() error {
			h, err := parts2.GetPartitionHealth(ctx, &stratav1.GetPartitionHealthRequest{Asset: "big/hourly", MaxRanges: 10_000})
			if err == nil && (len(h.GetRanges()) != 2000 || h.GetCounts().GetFresh() != 999_000) {
				b.Fatalf("health: %d ranges, counts %v", len(h.GetRanges()), h.GetCounts())
			}
			return err
		}},
		{"Asset", func() error {
			r, err := assets.GetAsset(ctx, &stratav1.GetAssetRequest{Key: "big/hourly"})
			if err == nil && r.GetAsset().GetLatestMaterialization() == nil {
				b.Fatal("no latest materialization")
			}
			return err
		}},
		{"PageOf100", func() error {
			r, err := parts2.ListPartitionStatuses(ctx, &stratav1.ListPartitionStatusesRequest{Asset: "big/hourly", PageSize: 100, Descending: true})
			if err == nil && (len(r.GetPartitions()) != 100 || r.GetPartitions()[1].GetLatestMaterialization() == nil) {
				b.Fatalf("page: %d partitions", len(r.GetPartitions()))
			}
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
