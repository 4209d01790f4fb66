package asset

import (
	"strings"
	"testing"
	"time"
)

func TestStaticDef(t *testing.T) {
	t.Parallel()
	d := pmStatic(t, "us", "eu", "apac")
	p := d.At(time.Time{}, nil)
	if p.Len() != 3 || p.Key(1) != "eu" {
		t.Fatalf("Len %d Key(1) %q", p.Len(), p.Key(1))
	}
	if i, ok := p.Index("apac"); !ok || i != 2 {
		t.Fatalf("Index(apac) = %d, %v", i, ok)
	}
	if _, ok := p.Index("mars"); ok {
		t.Fatal("Index(mars) found")
	}
	if !d.Equal(pmStatic(t, "us", "eu", "apac")) || d.Equal(pmStatic(t, "eu", "us", "apac")) {
		t.Fatal("Equal depends on keys and their order")
	}
	if got := d.String(); got != "static [us, eu, apac]" {
		t.Fatalf("String = %q", got)
	}
}

func TestStaticDefErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		keys  []string
		field string
		msg   string
	}{
		{nil, "", "at least one key"},
		{[]string{"a", "a"}, "[1]", `duplicate partition key "a"`},
		{[]string{"a", ""}, "[1]", "empty"},
		{[]string{"a|b"}, "[0]", `contains "|"`},
		{[]string{"a\nb"}, "[0]", "control character"},
		{[]string{strings.Repeat("x", MaxPartitionKeyLength+1)}, "[0]", "more than 255"},
	}
	for _, tt := range tests {
		_, err := NewStaticDef(tt.keys)
		fes := FieldErrors(err)
		if len(fes) != 1 || fes[0].Field != tt.field || !strings.Contains(fes[0].Problem, tt.msg) {
			t.Errorf("NewStaticDef(%q) = %v; want field %q and %q", tt.keys, err, tt.field, tt.msg)
		}
	}
}

func TestDynamicDef(t *testing.T) {
	t.Parallel()
	d, err := NewDynamicDef("customers")
	if err != nil {
		t.Fatal(err)
	}
	dyn := DynamicKeysMap{"customers": {"acme", "globex", "acme", "initech"}}
	p := d.At(time.Time{}, dyn)
	if got := AllOf(p).KeySlice(); strings.Join(got, ",") != "acme,globex,initech" {
		t.Fatalf("keys = %q", got)
	}
	if i, ok := p.Index("initech"); !ok || i != 2 {
		t.Fatalf("Index(initech) = %d, %v", i, ok)
	}
	if d.At(time.Time{}, nil).Len() != 0 {
		t.Fatal("nil DynamicKeys has keys")
	}
	if _, err := NewDynamicDef(""); err == nil {
		t.Fatal("empty name accepted")
	}
	other, _ := NewDynamicDef("customers")
	if !d.Equal(other) || d.String() != `dynamic "customers"` {
		t.Fatalf("Equal/String: %v %q", d.Equal(other), d.String())
	}
}

func TestMultiDef(t *testing.T) {
	t.Parallel()
	region := pmStatic(t, "eu", "us")
	color := pmStatic(t, "red", "green", "blue")
	d := pmMulti(t, Dimension{Name: "region", Def: region}, Dimension{Name: "color", Def: color})
	if d.Dimensions()[0].Name != "color" {
		t.Fatalf("dimensions not sorted: %v", d.Dimensions())
	}
	p := d.At(time.Time{}, nil)
	if _, ok := p.(Windowed); ok {
		t.Fatal("multi without a time dimension is Windowed")
	}
	want := []string{"red|eu", "red|us", "green|eu", "green|us", "blue|eu", "blue|us"}
	pmEqual(t, "keys", AllOf(p).KeySlice(), want)
	for i, k := range want {
		if j, ok := p.Index(k); !ok || j != int64(i) {
			t.Errorf("Index(%q) = %d, %v", k, j, ok)
		}
	}
	for _, k := range []string{"red", "red|eu|x", "red|mars", "|eu"} {
		if _, ok := p.Index(k); ok {
			t.Errorf("Index(%q) found", k)
		}
	}
	mp, ok := AsMulti(p)
	if !ok || mp.Dimension(1).Len() != 2 || mp.Stride(0) != 2 {
		t.Fatalf("AsMulti: %v", ok)
	}
	d2 := pmMulti(t, Dimension{Name: "color", Def: color}, Dimension{Name: "region", Def: region})
	if !d.Equal(d2) {
		t.Fatal("same dimensions in another order are not Equal")
	}
	if got := d.String(); got != "multi (color: static [red, green, blue]; region: static [eu, us])" {
		t.Fatalf("String = %q", got)
	}
}

