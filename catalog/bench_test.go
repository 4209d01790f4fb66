package catalog_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
)

// The benchmarks use the sizes of the catalog issue. Run them with
//
//	go test ./catalog -run '^$' -bench . -benchtime 3x
//
// Setup (1M rows) is done once per benchmark with the bulk paths.

type benchDB struct {
	name string
	url  func(b *testing.B) string
}

var benchDBs = []benchDB{
	{"Postgres", func(b *testing.B) string { return pgtest.SchemaURL(b) }},
	{"SQLite", func(b *testing.B) string { return "sqlite://" + filepath.Join(b.TempDir(), "strata.db") }},
}

func benchSpecs(n int, backfill int64) []catalog.RunSpec {
	specs := make([]catalog.RunSpec, n)
	deadline := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for i := range specs {
		var d *time.Time
		if i%3 != 0 {
			v := deadline.Add(time.Duration(i%1000) * time.Minute)
			d = &v
		}
		specs[i] = catalog.RunSpec{Asset: "bench/daily", PartitionKeys: []string{fmt.Sprintf("2020-01-01+%06d", i)},
			Reason: "backfill", Priority: i % 5, Deadline: d, BackfillID: backfill, MaxAttempts: 3}
	}
	return specs
}

// BenchmarkEnqueueRuns100k enqueues the runs of a 100,000-partition backfill
// in one call. Targets: < 2 s on PostgreSQL, < 4 s on SQLite.
func BenchmarkEnqueueRuns100k(b *testing.B) {
	for _, db := range benchDBs {
		b.Run(db.name, func(b *testing.B) {
			c := openURL(b, db.url(b))
			ctx := context.Background()
			bf, _, err := c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: []asset.Key{"bench/daily"}})
			if err != nil {
				b.Fatal(err)
			}
			specs := benchSpecs(100_000, bf.ID)
			cpu0 := cpuTime()
			for b.Loop() {
				ids, err := c.EnqueueRuns(ctx, specs)
				if err != nil || len(ids) != len(specs) {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/100k")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "client_cpu_s/op")
		})
	}
}

func benchMats(n, offset int) []catalog.Materialization {
	ms := make([]catalog.Materialization, n)
	rows, bytes := int64(1_000_000), int64(64<<20)
	for i := range ms {
		ms[i] = catalog.Materialization{Asset: "bench/daily", Partition: fmt.Sprintf("p%07d", offset+i),
			DataVersion: fmt.Sprintf("dv-%d", offset+i), CodeVersion: "v1", RowCount: &rows, ByteCount: &bytes,
			Metadata: []byte(`{"source":"bench"}`)}
	}
	return ms
}

// BenchmarkRecordMaterializations100k records 100,000 materializations in
// batches of 1,000 (as the materializer sends them), and in the same
// benchmark copies the same rows with a raw pgx COPY into a table of the
// same shape and indexes. Target on PostgreSQL: > 20,000/s.
func BenchmarkRecordMaterializations100k(b *testing.B) {
	const total, batch = 100_000, 1_000
	for _, db := range benchDBs {
		b.Run(db.name, func(b *testing.B) {
			url := db.url(b)
			c := openURL(b, url)
			ctx := context.Background()
			var conn *pgx.Conn
			if db.name == "Postgres" {
				var err error
				if conn, err = pgx.Connect(ctx, url); err != nil {
					b.Fatal(err)
				}
				defer conn.Close(ctx)
				if _, err := conn.Exec(ctx, "CREATE TABLE raw_copy (LIKE materializations INCLUDING ALL)"); err != nil {
					b.Fatal(err)
				}
			}
			var catalogTime, copyTime, batchedTime time.Duration
			round := 0
			for b.Loop() {
				ms := benchMats(total, round*total)
				round++
				start := time.Now()
				for i := 0; i < total; i += batch {
					if _, err := c.RecordMaterializations(ctx, ms[i:i+batch]); err != nil {
						b.Fatal(err)
					}
				}
				catalogTime += time.Since(start)
				if conn == nil {
					continue
				}
				b.StopTimer()
				start = time.Now()
				cols := []string{"id", "asset", "partition_key", "run_id", "attempt", "client_id", "data_version",
					"code_version", "row_count", "byte_count", "schema", "metadata", "created_at"}
				now := time.Now().UnixMicro()
				base := int64(round * total)
				_, err := conn.CopyFrom(ctx, pgx.Identifier{"raw_copy"}, cols, pgx.CopyFromSlice(len(ms), func(i int) ([]any, error) {
					m := &ms[i]
					return []any{base + int64(i), string(m.Asset), m.Partition, m.RunID, m.Attempt, m.ClientID, m.DataVersion,
						m.CodeVersion, m.RowCount, m.ByteCount, nil, string(m.Metadata), now}, nil
				}))
				if err != nil {
					b.Fatal(err)
				}
				copyTime += time.Since(start)
				// The same rows again, COPYed in the catalog's batches, one
				// transaction each.
				start = time.Now()
				for i := 0; i < total; i += batch {
					base := int64(round*total) + 1<<40
					_, err := conn.CopyFrom(ctx, pgx.Identifier{"raw_copy"}, cols, pgx.CopyFromSlice(batch, func(j int) ([]any, error) {
						m := &ms[i+j]
						return []any{base + int64(i+j), string(m.Asset), m.Partition + "/b", m.RunID, m.Attempt, m.ClientID, m.DataVersion,
							m.CodeVersion, m.RowCount, m.ByteCount, nil, string(m.Metadata), now}, nil
					}))
					if err != nil {
						b.Fatal(err)
					}
				}
				batchedTime += time.Since(start)
				b.StartTimer()
			}
			b.ReportMetric(float64(total*b.N)/catalogTime.Seconds(), "mats/s")
			if copyTime > 0 {
				b.ReportMetric(float64(total*b.N)/copyTime.Seconds(), "rawcopy_rows/s")
				b.ReportMetric(catalogTime.Seconds()/copyTime.Seconds(), "catalog/rawcopy_time_ratio")
				b.ReportMetric(catalogTime.Seconds()/batchedTime.Seconds(), "catalog/rawcopy_batched_time_ratio")
			}
		})
	}
}

