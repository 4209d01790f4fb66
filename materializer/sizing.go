package materializer

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/strata-data/strata/asset"
)

// Observation is one past successful run of an asset: what it read and what
// it used.
type Observation struct {
	InputRows  int64         `json:"input_rows"`
	InputBytes int64         `json:"input_bytes"`
	PeakRSS    int64         `json:"peak_rss"`
	Duration   time.Duration `json:"duration"`
}

// SizerConfig tunes a Sizer. Zero values take the defaults in brackets.
type SizerConfig struct {
	// MemoryFloor is the least memory any job gets [256 MiB].
	MemoryFloor int64
	// DefaultBytesFactor is the default model's memory per input byte [4].
	DefaultBytesFactor float64
	// DefaultCPUs is the CPUs of a job whose declaration names none [1].
	DefaultCPUs float64
	// DefaultRowCost and DefaultBaseDuration are the default duration
	// model, c * rows + d [1µs, 1m].
	DefaultRowCost      time.Duration
	DefaultBaseDuration time.Duration
	// Headroom is the fraction added to a fitted prediction [0.2].
	Headroom float64
	// MinObservations is how many past runs a fit needs [3]; with fewer,
	// the default model applies.
	MinObservations int
	// MaxObservations is how many of the latest past runs are fitted [100].
	MaxObservations int
	// MaxShards bounds STRATA_SHARDS [1024].
	MaxShards int
}

func (c SizerConfig) withDefaults() SizerConfig {
	if c.MemoryFloor <= 0 {
		c.MemoryFloor = 256 << 20
	}
	if c.DefaultBytesFactor <= 0 {
		c.DefaultBytesFactor = 4
	}
	if c.DefaultCPUs <= 0 {
		c.DefaultCPUs = 1
	}
	if c.DefaultRowCost <= 0 {
		c.DefaultRowCost = time.Microsecond
	}
	if c.DefaultBaseDuration <= 0 {
		c.DefaultBaseDuration = time.Minute
	}
	if c.Headroom <= 0 {
		c.Headroom = 0.2
	}
	if c.MinObservations <= 0 {
		c.MinObservations = 3
	}
	if c.MaxObservations <= 0 {
		c.MaxObservations = 100
	}
	if c.MaxShards <= 0 {
		c.MaxShards = 1024
	}
	return c
}

// Sizer decides the size of runs from their inputs and the asset's history.
// It is pure: the same request gives the same decision.
type Sizer struct {
	cfg SizerConfig
}

// NewSizer returns a Sizer with cfg's defaults filled in.
func NewSizer(cfg SizerConfig) *Sizer { return &Sizer{cfg: cfg.withDefaults()} }

// SizeRequest is one run request to size.
type SizeRequest struct {
	Asset asset.Key
	// Partitions are the run's partitions, each with the upstream asset
	// partitions mapped from it (an unpartitioned asset has one entry with
	// an empty key). Upstream partitions shared by several partitions count
	// once.
	Partitions []PartitionInputs
	// History is the asset's past successful runs, oldest first.
	History []Observation
	// Resources is the declaration's override, if any.
	Resources *asset.ResourcesDecl
	// Shardable says the job honours STRATA_SHARDS.
	Shardable bool
	// Executors are the capacities of the executors the run may go to.
	Executors []Capacity
}

// PartitionInputs is one partition of a run and its upstream inputs.
type PartitionInputs struct {
	Partition string  `json:"partition"`
	Inputs    []Input `json:"inputs"`
}

// Sizing actions.
const (
	ActionRun    = "run"    // one job with Grant
	ActionSplit  = "split"  // one job per Batch, each with its own grant
	ActionShard  = "shard"  // Grant.Shards jobs, each with Grant
	ActionRefuse = "refuse" // too big for any executor; Reason says why
)

// Decision is a sizing decision with everything it was computed from, to be
// recorded on the run.
type Decision struct {
	Action string `json:"action"`
	// Grant is the size of each job (for ActionRun and ActionShard).
	Grant Grant `json:"grant"`
	// Predicted is the model's prediction for the whole request, before
	// any split.
	Predicted Prediction   `json:"predicted"`
	Inputs    InputSummary `json:"inputs"`
	Model     Model        `json:"model"`
	// Batches are the runs an ActionSplit splits the request into.
	Batches []Batch `json:"batches,omitempty"`
	// Largest is the capacity of the largest executor considered.
	Largest Capacity `json:"largest_executor"`
	Reason  string   `json:"reason"`
}

