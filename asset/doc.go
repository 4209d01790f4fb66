// Package asset is Strata's pure domain model: asset keys, declarations,
// partitions definitions (time windows with Dagster-compatible semantics,
// static, dynamic, multi-dimensional), partition subsets, partition mappings,
// the asset graph and the selection syntax.
//
// The package does no I/O and never reads the clock: every query whose answer
// depends on time takes `now` as an argument. It imports no other Strata
// package; every other package builds on it.
package asset
