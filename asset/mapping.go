package asset

// Mapping maps partitions of a downstream asset to the partitions of one of
// its upstream assets, and back (PARTITIONS.md). Both directions take the
// partitions existing at one `now` (the Partitions values carry it).
type Mapping interface {
	// Upstream returns the upstream partitions that the downstream
	// partitions read, and the upstream keys they require that do not exist.
	Upstream(down *Subset, up Partitions) (Upstream, error)
	// Downstream returns the downstream partitions that read any of the
	// upstream partitions.
	Downstream(up *Subset, down Partitions) (*Subset, error)
	// Decl returns the declaration of the mapping (after defaults were taken).
	Decl() MappingDecl
}

// Upstream is the result of mapping downstream partitions upstream.
type Upstream struct {
	Partitions *Subset  // existing upstream partitions
	Missing    []string // required but nonexistent upstream keys, in order
}
