package asset

import (
	"strings"
	"testing"
	"time"
)

func TestIdentityMapping(t *testing.T) {
	t.Parallel()
	now := pmTime(t, "2024-01-10", nil)
	abc := pmStatic(t, "a", "b", "c")
	abd := pmStatic(t, "a", "b", "d")
	dynDef, _ := NewDynamicDef("d")
	dyn := DynamicKeysMap{"d": {"x", "y"}}
	tests := []struct {
		name           string
		up, down       PartitionsDef
		downKeys, want []string
		missing, downs []string // downs: Downstream of want
	}{
		{"same static", abc, abc, []string{"a", "c"}, []string{"a", "c"}, nil, []string{"a", "c"}},
		{"other static keys", abd, abc, []string{"a", "c"}, []string{"a"}, []string{"c"}, []string{"a"}},
		{"time windows, later upstream start", pmDaily(t, "2024-01-03"), pmDaily(t, "2024-01-01"),
			[]string{"2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"}, []string{"2024-01-03", "2024-01-04"},
			[]string{"2024-01-01", "2024-01-02"}, []string{"2024-01-03", "2024-01-04"}},
		{"time windows, earlier upstream start", pmDaily(t, "2024-01-01"), pmDaily(t, "2024-01-03"),
			[]string{"2024-01-03", "2024-01-09"}, []string{"2024-01-03", "2024-01-09"}, nil, []string{"2024-01-03", "2024-01-09"}},
		{"unpartitioned", Unpartitioned{}, Unpartitioned{}, []string{""}, []string{""}, nil, []string{""}},
	}
	for _, tt := range tests {
		m := pmMapping(t, &MappingDecl{Identity: &Empty{}}, tt.up, tt.down)
		got, missing := pmUp(t, m, tt.up, tt.down, now, tt.downKeys)
		pmEqual(t, tt.name+": upstream", got, tt.want)
		pmEqual(t, tt.name+": missing", missing, tt.missing)
		pmEqual(t, tt.name+": downstream", pmDown(t, m, tt.up, tt.down, now, tt.want), tt.downs)
	}
	// Dynamic keys go through key lookups.
	m := pmMapping(t, &MappingDecl{Identity: &Empty{}}, dynDef, dynDef)
	res, err := m.Upstream(pmSubset(t, dynDef.At(now, DynamicKeysMap{"d": {"x", "y", "z"}}), "y", "z"), dynDef.At(now, dyn))
	if err != nil {
		t.Fatal(err)
	}
	pmEqual(t, "dynamic upstream", res.Partitions.KeySlice(), []string{"y"})
	pmEqual(t, "dynamic missing", res.Missing, []string{"z"})
}

func TestAllLastSpecificMappings(t *testing.T) {
	t.Parallel()
	now := pmTime(t, "2024-01-04", nil)
	daily := pmDaily(t, "2024-01-01")
	abc := pmStatic(t, "a", "b", "c")
	tests := []struct {
		name           string
		decl           *MappingDecl
		up, down       PartitionsDef
		downKeys       []string
		want, miss     []string
		upKeys, downOf []string
	}{
		{"all", &MappingDecl{All: &Empty{}}, daily, abc, []string{"b"},
			[]string{"2024-01-01", "2024-01-02", "2024-01-03"}, nil, []string{"2024-01-02"}, []string{"a", "b", "c"}},
		{"all of nothing", &MappingDecl{All: &Empty{}}, daily, abc, nil, nil, nil, nil, nil},
		{"all to unpartitioned", &MappingDecl{All: &Empty{}}, daily, Unpartitioned{}, []string{""},
			[]string{"2024-01-01", "2024-01-02", "2024-01-03"}, nil, []string{"2024-01-03"}, []string{""}},
		{"last", &MappingDecl{Last: &Empty{}}, daily, Unpartitioned{}, []string{""},
			[]string{"2024-01-03"}, nil, []string{"2024-01-03"}, []string{""}},
		{"last: not the last", &MappingDecl{Last: &Empty{}}, daily, abc, []string{"a"},
			[]string{"2024-01-03"}, nil, []string{"2024-01-02"}, nil},
		{"specific", &MappingDecl{Specific: []string{"2024-01-02", "2024-01-05"}}, daily, abc, []string{"a"},
			[]string{"2024-01-02"}, []string{"2024-01-05"}, []string{"2024-01-02"}, []string{"a", "b", "c"}},
		{"specific: other keys", &MappingDecl{Specific: []string{"2024-01-02"}}, daily, abc, []string{"a"},
			[]string{"2024-01-02"}, nil, []string{"2024-01-01"}, nil},
	}
	for _, tt := range tests {
		m := pmMapping(t, tt.decl, tt.up, tt.down)
		got, miss := pmUp(t, m, tt.up, tt.down, now, tt.downKeys)
		pmEqual(t, tt.name+": upstream", got, tt.want)
		pmEqual(t, tt.name+": missing", miss, tt.miss)
		pmEqual(t, tt.name+": downstream", pmDown(t, m, tt.up, tt.down, now, tt.upKeys), tt.downOf)
	}
}

