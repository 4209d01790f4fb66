package asset

// STUB: replaced by the static/dynamic/multi implementation. The exported API
// below is the contract other files code against; it may grow, not shrink.

import (
	"errors"
	"time"
)

var errDefsNotBuilt = errors.New("partitions: not built yet")

// BuildPartitionsDef builds the definition declared by d; nil d means
// Unpartitioned. Errors are *ValidationError with field names relative to
// the partitions declaration ("time_window.cron", "static[2]", "multi[0].name").
func BuildPartitionsDef(d *PartitionsDecl) (PartitionsDef, error) {
	if d == nil {
		return Unpartitioned{}, nil
	}
	return nil, errDefsNotBuilt
}

// StaticDef is a fixed, ordered list of partition keys.
type StaticDef struct{ keys []string }

// NewStaticDef builds a static definition.
func NewStaticDef(keys []string) (*StaticDef, error) { return nil, errDefsNotBuilt }

func (d *StaticDef) Kind() PartitionsKind                       { return KindStatic }
func (d *StaticDef) At(now time.Time, _ DynamicKeys) Partitions { return nil }
func (d *StaticDef) Equal(o PartitionsDef) bool                 { return false }
func (d *StaticDef) String() string                             { return "static" }

// Keys returns the keys in order.
func (d *StaticDef) Keys() []string { return d.keys }

// DynamicDef is a named set of keys added over the API.
type DynamicDef struct{ name string }

// NewDynamicDef builds a dynamic definition.
func NewDynamicDef(name string) (*DynamicDef, error) { return nil, errDefsNotBuilt }

func (d *DynamicDef) Kind() PartitionsKind                         { return KindDynamic }
func (d *DynamicDef) At(now time.Time, dyn DynamicKeys) Partitions { return nil }
func (d *DynamicDef) Equal(o PartitionsDef) bool                   { return false }
func (d *DynamicDef) String() string                               { return "dynamic" }

// Name is the definition's name.
func (d *DynamicDef) Name() string { return d.name }

// Dimension is one named dimension of a MultiDef.
type Dimension struct {
	Name string
	Def  PartitionsDef
}

// MultiDef is the product of any number of dimensions. Keys join the
// dimension keys with "|" in the order of the dimension names, sorted.
type MultiDef struct{ dims []Dimension }

// NewMultiDef builds a multi-dimensional definition.
func NewMultiDef(dims []Dimension) (*MultiDef, error) { return nil, errDefsNotBuilt }

func (d *MultiDef) Kind() PartitionsKind                         { return KindMulti }
func (d *MultiDef) At(now time.Time, dyn DynamicKeys) Partitions { return nil }
func (d *MultiDef) Equal(o PartitionsDef) bool                   { return false }
func (d *MultiDef) String() string                               { return "multi" }

// Dimensions returns the dimensions sorted by name.
func (d *MultiDef) Dimensions() []Dimension { return d.dims }

// NewMapping builds the mapping declared by decl between an upstream and a
// downstream definition; nil decl takes the default: identity when both
// sides have the same definition, time_window(0,0) between time windows, all
// when the downstream is unpartitioned, all when the upstream is
// unpartitioned (its single partition), else an error that says so.
// Errors are *ValidationError with field names relative to the mapping.
func NewMapping(decl *MappingDecl, up, down PartitionsDef) (Mapping, error) {
	return nil, errDefsNotBuilt
}
