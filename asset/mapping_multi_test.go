package asset

import (
	"testing"
)

// Cases ported from Dagster's test_multipartition_partition_mapping.py, and
// cases for more than two dimensions.

func TestMultiToSingleDimensionMapping(t *testing.T) {
	t.Parallel()
	now := pmTime(t, "2023-06-01", nil)
	abc := pmStatic(t, "a", "b", "c")
	abc123 := pmMulti(t, Dimension{Name: "abc", Def: abc}, Dimension{Name: "123", Def: pmStatic(t, "1", "2", "3")})
	abcxyz := pmMulti(t, Dimension{Name: "abc", Def: abc}, Dimension{Name: "xyz", Def: pmStatic(t, "x", "y", "z")})
	daily := pmDaily(t, "2023-01-01")
	weekly := pmMulti(t,
		Dimension{Name: "week", Def: pmTW(t, TimeWindowDecl{Schedule: "weekly", Start: "2023-01-01"})},
		Dimension{Name: "ab", Def: pmStatic(t, "a", "b")})

	// Downstream direction.
	down := []struct {
		name     string
		up, down PartitionsDef
		upKeys   []string
		want     []string
	}{
		{"single to multi", abc, abc123, []string{"a"}, []string{"1|a", "2|a", "3|a"}},
		{"single to multi, two keys", abc, abc123, []string{"a", "b"}, []string{"1|a", "1|b", "2|a", "2|b", "3|a", "3|b"}},
		{"multi to single", abc123, abc, []string{"1|a", "2|a", "3|a"}, []string{"a"}},
		{"single to multi, other dimension", abc, abcxyz, []string{"b"}, []string{"b|x", "b|y", "b|z"}},
	}
	for _, tt := range down {
		m := pmMapping(t, nil, tt.up, tt.down)
		pmEqual(t, tt.name, pmDown(t, m, tt.up, tt.down, now, tt.upKeys), tt.want)
	}

	// Upstream direction (test_get_upstream_single_dimension_to_multi_partition_mapping).
	up := []struct {
		name     string
		up, down PartitionsDef
		downKeys []string
		want     []string
	}{
		{"one multi key", abc, abc123, []string{"1|a"}, []string{"a"}},
		{"two multi keys", abc, abc123, []string{"2|b", "2|a"}, []string{"a", "b"}},
		{"multi upstream", abc123, abc, []string{"a"}, []string{"1|a", "2|a", "3|a"}},
		{"multi upstream two keys", abc123, abc, []string{"a", "b"}, []string{"1|a", "1|b", "2|a", "2|b", "3|a", "3|b"}},
		{"daily upstream of weekly dimension", daily, weekly, []string{"a|2023-01-08", "b|2023-01-08", "a|2023-01-29", "b|2023-01-29"},
			append(pmKeysRange(t, daily, "2023-01-08", "2023-01-14"), pmKeysRange(t, daily, "2023-01-29", "2023-02-04")...)},
	}
	for _, tt := range up {
		m := pmMapping(t, nil, tt.up, tt.down)
		got, miss := pmUp(t, m, tt.up, tt.down, now, tt.downKeys)
		pmEqual(t, tt.name, got, tt.want)
		pmEqual(t, tt.name+": missing", miss, nil)
	}

	// Several matching dimensions need a name.
	same := pmMulti(t, Dimension{Name: "a", Def: pmStatic(t, "1", "2")}, Dimension{Name: "b", Def: pmStatic(t, "1", "2")})
	if _, err := NewMapping(nil, same, pmStatic(t, "1", "2")); err == nil {
		t.Fatal("ambiguous dimension accepted")
	}
	m := pmMapping(t, &MappingDecl{Multi: map[string]*MappingDecl{"b": nil}}, same, pmStatic(t, "1", "2"))
	got, _ := pmUp(t, m, same, pmStatic(t, "1", "2"), now, []string{"2"})
	pmEqual(t, "named dimension", got, []string{"1|2", "2|2"})
}

