package materializer

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/strata-data/strata/asset"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// daily returns downstream partitions mapped one-to-one to partitions of
// upstream "raw/events" with the given sizes in bytes (rows = bytes/100).
func daily(sizes ...int64) []PartitionInputs {
	out := make([]PartitionInputs, len(sizes))
	for i, b := range sizes {
		key := fmt.Sprintf("2024-01-%02d", i+1)
		out[i] = PartitionInputs{Partition: key, Inputs: []Input{{Asset: "raw/events", Partition: key, Rows: b / 100, Bytes: b}}}
	}
	return out
}

// history makes runs that used 3 bytes of memory per input byte plus 200 MiB.
func history(n int) []Observation {
	var obs []Observation
	for i := range n {
		in := int64(i+1) * 100 * mib
		obs = append(obs, Observation{InputBytes: in, InputRows: in / 100, PeakRSS: 3*in + 200*mib, Duration: time.Duration(in/100) * time.Microsecond})
	}
	return obs
}

func TestSizingFollowsUpstreamBytes(t *testing.T) {
	t.Parallel()
	s := NewSizer(SizerConfig{})
	execs := []Capacity{{MemoryBytes: 512 * gib, CPUs: 64}}
	small, big := daily(100 * mib)[0], daily(100 * 100 * mib)[0] // 100x apart

	t.Run("default model", func(t *testing.T) {
		t.Parallel()
		ds := s.Decide(SizeRequest{Asset: "a", Partitions: []PartitionInputs{small}, Executors: execs})
		db := s.Decide(SizeRequest{Asset: "a", Partitions: []PartitionInputs{big}, Executors: execs})
		if ds.Model.Kind != ModelDefault || ds.Action != ActionRun || db.Action != ActionRun {
			t.Fatalf("%+v / %+v", ds, db)
		}
		// max(256 MiB, 4 x input).
		if ds.Grant.MemoryBytes != 400*mib || db.Grant.MemoryBytes != 40000*mib {
			t.Errorf("grants %s and %s", formatBytes(ds.Grant.MemoryBytes), formatBytes(db.Grant.MemoryBytes))
		}
		if r := float64(db.Grant.MemoryBytes) / float64(ds.Grant.MemoryBytes); r != 100 {
			t.Errorf("grants differ %.1fx, want 100x", r)
		}
		if !strings.Contains(ds.Reason, "input 100MiB") || !strings.Contains(ds.Reason, "by default (0 past runs, 3 needed to fit)") {
			t.Errorf("reason %q", ds.Reason)
		}
	})
	t.Run("fitted model", func(t *testing.T) {
		t.Parallel()
		h := history(10)
		ds := s.Decide(SizeRequest{Asset: "a", Partitions: []PartitionInputs{small}, History: h, Executors: execs})
		db := s.Decide(SizeRequest{Asset: "a", Partitions: []PartitionInputs{big}, History: h, Executors: execs})
		if ds.Model.Kind != ModelTheilSen || ds.Model.Observations != 10 {
			t.Fatalf("model %+v", ds.Model)
		}
		if math.Abs(ds.Model.MemoryA-3) > 1e-9 || math.Abs(ds.Model.MemoryB-float64(200*mib)) > 1 || ds.Model.MemoryMargin != 0 {
			t.Errorf("fit a=%g b=%g margin=%g", ds.Model.MemoryA, ds.Model.MemoryB, ds.Model.MemoryMargin)
		}
		// (3 x input + 200 MiB) x 1.2.
		if want := int64(math.Ceil(float64(3*100*mib+200*mib)*1.2/float64(mib))) * mib; ds.Grant.MemoryBytes != want {
			t.Errorf("small grant %d, want %d", ds.Grant.MemoryBytes, want)
		}
		if want := int64(math.Ceil(float64(3*10000*mib+200*mib)*1.2/float64(mib))) * mib; db.Grant.MemoryBytes != want {
			t.Errorf("big grant %d, want %d", db.Grant.MemoryBytes, want)
		}
		// The 100x bytes show as 60x memory: the fixed 200 MiB does not scale.
		if r := float64(db.Grant.MemoryBytes) / float64(ds.Grant.MemoryBytes); r < 59.5 || r > 60.5 {
			t.Errorf("grants differ %.1fx", r)
		}
		if db.Predicted.Duration <= ds.Predicted.Duration*50 {
			t.Errorf("durations %s vs %s", ds.Predicted.Duration, db.Predicted.Duration)
		}
		if !strings.Contains(db.Reason, "theil-sen fit of 10 past runs") {
			t.Errorf("reason %q", db.Reason)
		}
	})
}