// Prediction is what the model expects a run to use.
type Prediction struct {
	MemoryBytes int64         `json:"memory_bytes"`
	Duration    time.Duration `json:"duration"`
}

// Batch is one run of a split request.
type Batch struct {
	Partitions []string `json:"partitions"`
	InputRows  int64    `json:"input_rows"`
	InputBytes int64    `json:"input_bytes"`
	Grant      Grant    `json:"grant"`
}

// InputSummary is the input of a request: totals over the distinct
// upstream asset partitions, and per upstream asset.
type InputSummary struct {
	Rows        int64           `json:"rows"`
	Bytes       int64           `json:"bytes"`
	Partitions  int             `json:"partitions"`
	PerUpstream []UpstreamInput `json:"per_upstream"`
}

// UpstreamInput sums the partitions read from one upstream asset.
type UpstreamInput struct {
	Asset      asset.Key `json:"asset"`
	Partitions int       `json:"partitions"`
	Rows       int64     `json:"rows"`
	Bytes      int64     `json:"bytes"`
}

// Model kinds.
const (
	ModelDefault  = "default"   // no usable history
	ModelTheilSen = "theil_sen" // median of pairwise slopes
	ModelRatio    = "ratio"     // all runs read the same input: median of ratios
)

// Model is the memory and duration model a decision used:
// memory = max(floor, (a * input_bytes + b + margin) * (1 + headroom)) for a
// fitted model, max(floor, a * input_bytes + b) for the default;
// duration = c * input_rows + d.
type Model struct {
	Kind string `json:"kind"`
	// MemoryA is bytes of memory per input byte; MemoryB bytes.
	MemoryA float64 `json:"memory_a"`
	MemoryB float64 `json:"memory_b"`
	// MemoryMargin is the 90th percentile of the fit's positive residuals.
	MemoryMargin float64 `json:"memory_margin"`
	Headroom     float64 `json:"headroom"`
	Floor        int64   `json:"floor"`
	// DurationKind, DurationC (seconds per row) and DurationD (seconds).
	DurationKind string  `json:"duration_kind"`
	DurationC    float64 `json:"duration_c"`
	DurationD    float64 `json:"duration_d"`
	Observations int     `json:"observations"`
	// MemoryOverride is the declared memory, when set; it replaces the
	// model's memory.
	MemoryOverride int64 `json:"memory_override,omitempty"`
}

// memory predicts the memory of a job reading inputBytes, before the floor
// and an override.
func (m Model) memory(inputBytes int64) float64 {
	x := float64(inputBytes)
	if m.Kind == ModelDefault {
		return m.MemoryA*x + m.MemoryB
	}
	return (m.MemoryA*x + m.MemoryB + m.MemoryMargin) * (1 + m.Headroom)
}

// grantMemory is the memory granted to a job reading inputBytes.
func (m Model) grantMemory(inputBytes int64) int64 {
	if m.MemoryOverride > 0 {
		return m.MemoryOverride
	}
	v := max(m.memory(inputBytes), float64(m.Floor))
	if v >= math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	const mib = 1 << 20
	return (int64(math.Ceil(v)) + mib - 1) / mib * mib
}

func (m Model) duration(inputRows int64) time.Duration {
	s := m.DurationC*float64(inputRows) + m.DurationD
	if s*1e9 >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Ceil(s * 1e9))
}

