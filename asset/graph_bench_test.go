package asset

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// graphBenchDecls declares n assets with exactly deps dependencies in all,
// each on one of the 300 assets declared before it (lineage is local and
// deep), shuffled. With partitioned set, 70% of the assets are daily
// partitioned and the rest unpartitioned, and a tenth of the daily-to-daily
// deps read the previous day too (time_window -1..0); the other deps take
// the default mapping. It returns the declarations and a mid-graph key.
func graphBenchDecls(n, deps int, partitioned bool) ([]AssetDecl, Key) {
	rng := rand.New(rand.NewPCG(1, 2))
	decls := make([]AssetDecl, n)
	isDaily := make([]bool, n)
	for i := range decls {
		decls[i].Key = fmt.Sprintf("layer_%d/asset_%05d", i/500, i)
		if partitioned && rng.IntN(10) < 7 {
			isDaily[i] = true
			decls[i].Partitions = &PartitionsDecl{TimeWindow: &TimeWindowDecl{Schedule: "daily", Start: "2023-01-01"}}
		}
	}
	for total, i := 0, 1; total < deps; i++ {
		if i == n {
			i = 1
		}
		d := &decls[i]
		window := min(i, 300)
		if len(d.Deps) >= window {
			continue
		}
		for {
			up := i - 1 - rng.IntN(window)
			dup := false
			for _, have := range d.Deps {
				dup = dup || have.Asset == decls[up].Key
			}
			if dup {
				continue
			}
			dep := DepDecl{Asset: decls[up].Key}
			if isDaily[i] && isDaily[up] && rng.IntN(10) == 0 {
				dep.Mapping = &MappingDecl{TimeWindow: &TimeWindowMappingDecl{StartOffset: -1}}
			}
			d.Deps = append(d.Deps, dep)
			break
		}
		total++
	}
	mid := Key(decls[n/2].Key)
	rng.Shuffle(n, func(a, b int) { decls[a], decls[b] = decls[b], decls[a] })
	return decls, mid
}

func BenchmarkGraph10kAssets(b *testing.B) {
	for _, partitioned := range []bool{false, true} {
		name := "unpartitioned"
		if partitioned {
			name = "mixed_daily"
		}
		decls, mid := graphBenchDecls(10_000, 30_000, partitioned)
		expr := "+" + string(mid) + "+"
		b.Run(name, func(b *testing.B) {
			g, err := NewGraph(decls)
			if err != nil {
				b.Skipf("NewGraph: %.200v", err)
			}
			sel, err := ParseSelection(expr)
			if err != nil {
				b.Fatal(err)
			}
			ids, err := sel.Resolve(g)
			if err != nil {
				b.Fatal(err)
			}
			b.Run("build", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := NewGraph(decls); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("resolve", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := g.Select(expr); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(ids)), "selected")
			})
			b.Run("build+resolve", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					g, err := NewGraph(decls)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := g.Select(expr); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