// Ported from Dagster's test_static_partition_mapping.py.
func TestStaticMapping(t *testing.T) {
	t.Parallel()
	up := pmStatic(t, "p1", "p2", "p3", "q1", "q2", "r1")
	down := pmStatic(t, "p", "q", "r")
	decl := &MappingDecl{Static: map[string][]string{"p1": {"p"}, "p2": {"p"}, "p3": {"p"}, "r1": {"r"}, "q1": {"q"}}}
	m := pmMapping(t, decl, up, down)
	now := time.Time{}
	got, miss := pmUp(t, m, up, down, now, []string{"p", "r"})
	pmEqual(t, "upstream", got, []string{"p1", "p2", "p3", "r1"})
	pmEqual(t, "missing", miss, nil)
	pmEqual(t, "downstream", pmDown(t, m, up, down, now, []string{"p2", "p3", "q1"}), []string{"p", "q"})
	pmEqual(t, "unnamed key maps to nothing", pmDown(t, m, up, down, now, []string{"q2"}), nil)

	multi := pmMapping(t, &MappingDecl{Static: map[string][]string{"a": {"1", "2"}, "b": {"2"}}}, pmStatic(t, "a", "b"), pmStatic(t, "1", "2"))
	got, _ = pmUp(t, multi, pmStatic(t, "a", "b"), pmStatic(t, "1", "2"), now, []string{"2"})
	pmEqual(t, "one downstream key from two upstream keys", got, []string{"a", "b"})

	_, err := NewMapping(&MappingDecl{Static: map[string][]string{"p1": {"x"}, "zz": {"p"}}}, up, down)
	var fields []string
	for _, fe := range FieldErrors(err) {
		fields = append(fields, fe.Field+": "+fe.Problem)
	}
	if len(fields) != 2 || !strings.HasPrefix(fields[0], `static.p1[0]: downstream key "x"`) || !strings.HasPrefix(fields[1], `static.zz: upstream key "zz"`) {
		t.Fatalf("errors %q", fields)
	}
}

