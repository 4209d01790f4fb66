package asset

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds on the free-form fields of a declaration. They keep a catalog row,
// an API message and a UI card of sensible size.
const (
	MaxDescriptionLength = 4096
	MaxGroupLength       = 128
	MaxOwners            = 64
	MaxOwnerLength       = 256
	MaxTags              = 64
	MaxTagKeyLength      = 128
	MaxTagValueLength    = 1024
	MaxCodeVersionLength = 256
	MaxDeps              = 1024
	MaxRetryAttempts     = 100
	MaxOutputLength      = 4096
)

// Validate checks one asset declaration on its own (no other assets needed):
// key, owners, tags, compute, retry, freshness, automation, backfill policy,
// resources, the partitions definition, and the shape of each dep and
// mapping. It returns a *ValidationError whose field paths are relative to
// the asset ("partitions.time_window.cron", "deps[0].mapping"), or nil.
//
// Whether a mapping fits the two definitions it connects needs the upstream
// asset, so NewGraph checks it, with duplicate keys, unknown deps and cycles.
func (d *AssetDecl) Validate() error {
	var ve ValidationError
	d.declCheck(&ve, "", true)
	return ve.Err()
}

// validateShape is Validate without building the partitions definition, for
// NewGraph, which builds (and shares) every definition itself and reports its
// errors under the same field paths.
func (d *AssetDecl) validateShape() error {
	var ve ValidationError
	d.declCheck(&ve, "", false)
	return ve.Err()
}

// Validate checks every asset of f on its own (see AssetDecl.Validate), with
// field paths prefixed "assets[i].". Checks across assets (duplicate keys,
// unknown deps, cycles, mapping compatibility) are NewGraph's.
func (f *File) Validate() error {
	var ve ValidationError
	for i := range f.Assets {
		f.Assets[i].declCheck(&ve, "assets["+strconv.Itoa(i)+"].", true)
	}
	return ve.Err()
}

func (d *AssetDecl) declCheck(ve *ValidationError, p string, withPartitions bool) {
	if _, err := ParseKey(d.Key); err != nil {
		ve.Add(p+"key", "%v", err)
	}
	if n := utf8.RuneCountInString(d.Description); n > MaxDescriptionLength {
		ve.Add(p+"description", "is %d characters long, more than %d", n, MaxDescriptionLength)
	}
	if d.Group != "" {
		if len(d.Group) > MaxGroupLength {
			ve.Add(p+"group", "is %d characters long, more than %d", len(d.Group), MaxGroupLength)
		} else if !declCheckIsIdent(d.Group) {
			ve.Add(p+"group", "%q: a group takes only a-z, 0-9 and _", d.Group)
		}
	}
	declCheckOwners(ve, p+"owners", d.Owners)
	declCheckTags(ve, p+"tags", d.Tags)
	if len(d.CodeVersion) > MaxCodeVersionLength {
		ve.Add(p+"code_version", "is %d characters long, more than %d", len(d.CodeVersion), MaxCodeVersionLength)
	}
	if d.Partitions != nil && withPartitions {
		if _, err := BuildPartitionsDef(d.Partitions); err != nil {
			declCheckMerge(ve, p+"partitions", err)
		}
	}
	declCheckDeps(ve, p+"deps", d.Deps)
	if d.Compute != nil {
		declCheckCompute(ve, p+"compute", d.Compute)
	}
	if r := d.Retry; r != nil {
		if r.MaxAttempts < 1 || r.MaxAttempts > MaxRetryAttempts {
			ve.Add(p+"retry.max_attempts", "must be between 1 and %d, got %d", MaxRetryAttempts, r.MaxAttempts)
		}
		if r.Backoff < 0 {
			ve.Add(p+"retry.backoff", "must not be negative, got %s", time.Duration(r.Backoff))
		}
	}
	if d.Freshness != nil {
		declCheckFreshness(ve, p+"freshness", d.Freshness)
	}
	if d.Automation != nil {
		declCheckAutomation(ve, p+"automation", d.Automation)
	}
	if b := d.BackfillPolicy; b != nil && b.MaxPartitionsPerRun < 1 {
		ve.Add(p+"backfill_policy.max_partitions_per_run", "must be at least 1, got %d", b.MaxPartitionsPerRun)
	}
	if r := d.Resources; r != nil {
		if r.Memory < 0 {
			ve.Add(p+"resources.memory", "must not be negative, got %d", int64(r.Memory))
		}
		if r.CPUs < 0 || math.IsNaN(r.CPUs) || math.IsInf(r.CPUs, 0) {
			ve.Add(p+"resources.cpus", "must be a number >= 0, got %v", r.CPUs)
		}
	}
	if d.Output != "" {
		declCheckOutput(ve, p+"output", d.Output, d.Partitions != nil)
	}
}