func TestFitRobustToOutliers(t *testing.T) {
	t.Parallel()
	s := NewSizer(SizerConfig{})
	h := history(20)
	// Two runs hit a noisy neighbour and one reported nothing.
	h[5].PeakRSS *= 10
	h[12].PeakRSS = 1
	h = append(h, Observation{InputBytes: 5 * gib})
	m := s.Fit(h)
	if m.Observations != 20 || math.Abs(m.MemoryA-3) > 0.2 {
		t.Errorf("model %+v", m)
	}
	// The margin covers the 90th percentile of the under-predictions,
	// not the outlier.
	if m.MemoryMargin > float64(gib) {
		t.Errorf("margin %s", formatBytes(int64(m.MemoryMargin)))
	}
}

func TestFitSameInputEveryRun(t *testing.T) {
	t.Parallel()
	s := NewSizer(SizerConfig{})
	h := []Observation{
		{InputBytes: gib, InputRows: 1e6, PeakRSS: 2 * gib, Duration: time.Minute},
		{InputBytes: gib, InputRows: 1e6, PeakRSS: 2 * gib, Duration: time.Minute},
		{InputBytes: gib, InputRows: 1e6, PeakRSS: 3 * gib, Duration: 2 * time.Minute},
	}
	m := s.Fit(h)
	if m.Kind != ModelRatio || m.MemoryA != 2 || m.MemoryB != 0 {
		t.Fatalf("model %+v", m)
	}
	// A 10x input is predicted proportionally, not as the same 2 GiB.
	d := s.Decide(SizeRequest{Partitions: daily(10 * gib), History: h})
	if d.Grant.MemoryBytes < 20*gib {
		t.Errorf("grant %s for 10x the usual input", formatBytes(d.Grant.MemoryBytes))
	}
}

func TestSizingOverride(t *testing.T) {
	t.Parallel()
	s := NewSizer(SizerConfig{})
	execs := []Capacity{{MemoryBytes: 8 * gib, CPUs: 4}}
	d := s.Decide(SizeRequest{Partitions: daily(10 * gib), Resources: &asset.ResourcesDecl{Memory: asset.ByteSize(4 * gib), CPUs: 2}, Executors: execs})
	if d.Action != ActionRun || d.Grant != (Grant{MemoryBytes: 4 * gib, CPUs: 2, Shards: 1}) {
		t.Errorf("%s %+v: %s", d.Action, d.Grant, d.Reason)
	}
	if !strings.Contains(d.Reason, "memory 4GiB declared in resources") {
		t.Errorf("reason %q", d.Reason)
	}

	d = s.Decide(SizeRequest{Partitions: daily(mib), Resources: &asset.ResourcesDecl{Memory: asset.ByteSize(16 * gib), CPUs: 16}, Executors: execs})
	if d.Action != ActionRefuse || !strings.Contains(d.Reason, "needs 16GiB, largest executor has 8GiB (declared memory)") {
		t.Errorf("%s: %s", d.Action, d.Reason)
	}

	d = s.Decide(SizeRequest{Partitions: daily(mib), Resources: &asset.ResourcesDecl{CPUs: 16}, Executors: execs})
	if d.Action != ActionRun || d.Grant.CPUs != 4 || !strings.Contains(d.Reason, "cpus 16 capped at the largest executor's 4") {
		t.Errorf("%s %+v: %s", d.Action, d.Grant, d.Reason)
	}
}

