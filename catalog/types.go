package catalog

import (
	"encoding/json"
	"log/slog"
	"time"

	"github.com/strata-data/strata/asset"
)

// Options configure Open. The zero value is usable.
type Options struct {
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Now is the clock used for timestamps the caller does not give; nil
	// means time.Now.
	Now func() time.Time
	// MaxLogBytes bounds the log kept per run (the tail is kept); 0 means 1 MiB.
	MaxLogBytes int
	// MaxConns bounds the PostgreSQL pool (0: pgxpool's default) and the
	// SQLite reader pool (0: 4). SQLite always has a single writer.
	MaxConns int
}

// AssetRecord is the current definition of one asset.
type AssetRecord struct {
	Key             asset.Key
	Decl            asset.AssetDecl
	Revision        int64 // the asset's own revision, 1 for its first definition
	CatalogRevision int64 // the catalog revision that produced Revision
	Hash            string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	UpdatedBy       string
}

// Change kinds of an asset revision.
const (
	ChangeCreated = "created"
	ChangeChanged = "changed"
	ChangeDeleted = "deleted"
)

// AssetRevision is one entry in an asset's history.
type AssetRevision struct {
	Key             asset.Key
	Revision        int64
	CatalogRevision int64
	Change          string           // ChangeCreated, ChangeChanged or ChangeDeleted
	Hash            string           // empty for a deletion
	Decl            *asset.AssetDecl // nil for a deletion
	Actor           string
	CreatedAt       time.Time
}

// ApplyOptions control ApplyAssets.
type ApplyOptions struct {
	Actor string
	// Prune deletes the current assets absent from the declarations.
	Prune bool
	// DryRun computes the result and writes nothing.
	DryRun bool
	// ExpectedRevision, when not 0, must equal the current catalog revision
	// or the apply fails with ErrConflict.
	ExpectedRevision int64
}

// ApplyResult reports what ApplyAssets did (or would do, for a dry run).
type ApplyResult struct {
	// Revision is the catalog revision after the apply: a new one when
	// anything changed, else the current one.
	Revision  int64
	Created   []asset.Key
	Changed   []asset.Key
	Unchanged []asset.Key
	Deleted   []asset.Key
}

// ListAssetsQuery filters and pages ListAssets.
type ListAssetsQuery struct {
	Group string
	// Search matches a substring of the key or the description (case-insensitive).
	Search string
	// Keys restricts the result to these keys.
	Keys []asset.Key
	// PageToken is the NextPageToken of the previous page.
	PageToken string
	// Limit is the page size: 0 means 100, at most 1000.
	Limit int
}

// Edge is a lineage edge between two assets, with its partition mapping as
// the JSON of an asset.MappingDecl (nil: the default mapping).
type Edge struct {
	Downstream   asset.Key
	Upstream     asset.Key
	Mapping      json.RawMessage
	FromRevision int64 // catalog revision the edge appeared in
	ToRevision   int64 // catalog revision it disappeared in; 0 while current
}

// DynamicKeys is a snapshot of dynamic partition keys by definition name, in
// insertion order. It satisfies asset.DynamicKeys.
type DynamicKeys map[string][]string

// DynamicPartitionKeys returns the keys of the named definition.
func (d DynamicKeys) DynamicPartitionKeys(name string) []string { return d[name] }

// RunState is the state of a run.
type RunState string

// Run states.
const (
	RunQueued    RunState = "queued"
	RunRunning   RunState = "running"
	RunSucceeded RunState = "succeeded"
	RunFailed    RunState = "failed"
	RunCancelled RunState = "cancelled"
)

// Terminal reports whether s is final.
func (s RunState) Terminal() bool {
	return s == RunSucceeded || s == RunFailed || s == RunCancelled
}

func (s RunState) valid() bool {
	switch s {
	case RunQueued, RunRunning, RunSucceeded, RunFailed, RunCancelled:
		return true
	}
	return false
}

// RunSpec is one run to enqueue.
type RunSpec struct {
	Asset         asset.Key
	PartitionKeys []string // one or more; [""] for an unpartitioned asset
	Reason        string
	Priority      int
	Deadline      *time.Time
	NotBefore     *time.Time
	BackfillID    int64 // 0: not part of a backfill
	MaxAttempts   int   // 0 means 1
	// Sizing is the sizing decision and its inputs, as JSON (may be nil).
	Sizing json.RawMessage
}

// Usage is the resources a run attempt used.
type Usage struct {
	Duration   time.Duration
	PeakRSS    int64 // bytes
	CPUSeconds float64
}