// Fit returns the model for an asset's history (oldest first); observations
// without a peak RSS are left out.
func (s *Sizer) Fit(history []Observation) Model {
	cfg := s.cfg
	m := Model{
		Kind: ModelDefault, MemoryA: cfg.DefaultBytesFactor, Floor: cfg.MemoryFloor, Headroom: cfg.Headroom,
		DurationKind: ModelDefault, DurationC: cfg.DefaultRowCost.Seconds(), DurationD: cfg.DefaultBaseDuration.Seconds(),
	}
	var obs []Observation
	for _, o := range history {
		if o.PeakRSS > 0 && o.InputBytes >= 0 && o.InputRows >= 0 {
			obs = append(obs, o)
		}
	}
	if len(obs) > cfg.MaxObservations {
		obs = obs[len(obs)-cfg.MaxObservations:]
	}
	m.Observations = len(obs)
	if len(obs) < cfg.MinObservations {
		return m
	}
	xs, ys := make([]float64, len(obs)), make([]float64, len(obs))
	for i, o := range obs {
		xs[i], ys[i] = float64(o.InputBytes), float64(o.PeakRSS)
	}
	if kind, a, b, ok := robustFit(xs, ys); ok {
		m.Kind, m.MemoryA, m.MemoryB = kind, a, b
		m.MemoryMargin = positiveResidualQuantile(xs, ys, a, b, 0.9)
	}
	for i, o := range obs {
		xs[i], ys[i] = float64(o.InputRows), o.Duration.Seconds()
	}
	if kind, c, d, ok := robustFit(xs, ys); ok {
		m.DurationKind, m.DurationC, m.DurationD = kind, c, d
		m.DurationD += positiveResidualQuantile(xs, ys, c, d, 0.9)
	}
	return m
}

// robustFit fits y = a*x + b by Theil-Sen: a is the median of the slopes
// between pairs of points with different x (at least 0: more input never
// predicts less), b the median of y - a*x. When every point has the same x,
// no slope can be told from the data: the conservative choice is y
// proportional to x (a = median of y/x, b = 0), so a bigger input gets a
// proportionally bigger prediction.
func robustFit(xs, ys []float64) (kind string, a, b float64, ok bool) {
	var slopes []float64
	for i := range xs {
		for j := i + 1; j < len(xs); j++ {
			if dx := xs[j] - xs[i]; dx != 0 {
				slopes = append(slopes, (ys[j]-ys[i])/dx)
			}
		}
	}
	if len(slopes) == 0 {
		if xs[0] <= 0 {
			// Every run read nothing: a constant.
			return ModelRatio, 0, median(slices.Clone(ys)), true
		}
		ratios := make([]float64, len(xs))
		for i := range xs {
			ratios[i] = ys[i] / xs[i]
		}
		return ModelRatio, median(ratios), 0, true
	}
	a = max(median(slopes), 0)
	res := make([]float64, len(xs))
	for i := range xs {
		res[i] = ys[i] - a*xs[i]
	}
	return ModelTheilSen, a, median(res), true
}

func positiveResidualQuantile(xs, ys []float64, a, b, q float64) float64 {
	res := make([]float64, len(xs))
	for i := range xs {
		res[i] = max(ys[i]-(a*xs[i]+b), 0)
	}
	return quantile(res, q)
}

func median(v []float64) float64 { return quantile(v, 0.5) }

// quantile sorts v and interpolates linearly between closest ranks.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	pos := q * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return v[lo] + (v[hi]-v[lo])*(pos-float64(lo))
}

