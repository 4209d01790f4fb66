package asset

import (
	"testing"
	"time"
)

// BenchmarkTimeWindowMappingHourlyToDaily maps 100,000 downstream daily
// partitions to their hourly upstream partitions (24 each): as one
// contiguous range, and as 100,000 single-day ranges (every other day).
func BenchmarkTimeWindowMappingHourlyToDaily(b *testing.B) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		start string // of both definitions
		every int64  // take every n-th day
	}{
		{"contiguous", "1750-01-01", 1},
		{"every_other_day", "1476-01-01", 2},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			daily := pmDaily(b, c.start)
			hourly := pmHourly(b, c.start+"-00:00")
			m := pmMapping(b, nil, hourly, daily)
			dp, up := daily.At(now, nil), hourly.At(now, nil)
			down := NewSubset(dp)
			for i := int64(0); i < dp.Len() && down.Len() < 100000; i += c.every {
				down.Add(i)
			}
			if down.Len() != 100000 {
				b.Fatalf("%d downstream keys", down.Len())
			}
			b.ResetTimer()
			for b.Loop() {
				res, err := m.Upstream(down, up)
				if err != nil || res.Partitions.Len() != 24*100000 || len(res.Missing) != 0 {
					b.Fatalf("%v: %d upstream, %d missing", err, res.Partitions.Len(), len(res.Missing))
				}
			}
		})
	}
}

// BenchmarkTimeWindowMappingDailyToHourlyDownstream maps 100,000 upstream
// daily partitions (every other day) to their downstream hourly partitions.
func BenchmarkTimeWindowMappingDailyToHourlyDownstream(b *testing.B) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	daily := pmDaily(b, "1476-01-01")
	hourly := pmHourly(b, "1476-01-01-00:00")
	m := pmMapping(b, nil, daily, hourly)
	upP, dp := daily.At(now, nil), hourly.At(now, nil)
	up := NewSubset(upP)
	for i := int64(0); i < 200000; i += 2 {
		up.Add(i)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := m.Downstream(up, dp)
		if err != nil || res.Len() != 24*100000 {
			b.Fatalf("%v: %d downstream", err, res.Len())
		}
	}
}

// BenchmarkMultiMappingToSingle maps 100,000 downstream daily partitions
// to an upstream multi definition (daily x 20 regions).
func BenchmarkMultiMappingToSingle(b *testing.B) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	daily := pmDaily(b, "1476-01-01")
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = string(rune('a'+i)) + "region"
	}
	multi := pmMulti(b, Dimension{Name: "date", Def: daily}, Dimension{Name: "region", Def: pmStatic(b, keys...)})
	m := pmMapping(b, nil, multi, daily)
	dp, up := daily.At(now, nil), multi.At(now, nil)
	down := NewSubset(dp)
	for i := int64(0); i < 200000; i += 2 {
		down.Add(i)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := m.Upstream(down, up)
		if err != nil || res.Partitions.Len() != 20*100000 {
			b.Fatalf("%v: %d upstream", err, res.Partitions.Len())
		}
	}
}
