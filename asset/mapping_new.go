package asset

import (
	"fmt"
	"sort"
)

// MaxMappingOffset bounds the start and end offsets of a time_window mapping.
const MaxMappingOffset = 100000

// NewMapping builds the mapping declared by decl between an upstream and a
// downstream definition. A nil decl takes the default:
//   - all when the downstream is unpartitioned (it reads every upstream
//     partition) and when the upstream is unpartitioned (its single partition);
//   - identity when both sides have the same definition;
//   - time_window(0, 0) between time-window definitions;
//   - multi between a multi-dimensional definition and a definition equal
//     to exactly one of its dimensions (Dagster's
//     MultiToSingleDimensionPartitionMapping), and between multi-dimensional
//     definitions with the same dimension names (each dimension takes its
//     own default);
//   - else an error that says no default mapping exists.
//
// Errors are *ValidationError with field names relative to the mapping
// ("time_window.start_offset", "static.eu", "multi.region").
func NewMapping(decl *MappingDecl, up, down PartitionsDef) (Mapping, error) {
	ve := &ValidationError{}
	if up == nil || down == nil {
		ve.Add("", "partitions definitions are missing")
		return nil, ve
	}
	m := newMapping(ve, "", decl, up, down)
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// DefaultMapping returns the mapping NewMapping takes for a nil declaration.
func DefaultMapping(up, down PartitionsDef) (Mapping, error) { return NewMapping(nil, up, down) }

func newMapping(ve *ValidationError, field string, decl *MappingDecl, up, down PartitionsDef) Mapping {
	if decl == nil {
		return defaultMapping(ve, field, up, down)
	}
	kinds := mappingKinds(decl)
	if len(kinds) != 1 {
		ve.Add(field, "set exactly one mapping kind (identity, time_window, all, last, specific, static, latest_overlapping, multi), got %d", len(kinds))
		return nil
	}
	_, upUnpart := up.(Unpartitioned)
	_, downUnpart := down.(Unpartitioned)
	f := func(s string) string { return joinField(field, s) }
	switch {
	case decl.Identity != nil:
		if up.Kind() != down.Kind() {
			ve.Add(f("identity"), "identity maps a partition to the upstream partition with the same key; it needs the same kind of partitions on both sides, got %s upstream and %s downstream", up.Kind(), down.Kind())
			return nil
		}
		return identityMapping{}
	case decl.TimeWindow != nil:
		sides, ok := timeWindowSides(ve, f("time_window"), "time_window", up, down)
		for _, o := range []struct {
			name string
			v    int
		}{{"start_offset", decl.TimeWindow.StartOffset}, {"end_offset", decl.TimeWindow.EndOffset}} {
			if o.v > MaxMappingOffset || o.v < -MaxMappingOffset {
				ve.Add(f("time_window."+o.name), "offset %d is out of range; at most %d windows either way", o.v, MaxMappingOffset)
				ok = false
			}
		}
		if !ok {
			return nil
		}
		return &timeWindowMapping{
			twSides: sides,
			start:   decl.TimeWindow.StartOffset,
			end:     decl.TimeWindow.EndOffset,
			allow:   decl.TimeWindow.AllowNonexistentUpstream,
		}
	case decl.LatestOverlapping != nil:
		sides, ok := timeWindowSides(ve, f("latest_overlapping"), "latest_overlapping", up, down)
		if !ok {
			return nil
		}
		return &latestOverlappingMapping{twSides: sides}
	case decl.All != nil:
		return allMapping{}
	case decl.Last != nil:
		return lastMapping{}
	case decl.Specific != nil:
		if len(decl.Specific) == 0 {
			ve.Add(f("specific"), "list at least one upstream partition key")
			return nil
		}
		before := len(ve.Errors)
		for i, k := range decl.Specific {
			if err := possibleKey(up, k); err != nil {
				ve.Add(fmt.Sprintf("%s[%d]", f("specific"), i), "%s", err.Error())
			}
		}
		if len(ve.Errors) > before {
			return nil
		}
		return specificMapping{keys: append([]string(nil), decl.Specific...)}
	case decl.Static != nil:
		before := len(ve.Errors)
		validateStaticMapping(ve, f("static"), decl.Static, up, down)
		if len(ve.Errors) > before {
			return nil
		}
		return newStaticMapping(decl.Static)
	case decl.Multi != nil:
		if upUnpart || downUnpart {
			ve.Add(f("multi"), "a multi mapping needs partitioned definitions on both sides")
			return nil
		}
		return newMultiMapping(ve, f("multi"), decl.Multi, up, down)
	}
	return nil
}

func mappingKinds(d *MappingDecl) []string {
	var k []string
	add := func(set bool, name string) {
		if set {
			k = append(k, name)
		}
	}
	add(d.Identity != nil, "identity")
	add(d.TimeWindow != nil, "time_window")
	add(d.All != nil, "all")
	add(d.Last != nil, "last")
	add(d.Specific != nil, "specific")
	add(d.Static != nil, "static")
	add(d.LatestOverlapping != nil, "latest_overlapping")
	add(d.Multi != nil, "multi")
	return k
}

func timeWindowSides(ve *ValidationError, field, kind string, up, down PartitionsDef) (twSides, bool) {
	u, ok1 := up.(*TimeWindowDef)
	d, ok2 := down.(*TimeWindowDef)
	if !ok1 || !ok2 {
		hint := ""
		if up.Kind() == KindMulti || down.Kind() == KindMulti {
			hint = "; for a multi-dimensional side, give it for the time dimension under multi"
		}
		ve.Add(field, "a %s mapping needs time-window partitions on both sides, got %s upstream and %s downstream%s", kind, up.Kind(), down.Kind(), hint)
		return twSides{}, false
	}
	if a, b := u.Location().String(), d.Location().String(); a != b {
		ve.Add(field, "time zones differ: upstream %s, downstream %s; a %s mapping needs the same time zone on both sides", a, b, kind)
		return twSides{}, false
	}
	return twSides{up: newTWSide(u), down: newTWSide(d)}, true
}

// possibleKey checks that key can be a partition key of def at some time.
func possibleKey(def PartitionsDef, key string) error {
	switch d := def.(type) {
	case Unpartitioned:
		if key != UnpartitionedKey {
			return fmt.Errorf("the upstream is unpartitioned; %q is not its partition", key)
		}
	case *StaticDef:
		if _, ok := d.index[key]; !ok {
			return fmt.Errorf("%q is not a partition of the upstream definition (%s)", key, d)
		}
	case *DynamicDef:
		return validatePartitionKey(key)
	case *TimeWindowDef:
		t, err := d.ParseKey(key)
		if err != nil {
			return fmt.Errorf("%q is not a partition key of the upstream definition (%s): %v", key, d, err)
		}
		i := d.IndexAtOrAfter(t)
		if t.Before(d.WindowStart(0)) || !d.WindowStart(i).Equal(t) || d.FormatKey(t) != key {
			return fmt.Errorf("%q is not a partition key of the upstream definition (%s)", key, d)
		}
	case *MultiDef:
		parts := SplitMultiKey(key)
		if len(parts) != len(d.dims) {
			return fmt.Errorf("%q has %d dimension keys, the upstream definition has %d dimensions", key, len(parts), len(d.dims))
		}
		for i, p := range parts {
			if err := possibleKey(d.dims[i].Def, p); err != nil {
				return fmt.Errorf("dimension %s: %w", d.dims[i].Name, err)
			}
		}
	}
	return nil
}

func defaultMapping(ve *ValidationError, field string, up, down PartitionsDef) Mapping {
	_, upUnpart := up.(Unpartitioned)
	_, downUnpart := down.(Unpartitioned)
	switch {
	case downUnpart, upUnpart:
		if upUnpart && downUnpart {
			return identityMapping{}
		}
		return allMapping{}
	case up.Equal(down):
		return identityMapping{}
	}
	u, ok1 := up.(*TimeWindowDef)
	d, ok2 := down.(*TimeWindowDef)
	if ok1 && ok2 {
		if a, b := u.Location().String(), d.Location().String(); a != b {
			ve.Add(field, "no default partition mapping from %s (upstream) to %s (downstream): time zones differ; declare one", up, down)
			return nil
		}
		return &timeWindowMapping{twSides: twSides{up: newTWSide(u), down: newTWSide(d)}}
	}
	if um, ok := up.(*MultiDef); ok {
		if dm, ok := down.(*MultiDef); ok && !sameDimensionNames(um, dm) {
			ve.Add(field, "no default partition mapping from %s (upstream) to %s (downstream): the dimensions differ; declare a multi mapping", up, down)
			return nil
		}
	}
	if up.Kind() == KindMulti || down.Kind() == KindMulti {
		sub := &ValidationError{}
		if m := newMultiMapping(sub, field, nil, up, down); m != nil && sub.Err() == nil {
			return m
		}
	}
	ve.Add(field, "no default partition mapping from %s (upstream) to %s (downstream); declare one", up, down)
	return nil
}

// newMultiMapping builds a multi mapping; decl maps dimension names to the
// mapping of that dimension (nil decl: infer).
func newMultiMapping(ve *ValidationError, field string, decl map[string]*MappingDecl, up, down PartitionsDef) Mapping {
	um, upMulti := up.(*MultiDef)
	dm, downMulti := down.(*MultiDef)
	m := &multiMapping{upMulti: upMulti, downMulti: downMulti}
	names := make([]string, 0, len(decl))
	for n := range decl {
		names = append(names, n)
	}
	sort.Strings(names)
	before := len(ve.Errors)
	switch {
	case upMulti && downMulti:
		for _, n := range names {
			_, _, okU := um.Dimension(n)
			_, _, okD := dm.Dimension(n)
			if !okU || !okD {
				side, def := "upstream", up
				if okU {
					side, def = "downstream", down
				}
				ve.Add(joinField(field, n), "%q is not a dimension of the %s definition (%s)", n, side, def)
			}
		}
		if len(ve.Errors) > before {
			return nil
		}
		for ui, udim := range um.dims {
			di, ddim, ok := dm.Dimension(udim.Name)
			if !ok {
				continue // every key of this upstream dimension
			}
			f := joinField(field, udim.Name)
			var sm Mapping
			if sd, given := decl[udim.Name]; given && sd != nil {
				sm = newMapping(ve, f, sd, udim.Def, ddim.Def)
			} else {
				sm = defaultDimMapping(ve, f, udim.Def, ddim.Def)
			}
			if sm != nil {
				m.links = append(m.links, dimLink{name: udim.Name, up: ui, down: di, m: sm})
			}
		}
	case upMulti || downMulti:
		multi, single := um, down
		if downMulti {
			multi, single = dm, up
		}
		var name string
		switch len(names) {
		case 0:
			for _, dim := range multi.dims {
				if dim.Def.Equal(single) {
					if name != "" {
						ve.Add(field, "several dimensions of %s match %s; name the dimension under multi", multi, single)
						return nil
					}
					name = dim.Name
				}
			}
			if name == "" {
				// Dagster also pairs a time-window definition with the
				// time-window dimension.
				if _, ok := single.(*TimeWindowDef); ok {
					if i := multi.TimeDimension(); i >= 0 {
						name = multi.dims[i].Name
					}
				}
			}
			if name == "" {
				ve.Add(field, "no dimension of %s matches %s; name the dimension under multi", multi, single)
				return nil
			}
		case 1:
			name = names[0]
		default:
			ve.Add(field, "between a multi-dimensional and a single-dimensional definition, map exactly one dimension (got %d)", len(names))
			return nil
		}
		mi, mdim, ok := multi.Dimension(name)
		if !ok {
			ve.Add(joinField(field, name), "%q is not a dimension of %s", name, multi)
			return nil
		}
		f := joinField(field, name)
		var sm Mapping
		uDef, dDef := mdim.Def, single
		if downMulti {
			uDef, dDef = single, mdim.Def
		}
		if sd := decl[name]; sd != nil {
			sm = newMapping(ve, f, sd, uDef, dDef)
		} else {
			sm = defaultDimMapping(ve, f, uDef, dDef)
		}
		if sm == nil {
			return nil
		}
		l := dimLink{name: name, m: sm}
		if upMulti {
			l.up = mi
		} else {
			l.down = mi
		}
		m.links = append(m.links, l)
	default:
		ve.Add(field, "a multi mapping needs a multi-dimensional definition on at least one side, got %s upstream and %s downstream", up.Kind(), down.Kind())
		return nil
	}
	if len(ve.Errors) > before {
		return nil
	}
	return m
}

// defaultDimMapping is the mapping of a dimension without one: time_window
// between time windows that differ, identity otherwise.
func defaultDimMapping(ve *ValidationError, field string, up, down PartitionsDef) Mapping {
	u, ok1 := up.(*TimeWindowDef)
	d, ok2 := down.(*TimeWindowDef)
	if ok1 && ok2 && !up.Equal(down) {
		return newMapping(ve, field, &MappingDecl{TimeWindow: &TimeWindowMappingDecl{}}, u, d)
	}
	return newMapping(ve, field, &MappingDecl{Identity: &Empty{}}, up, down)
}

func sameDimensionNames(a, b *MultiDef) bool {
	if len(a.dims) != len(b.dims) {
		return false
	}
	for i := range a.dims {
		if a.dims[i].Name != b.dims[i].Name {
			return false
		}
	}
	return true
}