// Run is one run: its request, its current attempt and its outcome.
type Run struct {
	ID              int64
	Asset           asset.Key
	PartitionKeys   []string
	Reason          string
	Priority        int
	Deadline        *time.Time
	NotBefore       time.Time
	BackfillID      int64
	State           RunState
	Attempt         int // 0 until first claimed
	MaxAttempts     int
	LeaseOwner      string
	LeaseExpiresAt  *time.Time
	Sizing          json.RawMessage
	Usage           *Usage
	ExitCode        *int
	Error           string
	LogPath         string
	CancelRequested bool
	CreatedAt       time.Time
	StartedAt       *time.Time
	FinishedAt      *time.Time
	UpdatedAt       time.Time
}

// ClaimRequest asks for up to Limit runnable runs.
type ClaimRequest struct {
	Owner string
	Lease time.Duration
	Limit int       // 0 means 1
	Now   time.Time // zero means the catalog's clock
}

// RetryAt asks FinishRun to queue the run again for another attempt.
type RetryAt struct {
	NotBefore time.Time
}

// RunResult is what a run attempt produced, recorded by FinishRun.
type RunResult struct {
	RunID   int64
	Attempt int
	Owner   string   // must hold the lease when set
	State   RunState // RunSucceeded, RunFailed or RunCancelled
	// ExitCode of the job; nil when it did not exit (killed, never started).
	ExitCode *int
	Error    string
	Log      string // appended to the run's log (bounded)
	LogPath  string
	Usage    *Usage
	// Materializations produced by this attempt; RunID and Attempt are
	// filled in from the result.
	Materializations []Materialization
	Observations     []Observation
	Checks           []CheckResult
	// Retry, for a failed result with attempts left, queues the run again.
	Retry *RetryAt
	Now   time.Time // zero means the catalog's clock
}

// ProvenanceEntry is one upstream asset partition a materialization consumed.
type ProvenanceEntry struct {
	UpstreamAsset             asset.Key
	UpstreamPartition         string
	UpstreamMaterializationID int64 // 0 when unknown
	DataVersion               string
}

// Materialization records that an asset partition was produced.
type Materialization struct {
	ID          int64 // set by the catalog
	Asset       asset.Key
	Partition   string
	RunID       int64 // 0 for an external report
	Attempt     int
	ClientID    string // idempotency key for external reports (optional)
	DataVersion string
	CodeVersion string
	RowCount    *int64
	ByteCount   *int64
	Schema      json.RawMessage // Arrow schema as JSON
	Metadata    json.RawMessage // user metadata (a JSON object)
	// Location is where the output was written. When empty on write, a
	// legacy "_strata"."location" in Metadata fills it; reads of rows
	// written before the column existed fall back to it the same way.
	Location   string
	Provenance []ProvenanceEntry
	CreatedAt  time.Time // zero: the catalog's clock
}

// MaterializationQuery pages the materializations of one asset, newest
// first.
type MaterializationQuery struct {
	Asset asset.Key
	// Partition, when not nil, restricts the list to one partition ("" is
	// the partition of an unpartitioned asset); nil lists every partition.
	Partition *string
	// BeforeID pages: only materializations with a smaller id when > 0.
	BeforeID int64
	// Limit is the page size: 0 means 100, at most 10000.
	Limit int
}

// Summary is m as a MaterializationSummary (-1 for an unknown count).
func (m *Materialization) Summary() MaterializationSummary {
	s := MaterializationSummary{ID: m.ID, Partition: m.Partition, RunID: m.RunID, Attempt: m.Attempt, DataVersion: m.DataVersion,
		CodeVersion: m.CodeVersion, RowCount: -1, ByteCount: -1, Location: m.Location, CreatedAt: m.CreatedAt}
	if m.RowCount != nil {
		s.RowCount = *m.RowCount
	}
	if m.ByteCount != nil {
		s.ByteCount = *m.ByteCount
	}
	return s
}

// MaterializationSummary is the latest materialization of one partition, as
// streamed by LatestMaterializations. The value passed to the callback is
// reused: copy what you keep.
type MaterializationSummary struct {
	ID          int64
	Partition   string
	RunID       int64
	Attempt     int
	DataVersion string
	CodeVersion string
	RowCount    int64 // -1 when unknown
	ByteCount   int64 // -1 when unknown
	Location    string
	CreatedAt   time.Time
}

