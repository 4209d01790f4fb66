package asset

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// File is the top level of a declarations file (the YAML that `strata apply`
// reads) and of an ApplyAssets request.
type File struct {
	Assets []AssetDecl `yaml:"assets" json:"assets"`
}

// AssetDecl declares one asset. It is data: the YAML, JSON and protobuf
// shapes are the same. A declaration is checked by Validate and by NewGraph;
// the zero values of optional fields mean "not set".
type AssetDecl struct {
	Key            string              `yaml:"key" json:"key"`
	Description    string              `yaml:"description,omitempty" json:"description,omitempty"`
	Group          string              `yaml:"group,omitempty" json:"group,omitempty"`
	Owners         []string            `yaml:"owners,omitempty" json:"owners,omitempty"`
	Tags           map[string]string   `yaml:"tags,omitempty" json:"tags,omitempty"`
	CodeVersion    string              `yaml:"code_version,omitempty" json:"code_version,omitempty"`
	Partitions     *PartitionsDecl     `yaml:"partitions,omitempty" json:"partitions,omitempty"`
	Deps           []DepDecl           `yaml:"deps,omitempty" json:"deps,omitempty"`
	Compute        *ComputeDecl        `yaml:"compute,omitempty" json:"compute,omitempty"`
	Retry          *RetryDecl          `yaml:"retry,omitempty" json:"retry,omitempty"`
	Freshness      *FreshnessDecl      `yaml:"freshness,omitempty" json:"freshness,omitempty"`
	Automation     *AutomationDecl     `yaml:"automation,omitempty" json:"automation,omitempty"`
	BackfillPolicy *BackfillPolicyDecl `yaml:"backfill_policy,omitempty" json:"backfill_policy,omitempty"`
	Resources      *ResourcesDecl      `yaml:"resources,omitempty" json:"resources,omitempty"`
	// Output is the location template of the asset's output, e.g.
	// "file:///lake/{asset}/{partition}.parquet". Empty means the default,
	// <data dir>/assets/<asset key>/<partition key>/.
	Output string `yaml:"output,omitempty" json:"output,omitempty"`
}

// PartitionsDecl declares how an asset is partitioned: exactly one field is set.
type PartitionsDecl struct {
	TimeWindow *TimeWindowDecl `yaml:"time_window,omitempty" json:"time_window,omitempty"`
	Static     []string        `yaml:"static,omitempty" json:"static,omitempty"`
	Dynamic    *DynamicDecl    `yaml:"dynamic,omitempty" json:"dynamic,omitempty"`
	Multi      []DimensionDecl `yaml:"multi,omitempty" json:"multi,omitempty"`
}

