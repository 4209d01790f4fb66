package asset

import (
	"time"
)

// PartitionsKind tells the kinds of partitions definitions apart.
type PartitionsKind int

// The kinds of partitions definitions.
const (
	KindUnpartitioned PartitionsKind = iota
	KindTimeWindow
	KindStatic
	KindDynamic
	KindMulti
)

func (k PartitionsKind) String() string {
	switch k {
	case KindUnpartitioned:
		return "unpartitioned"
	case KindTimeWindow:
		return "time_window"
	case KindStatic:
		return "static"
	case KindDynamic:
		return "dynamic"
	case KindMulti:
		return "multi"
	}
	return "unknown"
}

// TimeWindow is the half-open interval [Start, End) of a time partition.
type TimeWindow struct {
	Start, End time.Time
}

// DynamicKeys supplies the keys of dynamic partitions definitions, by the
// definition's name, in the order they were added. A nil DynamicKeys has no
// keys.
type DynamicKeys interface {
	DynamicPartitionKeys(name string) []string
}

// DynamicKeysMap is a DynamicKeys held in memory.
type DynamicKeysMap map[string][]string

// DynamicPartitionKeys returns the keys of the named definition.
func (m DynamicKeysMap) DynamicPartitionKeys(name string) []string { return m[name] }

// PartitionsDef describes how an asset is split into partitions.
// Implementations: Unpartitioned, *TimeWindowDef, *StaticDef, *DynamicDef,
// *MultiDef. A definition is immutable and safe for concurrent use.
type PartitionsDef interface {
	Kind() PartitionsKind
	// At returns the partitions that exist at now. dyn supplies the keys of
	// dynamic definitions (it is ignored by the others).
	At(now time.Time, dyn DynamicKeys) Partitions
	// Equal reports whether other defines exactly the same partitions.
	Equal(other PartitionsDef) bool
	// String is a short human description, e.g. "daily from 2026-01-01 (Europe/Berlin)".
	String() string
}

// Partitions is the ordered set of partitions of one definition that exist
// at one instant. Index 0 is the first partition in the definition's order
// (time order for time windows, declaration order for static keys, insertion
// order for dynamic keys, row-major over sorted dimension names for multi).
// Implementations answer Key and Index without enumerating all partitions
// wherever the definition allows it.
type Partitions interface {
	Def() PartitionsDef
	// Now is the instant the set was taken at.
	Now() time.Time
	// Len is the number of partitions.
	Len() int64
	// Key returns the key of partition i, 0 <= i < Len().
	Key(i int64) string
	// Index returns the index of key, or false when key is not a partition.
	Index(key string) (int64, bool)
}

// Windowed is implemented by partitions that have time windows (time-window
// definitions, and multi definitions with exactly one time dimension).
type Windowed interface {
	// Window returns the time window of partition i.
	Window(i int64) TimeWindow
}

// Unpartitioned is the definition of an asset that is not partitioned: it
// has exactly one partition, whose key is the empty string.
type Unpartitioned struct{}

// UnpartitionedKey is the partition key of an unpartitioned asset.
const UnpartitionedKey = ""

// Kind returns KindUnpartitioned.
func (Unpartitioned) Kind() PartitionsKind { return KindUnpartitioned }

// At returns the single partition.
func (u Unpartitioned) At(now time.Time, _ DynamicKeys) Partitions {
	return unpartitioned{now: now}
}

// Equal reports whether other is Unpartitioned too.
func (Unpartitioned) Equal(other PartitionsDef) bool {
	_, ok := other.(Unpartitioned)
	return ok
}

func (Unpartitioned) String() string { return "unpartitioned" }

type unpartitioned struct{ now time.Time }

func (unpartitioned) Def() PartitionsDef { return Unpartitioned{} }
func (u unpartitioned) Now() time.Time   { return u.now }
func (unpartitioned) Len() int64         { return 1 }
func (unpartitioned) Key(int64) string   { return UnpartitionedKey }
func (unpartitioned) Index(key string) (int64, bool) {
	return 0, key == UnpartitionedKey
}