// Observation records an observed data version of an asset partition
// without a materialization.
type Observation struct {
	ID        int64
	Asset     asset.Key
	Partition string
	RunID     int64
	// ClientID makes a report idempotent: an observation whose (asset,
	// partition, client id) is already recorded is not recorded again.
	ClientID    string
	DataVersion string
	RowCount    *int64
	ByteCount   *int64
	Metadata    json.RawMessage
	CreatedAt   time.Time
}

// CheckResult is the outcome of one asset check on one partition.
type CheckResult struct {
	ID                int64
	Asset             asset.Key
	Partition         string
	Check             string
	RunID             int64
	Attempt           int
	MaterializationID int64
	Passed            bool
	Severity          string // "warn" or "error"; free text
	Description       string
	// ClientID makes a report idempotent, as for observations.
	ClientID  string
	Metadata  json.RawMessage
	CreatedAt time.Time
}

// Backfill states.
const (
	BackfillRunning    = "running"
	BackfillCompleted  = "completed"
	BackfillFailed     = "failed"
	BackfillCancelling = "cancelling"
	BackfillCancelled  = "cancelled"
)

// BackfillSpec is a backfill to create with its runs.
type BackfillSpec struct {
	// Selection is the selected assets.
	Selection []asset.Key
	// Partitions is the partition subset as JSON (opaque to the catalog).
	Partitions json.RawMessage
	// Filter is "", "missing", "stale" or "failed".
	Filter   string
	Priority int
	Actor    string
	// RequestID, when set, makes creation idempotent: a backfill with the
	// same request id is returned instead of creating another (at most 200
	// bytes).
	RequestID string
	// Description is free text (at most 10000 bytes).
	Description string
	// Runs are enqueued with the backfill; their BackfillID is set.
	Runs []RunSpec
}

// BackfillCounts counts a backfill's runs by state.
type BackfillCounts struct {
	Total, Queued, Running, Succeeded, Failed, Cancelled int64
}

// BackfillAssetCounts counts the partitions of one asset of a backfill by
// the state of the run that holds them (a run over N partitions counts N).
type BackfillAssetCounts struct {
	Asset                                                asset.Key
	Runs                                                 int64
	Total, Queued, Running, Succeeded, Failed, Cancelled int64
}

// Backfill is a backfill and its progress.
type Backfill struct {
	ID         int64
	Selection  []asset.Key
	Partitions json.RawMessage
	Filter     string
	Priority   int
	State      string
	Actor      string
	// RequestID and Description as given at creation.
	RequestID   string
	Description string
	Counts      BackfillCounts
	// Assets are the per-asset partition counters, by asset key; filled
	// by GetBackfill (not by ListBackfills).
	Assets     []BackfillAssetCounts
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
}

// Event kinds.
const (
	EventAssetApplied           = "asset_applied"
	EventAssetDeleted           = "asset_deleted"
	EventDynamicPartitions      = "dynamic_partitions"
	EventRunsEnqueued           = "runs_enqueued"
	EventRunState               = "run_state"
	EventMaterialization        = "materialization"
	EventObservation            = "observation"
	EventCheckResult            = "check_result"
	EventBackfillState          = "backfill_state"
	EventMaterializationsPruned = "materializations_pruned"
)

// Event is one entry of the append-only event log. IDs strictly increase in
// commit order: a reader that saw id N never later sees a new id <= N.
type Event struct {
	ID         int64
	Kind       string
	Asset      asset.Key
	Partition  string
	RunID      int64
	BackfillID int64
	Payload    json.RawMessage
	CreatedAt  time.Time
}

// RetentionPolicy says what Prune removes.
type RetentionPolicy struct {
	// KeepMaterializationsPerPartition keeps the newest N materializations
	// of each partition (0: keep all). The latest is always kept, and so is
	// any materialization that a provenance row references.
	KeepMaterializationsPerPartition int
	// RunLogsOlderThan clears the logs of runs finished before Now minus
	// this (0: keep all).
	RunLogsOlderThan time.Duration
	Now              time.Time
}

// PruneResult counts what Prune removed.
type PruneResult struct {
	Materializations int64
	RunLogs          int64
}

// RunFilter filters ListRuns.
type RunFilter struct {
	Asset      asset.Key
	States     []RunState
	BackfillID int64
	// PartitionKey keeps the runs over this partition.
	PartitionKey string
	// Worker keeps the runs leased to this worker (lease owner).
	Worker string
	// CreatedAfter (inclusive) and CreatedBefore (exclusive) bound the
	// creation time when not zero.
	CreatedAfter, CreatedBefore time.Time
	// BeforeID pages: only runs with a smaller ID (newest first) when > 0.
	BeforeID int64
	Limit    int // 0 means 100, at most 10000
}