func TestSizingOverCapacity(t *testing.T) {
	t.Parallel()
	s := NewSizer(SizerConfig{})
	execs := []Capacity{{MemoryBytes: 4 * gib, CPUs: 2}, {MemoryBytes: 8 * gib, CPUs: 4}}

	t.Run("refuse one partition, not shardable", func(t *testing.T) {
		t.Parallel()
		d := s.Decide(SizeRequest{Asset: "a", Partitions: daily(10 * gib), Executors: execs})
		want := "needs 40GiB, largest executor has 8GiB; asset is not shardable and the run has one partition"
		if d.Action != ActionRefuse || d.Reason != want {
			t.Errorf("%s: %q, want %q", d.Action, d.Reason, want)
		}
	})
	t.Run("refuse unpartitioned", func(t *testing.T) {
		t.Parallel()
		d := s.Decide(SizeRequest{Asset: "a", Partitions: []PartitionInputs{{Inputs: []Input{{Asset: "u", Bytes: 10 * gib}}}}, Executors: execs})
		if d.Action != ActionRefuse || !strings.HasSuffix(d.Reason, "asset is not shardable and the asset is unpartitioned") {
			t.Errorf("%s: %q", d.Action, d.Reason)
		}
	})
	t.Run("shard", func(t *testing.T) {
		t.Parallel()
		d := s.Decide(SizeRequest{Asset: "a", Partitions: daily(10 * gib), Shardable: true, Executors: execs})
		if d.Action != ActionShard || d.Grant.Shards != 5 || d.Grant.MemoryBytes != 8*gib {
			t.Errorf("%s %+v: %s", d.Action, d.Grant, d.Reason)
		}
		if !strings.Contains(d.Reason, "needs 40GiB, largest executor has 8GiB; 5 shards of 8GiB each") {
			t.Errorf("reason %q", d.Reason)
		}
	})
	t.Run("shard with a fixed cost", func(t *testing.T) {
		t.Parallel()
		// 3 x input + 200 MiB, x1.2: the fixed part does not shrink with
		// shards, so it takes more shards than 40/8.
		d := s.Decide(SizeRequest{Asset: "a", Partitions: daily(10 * gib), Shardable: true, History: history(10), Executors: execs})
		if d.Action != ActionShard || d.Grant.MemoryBytes > 8*gib {
			t.Fatalf("%s %+v: %s", d.Action, d.Grant, d.Reason)
		}
		per := d.Model.grantMemory(10 * gib / int64(d.Grant.Shards-1))
		if per <= 8*gib {
			t.Errorf("%d shards is not the fewest", d.Grant.Shards)
		}
	})
	t.Run("split partitions into batches", func(t *testing.T) {
		t.Parallel()
		// 7 days of 1 GiB each need 28 GiB at once; 2 days fit in 8 GiB.
		d := s.Decide(SizeRequest{Asset: "a", Partitions: daily(gib, gib, gib, gib, gib, gib, gib), Executors: execs})
		if d.Action != ActionSplit || len(d.Batches) != 4 {
			t.Fatalf("%s %d batches: %s", d.Action, len(d.Batches), d.Reason)
		}
		var n int
		for _, b := range d.Batches {
			if b.Grant.MemoryBytes > 8*gib || b.Grant.Shards != 1 {
				t.Errorf("batch %+v over capacity", b)
			}
			n += len(b.Partitions)
		}
		if n != 7 || d.Batches[0].Partitions[0] != "2024-01-01" || d.Batches[3].Partitions[0] != "2024-01-07" {
			t.Errorf("batches %+v", d.Batches)
		}
		if !strings.Contains(d.Reason, "needs 28GiB, largest executor has 8GiB; split into 4 batches") {
			t.Errorf("reason %q", d.Reason)
		}
	})
	t.Run("split by proportional input", func(t *testing.T) {
		t.Parallel()
		// Uneven partitions, packed in order while the batch's input fits
		// (8 GiB / 4 = 2 GiB of input): small ones go together.
		d := s.Decide(SizeRequest{Asset: "a", Partitions: daily(100*mib, 100*mib, 100*mib, 1800*mib, 100*mib, 1900*mib), Executors: execs})
		if d.Action != ActionSplit {
			t.Fatalf("%s: %s", d.Action, d.Reason)
		}
		var sizes []string
		for _, b := range d.Batches {
			sizes = append(sizes, fmt.Sprintf("%d:%s", len(b.Partitions), formatBytes(b.Grant.MemoryBytes)))
		}
		if got := strings.Join(sizes, " "); got != "3:1.2GiB 2:7.4GiB 1:7.4GiB" {
			t.Errorf("batches %s", got)
		}
	})
	t.Run("split refuses a partition too big alone", func(t *testing.T) {
		t.Parallel()
		d := s.Decide(SizeRequest{Asset: "a", Partitions: daily(gib, 3*gib, gib), Executors: execs})
		if d.Action != ActionRefuse || !strings.Contains(d.Reason, `partition "2024-01-02" alone needs 12GiB and the asset is not shardable`) {
			t.Errorf("%s: %s", d.Action, d.Reason)
		}
		d = s.Decide(SizeRequest{Asset: "a", Partitions: daily(gib, 3*gib, gib), Shardable: true, Executors: execs})
		if d.Action != ActionSplit || len(d.Batches) != 3 || d.Batches[1].Grant.Shards != 2 {
			t.Errorf("%s %+v: %s", d.Action, d.Batches, d.Reason)
		}
	})
	t.Run("shared upstream partitions count once", func(t *testing.T) {
		t.Parallel()
		// Two downstream days both read the same 3 GiB dimension table.
		dim := Input{Asset: "raw/dim", Partition: "", Bytes: 3 * gib}
		parts := []PartitionInputs{
			{Partition: "d1", Inputs: []Input{dim, {Asset: "raw/events", Partition: "d1", Bytes: 100 * mib}}},
			{Partition: "d2", Inputs: []Input{dim, {Asset: "raw/events", Partition: "d2", Bytes: 100 * mib}}},
		}
		d := s.Decide(SizeRequest{Asset: "a", Partitions: parts, Executors: []Capacity{{MemoryBytes: 64 * gib}}})
		if d.Inputs.Bytes != 3*gib+200*mib || d.Inputs.Partitions != 3 || len(d.Inputs.PerUpstream) != 2 ||
			d.Inputs.PerUpstream[1] != (UpstreamInput{Asset: "raw/events", Partitions: 2, Bytes: 200 * mib}) {
			t.Errorf("inputs %+v", d.Inputs)
		}
	})
}