// TimeWindowDecl declares time-window partitions (PARTITIONS.md). Either
// Schedule (hourly, daily, weekly, monthly, with the offsets) or Cron is set.
type TimeWindowDecl struct {
	Schedule     string `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	Cron         string `yaml:"cron,omitempty" json:"cron,omitempty"`
	MinuteOffset int    `yaml:"minute_offset,omitempty" json:"minute_offset,omitempty"`
	HourOffset   int    `yaml:"hour_offset,omitempty" json:"hour_offset,omitempty"`
	// DayOffset is the weekday (0 = Sunday) for weekly and the day of month
	// for monthly; nil means the default (0 weekly, 1 monthly).
	DayOffset *int   `yaml:"day_offset,omitempty" json:"day_offset,omitempty"`
	Start     string `yaml:"start" json:"start"`
	End       string `yaml:"end,omitempty" json:"end,omitempty"`
	Timezone  string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	Fmt       string `yaml:"fmt,omitempty" json:"fmt,omitempty"`
	EndOffset int    `yaml:"end_offset,omitempty" json:"end_offset,omitempty"`
}

// DynamicDecl declares dynamic partitions whose keys are added over the API.
type DynamicDecl struct {
	Name string `yaml:"name" json:"name"`
}

// DimensionDecl is one dimension of a multi-dimensional definition: a name
// and exactly one of time_window, static, dynamic.
type DimensionDecl struct {
	Name       string          `yaml:"name" json:"name"`
	TimeWindow *TimeWindowDecl `yaml:"time_window,omitempty" json:"time_window,omitempty"`
	Static     []string        `yaml:"static,omitempty" json:"static,omitempty"`
	Dynamic    *DynamicDecl    `yaml:"dynamic,omitempty" json:"dynamic,omitempty"`
}

// DepDecl declares one upstream dependency and how partitions map to it.
// A nil Mapping takes the default (see DefaultMapping).
type DepDecl struct {
	Asset   string       `yaml:"asset" json:"asset"`
	Mapping *MappingDecl `yaml:"mapping,omitempty" json:"mapping,omitempty"`
}

// Empty marks a mapping kind that takes no parameters ("identity: {}").
type Empty struct{}

// MappingDecl declares a partition mapping: exactly one field is set.
type MappingDecl struct {
	Identity          *Empty                  `yaml:"identity,omitempty" json:"identity,omitempty"`
	TimeWindow        *TimeWindowMappingDecl  `yaml:"time_window,omitempty" json:"time_window,omitempty"`
	All               *Empty                  `yaml:"all,omitempty" json:"all,omitempty"`
	Last              *Empty                  `yaml:"last,omitempty" json:"last,omitempty"`
	Specific          []string                `yaml:"specific,omitempty" json:"specific,omitempty"`
	Static            map[string][]string     `yaml:"static,omitempty" json:"static,omitempty"`
	LatestOverlapping *Empty                  `yaml:"latest_overlapping,omitempty" json:"latest_overlapping,omitempty"`
	Multi             map[string]*MappingDecl `yaml:"multi,omitempty" json:"multi,omitempty"`
}

// TimeWindowMappingDecl parameterises the time_window mapping.
type TimeWindowMappingDecl struct {
	StartOffset              int  `yaml:"start_offset,omitempty" json:"start_offset,omitempty"`
	EndOffset                int  `yaml:"end_offset,omitempty" json:"end_offset,omitempty"`
	AllowNonexistentUpstream bool `yaml:"allow_nonexistent_upstream,omitempty" json:"allow_nonexistent_upstream,omitempty"`
}

// ComputeDecl says how an asset partition is produced: a command (argv) or a
// container image.
type ComputeDecl struct {
	Command []string          `yaml:"command,omitempty" json:"command,omitempty"`
	Image   string            `yaml:"image,omitempty" json:"image,omitempty"`
	Env     map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	Workdir string            `yaml:"workdir,omitempty" json:"workdir,omitempty"`
	Timeout Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Shardable says the job honours STRATA_SHARDS, so the materializer may
	// split a request that is too big for one executor into shards.
	Shardable bool `yaml:"shardable,omitempty" json:"shardable,omitempty"`
}

// RetryDecl is an asset's retry policy.
type RetryDecl struct {
	MaxAttempts int      `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`
	Backoff     Duration `yaml:"backoff,omitempty" json:"backoff,omitempty"`
}

// FreshnessDecl is a freshness policy: a partition must be materialized
// within MaxLag of its window end (for an unpartitioned asset: of the last
// materialization), or by the first CronDeadline tick after its window end.
// WarnLag, when set, is the lag after which the state is warn before fail.
type FreshnessDecl struct {
	MaxLag       Duration `yaml:"max_lag,omitempty" json:"max_lag,omitempty"`
	WarnLag      Duration `yaml:"warn_lag,omitempty" json:"warn_lag,omitempty"`
	CronDeadline string   `yaml:"cron_deadline,omitempty" json:"cron_deadline,omitempty"`
	Timezone     string   `yaml:"timezone,omitempty" json:"timezone,omitempty"`
}

// Automation conditions.
const (
	AutomationNone      = "none"
	AutomationEager     = "eager"
	AutomationOnCron    = "on_cron"
	AutomationOnMissing = "on_missing"
)

// AutomationDecl is an automation condition. In YAML it is a scalar
// (eager, on_missing, none) or a map {on_cron: "0 * * * *"}.
type AutomationDecl struct {
	Condition string `yaml:"condition" json:"condition"`
	Cron      string `yaml:"cron,omitempty" json:"cron,omitempty"`
}

// BackfillPolicyDecl bounds how backfills batch partitions into runs.
type BackfillPolicyDecl struct {
	MaxPartitionsPerRun int `yaml:"max_partitions_per_run,omitempty" json:"max_partitions_per_run,omitempty"`
}

// ResourcesDecl overrides the sizing of an asset's jobs.
type ResourcesDecl struct {
	Memory ByteSize `yaml:"memory,omitempty" json:"memory,omitempty"`
	CPUs   float64  `yaml:"cpus,omitempty" json:"cpus,omitempty"`
}

// Duration is a time.Duration written as a string: Go syntax ("1h30m",
// "45s") plus a "d" suffix for days ("2d").
type Duration time.Duration

// ParseDuration parses a Duration.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if strings.HasSuffix(s, "d") && !strings.ContainsAny(s[:len(s)-1], "hmsuµn") {
		n, err := strconv.ParseFloat(s[:len(s)-1], 64)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 15m, 2h, 1d)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return Duration(d), nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d Duration) String() string {
	if d == 0 {
		return "0s"
	}
	if d%Duration(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d)/int64(24*time.Hour), 10) + "d"
	}
	return time.Duration(d).String()
}

// MarshalJSON writes d as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string duration.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30m\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ByteSize is a number of bytes written with an optional unit: "512MiB",
// "4GiB", "1.5GB", "1048576".
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"B", 1},
}

// ParseByteSize parses a ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) || n*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("invalid size %q (use e.g. 512MiB, 4GiB)", s)
	}
	return ByteSize(n * mult), nil
}

func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if int64(b) >= u.mult && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalJSON writes b as a string with a unit.
func (b ByteSize) MarshalJSON() ([]byte, error) { return json.Marshal(b.String()) }

// UnmarshalJSON reads a number of bytes or a string with a unit.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	var n int64
	if err := json.Unmarshal(data, &n); err == nil {
		if n < 0 {
			return fmt.Errorf("negative size %d", n)
		}
		*b = ByteSize(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("size must be a number of bytes or a string like \"4GiB\"")
	}
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}
