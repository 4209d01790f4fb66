package materializer_test

import (
	"fmt"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/materializer"
)

func ExampleOutputLocations() {
	tmpl := materializer.DefaultOutputTemplate("/var/lib/strata")
	run, outs, _ := materializer.OutputLocations(tmpl, "analytics/daily_revenue", []string{"2024-01-01|eu", "2024-01-01|us"})
	fmt.Println(run)
	for _, o := range outs {
		fmt.Println(o.Partition, "->", o.Location)
	}
	loc, _ := materializer.ExpandOutput("file:///lake/{asset}/{partition}.parquet", "raw/events", "2024-01-01-13:00")
	fmt.Println(loc)
	// Output:
	// /var/lib/strata/assets/analytics/daily_revenue/2024-01-01/
	// 2024-01-01|eu -> /var/lib/strata/assets/analytics/daily_revenue/2024-01-01/eu/
	// 2024-01-01|us -> /var/lib/strata/assets/analytics/daily_revenue/2024-01-01/us/
	// file:///lake/raw/events/2024-01-01-13%253A00.parquet
}

func ExampleSizer_Decide() {
	s := materializer.NewSizer(materializer.SizerConfig{})
	day := func(key string, bytes int64) materializer.PartitionInputs {
		return materializer.PartitionInputs{Partition: key, Inputs: []materializer.Input{
			{Asset: "raw/events", Partition: key, Rows: bytes / 100, Bytes: bytes},
		}}
	}
	executors := []materializer.Capacity{{MemoryBytes: 8 << 30, CPUs: 4, Slots: 8}}

	d := s.Decide(materializer.SizeRequest{Asset: "analytics/sessions", Partitions: []materializer.PartitionInputs{day("2024-01-01", 512<<20)}, Executors: executors})
	fmt.Println(d.Action, d.Grant.MemoryBytes>>20, "MiB:", d.Reason)

	d = s.Decide(materializer.SizeRequest{Asset: "analytics/sessions", Partitions: []materializer.PartitionInputs{day("2024-01-02", 10<<30)}, Executors: executors})
	fmt.Println(d.Action+":", d.Reason)

	d = s.Decide(materializer.SizeRequest{Asset: "analytics/sessions", Partitions: []materializer.PartitionInputs{day("2024-01-02", 10<<30)},
		Executors: executors, Resources: &asset.ResourcesDecl{Memory: 6 << 30, CPUs: 2}})
	fmt.Println(d.Action, d.Grant.MemoryBytes>>30, "GiB", d.Grant.CPUs, "CPUs")
	// Output:
	// run 2048 MiB: input 512MiB, 5368709 rows from 1 upstream partitions; memory 2GiB = max(256MiB, 4 x input) by default (0 past runs, 3 needed to fit); predicted duration 1m5s
	// refuse: needs 40GiB, largest executor has 8GiB; asset is not shardable and the run has one partition
	// run 6 GiB 2 CPUs
}