func TestSplitSharedInputs(t *testing.T) {
	t.Parallel()
	s := NewSizer(SizerConfig{})
	// Each day reads its own 600 MiB of events and the same 1 GiB
	// dimension table: a batch holds the table once.
	dim := Input{Asset: "raw/dim", Bytes: gib}
	var parts []PartitionInputs
	for i := range 6 {
		k := fmt.Sprintf("d%d", i)
		parts = append(parts, PartitionInputs{Partition: k, Inputs: []Input{dim, {Asset: "raw/events", Partition: k, Bytes: 600 * mib}}})
	}
	// 8 GiB / 4 = 2 GiB of input per batch: the table and 1 day (1.6 GiB),
	// not 2 (2.2 GiB).
	d := s.Decide(SizeRequest{Asset: "a", Partitions: parts, Executors: []Capacity{{MemoryBytes: 8 * gib}}})
	if d.Action != ActionSplit || len(d.Batches) != 6 || d.Batches[0].InputBytes != gib+600*mib {
		t.Fatalf("%s %+v", d.Action, d.Batches)
	}
	// With 12 GiB (3 GiB of input): the table and 3 days.
	d = s.Decide(SizeRequest{Asset: "a", Partitions: parts, Executors: []Capacity{{MemoryBytes: 12 * gib}}})
	if d.Action != ActionSplit || len(d.Batches) != 2 || d.Batches[1].InputBytes != gib+1800*mib || len(d.Batches[1].Partitions) != 3 {
		t.Fatalf("%s %+v", d.Action, d.Batches)
	}
}

