package server

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/strata-data/strata/asset"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// richDecls returns declarations that between them set every field of every
// declaration type to a non-zero value (TestRichDeclsSetEveryField checks
// this, so a field added to asset/decl.go fails the tests until the
// conversion carries it). They need not be valid: conversion does not validate.
func richDecls() []asset.AssetDecl {
	day := 3
	zero := 0
	return []asset.AssetDecl{
		{
			Key:         "analytics/daily_revenue",
			Description: "Revenue per day and region.",
			Group:       "finance",
			Owners:      []string{"ana@example.com", "team:finance"},
			Tags:        map[string]string{"tier": "gold", "pii": "false"},
			CodeVersion: "v7",
			Partitions: &asset.PartitionsDecl{
				TimeWindow: &asset.TimeWindowDecl{
					Schedule:     "weekly",
					Cron:         "0 6 * * 1",
					MinuteOffset: 15,
					HourOffset:   6,
					DayOffset:    &day,
					Start:        "2024-01-01",
					End:          "2030-01-01",
					Timezone:     "Europe/Paris",
					Fmt:          "2006-01-02",
					EndOffset:    -1,
				},
				Static:  []string{"eu", "us"},
				Dynamic: &asset.DynamicDecl{Name: "customers"},
				Multi: []asset.DimensionDecl{
					{
						Name: "date",
						TimeWindow: &asset.TimeWindowDecl{
							Schedule:  "daily",
							DayOffset: &zero,
							Start:     "2024-01-01",
						},
						Static:  []string{"a"},
						Dynamic: &asset.DynamicDecl{Name: "tenants"},
					},
					{Name: "region", Static: []string{"eu", "us", "apac"}},
				},
			},
			Deps: []asset.DepDecl{
				{Asset: "raw/orders", Mapping: &asset.MappingDecl{
					Identity: &asset.Empty{},
					TimeWindow: &asset.TimeWindowMappingDecl{
						StartOffset:              -2,
						EndOffset:                1,
						AllowNonexistentUpstream: true,
					},
					All:               &asset.Empty{},
					Last:              &asset.Empty{},
					Specific:          []string{"2024-01-01", "2024-01-02"},
					Static:            map[string][]string{"eu": {"fr", "de"}, "us": {"us"}},
					LatestOverlapping: &asset.Empty{},
					Multi: map[string]*asset.MappingDecl{
						"date":   {TimeWindow: &asset.TimeWindowMappingDecl{StartOffset: -6}},
						"region": {Static: map[string][]string{"eu": {"eu"}}},
					},
				}},
				{Asset: "raw/fx_rates"},
			},
			Compute: &asset.ComputeDecl{
				Command:   []string{"python", "-m", "jobs.revenue", "--date={partition}"},
				Image:     "ghcr.io/acme/jobs:1.2.3",
				Env:       map[string]string{"LOG_LEVEL": "debug", "TZ": "UTC"},
				Workdir:   "/srv/jobs",
				Timeout:   asset.Duration(90 * time.Minute),
				Shardable: true,
			},
			Retry: &asset.RetryDecl{MaxAttempts: 3, Backoff: asset.Duration(30 * time.Second)},
			Freshness: &asset.FreshnessDecl{
				MaxLag:       asset.Duration(48 * time.Hour),
				WarnLag:      asset.Duration(6 * time.Hour),
				CronDeadline: "0 9 * * *",
				Timezone:     "America/New_York",
			},
			Automation:     &asset.AutomationDecl{Condition: asset.AutomationOnCron, Cron: "0 * * * *"},
			BackfillPolicy: &asset.BackfillPolicyDecl{MaxPartitionsPerRun: 31},
			Resources:      &asset.ResourcesDecl{Memory: asset.ByteSize(4 << 30), CPUs: 1.5},
			Output:         "file:///lake/{asset}/{partition}.parquet",
		},
		{
			Key:       "raw/orders",
			Resources: &asset.ResourcesDecl{Memory: asset.ByteSize(1_500_000_000)},
			Deps:      []asset.DepDecl{{Asset: "raw/x", Mapping: &asset.MappingDecl{Multi: map[string]*asset.MappingDecl{"d": {Identity: &asset.Empty{}}}}}},
		},
	}
}

func TestRichDeclsSetEveryField(t *testing.T) {
	t.Parallel()

	seen := map[string]bool{}    // "Type.Field" -> non-zero somewhere
	fields := map[string]bool{}  // every "Type.Field" reached
	visited := map[string]bool{} // struct types walked
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value())
			}
		case reflect.Struct:
			ty := v.Type()
			visited[ty.Name()] = true
			for i := 0; i < ty.NumField(); i++ {
				name := ty.Name() + "." + ty.Field(i).Name
				fields[name] = true
				if !v.Field(i).IsZero() {
					seen[name] = true
				}
				walk(v.Field(i))
			}
		}
	}
	walk(reflect.ValueOf(richDecls()))

	var missing []string
	for f := range fields {
		if !seen[f] {
			missing = append(missing, f)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("richDecls leaves these fields zero everywhere: %v", missing)
	}
	for _, ty := range []string{"AssetDecl", "PartitionsDecl", "TimeWindowDecl", "DynamicDecl", "DimensionDecl",
		"DepDecl", "MappingDecl", "TimeWindowMappingDecl", "ComputeDecl", "RetryDecl", "FreshnessDecl",
		"AutomationDecl", "BackfillPolicyDecl", "ResourcesDecl"} {
		if !visited[ty] {
			t.Errorf("richDecls never reaches asset.%s", ty)
		}
	}
}