// BenchmarkLatestMaterializations1M streams the latest materialization of
// each of 1,000,000 partitions of one asset. Targets: < 1 s, < 300 MB.
func BenchmarkLatestMaterializations1M(b *testing.B) {
	const total = 1_000_000
	for _, db := range benchDBs {
		b.Run(db.name, func(b *testing.B) {
			c := openURL(b, db.url(b))
			ctx := context.Background()
			for i := 0; i < total; i += 50_000 {
				if _, err := c.RecordMaterializations(ctx, benchMats(50_000, i)); err != nil {
					b.Fatal(err)
				}
			}
			// One untimed read first: on PostgreSQL the first scan after a bulk
			// load sets every tuple's hint bits (rewriting each page), work
			// autovacuum does on a live catalog, not the planner's read.
			if err := c.LatestMaterializations(ctx, "bench/daily", func(*catalog.MaterializationSummary) error { return nil }); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			var peak uint64
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				n := 0
				var sumRows int64
				err := c.LatestMaterializations(ctx, "bench/daily", func(s *catalog.MaterializationSummary) error {
					n++
					sumRows += s.RowCount
					if n%100_000 == 0 {
						var ms runtime.MemStats
						runtime.ReadMemStats(&ms)
						peak = max(peak, ms.HeapInuse)
					}
					return nil
				})
				if err != nil || n != total {
					b.Fatalf("streamed %d: %v", n, err)
				}
			}
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "client_cpu_s/op")
			b.ReportMetric(float64(peak)/(1<<20), "peak_heap_inuse_MB")
			b.ReportMetric(float64(peak-min(peak, base.HeapInuse))/(1<<20), "peak_heap_growth_MB")
		})
	}
}

// BenchmarkClaimFrom1MQueue claims the next runnable run (priority, then
// deadline) from a queue of 1,000,000 queued runs. Target: < 5 ms.
func BenchmarkClaimFrom1MQueue(b *testing.B) {
	for _, db := range benchDBs {
		b.Run(db.name, func(b *testing.B) {
			c := openURL(b, db.url(b))
			ctx := context.Background()
			specs := benchSpecs(100_000, 0)
			for i := 0; i < 10; i++ {
				if _, err := c.EnqueueRuns(ctx, specs); err != nil {
					b.Fatal(err)
				}
			}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				rs, err := c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "bench", Lease: time.Minute, Limit: 1, Now: now})
				if err != nil || len(rs) != 1 {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50_us")
			b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds()), "p90_us")
		})
	}
}

// cpuTime is this process's user+system CPU time. The machine running the
// benchmarks is shared, so besides wall time they report the CPU the
// benchmark process itself used (for PostgreSQL it excludes the server).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