// declCheckMerge adds the field errors of err under prefix (or err itself at
// prefix when it carries none).
func declCheckMerge(ve *ValidationError, prefix string, err error) {
	fes := FieldErrors(err)
	if len(fes) == 0 {
		ve.Add(prefix, "%v", err)
		return
	}
	for _, fe := range fes {
		c := *fe
		switch {
		case c.Field == "":
			c.Field = prefix
		case strings.HasPrefix(c.Field, "["):
			c.Field = prefix + c.Field
		default:
			c.Field = prefix + "." + c.Field
		}
		ve.Errors = append(ve.Errors, &c)
	}
}

// declCheckIsIdent reports whether s is non-empty and takes only a-z, 0-9, _.
func declCheckIsIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func declCheckOwners(ve *ValidationError, p string, owners []string) {
	if len(owners) > MaxOwners {
		ve.Add(p, "has %d owners, more than %d", len(owners), MaxOwners)
		return
	}
	seen := map[string]int{}
	for i, o := range owners {
		f := fmt.Sprintf("%s[%d]", p, i)
		switch {
		case strings.TrimSpace(o) == "":
			ve.Add(f, "owner is empty")
		case len(o) > MaxOwnerLength:
			ve.Add(f, "is %d characters long, more than %d", len(o), MaxOwnerLength)
		default:
			if j, ok := seen[o]; ok {
				ve.Add(f, "duplicate owner %q (also %s[%d])", o, p, j)
			}
			seen[o] = i
		}
	}
}

func declCheckTags(ve *ValidationError, p string, tags map[string]string) {
	if len(tags) > MaxTags {
		ve.Add(p, "has %d tags, more than %d", len(tags), MaxTags)
		return
	}
	for _, k := range declSortedKeys(tags) {
		f := p + "." + k
		switch {
		case strings.TrimSpace(k) == "":
			ve.Add(p, "tag name is empty")
		case len(k) > MaxTagKeyLength:
			ve.Add(f, "tag name is %d characters long, more than %d", len(k), MaxTagKeyLength)
		case len(tags[k]) > MaxTagValueLength:
			ve.Add(f, "tag value is %d characters long, more than %d", len(tags[k]), MaxTagValueLength)
		}
	}
}

func declCheckDeps(ve *ValidationError, p string, deps []DepDecl) {
	if len(deps) > MaxDeps {
		ve.Add(p, "has %d dependencies, more than %d", len(deps), MaxDeps)
		return
	}
	seen := map[string]int{}
	for i := range deps {
		dep := &deps[i]
		f := fmt.Sprintf("%s[%d]", p, i)
		if _, err := ParseKey(dep.Asset); err != nil {
			ve.Add(f+".asset", "%v", err)
		} else if j, ok := seen[dep.Asset]; ok {
			ve.Add(f+".asset", "duplicate dependency on %q (also %s[%d])", dep.Asset, p, j)
		} else {
			seen[dep.Asset] = i
		}
		if dep.Mapping != nil {
			declCheckMappingShape(ve, f+".mapping", dep.Mapping, 0)
		}
	}
}

// declCheckMappingKinds returns the names of the kinds set in m.
func declCheckMappingKinds(m *MappingDecl) []string {
	var kinds []string
	add := func(set bool, name string) {
		if set {
			kinds = append(kinds, name)
		}
	}
	add(m.Identity != nil, "identity")
	add(m.TimeWindow != nil, "time_window")
	add(m.All != nil, "all")
	add(m.Last != nil, "last")
	add(m.Specific != nil, "specific")
	add(m.Static != nil, "static")
	add(m.LatestOverlapping != nil, "latest_overlapping")
	add(m.Multi != nil, "multi")
	return kinds
}