func TestDeclRoundTrip(t *testing.T) {
	t.Parallel()

	want := richDecls()
	got, err := DeclsFromProto(DeclsToProto(want))
	if err != nil {
		t.Fatalf("DeclsFromProto: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", "  ")
		wj, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("round trip changed the declarations\ngot:  %s\nwant: %s", gj, wj)
	}
}

func TestDeclRoundTripThroughWire(t *testing.T) {
	t.Parallel()

	// Through the binary encoding too, as a request travels.
	for i, d := range richDecls() {
		b, err := proto.Marshal(DeclToProto(&d))
		if err != nil {
			t.Fatalf("decl %d: marshal: %v", i, err)
		}
		var p stratav1.AssetDecl
		if err := proto.Unmarshal(b, &p); err != nil {
			t.Fatalf("decl %d: unmarshal: %v", i, err)
		}
		got, err := DeclFromProto(&p, "")
		if err != nil {
			t.Fatalf("decl %d: DeclFromProto: %v", i, err)
		}
		if !reflect.DeepEqual(got, d) {
			t.Errorf("decl %d: wire round trip changed it:\ngot  %+v\nwant %+v", i, got, d)
		}
	}
}

// TestProtoJSONShapeEqualsDeclJSON checks that the protobuf JSON of a
// declaration (proto field names, as the REST gateway writes it) is the
// JSON encoding of asset.AssetDecl, and that such JSON parses back into the
// same declaration.
func TestProtoJSONShapeEqualsDeclJSON(t *testing.T) {
	t.Parallel()

	marshal := protojson.MarshalOptions{UseProtoNames: true}
	for i, d := range richDecls() {
		pj, err := marshal.Marshal(DeclToProto(&d))
		if err != nil {
			t.Fatalf("decl %d: protojson: %v", i, err)
		}
		dj, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("decl %d: json: %v", i, err)
		}
		if got, want := decodeAny(t, pj), decodeAny(t, dj); !reflect.DeepEqual(got, want) {
			t.Errorf("decl %d: JSON shapes differ\nprotojson: %s\njson:      %s", i, pj, dj)
		}

		// The declaration's JSON is a valid protobuf JSON request body.
		var p stratav1.AssetDecl
		if err := protojson.Unmarshal(dj, &p); err != nil {
			t.Fatalf("decl %d: protojson.Unmarshal of the declaration's JSON: %v", i, err)
		}
		back, err := DeclFromProto(&p, "")
		if err != nil {
			t.Fatalf("decl %d: DeclFromProto: %v", i, err)
		}
		if !reflect.DeepEqual(back, d) {
			t.Errorf("decl %d: JSON -> proto -> decl changed it", i)
		}
	}
}

func TestDeclFromProtoFieldErrors(t *testing.T) {
	t.Parallel()

	ok := &stratav1.AssetDecl{Key: "a"}
	bad := &stratav1.AssetDecl{
		Key: "b",
		Deps: []*stratav1.DepDecl{
			{Asset: "a"},
			{Asset: "a", Mapping: &stratav1.MappingDecl{
				Static: map[string]*structpb.ListValue{
					"eu": {Values: []*structpb.Value{structpb.NewStringValue("fr"), structpb.NewNumberValue(2)}},
				},
				Multi: map[string]*stratav1.MappingDecl{
					"date": {Static: map[string]*structpb.ListValue{
						"x": {Values: []*structpb.Value{structpb.NewNullValue()}},
					}},
				},
			}},
		},
		Compute:   &stratav1.ComputeDecl{Timeout: "soon"},
		Retry:     &stratav1.RetryDecl{Backoff: "-1s"},
		Freshness: &stratav1.FreshnessDecl{MaxLag: "2x", WarnLag: "1h"},
		Resources: &stratav1.ResourcesDecl{Memory: "lots"},
	}

	_, err := DeclsFromProto([]*stratav1.AssetDecl{ok, bad})
	if err == nil {
		t.Fatal("DeclsFromProto accepted invalid strings")
	}
	if _, isVE := err.(*asset.ValidationError); !isVE {
		t.Fatalf("error is %T, want *asset.ValidationError", err)
	}
	var got []string
	for _, fe := range asset.FieldErrors(err) {
		got = append(got, fe.Field)
		if fe.Problem == "" {
			t.Errorf("%s: empty problem", fe.Field)
		}
	}
	want := []string{
		`assets[1].deps[1].mapping.static["eu"][1]`,
		`assets[1].deps[1].mapping.multi["date"].static["x"][0]`,
		"assets[1].compute.timeout",
		"assets[1].retry.backoff",
		"assets[1].freshness.max_lag",
		"assets[1].resources.memory",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("field paths:\ngot  %q\nwant %q", got, want)
	}
	if !strings.Contains(err.Error(), `invalid duration "soon"`) {
		t.Errorf("error text %q does not name the bad duration", err)
	}
}

func TestDeclFromProtoNil(t *testing.T) {
	t.Parallel()

	d, err := DeclFromProto(nil, "")
	if err != nil || !reflect.DeepEqual(d, asset.AssetDecl{}) {
		t.Errorf("DeclFromProto(nil) = %+v, %v; want the zero declaration", d, err)
	}
	if p := DeclToProto(nil); p != nil {
		t.Errorf("DeclToProto(nil) = %v, want nil", p)
	}
	if m, err := MappingFromProto(nil, "x"); m != nil || err != nil {
		t.Errorf("MappingFromProto(nil) = %v, %v", m, err)
	}
}

func TestToInt32Saturates(t *testing.T) {
	t.Parallel()

	for in, want := range map[int]int32{0: 0, -5: -5, 1 << 40: 1<<31 - 1, -(1 << 40): -(1 << 31)} {
		if got := toInt32(in); got != want {
			t.Errorf("toInt32(%d) = %d, want %d", in, got, want)
		}
	}
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}