func TestNewMappingDefaults(t *testing.T) {
	t.Parallel()
	daily := pmDaily(t, "2024-01-01")
	hourly := pmHourly(t, "2024-01-01-00:00")
	abc := pmStatic(t, "a", "b", "c")
	multi := pmMulti(t, Dimension{Name: "date", Def: daily}, Dimension{Name: "abc", Def: abc})
	tests := []struct {
		name     string
		up, down PartitionsDef
		want     string // kinds of Decl, or "error"
	}{
		{"same definition", abc, abc, "identity"},
		{"time windows", hourly, daily, "time_window"},
		{"unpartitioned downstream", daily, Unpartitioned{}, "all"},
		{"unpartitioned upstream", Unpartitioned{}, daily, "all"},
		{"both unpartitioned", Unpartitioned{}, Unpartitioned{}, "identity"},
		{"multi upstream, matching single", multi, abc, "multi"},
		{"single upstream, matching multi", daily, multi, "multi"},
		{"hourly into the time dimension", hourly, multi, "multi"},
		{"static to time", abc, daily, "error"},
		{"other static", pmStatic(t, "x"), abc, "error"},
	}
	for _, tt := range tests {
		m, err := NewMapping(nil, tt.up, tt.down)
		got := "error"
		if err == nil {
			d := m.Decl()
			got = strings.Join(mappingKinds(&d), ",")
		} else if !strings.Contains(err.Error(), "no default partition mapping") || !strings.Contains(err.Error(), "declare one") {
			t.Errorf("%s: error %q does not say no default mapping exists", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s: default mapping %s (%v), want %s", tt.name, got, err, tt.want)
		}
	}
}

func TestNewMappingErrors(t *testing.T) {
	t.Parallel()
	daily := pmDaily(t, "2024-01-01")
	abc := pmStatic(t, "a", "b", "c")
	multi := pmMulti(t, Dimension{Name: "date", Def: daily}, Dimension{Name: "abc", Def: abc})
	tests := []struct {
		name     string
		decl     *MappingDecl
		up, down PartitionsDef
		field    string
		msg      string
	}{
		{"no kind", &MappingDecl{}, abc, abc, "", "set exactly one mapping kind"},
		{"two kinds", &MappingDecl{All: &Empty{}, Last: &Empty{}}, abc, abc, "", "set exactly one mapping kind"},
		{"time window on static", pmTWMap(0, 0), abc, daily, "time_window", "time-window partitions on both sides"},
		{"offset out of range", pmTWMap(-200000, 0), daily, daily, "time_window.start_offset", "out of range"},
		{"latest overlapping on static", &MappingDecl{LatestOverlapping: &Empty{}}, daily, abc, "latest_overlapping", "time-window partitions"},
		{"identity across kinds", &MappingDecl{Identity: &Empty{}}, daily, abc, "identity", "same kind"},
		{"specific unknown key", &MappingDecl{Specific: []string{"a", "z"}}, abc, daily, "specific[1]", `"z" is not a partition`},
		{"specific bad time key", &MappingDecl{Specific: []string{"2024-13-01"}}, daily, abc, "specific[0]", "not a partition key"},
		{"static on time", &MappingDecl{Static: map[string][]string{"a": {"b"}}}, daily, abc, "static", "static partitions on both sides"},
		{"multi unknown dimension", &MappingDecl{Multi: map[string]*MappingDecl{"region": {Identity: &Empty{}}}}, multi, multi, "multi.region", `"region" is not a dimension`},
		{"multi bad dimension mapping", &MappingDecl{Multi: map[string]*MappingDecl{"date": {TimeWindow: &TimeWindowMappingDecl{}, All: &Empty{}}}}, multi, multi, "multi.date", "exactly one mapping kind"},
		{"multi dimension time window on static", &MappingDecl{Multi: map[string]*MappingDecl{"abc": pmTWMap(0, 0)}}, multi, multi, "multi.abc.time_window", "time-window partitions"},
		{"multi without multi", &MappingDecl{Multi: map[string]*MappingDecl{}}, abc, abc, "multi", "multi-dimensional definition"},
		{"multi with unpartitioned", &MappingDecl{Multi: map[string]*MappingDecl{}}, multi, Unpartitioned{}, "multi", "partitioned definitions"},
	}
	for _, tt := range tests {
		_, err := NewMapping(tt.decl, tt.up, tt.down)
		fes := FieldErrors(err)
		if len(fes) != 1 || fes[0].Field != tt.field || !strings.Contains(fes[0].Problem, tt.msg) {
			t.Errorf("%s: error %v; want field %q with %q", tt.name, err, tt.field, tt.msg)
		}
	}
}

func TestUnpartitionedSides(t *testing.T) {
	t.Parallel()
	now := pmTime(t, "2024-01-04", nil)
	daily := pmDaily(t, "2024-01-01")
	m := pmMapping(t, nil, Unpartitioned{}, daily)
	got, miss := pmUp(t, m, Unpartitioned{}, daily, now, []string{"2024-01-01", "2024-01-03"})
	pmEqual(t, "upstream of unpartitioned", got, []string{""})
	pmEqual(t, "missing", miss, nil)
	pmEqual(t, "downstream of unpartitioned", pmDown(t, m, Unpartitioned{}, daily, now, []string{""}), []string{"2024-01-01", "2024-01-02", "2024-01-03"})

	m = pmMapping(t, nil, daily, Unpartitioned{})
	got, _ = pmUp(t, m, daily, Unpartitioned{}, now, []string{""})
	pmEqual(t, "unpartitioned downstream", got, []string{"2024-01-01", "2024-01-02", "2024-01-03"})
}