func BenchmarkDecideSplit(b *testing.B) {
	s := NewSizer(SizerConfig{})
	sizes := make([]int64, 100000)
	for i := range sizes {
		sizes[i] = int64(i%24+1) * 10 * mib
	}
	req := SizeRequest{Asset: "a", Partitions: daily(sizes...), History: history(50), Executors: []Capacity{{MemoryBytes: 16 * gib}}}
	b.ResetTimer()
	for b.Loop() {
		if d := s.Decide(req); d.Action != ActionSplit {
			b.Fatal(d.Action)
		}
	}
}

// The decision never hands out a grant bigger than the largest executor,
// and a split covers every partition exactly once, in order.
func TestSizingNeverOverCapacity(t *testing.T) {
	t.Parallel()
	s := NewSizer(SizerConfig{})
	rapid.Check(t, func(t *rapid.T) {
		sizes := rapid.SliceOfN(rapid.Int64Range(0, 64*gib), 1, 30).Draw(t, "sizes")
		capMem := rapid.Int64Range(256*mib, 64*gib).Draw(t, "cap")
		var h []Observation
		if rapid.Bool().Draw(t, "fitted") {
			h = history(rapid.IntRange(3, 20).Draw(t, "runs"))
		}
		req := SizeRequest{Asset: "a", Partitions: daily(sizes...), History: h, Shardable: rapid.Bool().Draw(t, "shardable"),
			Executors: []Capacity{{MemoryBytes: capMem, CPUs: 8}}}
		d := s.Decide(req)
		if d.Reason == "" {
			t.Fatal("no reason")
		}
		switch d.Action {
		case ActionRun, ActionShard:
			if d.Grant.MemoryBytes > capMem || d.Grant.MemoryBytes < 256*mib {
				t.Fatalf("grant %d, cap %d", d.Grant.MemoryBytes, capMem)
			}
		case ActionSplit:
			i := 0
			for _, b := range d.Batches {
				if b.Grant.MemoryBytes > capMem {
					t.Fatalf("batch grant %d, cap %d", b.Grant.MemoryBytes, capMem)
				}
				for _, p := range b.Partitions {
					if p != req.Partitions[i].Partition {
						t.Fatalf("batches %+v out of order", d.Batches)
					}
					i++
				}
			}
			if i != len(req.Partitions) {
				t.Fatalf("batches cover %d of %d partitions", i, len(req.Partitions))
			}
		case ActionRefuse:
			if !strings.Contains(d.Reason, "largest executor has") {
				t.Fatalf("reason %q", d.Reason)
			}
		default:
			t.Fatalf("action %q", d.Action)
		}
	})
}

func TestDecisionJSON(t *testing.T) {
	t.Parallel()
	d := NewSizer(SizerConfig{}).Decide(SizeRequest{Asset: "a", Partitions: daily(gib), History: history(5)})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"action":"run"`, `"kind":"theil_sen"`, `"observations":5`, `"per_upstream":[{"asset":"raw/events"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("decision JSON lacks %s: %s", s, b)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1024: "1KiB", 1536: "1.5KiB", 40 * gib: "40GiB", 8*gib + 100*mib: "8.1GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