const declCheckMappingKindList = "identity, time_window, all, last, specific, static, latest_overlapping, multi"

// declCheckMappingShape checks what a mapping declaration says on its own:
// exactly one kind, and well-formed parameters. Whether it fits the two
// definitions is NewMapping's question.
func declCheckMappingShape(ve *ValidationError, p string, m *MappingDecl, depth int) {
	kinds := declCheckMappingKinds(m)
	switch len(kinds) {
	case 0:
		ve.Add(p, "set one mapping kind: %s", declCheckMappingKindList)
		return
	case 1:
	default:
		ve.Add(p, "set exactly one mapping kind, got %s", strings.Join(kinds, " and "))
		return
	}
	switch {
	case m.Specific != nil:
		if len(m.Specific) == 0 {
			ve.Add(p+".specific", "list at least one upstream partition key")
		}
		for i, k := range m.Specific {
			if k == "" {
				ve.Add(fmt.Sprintf("%s.specific[%d]", p, i), "partition key is empty")
			}
		}
	case m.Static != nil:
		if len(m.Static) == 0 {
			ve.Add(p+".static", "map at least one upstream partition key")
		}
		for _, up := range declSortedKeys(m.Static) {
			if up == "" {
				ve.Add(p+".static", "upstream partition key is empty")
				continue
			}
			for i, k := range m.Static[up] {
				if k == "" {
					ve.Add(fmt.Sprintf("%s.static.%s[%d]", p, up, i), "downstream partition key is empty")
				}
			}
		}
	case m.Multi != nil:
		if depth > 0 {
			ve.Add(p+".multi", "a multi mapping cannot nest inside another")
			return
		}
		if len(m.Multi) == 0 {
			ve.Add(p+".multi", "map at least one dimension")
		}
		for _, dim := range declSortedKeys(m.Multi) {
			f := p + ".multi." + dim
			if dim == "" {
				ve.Add(p+".multi", "dimension name is empty")
				continue
			}
			if m.Multi[dim] == nil {
				ve.Add(f, "set one mapping kind: %s", declCheckMappingKindList)
				continue
			}
			declCheckMappingShape(ve, f, m.Multi[dim], depth+1)
		}
	}
}

func declCheckCompute(ve *ValidationError, p string, c *ComputeDecl) {
	switch {
	case len(c.Command) > 0 && c.Image != "":
		ve.Add(p, "set command or image, not both")
	case len(c.Command) == 0 && c.Image == "":
		ve.Add(p, "set command (argv) or image")
	}
	for i, arg := range c.Command {
		switch {
		case arg == "":
			ve.Add(fmt.Sprintf("%s.command[%d]", p, i), "argument is empty")
		case strings.ContainsRune(arg, 0):
			ve.Add(fmt.Sprintf("%s.command[%d]", p, i), "argument contains a NUL byte")
		}
	}
	if c.Image != "" && strings.ContainsAny(c.Image, " \t\n\x00") {
		ve.Add(p+".image", "image %q contains white space", c.Image)
	}
	if strings.ContainsRune(c.Workdir, 0) {
		ve.Add(p+".workdir", "contains a NUL byte")
	}
	if c.Timeout < 0 {
		ve.Add(p+".timeout", "must not be negative, got %s", time.Duration(c.Timeout))
	}
	for _, k := range declSortedKeys(c.Env) {
		f := p + ".env." + k
		switch {
		case !declCheckIsEnvName(k):
			ve.Add(f, "%q is not an environment variable name (letters, digits and _, not starting with a digit)", k)
		case strings.HasPrefix(strings.ToUpper(k), "STRATA_"):
			ve.Add(f, "names starting with STRATA_ are reserved for the job protocol")
		case strings.ContainsRune(c.Env[k], 0):
			ve.Add(f, "value contains a NUL byte")
		}
	}
}

func declCheckIsEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func declCheckFreshness(ve *ValidationError, p string, f *FreshnessDecl) {
	switch {
	case f.MaxLag < 0:
		ve.Add(p+".max_lag", "must not be negative, got %s", time.Duration(f.MaxLag))
	case f.MaxLag > 0 && f.CronDeadline != "":
		ve.Add(p, "set max_lag or cron_deadline, not both")
	case f.MaxLag == 0 && f.CronDeadline == "":
		ve.Add(p, "set max_lag (e.g. 2h) or cron_deadline (e.g. \"0 9 * * *\")")
	}
	if f.CronDeadline != "" {
		if _, err := ParseCron(f.CronDeadline); err != nil {
			ve.Add(p+".cron_deadline", "%v", err)
		}
	}
	switch {
	case f.WarnLag < 0:
		ve.Add(p+".warn_lag", "must not be negative, got %s", time.Duration(f.WarnLag))
	case f.WarnLag > 0 && f.MaxLag > 0 && f.WarnLag >= f.MaxLag:
		ve.Add(p+".warn_lag", "must be less than max_lag (%s), got %s", f.MaxLag, f.WarnLag)
	}
	if f.Timezone != "" {
		if err := declCheckTimezone(f.Timezone); err != nil {
			ve.Add(p+".timezone", "%v", err)
		}
	}
}

func declCheckTimezone(tz string) error {
	if tz == "Local" {
		return fmt.Errorf("time zone %q depends on the machine; name an IANA zone such as Europe/Berlin", tz)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return fmt.Errorf("unknown time zone %q", tz)
	}
	return nil
}

func declCheckAutomation(ve *ValidationError, p string, a *AutomationDecl) {
	switch a.Condition {
	case AutomationOnCron:
		if a.Cron == "" {
			ve.Add(p+".cron", "on_cron needs a cron expression, e.g. {on_cron: \"0 * * * *\"}")
		} else if _, err := ParseCron(a.Cron); err != nil {
			ve.Add(p+".cron", "%v", err)
		}
	case AutomationNone, AutomationEager, AutomationOnMissing:
		if a.Cron != "" {
			ve.Add(p+".cron", "only on_cron takes a cron expression, not %s", a.Condition)
		}
	case "":
		ve.Add(p+".condition", "set one of none, eager, on_missing, on_cron")
	default:
		ve.Add(p+".condition", "unknown condition %q; use none, eager, on_missing or on_cron%s",
			a.Condition, yamlDidYouMean(a.Condition, []string{AutomationNone, AutomationEager, AutomationOnCron, AutomationOnMissing}))
	}
}

// declCheckOutput checks an output location template: a plain path or a
// file:// URL, with only the {asset} and {partition} placeholders.
func declCheckOutput(ve *ValidationError, p, out string, partitioned bool) {
	if len(out) > MaxOutputLength {
		ve.Add(p, "is %d characters long, more than %d", len(out), MaxOutputLength)
		return
	}
	if strings.ContainsRune(out, 0) {
		ve.Add(p, "contains a NUL byte")
		return
	}
	if scheme, rest, ok := strings.Cut(out, "://"); ok {
		if scheme != "file" {
			ve.Add(p, "unsupported scheme %q in %q; use file:///path or a plain path", scheme, out)
			return
		}
		if !strings.HasPrefix(rest, "/") {
			ve.Add(p, "%q: a file:// URL takes an absolute path (file:///lake/...)", out)
			return
		}
	}
	hasPartition := false
	for s := out; ; {
		i := strings.IndexAny(s, "{}")
		if i < 0 {
			break
		}
		if s[i] == '}' {
			ve.Add(p, "unmatched } in %q", out)
			return
		}
		j := strings.IndexAny(s[i+1:], "{}")
		if j < 0 || s[i+1+j] == '{' {
			ve.Add(p, "unclosed { in %q", out)
			return
		}
		switch name := s[i+1 : i+1+j]; name {
		case "asset":
		case "partition":
			hasPartition = true
		default:
			ve.Add(p, "unknown placeholder {%s} in %q; use {asset} and {partition}", name, out)
			return
		}
		s = s[i+1+j+1:]
	}
	if partitioned && !hasPartition {
		ve.Add(p, "%q has no {partition}: every partition of a partitioned asset would write to the same place", out)
	}
}

// declSortedKeys returns the keys of m in order, so problems are reported
// in the same order every time.
func declSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
