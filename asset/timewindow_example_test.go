package asset_test

import (
	"fmt"
	"time"

	"github.com/strata-data/strata/asset"
)

// Hourly partitions in US/Central across the 2021 fall-back: the repeated
// 01:00 hour gets two partitions, the second keyed with its UTC offset.
func ExampleTimeWindowDef() {
	def, err := asset.NewTimeWindowDef(asset.TimeWindowDecl{
		Schedule: "hourly",
		Start:    "2021-11-07-00:00",
		Timezone: "US/Central",
	})
	if err != nil {
		panic(err)
	}
	now := time.Date(2021, 11, 7, 9, 0, 0, 0, time.UTC) // 03:00 CST
	parts := def.At(now, nil)
	for i := int64(0); i < parts.Len(); i++ {
		w := def.Window(i)
		fmt.Println(parts.Key(i), w.Start.Format("15:04 MST"), w.End.Sub(w.Start))
	}
	i, ok := parts.Index("2021-11-07-01:00-0600")
	fmt.Println(i, ok)
	// Output:
	// 2021-11-07-00:00 00:00 CDT 1h0m0s
	// 2021-11-07-01:00 01:00 CDT 1h0m0s
	// 2021-11-07-01:00-0600 01:00 CST 1h0m0s
	// 2021-11-07-02:00 02:00 CST 1h0m0s
	// 2 true
}
