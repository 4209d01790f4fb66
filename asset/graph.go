package asset

// STUB: replaced by the graph implementation. The exported API below is the
// contract other packages code against; it may grow, not shrink.

import "errors"

// Asset is one validated asset of a Graph.
type Asset struct {
	ID         int // dense index, 0..Len()-1, in topological order (upstream first)
	Key        Key
	Decl       AssetDecl
	Partitions PartitionsDef // Unpartitioned{} when the asset is not partitioned
	Deps       []Dep         // upstream dependencies, in declaration order
}

// Dep is an edge from an asset to one upstream asset.
type Dep struct {
	Upstream Key
	UpID     int
	Mapping  Mapping
	Decl     DepDecl
}

// Graph is a validated, immutable asset graph.
type Graph struct {
	assets []*Asset
	byKey  map[Key]*Asset
	down   [][]int // downstream asset IDs per asset ID
}

// NewGraph validates decls (each asset and across assets) and builds the
// graph. Errors are *ValidationError with field paths like
// "assets[3].deps[0].mapping.time_window.start_offset".
func NewGraph(decls []AssetDecl) (*Graph, error) { return nil, errors.New("graph: not built yet") }

// Len returns the number of assets.
func (g *Graph) Len() int { return len(g.assets) }

// Assets returns the assets in topological order (upstream first).
func (g *Graph) Assets() []*Asset { return g.assets }

// Asset returns the asset with key k.
func (g *Graph) Asset(k Key) (*Asset, bool) { a, ok := g.byKey[k]; return a, ok }

// ByID returns the asset with the given ID.
func (g *Graph) ByID(id int) *Asset { return g.assets[id] }

// Downstream returns the IDs of the assets that depend on asset id.
func (g *Graph) Downstream(id int) []int { return g.down[id] }
