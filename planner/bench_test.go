package planner

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
)

// benchGraph is nAssets daily assets (real asset.NewGraph, Dagster-style
// daily windows) of nParts partitions each; asset k (k >= 2) reads two
// earlier assets through the default (identity) mapping. All are eager.
func benchGraph(b testing.TB, nAssets, nParts int) (Graph, time.Time) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(nParts) * 24 * time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	decls := make([]asset.AssetDecl, nAssets)
	for k := range decls {
		decls[k] = asset.AssetDecl{Key: fmt.Sprintf("a%05d", k), Partitions: tw("daily"),
			Automation: &asset.AutomationDecl{Condition: asset.AutomationEager}}
		if k >= 2 {
			u1 := k - 1 - rng.IntN(min(k, 50))
			u2 := rng.IntN(k)
			for u2 == u1 {
				u2 = rng.IntN(k)
			}
			decls[k].Deps = deps(decls[u1].Key, decls[u2].Key)
		}
	}
	g, err := asset.NewGraph(decls)
	if err != nil {
		b.Fatal(err)
	}
	return g, now
}

// fillFresh writes materialization facts straight into the arrays (as a
// rebuild would, minus parsing 10 M keys): every partition materialized in
// topological order with provenance, so all are fresh; then every 97th
// partition of every 10th asset is rematerialized with new data.
func fillFresh(s *State) {
	seq := int64(0)
	for _, as := range s.assets {
		for d := range as.deps {
			as.prov[d] = make([]uint64, as.n)
		}
		for i := 0; i < as.n; i++ {
			seq++
			as.seq[i] = seq
			as.ver[i] = mix(uint64(seq))
			for d := range as.deps {
				as.prov[d][i] = s.assets[as.deps[d].up].elem(i) | 1
			}
		}
	}
	for _, as := range s.assets {
		if as.id%10 != 0 {
			continue
		}
		for i := 0; i < as.n; i += 97 {
			seq++
			as.seq[i] = seq
			as.ver[i] = mix(uint64(seq))
		}
	}
	s.cursor = seq
}

func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// BenchmarkFullStatus10M: full status of 10,000 assets x 1,000 daily
// partitions, 2 deps each. Reports the heap held by the State.
func BenchmarkFullStatus10M(b *testing.B) {
	base := heapMB()
	g, now := benchGraph(b, 10000, 1000)
	s := New(g, now)
	fillFresh(s)
	mb := heapMB() - base
	b.ResetTimer()
	cpu0 := processCPU()
	for range b.N {
		s.Recompute()
	}
	cpu := processCPU() - cpu0
	b.StopTimer()
	b.ReportMetric(mb, "state-MB")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	stale := 0
	for _, as := range s.assets {
		stale += as.nStale
	}
	b.ReportMetric(float64(stale), "stale-partitions")
	runtime.KeepAlive(s)
}

// BenchmarkBuild10M: the full rebuild from a View streaming 10 M latest
// materializations (keys parsed, provenance hashed).
func BenchmarkBuild10M(b *testing.B) {
	g, now := benchGraph(b, 10000, 1000)
	parts := g.Assets()[0].Partitions.At(now, nil)
	keys := make([]string, parts.Len())
	for i := range keys {
		keys[i] = parts.Key(int64(i))
	}
	v := &streamView{g: g, keys: keys}
	base := heapMB()
	b.ResetTimer()
	cpu0 := processCPU()
	var s *State
	for range b.N {
		s = nil
		var err error
		s, err = Build(g, v, now)
		if err != nil {
			b.Fatal(err)
		}
	}
	cpu := processCPU() - cpu0
	b.StopTimer()
	b.ReportMetric(heapMB()-base, "state-MB")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	runtime.KeepAlive(s)
}

type streamView struct {
	g    Graph
	keys []string
}

func (v *streamView) Cursor() int64 { return int64(len(v.g.Assets()) * len(v.keys)) }
func (v *streamView) LatestMaterializations() iter.Seq2[MaterializationRecorded, error] {
	return func(yield func(MaterializationRecorded, error) bool) {
		seq := int64(0)
		prov := make([]InputVersion, 2)
		for _, a := range v.g.Assets() {
			for _, k := range v.keys {
				seq++
				m := MaterializationRecorded{Seq: seq, Asset: a.Key, PartitionKey: k, DataVersion: k}
				if len(a.Deps) == 2 {
					prov[0] = InputVersion{Asset: a.Deps[0].Upstream, PartitionKey: k, DataVersion: k}
					prov[1] = InputVersion{Asset: a.Deps[1].Upstream, PartitionKey: k, DataVersion: k}
					m.Provenance = prov
				}
				if !yield(m, nil) {
					return
				}
			}
		}
	}
}
func (v *streamView) Runs() iter.Seq2[RunStateChanged, error] {
	return func(func(RunStateChanged, error) bool) {}
}
func (v *streamView) DynamicPartitions() iter.Seq2[DynamicPartitionsChanged, error] {
	return func(func(DynamicPartitionsChanged, error) bool) {}
}

// BenchmarkIncremental10M: one new materialization of a partition in the
// middle of the 10 M graph -> updated statuses and new eager requests
// (then the materializer queues the requests). Reports the median and p99
// latency of Apply + Tick.
func BenchmarkIncremental10M(b *testing.B) {
	g, now := benchGraph(b, 10000, 1000)
	s := New(g, now)
	fillFresh(s)
	s.Recompute()
	s.Tick(now) // settle: request what is already stale
	rng := rand.New(rand.NewPCG(3, 4))
	s.evals = 0
	var lat, cpu []time.Duration
	reqs := 0
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	for range b.N {
		as := s.assets[rng.IntN(len(s.assets))]
		key := as.parts.Key(int64(rng.IntN(as.n)))
		seq := s.cursor + 1
		start, startCPU := time.Now(), threadCPU()
		if err := s.Apply(MaterializationRecorded{Seq: seq, Asset: as.a.Key, PartitionKey: key, DataVersion: fmt.Sprint(seq)}); err != nil {
			b.Fatal(err)
		}
		res := s.Tick(now)
		lat = append(lat, time.Since(start))
		cpu = append(cpu, threadCPU()-startCPU)
		reqs += len(res.Requests)
		// The materializer queues them: they stay in flight.
		for _, r := range res.Requests {
			if err := s.Apply(RunStateChanged{Seq: s.cursor + 1, RunID: "run-" + r.ID, RequestID: r.ID, Asset: r.Asset, PartitionKeys: r.PartitionKeys, State: RunQueued}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "median-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	var total time.Duration
	for _, c := range cpu {
		total += c
	}
	b.ReportMetric(float64(total.Microseconds())/float64(len(cpu)), "mean-cpu-µs")
	b.ReportMetric(float64(s.evals)/float64(b.N), "evals/op")
	b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
}