// Decide sizes a request: the grant, and whether the request runs as one
// job, is split into batches of partitions, is sharded, or is refused
// because it cannot fit any executor. It never returns a grant that does
// not fit the largest executor.
func (s *Sizer) Decide(req SizeRequest) Decision {
	cfg := s.cfg
	d := Decision{Model: s.Fit(req.History), Inputs: summarize(req.Partitions)}
	model := &d.Model
	if req.Resources != nil && req.Resources.Memory > 0 {
		model.MemoryOverride = int64(req.Resources.Memory)
	}
	cpus := cfg.DefaultCPUs
	if req.Resources != nil && req.Resources.CPUs > 0 {
		cpus = req.Resources.CPUs
	}
	d.Largest = largest(req.Executors)
	var notes []string
	if d.Largest.CPUs > 0 && cpus > d.Largest.CPUs {
		notes = append(notes, fmt.Sprintf("cpus %g capped at the largest executor's %g", cpus, d.Largest.CPUs))
		cpus = d.Largest.CPUs
	}

	d.Predicted = Prediction{MemoryBytes: model.grantMemory(d.Inputs.Bytes), Duration: model.duration(d.Inputs.Rows)}
	d.Grant = Grant{MemoryBytes: d.Predicted.MemoryBytes, CPUs: cpus, Shards: 1}
	memCap := d.Largest.MemoryBytes
	basis := s.basis(d)
	if len(notes) > 0 {
		basis += "; " + strings.Join(notes, "; ")
	}

	if memCap == 0 || d.Grant.MemoryBytes <= memCap {
		d.Action = ActionRun
		d.Reason = basis
		return d
	}
	need := fmt.Sprintf("needs %s, largest executor has %s", formatBytes(d.Grant.MemoryBytes), formatBytes(memCap))
	if model.MemoryOverride > 0 {
		d.Action = ActionRefuse
		d.Reason = need + " (declared memory); lower resources.memory or add a bigger executor"
		return d
	}

	if len(req.Partitions) > 1 {
		batches, bad, badNeed, ok := s.split(req.Partitions, *model, memCap, cpus, req.Shardable)
		if !ok {
			d.Action = ActionRefuse
			why := "the asset is not shardable"
			if req.Shardable {
				why = fmt.Sprintf("even %d shards would not fit", cfg.MaxShards)
			}
			d.Reason = fmt.Sprintf("%s; partition %q alone needs %s and %s", need, bad, formatBytes(badNeed), why)
			return d
		}
		d.Action, d.Batches = ActionSplit, batches
		d.Grant = Grant{}
		d.Reason = fmt.Sprintf("%s; split into %d batches of partitions by input size; %s", need, len(batches), basis)
		return d
	}

	if !req.Shardable {
		what := "the run has one partition"
		if len(req.Partitions) == 0 || (len(req.Partitions) == 1 && req.Partitions[0].Partition == "") {
			what = "the asset is unpartitioned"
		}
		d.Action = ActionRefuse
		d.Reason = fmt.Sprintf("%s; asset is not shardable and %s", need, what)
		return d
	}
	shards, g, ok := shardsFor(*model, d.Inputs.Bytes, memCap, cfg.MaxShards)
	if !ok {
		d.Action = ActionRefuse
		d.Reason = fmt.Sprintf("%s; even %d shards would need %s each", need, cfg.MaxShards, formatBytes(g))
		return d
	}
	d.Action = ActionShard
	d.Grant = Grant{MemoryBytes: g, CPUs: cpus, Shards: shards}
	d.Reason = fmt.Sprintf("%s; %d shards of %s each; %s", need, shards, formatBytes(g), basis)
	return d
}

// basis says in words what a grant was computed from.
func (s *Sizer) basis(d Decision) string {
	m := d.Model
	in := fmt.Sprintf("input %s, %d rows from %d upstream partitions", formatBytes(d.Inputs.Bytes), d.Inputs.Rows, d.Inputs.Partitions)
	var mem string
	switch {
	case m.MemoryOverride > 0:
		mem = fmt.Sprintf("memory %s declared in resources", formatBytes(m.MemoryOverride))
	case m.Kind == ModelDefault:
		mem = fmt.Sprintf("memory %s = max(%s, %g x input) by default (%d past runs, %d needed to fit)",
			formatBytes(d.Predicted.MemoryBytes), formatBytes(m.Floor), m.MemoryA, m.Observations, s.cfg.MinObservations)
	default:
		mem = fmt.Sprintf("memory %s = max(%s, (%.3g x input + %s + margin %s) x %.2f), %s fit of %d past runs",
			formatBytes(d.Predicted.MemoryBytes), formatBytes(m.Floor), m.MemoryA, formatBytes(int64(m.MemoryB)),
			formatBytes(int64(m.MemoryMargin)), 1+m.Headroom, strings.ReplaceAll(m.Kind, "_", "-"), m.Observations)
	}
	return fmt.Sprintf("%s; %s; predicted duration %s", in, mem, d.Predicted.Duration.Round(time.Second))
}