func TestMultiToMultiMapping(t *testing.T) {
	t.Parallel()
	now := pmTime(t, "2024-01-10", nil)
	daily := pmDaily(t, "2023-01-01")
	abc := pmStatic(t, "a", "b", "c")
	region := pmStatic(t, "eu", "us")
	m123 := pmMulti(t, Dimension{Name: "123", Def: pmStatic(t, "1", "2", "3")}, Dimension{Name: "daily", Def: daily})
	mabc := pmMulti(t, Dimension{Name: "abc", Def: abc}, Dimension{Name: "daily", Def: daily})

	// Only the shared dimension constrains; the upstream-only one takes every key.
	m := pmMapping(t, &MappingDecl{Multi: map[string]*MappingDecl{"daily": {Identity: &Empty{}}}}, m123, mabc)
	downKeys := []string{"a|2023-01-01", "b|2023-01-01", "c|2023-01-01", "a|2023-01-02", "b|2023-01-02", "c|2023-01-02"}
	upKeys := []string{"1|2023-01-01", "1|2023-01-02", "2|2023-01-01", "2|2023-01-02", "3|2023-01-01", "3|2023-01-02"}
	got, miss := pmUp(t, m, m123, mabc, now, downKeys)
	pmEqual(t, "upstream", got, upKeys)
	pmEqual(t, "missing", miss, nil)
	pmEqual(t, "downstream", pmDown(t, m, m123, mabc, now, upKeys[:1]), []string{"a|2023-01-01", "b|2023-01-01", "c|2023-01-01"})

	// A lag on the time dimension, identity on the other.
	md := pmMulti(t, Dimension{Name: "date", Def: daily}, Dimension{Name: "region", Def: region})
	m = pmMapping(t, &MappingDecl{Multi: map[string]*MappingDecl{"date": pmTWMap(-1, -1)}}, md, md)
	got, miss = pmUp(t, m, md, md, now, []string{"2024-01-03|eu", "2023-01-01|us"})
	pmEqual(t, "lag upstream", got, []string{"2024-01-02|eu"})
	pmEqual(t, "lag missing", miss, nil)
	pmEqual(t, "lag downstream", pmDown(t, m, md, md, now, []string{"2024-01-02|us"}), []string{"2024-01-03|us"})
	d := m.Decl()
	if d.Multi["date"] == nil || d.Multi["date"].TimeWindow == nil || d.Multi["region"] == nil || d.Multi["region"].Identity == nil {
		t.Fatalf("effective declaration %+v", d.Multi)
	}

	// Default between multi definitions whose time dimensions start apart.
	late := pmMulti(t, Dimension{Name: "date", Def: pmDaily(t, "2024-01-05")}, Dimension{Name: "region", Def: region})
	m = pmMapping(t, nil, late, md)
	got, miss = pmUp(t, m, late, md, now, []string{"2024-01-02|eu", "2024-01-06|us"})
	pmEqual(t, "default upstream", got, []string{"2024-01-06|us"})
	pmEqual(t, "default missing", miss, []string{"2024-01-02|eu"})

	// Multi to single with a missing time key: every upstream key of that date.
	m = pmMapping(t, nil, late, daily)
	got, miss = pmUp(t, m, late, daily, now, []string{"2024-01-02", "2024-01-07"})
	pmEqual(t, "to single upstream", got, []string{"2024-01-07|eu", "2024-01-07|us"})
	pmEqual(t, "to single missing", miss, []string{"2024-01-02|eu", "2024-01-02|us"})
}

func TestMultiMappingThreeDimensions(t *testing.T) {
	t.Parallel()
	now := pmTime(t, "2024-01-05", nil)
	daily := pmDaily(t, "2024-01-01")
	color := pmStatic(t, "red", "blue")
	region := pmStatic(t, "eu", "us", "apac")
	up := pmMulti(t, Dimension{Name: "color", Def: color}, Dimension{Name: "date", Def: daily}, Dimension{Name: "region", Def: region})
	down := pmMulti(t, Dimension{Name: "date", Def: daily}, Dimension{Name: "region", Def: region})
	m := pmMapping(t, &MappingDecl{Multi: map[string]*MappingDecl{
		"region": {Static: map[string][]string{"eu": {"eu"}, "us": {"us", "apac"}}},
	}}, up, down)
	got, miss := pmUp(t, m, up, down, now, []string{"2024-01-02|apac", "2024-01-03|eu"})
	pmEqual(t, "upstream", got, []string{"red|2024-01-02|us", "red|2024-01-03|eu", "blue|2024-01-02|us", "blue|2024-01-03|eu"})
	pmEqual(t, "missing", miss, nil)
	pmEqual(t, "downstream", pmDown(t, m, up, down, now, []string{"blue|2024-01-04|us"}), []string{"2024-01-04|us", "2024-01-04|apac"})

	// Three dimensions on both sides, all identity: a wide subset round-trips.
	m3 := pmMapping(t, nil, up, up)
	all := AllOf(up.At(now, nil))
	res, err := m3.Upstream(all, up.At(now, nil))
	if err != nil || res.Partitions.Len() != all.Len() {
		t.Fatalf("identity over everything: %v, %d of %d", err, res.Partitions.Len(), all.Len())
	}
}
