package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// cmdLineage runs `strata lineage SELECTION [--depth N]`: the asset graph
// around a selection, printed as a tree from its roots downstream.
func (c *cli) cmdLineage(args []string) error {
	fs := flag.NewFlagSet("strata lineage", flag.ContinueOnError)
	af := newAPIFlags(fs)
	depth := fs.Int("depth", 1, "hops to extend the selection upstream and downstream (-1: no limit)")
	up := fs.Int("upstream", -2, "hops upstream (default --depth)")
	down := fs.Int("downstream", -2, "hops downstream (default --depth)")
	pos, done, err := parseAPIFlags(fs, args)
	if done || err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageErrorf("lineage: want one selection (quote it), got %d arguments", len(pos))
	}
	sel := ""
	if len(pos) == 1 {
		sel = pos[0]
	}
	if *up == -2 {
		*up = *depth
	}
	if *down == -2 {
		*down = *depth
	}
	a, err := c.dial(af)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, cancel := a.ctx()
	defer cancel()
	resp, err := a.lineage().GetLineage(ctx, &stratav1.GetLineageRequest{Selection: sel, UpstreamDepth: int32(*up), DownstreamDepth: int32(*down)})
	if err != nil {
		return rpcError(err)
	}
	if ok, err := a.structured(resp); ok {
		return err
	}
	printLineage(c.stdout, resp)
	return nil
}

func printLineage(w io.Writer, g *stratav1.GetLineageResponse) {
	nodes := map[string]*stratav1.LineageNode{}
	for _, n := range g.Nodes {
		nodes[n.Key] = n
	}
	children := map[string][]*stratav1.LineageEdge{}
	hasUp := map[string]bool{}
	for _, e := range g.Edges {
		if e.Upstream == e.Downstream {
			continue
		}
		children[e.Upstream] = append(children[e.Upstream], e)
		hasUp[e.Downstream] = true
	}
	label := func(key string) string {
		n := nodes[key]
		s := key
		if n == nil {
			return s
		}
		if n.Selected {
			s += " *"
		}
		s += "  [" + n.PartitionsKind
		if sc := n.GetStatusCounts(); sc != nil {
			s += fmt.Sprintf(", %d/%d fresh", sc.GetFresh(), sc.GetTotal())
		}
		return s + "]"
	}
	shown := map[string]bool{}
	var walk func(key, prefix string)
	walk = func(key, prefix string) {
		kids := children[key]
		for i, e := range kids {
			last := i == len(kids)-1
			branch, next := "├── ", "│   "
			if last {
				branch, next = "└── ", "    "
			}
			fmt.Fprintf(w, "%s%s%s  (%s)\n", prefix, branch, label(e.Downstream), mappingName(e))
			if shown[e.Downstream] {
				if len(children[e.Downstream]) > 0 {
					fmt.Fprintf(w, "%s%s...\n", prefix, next)
				}
				continue
			}
			shown[e.Downstream] = true
			walk(e.Downstream, prefix+next)
		}
	}
	for _, n := range g.Nodes {
		if hasUp[n.Key] {
			continue
		}
		fmt.Fprintln(w, label(n.Key))
		shown[n.Key] = true
		walk(n.Key, "")
	}
	fmt.Fprintf(w, "%d assets, %d dependencies (* = selected)\n", len(g.Nodes), len(g.Edges))
}

func mappingName(e *stratav1.LineageEdge) string {
	m := e.GetMapping()
	var s string
	switch {
	case m == nil:
		s = "?"
	case m.GetIdentity() != nil:
		s = "identity"
	case m.GetTimeWindow() != nil:
		tw := m.GetTimeWindow()
		s = "time_window"
		if tw.GetStartOffset() != 0 || tw.GetEndOffset() != 0 {
			s += fmt.Sprintf(" %d..%d", tw.GetStartOffset(), tw.GetEndOffset())
		}
	case m.GetAll() != nil:
		s = "all"
	case m.GetLast() != nil:
		s = "last"
	case len(m.GetSpecific()) > 0:
		s = "specific " + strings.Join(m.GetSpecific(), ",")
	case len(m.GetStatic()) > 0:
		s = "static"
	case len(m.GetMulti()) > 0:
		s = "multi"
	case m.GetLatestOverlapping() != nil:
		s = "latest_overlapping"
	default:
		s = "?"
	}
	if e.DefaultMapping {
		s += ", default"
	}
	return s
}