// split packs the partitions, in order, into batches whose grant fits
// memCap, keeping each batch's union of upstream partitions as it goes (so
// it is linear in the inputs). A partition too big alone is sharded when
// allowed; otherwise ok is false and bad names it, badNeed its grant.
func (s *Sizer) split(parts []PartitionInputs, m Model, memCap int64, cpus float64, shardable bool) (batches []Batch, bad string, badNeed int64, ok bool) {
	type key struct {
		asset     asset.Key
		partition string
	}
	var cur Batch
	seen := map[key]bool{}
	flush := func() {
		if len(cur.Partitions) > 0 {
			cur.Grant = Grant{MemoryBytes: m.grantMemory(cur.InputBytes), CPUs: cpus, Shards: 1}
			batches = append(batches, cur)
		}
		cur = Batch{}
		clear(seen)
	}
	// added returns the rows and bytes p adds to the current batch.
	added := func(p PartitionInputs) (rows, bytes int64) {
		mine := map[key]bool{}
		for _, in := range p.Inputs {
			k := key{in.Asset, in.Partition}
			if seen[k] || mine[k] {
				continue
			}
			mine[k] = true
			rows += max(in.Rows, 0)
			bytes += max(in.Bytes, 0)
		}
		return rows, bytes
	}
	for _, p := range parts {
		alone := summarize([]PartitionInputs{p})
		if g := m.grantMemory(alone.Bytes); g > memCap {
			flush()
			if !shardable {
				return nil, p.Partition, g, false
			}
			shards, per, ok := shardsFor(m, alone.Bytes, memCap, s.cfg.MaxShards)
			if !ok {
				return nil, p.Partition, g, false
			}
			batches = append(batches, Batch{Partitions: []string{p.Partition}, InputRows: alone.Rows, InputBytes: alone.Bytes,
				Grant: Grant{MemoryBytes: per, CPUs: cpus, Shards: shards}})
			continue
		}
		rows, bytes := added(p)
		if len(cur.Partitions) > 0 && m.grantMemory(cur.InputBytes+bytes) > memCap {
			flush()
			rows, bytes = alone.Rows, alone.Bytes
		}
		for _, in := range p.Inputs {
			seen[key{in.Asset, in.Partition}] = true
		}
		cur.Partitions = append(cur.Partitions, p.Partition)
		cur.InputRows += rows
		cur.InputBytes += bytes
	}
	flush()
	return batches, "", 0, true
}

// shardsFor finds the fewest shards whose per-shard grant (for an equal
// share of the input) fits memCap.
func shardsFor(m Model, inputBytes, memCap int64, maxShards int) (int, int64, bool) {
	need := m.grantMemory(inputBytes)
	start := max(int((need+memCap-1)/memCap), 2)
	for k := start; k <= maxShards; k++ {
		g := m.grantMemory((inputBytes + int64(k) - 1) / int64(k))
		if g <= memCap {
			return k, g, true
		}
	}
	return 0, m.grantMemory(inputBytes / int64(maxShards)), false
}

func largest(execs []Capacity) Capacity {
	var best Capacity
	for i, e := range execs {
		if i == 0 || cmp.Compare(e.MemoryBytes, best.MemoryBytes) > 0 {
			best = e
		}
	}
	return best
}

// summarize totals the distinct upstream partitions of parts.
func summarize(parts []PartitionInputs) InputSummary {
	type key struct {
		asset     asset.Key
		partition string
	}
	seen := map[key]bool{}
	per := map[asset.Key]*UpstreamInput{}
	var s InputSummary
	for _, p := range parts {
		for _, in := range p.Inputs {
			k := key{in.Asset, in.Partition}
			if seen[k] {
				continue
			}
			seen[k] = true
			u := per[in.Asset]
			if u == nil {
				u = &UpstreamInput{Asset: in.Asset}
				per[in.Asset] = u
			}
			u.Partitions++
			u.Rows += max(in.Rows, 0)
			u.Bytes += max(in.Bytes, 0)
			s.Rows += max(in.Rows, 0)
			s.Bytes += max(in.Bytes, 0)
			s.Partitions++
		}
	}
	s.PerUpstream = make([]UpstreamInput, 0, len(per))
	for _, u := range per {
		s.PerUpstream = append(s.PerUpstream, *u)
	}
	slices.SortFunc(s.PerUpstream, func(a, b UpstreamInput) int { return cmp.Compare(a.Asset, b.Asset) })
	return s
}

// formatBytes prints a size with a binary unit and at most one decimal.
func formatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + units[i]
}
