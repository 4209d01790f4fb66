package asset_test

import (
	"fmt"
	"time"

	"github.com/strata-data/strata/asset"
)

// A daily asset reads the 24 hourly partitions of its day, and the day
// before (start_offset -1).
func ExampleNewMapping() {
	hourly, _ := asset.BuildPartitionsDef(&asset.PartitionsDecl{
		TimeWindow: &asset.TimeWindowDecl{Schedule: "hourly", Start: "2024-01-01-00:00"}})
	daily, _ := asset.BuildPartitionsDef(&asset.PartitionsDecl{
		TimeWindow: &asset.TimeWindowDecl{Schedule: "daily", Start: "2024-01-01"}})
	m, err := asset.NewMapping(&asset.MappingDecl{
		TimeWindow: &asset.TimeWindowMappingDecl{StartOffset: -1}}, hourly, daily)
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	down := asset.NewSubset(daily.At(now, nil))
	down.AddKey("2024-01-05")
	up, _ := m.Upstream(down, hourly.At(now, nil))
	keys := up.Partitions.KeySlice()
	fmt.Println(len(keys), keys[0], keys[len(keys)-1], len(up.Missing))

	// The first day has no day before: only its own hours.
	first := asset.NewSubset(daily.At(now, nil))
	first.AddKey("2024-01-01")
	up, _ = m.Upstream(first, hourly.At(now, nil))
	fmt.Println(up.Partitions.Len(), len(up.Missing))
	// Output:
	// 48 2024-01-04-00:00 2024-01-05-23:00 0
	// 24 0
}
