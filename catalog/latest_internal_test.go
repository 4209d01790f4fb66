package catalog

import (
	"context"
	"testing"
	"time"

	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
)

// TestLatestSummaryMatchesColumns streams the same latest materializations
// from PostgreSQL's packed summary column and from the separate columns (the
// path for databases not in UTF-8): both give the same summaries, with
// backslashes, non-ASCII text, null and large counts, and retried attempts.
func TestLatestSummaryMatchesColumns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := Open(ctx, pgtest.SchemaURL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := c.drv.(*pgDriver)
	if !d.packedLatest {
		t.Fatalf("the test server's encoding is not UTF8 or SQL_ASCII: the packed path is not used")
	}
	rows, big := int64(0), int64(1<<62)
	ms := []Materialization{
		{Asset: "s/a", Partition: `2024-01-01\n|x`, DataVersion: `dv\\0`, CodeVersion: "v1", RowCount: &rows, ByteCount: &big,
			CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 123000, time.UTC), Location: "s3://b/ü/\\x.parquet"},
		{Asset: "s/a", Partition: "日本|東京", DataVersion: "", CodeVersion: "", Location: ""},
		{Asset: "s/a", Partition: "", DataVersion: "δ", CodeVersion: "v1"},
	}
	if _, err := c.RecordMaterializations(ctx, ms); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RecordMaterializations(ctx, []Materialization{{Asset: "s/a", Partition: "日本|東京", DataVersion: "second", Location: "file:///tmp/x"}}); err != nil {
		t.Fatal(err)
	}
	collect := func(packed bool) map[string]MaterializationSummary {
		t.Helper()
		d.packedLatest = packed
		got := map[string]MaterializationSummary{}
		if err := c.LatestMaterializations(ctx, "s/a", func(s *MaterializationSummary) error { got[s.Partition] = *s; return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	packed, columns := collect(true), collect(false)
	if len(packed) != 3 || len(columns) != 3 {
		t.Fatalf("packed %d, columns %d partitions, want 3", len(packed), len(columns))
	}
	for k, want := range columns {
		got := packed[k]
		if got.ID != want.ID || got.RunID != want.RunID || got.Attempt != want.Attempt || got.DataVersion != want.DataVersion ||
			got.CodeVersion != want.CodeVersion || got.RowCount != want.RowCount || got.ByteCount != want.ByteCount ||
			got.Location != want.Location || !got.CreatedAt.Equal(want.CreatedAt) || got.Partition != want.Partition {
			t.Errorf("partition %q: packed %+v, columns %+v", k, got, want)
		}
	}
	if p := packed[`2024-01-01\n|x`]; p.DataVersion != `dv\\0` || p.Location != "s3://b/ü/\\x.parquet" || p.RowCount != 0 || p.ByteCount != big {
		t.Errorf("first partition = %+v", p)
	}
	if p := packed["日本|東京"]; p.DataVersion != "second" || p.Location != "file:///tmp/x" || p.RowCount != -1 {
		t.Errorf("updated partition = %+v", p)
	}
}

func TestDecodeLatestSummaryRejectsDamage(t *testing.T) {
	var s MaterializationSummary
	good := make([]byte, 44)
	good = append(good, 0, 0, 0, 1, 'p', 0, 0, 0, 0, 0, 0, 0, 2, 'v', '1', 'l', 'o', 'c')
	if !decodeLatestSummary([][]byte{good}, &s) || s.Partition != "p" || s.CodeVersion != "v1" || s.Location != "loc" {
		t.Fatalf("good summary decoded to %+v", s)
	}
	for _, n := range []int{0, 10, 44, 46, 49, 52, 56} {
		if decodeLatestSummary([][]byte{good[:n]}, &s) {
			t.Errorf("a summary cut at %d bytes decoded", n)
		}
	}
	bad := append([]byte(nil), good...)
	bad[47] = 200 // partition length beyond the value
	if decodeLatestSummary([][]byte{bad}, &s) {
		t.Error("a summary with a length beyond its end decoded")
	}
}
