package planner

import (
	"time"

	"github.com/strata-data/strata/asset"
)

// Status is the status of one asset partition.
type Status uint8

// Statuses, from the catalog's latest materializations and in-flight runs.
// Running and Failed take precedence over the data status (missing, fresh,
// stale), which PartitionStatus still reports in DataStatus.
const (
	StatusMissing Status = iota // never materialized
	StatusFresh                 // materialized, nothing upstream or in code changed since
	StatusStale                 // materialized, but Causes say why it is out of date
	StatusRunning               // a queued or running run (or an emitted request) includes it
	StatusFailed                // the last attempt failed and no success came after it
)

func (s Status) String() string {
	switch s {
	case StatusMissing:
		return "missing"
	case StatusFresh:
		return "fresh"
	case StatusStale:
		return "stale"
	case StatusRunning:
		return "running"
	case StatusFailed:
		return "failed"
	}
	return "unknown"
}

// CauseKind is why a partition is stale (or, for a missing partition, why it
// cannot be materialized yet).
type CauseKind string

// Cause kinds.
const (
	CauseCodeVersionChanged CauseKind = "code_version_changed"
	CauseUpstreamUpdated    CauseKind = "upstream_updated"
	CauseUpstreamStale      CauseKind = "upstream_stale"
	CauseUpstreamMissing    CauseKind = "upstream_missing"
)

// Cause explains one reason for a partition's status.
type Cause struct {
	Kind CauseKind `json:"kind"`
	// UpstreamAsset and UpstreamPartition name the upstream asset partition
	// (for the upstream_* kinds). For upstream_missing, Nonexistent says
	// the partition is required by the mapping but does not exist at now.
	UpstreamAsset     asset.Key `json:"upstream_asset,omitempty"`
	UpstreamPartition string    `json:"upstream_partition,omitempty"`
	Nonexistent       bool      `json:"nonexistent,omitempty"`
	// OldCodeVersion is the code version of the materialization,
	// NewCodeVersion the declared one (code_version_changed).
	OldCodeVersion string `json:"old_code_version,omitempty"`
	NewCodeVersion string `json:"new_code_version,omitempty"`
	// RootAsset and RootPartition name the asset partition where an
	// upstream_stale chain starts (whose own cause is not upstream_stale);
	// RootKind is that partition's first cause.
	RootAsset     asset.Key `json:"root_asset,omitempty"`
	RootPartition string    `json:"root_partition,omitempty"`
	RootKind      CauseKind `json:"root_kind,omitempty"`
	// Detail is a human sentence for the UI.
	Detail string `json:"detail"`
}

// FreshnessState is the state of a partition under its freshness policy at now.
type FreshnessState string

// Freshness states. Unknown means the asset has no freshness policy, or the
// deadline could not be computed (Freshness.Why says why).
const (
	FreshnessUnknown FreshnessState = "unknown"
	FreshnessPass    FreshnessState = "pass"
	FreshnessWarn    FreshnessState = "warn"
	FreshnessFail    FreshnessState = "fail"
)

// Freshness is a partition's freshness at now.
type Freshness struct {
	State     FreshnessState `json:"state"`
	Deadline  time.Time      `json:"deadline,omitzero"`
	WarnAt    time.Time      `json:"warn_at,omitzero"`
	OverdueBy time.Duration  `json:"overdue_by,omitempty"` // > 0 when not materialized and past Deadline
	Why       string         `json:"why,omitempty"`
}

// PartitionStatus is the full answer for one asset partition.
type PartitionStatus struct {
	Asset      asset.Key `json:"asset"`
	Key        string    `json:"key"`
	Status     Status    `json:"status"`
	DataStatus Status    `json:"data_status"` // missing, fresh or stale, whatever runs are doing
	Causes     []Cause   `json:"causes,omitempty"`
	Freshness  Freshness `json:"freshness"`
	// LatestSeq is the catalog sequence of the latest materialization (0: none).
	LatestSeq int64 `json:"latest_seq,omitempty"`
}

// Counts counts an asset's partitions by status.
type Counts struct {
	Partitions int64 `json:"partitions"`
	Missing    int64 `json:"missing"`
	Fresh      int64 `json:"fresh"`
	Stale      int64 `json:"stale"`
	Running    int64 `json:"running"`
	Failed     int64 `json:"failed"`
}

// Per-partition status byte: bits 0-1 the data status, bits 2-5 the causes.
const (
	stMask    = 0x03
	stMissing = uint8(StatusMissing)
	stFresh   = uint8(StatusFresh)
	stStale   = uint8(StatusStale)

	cCode     = 1 << 2
	cUpdated  = 1 << 3
	cUpStale  = 1 << 4
	cUpMiss   = 1 << 5
	causeBits = cCode | cUpdated | cUpStale | cUpMiss
)

// MarshalText writes the status as its name ("fresh"), for JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalText writes the run state as its name ("running"), for JSON.
func (s RunState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
