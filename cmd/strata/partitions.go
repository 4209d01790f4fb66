package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-data/strata/asset"
)

const partitionsUsage = `Usage: strata partitions <command> -f FILE --asset KEY [flags]

Inspect partitions from a declarations file (or a directory of them),
offline: no server is needed.

Commands:
  keys        the partition keys that exist at --now, with their windows
  window      the time window of one partition key
  upstream    the upstream partitions that downstream partitions read
  downstream  the downstream partitions that read upstream partitions

Run 'strata partitions <command> -h' for a command's flags.
`

func (c *cli) partitions(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, partitionsUsage)
		return usageErrorf("partitions: no command given")
	}
	switch args[0] {
	case "keys":
		return c.partitionsKeys(args[1:])
	case "window":
		return c.partitionsWindow(args[1:])
	case "upstream":
		return c.partitionsMap(args[1:], true)
	case "downstream":
		return c.partitionsMap(args[1:], false)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, partitionsUsage)
		return nil
	}
	fmt.Fprint(c.stderr, partitionsUsage)
	return usageErrorf("partitions: unknown command %q", args[0])
}

// partitionsOpts are the flags every partitions command takes.
type partitionsOpts struct {
	file, asset, output, now string
	dynamic                  dynamicFlag
}

func (c *cli) newPartitionsFlags(name, synopsis string) (*flag.FlagSet, *partitionsOpts) {
	fs := flag.NewFlagSet("strata partitions "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	o := &partitionsOpts{dynamic: dynamicFlag{}}
	fs.StringVar(&o.file, "f", "", "declarations `FILE` or directory of *.yaml files (required)")
	fs.StringVar(&o.asset, "asset", "", "asset `KEY` (required)")
	fs.StringVar(&o.output, "o", "table", "output format: table or json")
	fs.StringVar(&o.now, "now", "", "evaluate at `TIME` (RFC 3339 with an offset; default: the current time)")
	fs.Var(o.dynamic, "dynamic", "keys of a dynamic partitions definition, `NAME=k1,k2` (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: strata partitions %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs, o
}

// parseFlags parses args; done is true when the command should stop (help
// was printed, or an error that err carries).
func parseFlags(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, &exitError{code: exitUsage, err: errShown}
	}
	if fs.NArg() > 0 {
		return true, usageErrorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return false, nil
}

// partitionsEnv is what the commands work on once flags are read.
type partitionsEnv struct {
	graph *asset.Graph
	asset *asset.Asset
	now   time.Time
	dyn   asset.DynamicKeys
	json  bool
}

func (c *cli) partitionsEnv(o *partitionsOpts) (*partitionsEnv, error) {
	switch {
	case o.file == "":
		return nil, usageErrorf("-f FILE is required")
	case o.asset == "":
		return nil, usageErrorf("--asset KEY is required")
	case o.output != "table" && o.output != "json":
		return nil, usageErrorf("-o %q: use table or json", o.output)
	}
	now := c.now()
	if o.now != "" {
		t, err := time.Parse(time.RFC3339Nano, o.now)
		if err != nil {
			return nil, usageErrorf("--now %q: use RFC 3339 with an offset, e.g. 2026-03-01T00:00:00Z", o.now)
		}
		now = t
	}
	g, err := loadGraph(o.file)
	if err != nil {
		return nil, err
	}
	a, err := findAsset(g, o.asset)
	if err != nil {
		return nil, err
	}
	return &partitionsEnv{graph: g, asset: a, now: now, dyn: asset.DynamicKeysMap(o.dynamic), json: o.output == "json"}, nil
}

func findAsset(g *asset.Graph, key string) (*asset.Asset, error) {
	if a, ok := g.Asset(asset.Key(key)); ok {
		return a, nil
	}
	var keys []string
	for _, a := range g.Assets() {
		keys = append(keys, string(a.Key))
	}
	return nil, usageErrorf("--asset %q: no such asset; declared: %s", key, strings.Join(keys, ", "))
}

// noteDynamic warns that dynamic partitions have no keys offline unless
// --dynamic gives them.
func (c *cli) noteDynamic(a *asset.Asset, dyn asset.DynamicKeys) {
	for _, name := range dynamicNames(a.Partitions) {
		if len(dyn.DynamicPartitionKeys(name)) == 0 {
			fmt.Fprintf(c.stderr, "note: %s has dynamic partitions %q, whose keys are added over the API; offline there are none unless you pass --dynamic %s=k1,k2\n",
				a.Key, name, name)
		}
	}
}

func dynamicNames(def asset.PartitionsDef) []string {
	switch d := def.(type) {
	case *asset.DynamicDef:
		return []string{d.Name()}
	case *asset.MultiDef:
		var names []string
		for _, dim := range d.Dimensions() {
			names = append(names, dynamicNames(dim.Def)...)
		}
		return names
	}
	return nil
}

// location returns the time zone of the time windows of def, if it has any.
func location(def asset.PartitionsDef) (*time.Location, bool) {
	switch d := def.(type) {
	case *asset.TimeWindowDef:
		return d.Location(), true
	case *asset.MultiDef:
		for _, dim := range d.Dimensions() {
			if tw, ok := dim.Def.(*asset.TimeWindowDef); ok {
				return tw.Location(), true
			}
		}
	}
	return nil, false
}

// partitionJSON is one partition; static and dynamic keys have no window.
type partitionJSON struct {
	Key   string `json:"key"`
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

func windowJSON(key string, w asset.TimeWindow, loc *time.Location) partitionJSON {
	return partitionJSON{Key: key, Start: w.Start.In(loc).Format(time.RFC3339), End: w.End.In(loc).Format(time.RFC3339)}
}

// partitionAt returns partition i of parts with its window when it has one.
func partitionAt(parts asset.Partitions, i int64) partitionJSON {
	key := parts.Key(i)
	w, ok := parts.(asset.Windowed)
	if !ok {
		return partitionJSON{Key: key}
	}
	loc, ok := location(parts.Def())
	if !ok {
		return partitionJSON{Key: key}
	}
	return windowJSON(key, w.Window(i), loc)
}

func (c *cli) partitionsKeys(args []string) error {
	fs, o := c.newPartitionsFlags("keys", "keys -f FILE --asset KEY [--now T] [--offset N] [--limit N] [--from K] [--to K]")
	offset := fs.Int64("offset", 0, "skip the first `N` keys of the range")
	limit := fs.Int64("limit", 100, "print at most `N` keys")
	from := fs.String("from", "", "start the range at partition `KEY` (inclusive)")
	to := fs.String("to", "", "end the range at partition `KEY` (inclusive)")
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if *offset < 0 || *limit < 0 {
		return usageErrorf("--offset and --limit must not be negative")
	}
	env, err := c.partitionsEnv(o)
	if err != nil {
		return err
	}
	a := env.asset
	c.noteDynamic(a, env.dyn)
	parts := a.Partitions.At(env.now, env.dyn)
	lo, hi, err := keyRange(parts, *from, *to, fmt.Sprintf("of %s at %s", a.Key, env.now.Format(time.RFC3339)))
	if err != nil {
		return err
	}
	total := max(hi-lo+1, 0)
	out := struct {
		Total      int64           `json:"total"`
		Partitions []partitionJSON `json:"partitions"`
	}{Total: total, Partitions: []partitionJSON{}}
	for i := lo + min(*offset, total); i <= hi && int64(len(out.Partitions)) < *limit; i++ {
		out.Partitions = append(out.Partitions, partitionAt(parts, i))
	}
	if env.json {
		return writeJSON(c.stdout, out)
	}
	if err := printPartitions(c.stdout, a.Partitions, out.Partitions); err != nil {
		return err
	}
	if len(out.Partitions) == 0 {
		_, err = fmt.Fprintf(c.stdout, "(none shown; %d in range; %s: %s)\n", total, a.Key, a.Partitions)
		return err
	}
	first := *offset + 1
	_, err = fmt.Fprintf(c.stdout, "(%d-%d of %d; %s: %s)\n", first, first+int64(len(out.Partitions))-1, total, a.Key, a.Partitions)
	return err
}

// keyRange returns the inclusive index range of parts from key from to key
// to (either empty: from the first, to the last partition). of completes
// "is not a partition key" in errors.
func keyRange(parts asset.Partitions, from, to, of string) (lo, hi int64, err error) {
	lo, hi = 0, parts.Len()-1
	if from != "" {
		i, ok := parts.Index(from)
		if !ok {
			return 0, 0, failErrorf("--from %q is not a partition key %s", from, of)
		}
		lo = i
	}
	if to != "" {
		i, ok := parts.Index(to)
		if !ok {
			return 0, 0, failErrorf("--to %q is not a partition key %s", to, of)
		}
		hi = i
	}
	if from != "" && to != "" && lo > hi {
		return 0, 0, failErrorf("--from %q comes after --to %q", from, to)
	}
	return lo, hi, nil
}

// printPartitions prints a table of partitions, with their windows when the
// definition has them.
func printPartitions(w io.Writer, def asset.PartitionsDef, ps []partitionJSON) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	_, windowed := location(def)
	if windowed {
		fmt.Fprintln(tw, "KEY\tSTART\tEND")
	} else {
		fmt.Fprintln(tw, "KEY")
	}
	for _, p := range ps {
		if windowed {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", displayKey(p.Key), p.Start, p.End)
		} else {
			fmt.Fprintf(tw, "%s\n", displayKey(p.Key))
		}
	}
	return tw.Flush()
}

func displayKey(k string) string {
	if k == asset.UnpartitionedKey {
		return `""`
	}
	return k
}

func (c *cli) partitionsWindow(args []string) error {
	fs, o := c.newPartitionsFlags("window", "window -f FILE --asset KEY --key K")
	key := fs.String("key", "", "partition `KEY` (required)")
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if *key == "" {
		return usageErrorf("--key K is required")
	}
	env, err := c.partitionsEnv(o)
	if err != nil {
		return err
	}
	a := env.asset
	var out partitionJSON
	switch def := a.Partitions.(type) {
	case asset.Unpartitioned:
		return failErrorf("%s is not partitioned", a.Key)
	case *asset.TimeWindowDef:
		// Any key that parses has a window (PARTITIONS.md, "Keys that are
		// not window starts"), whether or not it exists yet.
		w, err := def.WindowForKey(*key)
		if err != nil {
			return failErrorf("%q is not a partition key of %s (%s): %v", *key, a.Key, def, err)
		}
		out = windowJSON(*key, w, def.Location())
	default:
		parts := def.At(env.now, env.dyn)
		i, ok := parts.Index(*key)
		if !ok {
			c.noteDynamic(a, env.dyn)
			return failErrorf("%q is not a partition key of %s (%s) at %s", *key, a.Key, def, env.now.Format(time.RFC3339))
		}
		out = partitionAt(parts, i)
	}
	if env.json {
		return writeJSON(c.stdout, out)
	}
	if out.Start == "" {
		_, err = fmt.Fprintf(c.stdout, "%s has no time window (%s)\n", out.Key, a.Partitions)
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "%s\t[%s, %s)\n", out.Key, out.Start, out.End)
	return err
}

// partitionsMap runs "upstream" (up is true) or "downstream".
func (c *cli) partitionsMap(args []string, up bool) error {
	name, keysOf := "downstream", "upstream"
	if up {
		name, keysOf = "upstream", "downstream"
	}
	fs, o := c.newPartitionsFlags(name, name+" -f FILE --asset DOWN --dep UP (--key K)... [--now T]")
	dep := fs.String("dep", "", "upstream asset `KEY` of --asset (required)")
	var keys stringsFlag
	fs.Var(&keys, "key", "partition `KEY` of the "+keysOf+" asset (repeatable; none when it is not partitioned)")
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if *dep == "" {
		return usageErrorf("--dep KEY is required")
	}
	env, err := c.partitionsEnv(o)
	if err != nil {
		return err
	}
	down := env.asset
	var d *asset.Dep
	var deps []string
	for i := range down.Deps {
		deps = append(deps, string(down.Deps[i].Upstream))
		if string(down.Deps[i].Upstream) == *dep {
			d = &down.Deps[i]
		}
	}
	if d == nil {
		return usageErrorf("--dep %q: %s does not depend on it (its deps: %s)", *dep, down.Key, strings.Join(deps, ", "))
	}
	upAsset := env.graph.ByID(d.UpID)
	downParts := down.Partitions.At(env.now, env.dyn)
	upParts := upAsset.Partitions.At(env.now, env.dyn)
	from, fromParts := down, downParts
	if !up {
		from, fromParts = upAsset, upParts
	}
	c.noteDynamic(from, env.dyn)
	in, err := subsetOf(from, fromParts, keys, env.now)
	if err != nil {
		return err
	}
	if up {
		res, err := d.Mapping.Upstream(in, upParts)
		if err != nil {
			return failErrorf("map %s to %s: %w", down.Key, upAsset.Key, err)
		}
		out := struct {
			Upstream []string `json:"upstream"`
			Missing  []string `json:"missing"`
		}{Upstream: keySlice(res.Partitions), Missing: append([]string{}, res.Missing...)}
		if env.json {
			return writeJSON(c.stdout, out)
		}
		printKeys(c.stdout, fmt.Sprintf("upstream partitions of %s", upAsset.Key), out.Upstream)
		printKeys(c.stdout, "required but nonexistent", out.Missing)
		return nil
	}
	res, err := d.Mapping.Downstream(in, downParts)
	if err != nil {
		return failErrorf("map %s to %s: %w", upAsset.Key, down.Key, err)
	}
	out := struct {
		Downstream []string `json:"downstream"`
	}{Downstream: keySlice(res)}
	if env.json {
		return writeJSON(c.stdout, out)
	}
	printKeys(c.stdout, fmt.Sprintf("downstream partitions of %s", down.Key), out.Downstream)
	return nil
}

// subsetOf builds the subset of parts named by keys; an unpartitioned asset
// takes no keys and gives its single partition.
func subsetOf(a *asset.Asset, parts asset.Partitions, keys []string, now time.Time) (*asset.Subset, error) {
	if a.Partitions.Kind() == asset.KindUnpartitioned {
		if len(keys) > 0 {
			return nil, usageErrorf("%s is not partitioned: give no --key", a.Key)
		}
		return asset.AllOf(parts), nil
	}
	if len(keys) == 0 {
		return nil, usageErrorf("give at least one --key of %s", a.Key)
	}
	s := asset.NewSubset(parts)
	for _, k := range keys {
		if !s.AddKey(k) {
			return nil, failErrorf("--key %q is not a partition key of %s at %s", k, a.Key, now.Format(time.RFC3339))
		}
	}
	return s, nil
}

func keySlice(s *asset.Subset) []string {
	if s == nil {
		return []string{}
	}
	return s.KeySlice()
}

func printKeys(w io.Writer, title string, keys []string) {
	fmt.Fprintf(w, "%s (%d):\n", title, len(keys))
	for _, k := range keys {
		fmt.Fprintf(w, "  %s\n", displayKey(k))
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// dynamicFlag collects --dynamic NAME=k1,k2 flags.
type dynamicFlag map[string][]string

func (d dynamicFlag) String() string { return "" }

func (d dynamicFlag) Set(v string) error {
	name, keys, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=k1,k2, got %q", v)
	}
	for _, k := range strings.Split(keys, ",") {
		if k != "" {
			d[name] = append(d[name], k)
		}
	}
	return nil
}
