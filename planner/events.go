package planner

import (
	"time"

	"github.com/strata-data/strata/asset"
)

// Event is one catalog fact the planner loop feeds to State.Apply, in the
// order of the catalog's event log. The concrete types are
// MaterializationRecorded, RunStateChanged, RequestDropped, AssetsApplied and
// DynamicPartitionsChanged.
//
// Ordering contract for the loop: events are applied in increasing Seq; a
// run's MaterializationRecorded events come before the RunStateChanged that
// reports the run succeeded (the catalog writes both in one transaction, the
// materializations first), so that a partition is never seen as neither
// running nor materialized in between and requested twice.
type Event interface {
	// EventSeq is the catalog sequence of the event; 0 for snapshot
	// records yielded by a View (see Build).
	EventSeq() int64
	isEvent()
}

// InputVersion is one upstream asset partition a materialization read, with
// the data version it read. It is one element of a materialization's
// provenance.
type InputVersion struct {
	Asset        asset.Key
	PartitionKey string
	DataVersion  string // empty when the upstream reported none
}

// MaterializationRecorded says that an asset partition was produced.
//
// Seq orders materializations: a higher Seq is a later materialization. When
// the same partition is recorded twice, the one with the higher Seq wins, so
// a View may yield materializations in any order.
type MaterializationRecorded struct {
	Seq          int64
	Asset        asset.Key
	PartitionKey string
	RunID        string
	DataVersion  string // content identity; empty when unknown
	CodeVersion  string // code version that produced it; empty when unknown
	// Provenance lists the upstream asset partitions read, with their data
	// versions. For a dep whose upstream partitions all carry a data
	// version, staleness compares data versions; for the others it falls
	// back to materialization order (Seq).
	Provenance []InputVersion
	At         time.Time // when it was recorded (used by freshness of non-windowed assets)
}

// RunState is the lifecycle state of a run, as the planner needs it.
type RunState uint8

// Run states. Queued and Running are in flight; the others are terminal.
// A run that fails an attempt and will be retried stays Queued or Running;
// Failed means the run gave up.
const (
	RunQueued RunState = iota + 1
	RunRunning
	RunSucceeded
	RunFailed
	RunCanceled
)

func (s RunState) String() string {
	switch s {
	case RunQueued:
		return "queued"
	case RunRunning:
		return "running"
	case RunSucceeded:
		return "succeeded"
	case RunFailed:
		return "failed"
	case RunCanceled:
		return "canceled"
	}
	return "unknown"
}

// InFlight reports whether the state is queued or running.
func (s RunState) InFlight() bool { return s == RunQueued || s == RunRunning }

// RunStateChanged says a run changed state. RequestID is the ID of the
// RunRequest the run was created from (empty for runs started by hand);
// it lets the planner retire the request it was holding as in flight.
type RunStateChanged struct {
	Seq           int64
	RunID         string
	RequestID     string
	Asset         asset.Key
	PartitionKeys []string
	State         RunState
	BackfillID    string
	Reason        Reason // copied from the request; restores on_cron state on rebuild
	At            time.Time
}

// RequestDropped says the materializer will never run a request the planner
// emitted (rejected, or lost before it was queued): its partitions stop
// being in flight and may be requested again.
type RequestDropped struct {
	Seq       int64
	RequestID string
	Why       string
}

// AssetsApplied replaces the asset graph (after ApplyAssets). Partition
// states of assets whose key and partitions definition are unchanged are
// kept; the statuses of all assets are recomputed.
type AssetsApplied struct {
	Seq   int64
	Graph Graph
}

// DynamicPartitionsChanged gives the full, ordered key list of one dynamic
// partitions definition after keys were added or deleted.
type DynamicPartitionsChanged struct {
	Seq  int64
	Name string
	Keys []string
}

func (e MaterializationRecorded) EventSeq() int64  { return e.Seq }
func (e RunStateChanged) EventSeq() int64          { return e.Seq }
func (e RequestDropped) EventSeq() int64           { return e.Seq }
func (e AssetsApplied) EventSeq() int64            { return e.Seq }
func (e DynamicPartitionsChanged) EventSeq() int64 { return e.Seq }

func (MaterializationRecorded) isEvent()  {}
func (RunStateChanged) isEvent()          {}
func (RequestDropped) isEvent()           {}
func (AssetsApplied) isEvent()            {}
func (DynamicPartitionsChanged) isEvent() {}

// Graph is the part of *asset.Graph the planner reads: the assets in
// topological order, each Asset.ID equal to its index.
type Graph interface {
	Assets() []*asset.Asset
}

var _ Graph = (*asset.Graph)(nil)