func TestMultiDefDynamicDimension(t *testing.T) {
	t.Parallel()
	dyn, _ := NewDynamicDef("c")
	d := pmMulti(t, Dimension{Name: "c", Def: dyn}, Dimension{Name: "r", Def: pmStatic(t, "x")})
	p := d.At(time.Time{}, DynamicKeysMap{"c": {"a", "b|c", "d"}})
	pmEqual(t, "keys", AllOf(p).KeySlice(), []string{"a|x", "d|x"})
}

func TestMultiDefTimeDimension(t *testing.T) {
	t.Parallel()
	daily := pmDaily(t, "2024-01-01")
	d := pmMulti(t, Dimension{Name: "date", Def: daily}, Dimension{Name: "region", Def: pmStatic(t, "eu", "us")})
	p := d.At(pmTime(t, "2024-01-03", nil), nil)
	pmEqual(t, "keys", AllOf(p).KeySlice(), []string{"2024-01-01|eu", "2024-01-01|us", "2024-01-02|eu", "2024-01-02|us"})
	w, ok := p.(Windowed)
	if !ok {
		t.Fatal("multi with a time dimension is not Windowed")
	}
	if got := w.Window(3); !got.Start.Equal(pmTime(t, "2024-01-02", nil)) || !got.End.Equal(pmTime(t, "2024-01-03", nil)) {
		t.Fatalf("Window(3) = %v", got)
	}
}

func TestBuildPartitionsDef(t *testing.T) {
	t.Parallel()
	day := func(start string) *TimeWindowDecl { return &TimeWindowDecl{Schedule: "daily", Start: start} }
	tests := []struct {
		name   string
		decl   *PartitionsDecl
		kind   PartitionsKind
		fields []string // wanted error fields, nil for success
	}{
		{"nil", nil, KindUnpartitioned, nil},
		{"time window", &PartitionsDecl{TimeWindow: day("2024-01-01")}, KindTimeWindow, nil},
		{"static", &PartitionsDecl{Static: []string{"a", "b"}}, KindStatic, nil},
		{"dynamic", &PartitionsDecl{Dynamic: &DynamicDecl{Name: "x"}}, KindDynamic, nil},
		{"multi", &PartitionsDecl{Multi: []DimensionDecl{
			{Name: "date", TimeWindow: day("2024-01-01")}, {Name: "r", Static: []string{"a"}}}}, KindMulti, nil},
		{"none", &PartitionsDecl{}, 0, []string{""}},
		{"two", &PartitionsDecl{Static: []string{"a"}, Dynamic: &DynamicDecl{Name: "x"}}, 0, []string{""}},
		{"static dup", &PartitionsDecl{Static: []string{"a", "b", "a"}}, 0, []string{"static[2]"}},
		{"dynamic name", &PartitionsDecl{Dynamic: &DynamicDecl{}}, 0, []string{"dynamic.name"}},
		{"time window cron", &PartitionsDecl{TimeWindow: &TimeWindowDecl{Cron: "0 -24 * * *", Start: "2024-01-01"}}, 0, []string{"time_window.cron"}},
		{"multi one dim", &PartitionsDecl{Multi: []DimensionDecl{{Name: "a", Static: []string{"x"}}}}, 0, []string{"multi"}},
		{"multi names", &PartitionsDecl{Multi: []DimensionDecl{
			{Name: "a", Static: []string{"x"}}, {Name: "a", Static: []string{"y"}}, {Name: "", Static: []string{"z"}}}}, 0,
			[]string{"multi[1].name", "multi[2].name"}},
		{"multi dims", &PartitionsDecl{Multi: []DimensionDecl{
			{Name: "a", Static: []string{"x", "x"}}, {Name: "b"}, {Name: "c", TimeWindow: &TimeWindowDecl{Cron: "bad", Start: "2024-01-01"}}}}, 0,
			[]string{"multi[0].static[1]", "multi[1]", "multi[2].time_window.cron"}},
		{"multi two time dims", &PartitionsDecl{Multi: []DimensionDecl{
			{Name: "a", TimeWindow: day("2024-01-01")}, {Name: "b", TimeWindow: day("2024-01-01")}}}, 0, []string{"multi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			def, err := BuildPartitionsDef(tt.decl)
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("error: %v", err)
				}
				if def.Kind() != tt.kind {
					t.Fatalf("kind %s, want %s", def.Kind(), tt.kind)
				}
				return
			}
			var got []string
			for _, fe := range FieldErrors(err) {
				got = append(got, fe.Field)
			}
			if err == nil || strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Fatalf("error fields %q (%v), want %q", got, err, tt.fields)
			}
		})
	}
}
