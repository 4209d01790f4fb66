package catalog_test

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
	"github.com/strata-data/strata/migrations"
)

// TestUpgradeCatalogColumns takes a catalog back to before migration
// 20261121000200 (its down migration and those of the later ones), writes rows the way the catalog did
// then, and opens it again: the migration fills the per-asset backfill
// counters from the runs, and a materialization whose location is only in
// its metadata (the legacy "_strata" key) still reads with its location.
func TestUpgradeCatalogColumns(t *testing.T) {
	t.Parallel()
	const version = "20261121000200"
	for _, dialect := range []string{migrations.SQLite, migrations.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var url string
			var exec func(q string)
			if dialect == migrations.SQLite {
				path := filepath.Join(t.TempDir(), "strata.db")
				url = "sqlite://" + path
				exec = func(q string) {
					t.Helper()
					db, err := sql.Open("sqlite", path)
					if err != nil {
						t.Fatal(err)
					}
					defer db.Close()
					if _, err := db.Exec(q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
			} else {
				url = pgtest.SchemaURL(t)
				exec = func(q string) {
					t.Helper()
					conn, err := pgx.Connect(ctx, url)
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close(ctx)
					if _, err := conn.Exec(ctx, q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
			}

			c := openURL(t, url)
			bf, _, err := c.CreateBackfill(ctx, catalog.BackfillSpec{Selection: []asset.Key{"up/a", "up/b"}, Runs: []catalog.RunSpec{
				{Asset: "up/a", PartitionKeys: []string{"1", "2", "3"}, Priority: 1},
				{Asset: "up/a", PartitionKeys: []string{"4"}},
				{Asset: "up/b", PartitionKeys: []string{"1"}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			claimed, err := c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w", Lease: time.Minute})
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim = %v, %v", claimed, err)
			}
			if _, err := c.FinishRun(ctx, catalog.RunResult{RunID: claimed[0].ID, Attempt: 1, State: catalog.RunSucceeded}); err != nil {
				t.Fatal(err)
			}
			c.Close()

			fsys, err := migrations.FS(dialect)
			if err != nil {
				t.Fatal(err)
			}
			// Down to before version: the later migrations' down files first,
			// newest first, as a developer would.
			downs, err := fs.Glob(fsys, "*.down.sql")
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(downs)
			slices.Reverse(downs)
			for _, name := range downs {
				if name < version {
					break
				}
				down, err := fs.ReadFile(fsys, name)
				if err != nil {
					t.Fatal(err)
				}
				exec(string(down))
				exec("DELETE FROM strata_migrations WHERE name = '" + name[:len(version)] + "'")
			}
			// A materialization as written before the location column.
			exec(`INSERT INTO materializations (id, asset, partition_key, run_id, attempt, client_id, data_version, code_version, metadata, created_at)
VALUES (9001, 'up/a', '7', 0, 0, '', 'd7', '', '{"_strata":{"location":"file:///lake/up/a/7.parquet"},"k":1}', 1000)`)
			exec(`INSERT INTO latest_materializations (asset, partition_key, materialization_id, run_id, attempt, data_version, code_version, created_at)
VALUES ('up/a', '7', 9001, 0, 0, 'd7', '', 1000)`)
			// Metadata the migration cannot use leaves the row to the read fallback.
			exec(`INSERT INTO materializations (id, asset, partition_key, run_id, attempt, client_id, data_version, code_version, metadata, created_at)
VALUES (9002, 'up/b', '1', 0, 0, '', '', '', '{"_strata":{"location":"file:///b"},"bad":"\u0000"}', 1001)`)

			c = openURL(t, url)
			got, err := c.GetBackfill(ctx, bf.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := []catalog.BackfillAssetCounts{
				{Asset: "up/a", Runs: 2, Total: 4, Queued: 1, Succeeded: 3},
				{Asset: "up/b", Runs: 1, Total: 1, Queued: 1},
			}
			if len(got.Assets) != len(want) || got.Assets[0] != want[0] || got.Assets[1] != want[1] {
				t.Fatalf("asset counters after the migration = %+v, want %+v", got.Assets, want)
			}
			m, err := c.GetMaterialization(ctx, 9001)
			if err != nil || m.Location != "file:///lake/up/a/7.parquet" {
				t.Fatalf("legacy materialization = %+v, %v", m, err)
			}
			ms, err := c.ListMaterializations(ctx, catalog.MaterializationQuery{Asset: "up/a"})
			if err != nil || len(ms) != 1 || ms[0].Location != m.Location {
				t.Fatalf("history = %+v, %v", ms, err)
			}
			if m, err := c.GetMaterialization(ctx, 9002); err != nil || m.Location != "file:///b" {
				t.Fatalf("materialization with \\u0000 = %+v, %v", m, err)
			}
			// The migration moved the location to the column: the latest
			// materialization's summary has it.
			var summary string
			if err := c.LatestMaterializations(ctx, "up/a", func(s *catalog.MaterializationSummary) error {
				summary = s.Location
				return nil
			}); err != nil || summary != m.Location {
				t.Fatalf("latest location = %q, %v", summary, err)
			}
			// Counters keep moving after the upgrade.
			claimed, err = c.ClaimRuns(ctx, catalog.ClaimRequest{Owner: "w", Lease: time.Minute})
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim = %v, %v", claimed, err)
			}
			if _, err := c.FinishRun(ctx, catalog.RunResult{RunID: claimed[0].ID, Attempt: 1, State: catalog.RunFailed}); err != nil {
				t.Fatal(err)
			}
			got, err = c.GetBackfill(ctx, bf.ID)
			if err != nil {
				t.Fatal(err)
			}
			failed := int64(0)
			for _, a := range got.Assets {
				failed += a.Failed
			}
			if failed != 1 {
				t.Fatalf("asset counters after a failure = %+v", got.Assets)
			}
		})
	}
}
