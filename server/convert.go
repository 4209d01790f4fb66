package server

import (
	"math"
	"sort"
	"strconv"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/strata-data/strata/asset"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// Conversion between the protobuf declaration messages (strata.v1.AssetDecl
// and its sub-messages) and asset.AssetDecl.
//
// The two shapes are the same field by field, so the conversion is lossless
// both ways for every declaration the domain accepts, with these notes:
//   - Durations and byte sizes are strings in the proto. Converting to the
//     proto writes them with Duration.String and ByteSize.String ("30m0s",
//     "4GiB"); converting from the proto parses them, and a string that does
//     not parse is a field error. The zero value is the empty string.
//   - Integers are int32 in the proto (protobuf JSON writes int64 as a
//     string, which would change the shape). Converting to the proto
//     saturates values outside the int32 range; no valid declaration has one.
//   - Empty lists and maps come back as nil.
//   - A nil entry in MappingDecl.Multi becomes an empty mapping, which
//     validation rejects just as it rejects the nil.
//
// Converting from the proto checks only what the proto's types cannot
// express (a duration string that does not parse, a non-string in a static
// mapping list); everything else is left to asset.AssetDecl.Validate and
// asset.NewGraph, which report with the same field paths.

// DeclsFromProto converts the declarations of an ApplyAssets request. Field
// paths in errors start with "assets[i]", the path of the declaration in the
// request. It returns a *asset.ValidationError carrying every problem found.
func DeclsFromProto(ps []*stratav1.AssetDecl) ([]asset.AssetDecl, error) {
	var ve asset.ValidationError
	out := make([]asset.AssetDecl, len(ps))
	for i, p := range ps {
		out[i] = declFromProto(p, "assets["+strconv.Itoa(i)+"]", &ve)
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// DeclFromProto converts one declaration. field is the path of p in its
// request (e.g. "assets[3]"), prefixed to the field paths of errors; empty
// means p is the root. It returns a *asset.ValidationError on failure.
func DeclFromProto(p *stratav1.AssetDecl, field string) (asset.AssetDecl, error) {
	var ve asset.ValidationError
	d := declFromProto(p, field, &ve)
	if err := ve.Err(); err != nil {
		return asset.AssetDecl{}, err
	}
	return d, nil
}

// DeclsToProto converts declarations to their protobuf form.
func DeclsToProto(ds []asset.AssetDecl) []*stratav1.AssetDecl {
	if len(ds) == 0 {
		return nil
	}
	out := make([]*stratav1.AssetDecl, len(ds))
	for i := range ds {
		out[i] = DeclToProto(&ds[i])
	}
	return out
}

// DeclToProto converts a declaration to its protobuf form. A nil d gives nil.
func DeclToProto(d *asset.AssetDecl) *stratav1.AssetDecl {
	if d == nil {
		return nil
	}
	return &stratav1.AssetDecl{
		Key:            d.Key,
		Description:    d.Description,
		Group:          d.Group,
		Owners:         cloneStrings(d.Owners),
		Tags:           cloneMap(d.Tags),
		CodeVersion:    d.CodeVersion,
		Partitions:     partitionsToProto(d.Partitions),
		Deps:           depsToProto(d.Deps),
		Compute:        computeToProto(d.Compute),
		Retry:          retryToProto(d.Retry),
		Freshness:      freshnessToProto(d.Freshness),
		Automation:     automationToProto(d.Automation),
		BackfillPolicy: backfillPolicyToProto(d.BackfillPolicy),
		Resources:      resourcesToProto(d.Resources),
		Output:         d.Output,
	}
}

// MappingToProto converts a partition mapping (e.g. for a lineage edge). A
// nil m gives nil.
func MappingToProto(m *asset.MappingDecl) *stratav1.MappingDecl {
	if m == nil {
		return nil
	}
	p := &stratav1.MappingDecl{
		Identity:          emptyToProto(m.Identity),
		TimeWindow:        timeWindowMappingToProto(m.TimeWindow),
		All:               emptyToProto(m.All),
		Last:              emptyToProto(m.Last),
		Specific:          cloneStrings(m.Specific),
		LatestOverlapping: emptyToProto(m.LatestOverlapping),
	}
	if len(m.Static) > 0 {
		p.Static = make(map[string]*structpb.ListValue, len(m.Static))
		for k, keys := range m.Static {
			lv := &structpb.ListValue{Values: make([]*structpb.Value, len(keys))}
			for i, key := range keys {
				lv.Values[i] = structpb.NewStringValue(key)
			}
			p.Static[k] = lv
		}
	}
	if len(m.Multi) > 0 {
		p.Multi = make(map[string]*stratav1.MappingDecl, len(m.Multi))
		for dim, sub := range m.Multi {
			ps := MappingToProto(sub)
			if ps == nil {
				ps = &stratav1.MappingDecl{}
			}
			p.Multi[dim] = ps
		}
	}
	return p
}

// MappingFromProto converts a partition mapping. field is the path of p,
// prefixed to the field paths of errors. A nil p gives nil.
func MappingFromProto(p *stratav1.MappingDecl, field string) (*asset.MappingDecl, error) {
	var ve asset.ValidationError
	m := mappingFromProto(p, field, &ve)
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

func declFromProto(p *stratav1.AssetDecl, field string, ve *asset.ValidationError) asset.AssetDecl {
	return asset.AssetDecl{
		Key:            p.GetKey(),
		Description:    p.GetDescription(),
		Group:          p.GetGroup(),
		Owners:         cloneStrings(p.GetOwners()),
		Tags:           cloneMap(p.GetTags()),
		CodeVersion:    p.GetCodeVersion(),
		Partitions:     partitionsFromProto(p.GetPartitions()),
		Deps:           depsFromProto(p.GetDeps(), join(field, "deps"), ve),
		Compute:        computeFromProto(p.GetCompute(), join(field, "compute"), ve),
		Retry:          retryFromProto(p.GetRetry(), join(field, "retry"), ve),
		Freshness:      freshnessFromProto(p.GetFreshness(), join(field, "freshness"), ve),
		Automation:     automationFromProto(p.GetAutomation()),
		BackfillPolicy: backfillPolicyFromProto(p.GetBackfillPolicy()),
		Resources:      resourcesFromProto(p.GetResources(), join(field, "resources"), ve),
		Output:         p.GetOutput(),
	}
}

// Partitions.

func partitionsToProto(d *asset.PartitionsDecl) *stratav1.PartitionsDecl {
	if d == nil {
		return nil
	}
	p := &stratav1.PartitionsDecl{
		TimeWindow: timeWindowToProto(d.TimeWindow),
		Static:     cloneStrings(d.Static),
		Dynamic:    dynamicToProto(d.Dynamic),
	}
	if len(d.Multi) > 0 {
		p.Multi = make([]*stratav1.DimensionDecl, len(d.Multi))
		for i, dim := range d.Multi {
			p.Multi[i] = &stratav1.DimensionDecl{
				Name:       dim.Name,
				TimeWindow: timeWindowToProto(dim.TimeWindow),
				Static:     cloneStrings(dim.Static),
				Dynamic:    dynamicToProto(dim.Dynamic),
			}
		}
	}
	return p
}

func partitionsFromProto(p *stratav1.PartitionsDecl) *asset.PartitionsDecl {
	if p == nil {
		return nil
	}
	d := &asset.PartitionsDecl{
		TimeWindow: timeWindowFromProto(p.GetTimeWindow()),
		Static:     cloneStrings(p.GetStatic()),
		Dynamic:    dynamicFromProto(p.GetDynamic()),
	}
	if dims := p.GetMulti(); len(dims) > 0 {
		d.Multi = make([]asset.DimensionDecl, len(dims))
		for i, dim := range dims {
			d.Multi[i] = asset.DimensionDecl{
				Name:       dim.GetName(),
				TimeWindow: timeWindowFromProto(dim.GetTimeWindow()),
				Static:     cloneStrings(dim.GetStatic()),
				Dynamic:    dynamicFromProto(dim.GetDynamic()),
			}
		}
	}
	return d
}

func timeWindowToProto(d *asset.TimeWindowDecl) *stratav1.TimeWindowDecl {
	if d == nil {
		return nil
	}
	p := &stratav1.TimeWindowDecl{
		Schedule:     d.Schedule,
		Cron:         d.Cron,
		MinuteOffset: toInt32(d.MinuteOffset),
		HourOffset:   toInt32(d.HourOffset),
		Start:        d.Start,
		End:          d.End,
		Timezone:     d.Timezone,
		Fmt:          d.Fmt,
		EndOffset:    toInt32(d.EndOffset),
	}
	if d.DayOffset != nil {
		v := toInt32(*d.DayOffset)
		p.DayOffset = &v
	}
	return p
}

func timeWindowFromProto(p *stratav1.TimeWindowDecl) *asset.TimeWindowDecl {
	if p == nil {
		return nil
	}
	d := &asset.TimeWindowDecl{
		Schedule:     p.GetSchedule(),
		Cron:         p.GetCron(),
		MinuteOffset: int(p.GetMinuteOffset()),
		HourOffset:   int(p.GetHourOffset()),
		Start:        p.GetStart(),
		End:          p.GetEnd(),
		Timezone:     p.GetTimezone(),
		Fmt:          p.GetFmt(),
		EndOffset:    int(p.GetEndOffset()),
	}
	if p.DayOffset != nil {
		v := int(p.GetDayOffset())
		d.DayOffset = &v
	}
	return d
}

func dynamicToProto(d *asset.DynamicDecl) *stratav1.DynamicDecl {
	if d == nil {
		return nil
	}
	return &stratav1.DynamicDecl{Name: d.Name}
}

func dynamicFromProto(p *stratav1.DynamicDecl) *asset.DynamicDecl {
	if p == nil {
		return nil
	}
	return &asset.DynamicDecl{Name: p.GetName()}
}

// Dependencies and mappings.

func depsToProto(ds []asset.DepDecl) []*stratav1.DepDecl {
	if len(ds) == 0 {
		return nil
	}
	out := make([]*stratav1.DepDecl, len(ds))
	for i, d := range ds {
		out[i] = &stratav1.DepDecl{Asset: d.Asset, Mapping: MappingToProto(d.Mapping)}
	}
	return out
}

func depsFromProto(ps []*stratav1.DepDecl, field string, ve *asset.ValidationError) []asset.DepDecl {
	if len(ps) == 0 {
		return nil
	}
	out := make([]asset.DepDecl, len(ps))
	for i, p := range ps {
		out[i] = asset.DepDecl{
			Asset:   p.GetAsset(),
			Mapping: mappingFromProto(p.GetMapping(), index(field, i)+".mapping", ve),
		}
	}
	return out
}

func mappingFromProto(p *stratav1.MappingDecl, field string, ve *asset.ValidationError) *asset.MappingDecl {
	if p == nil {
		return nil
	}
	m := &asset.MappingDecl{
		Identity:          emptyFromProto(p.GetIdentity()),
		TimeWindow:        timeWindowMappingFromProto(p.GetTimeWindow()),
		All:               emptyFromProto(p.GetAll()),
		Last:              emptyFromProto(p.GetLast()),
		Specific:          cloneStrings(p.GetSpecific()),
		LatestOverlapping: emptyFromProto(p.GetLatestOverlapping()),
	}
	if static := p.GetStatic(); len(static) > 0 {
		m.Static = make(map[string][]string, len(static))
		for _, k := range sortedKeys(static) {
			kf := mapKey(join(field, "static"), k)
			values := static[k].GetValues()
			keys := make([]string, 0, len(values))
			for i, v := range values {
				s, ok := v.GetKind().(*structpb.Value_StringValue)
				if !ok {
					ve.Add(index(kf, i), "upstream partition key must be a string, not %s", valueKind(v))
					continue
				}
				keys = append(keys, s.StringValue)
			}
			m.Static[k] = keys
		}
	}
	if multi := p.GetMulti(); len(multi) > 0 {
		m.Multi = make(map[string]*asset.MappingDecl, len(multi))
		for _, dim := range sortedKeys(multi) {
			sub := mappingFromProto(multi[dim], mapKey(join(field, "multi"), dim), ve)
			if sub == nil {
				sub = &asset.MappingDecl{}
			}
			m.Multi[dim] = sub
		}
	}
	return m
}

func timeWindowMappingToProto(d *asset.TimeWindowMappingDecl) *stratav1.TimeWindowMappingDecl {
	if d == nil {
		return nil
	}
	return &stratav1.TimeWindowMappingDecl{
		StartOffset:              toInt32(d.StartOffset),
		EndOffset:                toInt32(d.EndOffset),
		AllowNonexistentUpstream: d.AllowNonexistentUpstream,
	}
}

func timeWindowMappingFromProto(p *stratav1.TimeWindowMappingDecl) *asset.TimeWindowMappingDecl {
	if p == nil {
		return nil
	}
	return &asset.TimeWindowMappingDecl{
		StartOffset:              int(p.GetStartOffset()),
		EndOffset:                int(p.GetEndOffset()),
		AllowNonexistentUpstream: p.GetAllowNonexistentUpstream(),
	}
}

func emptyToProto(e *asset.Empty) *emptypb.Empty {
	if e == nil {
		return nil
	}
	return &emptypb.Empty{}
}

func emptyFromProto(e *emptypb.Empty) *asset.Empty {
	if e == nil {
		return nil
	}
	return &asset.Empty{}
}

// Compute and policies.

func computeToProto(d *asset.ComputeDecl) *stratav1.ComputeDecl {
	if d == nil {
		return nil
	}
	return &stratav1.ComputeDecl{
		Command:   cloneStrings(d.Command),
		Image:     d.Image,
		Env:       cloneMap(d.Env),
		Workdir:   d.Workdir,
		Timeout:   durationToProto(d.Timeout),
		Shardable: d.Shardable,
	}
}

func computeFromProto(p *stratav1.ComputeDecl, field string, ve *asset.ValidationError) *asset.ComputeDecl {
	if p == nil {
		return nil
	}
	return &asset.ComputeDecl{
		Command:   cloneStrings(p.GetCommand()),
		Image:     p.GetImage(),
		Env:       cloneMap(p.GetEnv()),
		Workdir:   p.GetWorkdir(),
		Timeout:   durationFromProto(p.GetTimeout(), join(field, "timeout"), ve),
		Shardable: p.GetShardable(),
	}
}

func retryToProto(d *asset.RetryDecl) *stratav1.RetryDecl {
	if d == nil {
		return nil
	}
	return &stratav1.RetryDecl{
		MaxAttempts: toInt32(d.MaxAttempts),
		Backoff:     durationToProto(d.Backoff),
	}
}

func retryFromProto(p *stratav1.RetryDecl, field string, ve *asset.ValidationError) *asset.RetryDecl {
	if p == nil {
		return nil
	}
	return &asset.RetryDecl{
		MaxAttempts: int(p.GetMaxAttempts()),
		Backoff:     durationFromProto(p.GetBackoff(), join(field, "backoff"), ve),
	}
}

func freshnessToProto(d *asset.FreshnessDecl) *stratav1.FreshnessDecl {
	if d == nil {
		return nil
	}
	return &stratav1.FreshnessDecl{
		MaxLag:       durationToProto(d.MaxLag),
		WarnLag:      durationToProto(d.WarnLag),
		CronDeadline: d.CronDeadline,
		Timezone:     d.Timezone,
	}
}

func freshnessFromProto(p *stratav1.FreshnessDecl, field string, ve *asset.ValidationError) *asset.FreshnessDecl {
	if p == nil {
		return nil
	}
	return &asset.FreshnessDecl{
		MaxLag:       durationFromProto(p.GetMaxLag(), join(field, "max_lag"), ve),
		WarnLag:      durationFromProto(p.GetWarnLag(), join(field, "warn_lag"), ve),
		CronDeadline: p.GetCronDeadline(),
		Timezone:     p.GetTimezone(),
	}
}

func automationToProto(d *asset.AutomationDecl) *stratav1.AutomationDecl {
	if d == nil {
		return nil
	}
	return &stratav1.AutomationDecl{Condition: d.Condition, Cron: d.Cron}
}

func automationFromProto(p *stratav1.AutomationDecl) *asset.AutomationDecl {
	if p == nil {
		return nil
	}
	return &asset.AutomationDecl{Condition: p.GetCondition(), Cron: p.GetCron()}
}

func backfillPolicyToProto(d *asset.BackfillPolicyDecl) *stratav1.BackfillPolicyDecl {
	if d == nil {
		return nil
	}
	return &stratav1.BackfillPolicyDecl{MaxPartitionsPerRun: toInt32(d.MaxPartitionsPerRun)}
}

func backfillPolicyFromProto(p *stratav1.BackfillPolicyDecl) *asset.BackfillPolicyDecl {
	if p == nil {
		return nil
	}
	return &asset.BackfillPolicyDecl{MaxPartitionsPerRun: int(p.GetMaxPartitionsPerRun())}
}

func resourcesToProto(d *asset.ResourcesDecl) *stratav1.ResourcesDecl {
	if d == nil {
		return nil
	}
	p := &stratav1.ResourcesDecl{Cpus: d.CPUs}
	if d.Memory != 0 {
		p.Memory = d.Memory.String()
	}
	return p
}

func resourcesFromProto(p *stratav1.ResourcesDecl, field string, ve *asset.ValidationError) *asset.ResourcesDecl {
	if p == nil {
		return nil
	}
	d := &asset.ResourcesDecl{CPUs: p.GetCpus()}
	if s := p.GetMemory(); s != "" {
		b, err := asset.ParseByteSize(s)
		if err != nil {
			ve.Add(join(field, "memory"), "%v", err)
		}
		d.Memory = b
	}
	return d
}

// Scalars and paths.

func durationToProto(d asset.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func durationFromProto(s, field string, ve *asset.ValidationError) asset.Duration {
	if s == "" {
		return 0
	}
	d, err := asset.ParseDuration(s)
	if err != nil {
		ve.Add(field, "%v", err)
		return 0
	}
	return d
}

// toInt32 saturates v to the int32 range.
func toInt32(v int) int32 {
	switch {
	case v > math.MaxInt32:
		return math.MaxInt32
	case v < math.MinInt32:
		return math.MinInt32
	}
	return int32(v)
}

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func valueKind(v *structpb.Value) string {
	switch v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		return "a number"
	case *structpb.Value_BoolValue:
		return "a boolean"
	case *structpb.Value_StructValue:
		return "an object"
	case *structpb.Value_ListValue:
		return "a list"
	default:
		return "null"
	}
}

// join appends a field name to a path: join("assets[3]", "compute") is
// "assets[3].compute" and join("", "compute") is "compute".
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// index appends a list index to a path: "deps" becomes "deps[2]".
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// mapKey appends a quoted map key to a path: "static" becomes
// `static["2024-01-01"]`.
func mapKey(path, key string) string {
	return path + "[" + strconv.Quote(key) + "]"
}
