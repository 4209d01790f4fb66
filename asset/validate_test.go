package asset_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
)

// validDecl is a declaration that passes Validate; each case breaks one part.
func validDecl() asset.AssetDecl {
	return asset.AssetDecl{
		Key:         "analytics/daily_revenue",
		Description: "Revenue per day.",
		Group:       "finance",
		Owners:      []string{"finance-data@example.com"},
		Tags:        map[string]string{"tier": "gold"},
		CodeVersion: "7",
		Deps: []asset.DepDecl{
			{Asset: "raw/orders", Mapping: &asset.MappingDecl{TimeWindow: &asset.TimeWindowMappingDecl{StartOffset: -1}}},
			{Asset: "raw/customers"},
		},
		Compute:        &asset.ComputeDecl{Command: []string{"python3", "jobs/revenue.py"}, Env: map[string]string{"K": "V"}, Timeout: asset.Duration(30 * time.Minute)},
		Retry:          &asset.RetryDecl{MaxAttempts: 3, Backoff: asset.Duration(30 * time.Second)},
		Freshness:      &asset.FreshnessDecl{MaxLag: asset.Duration(2 * time.Hour), WarnLag: asset.Duration(time.Hour), Timezone: "Europe/Berlin"},
		Automation:     &asset.AutomationDecl{Condition: asset.AutomationEager},
		BackfillPolicy: &asset.BackfillPolicyDecl{MaxPartitionsPerRun: 30},
		Resources:      &asset.ResourcesDecl{Memory: 4 << 30, CPUs: 2},
		Output:         "file:///lake/{asset}/{partition}.parquet",
	}
}

// problem is one expected FieldError: its field, and a part of its problem.
type problem struct{ field, contains string }

func checkProblems(t *testing.T, err error, want []problem) {
	t.Helper()
	fes := asset.FieldErrors(err)
	if len(fes) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(fes), len(want), err)
	}
	for i, fe := range fes {
		if fe.Field != want[i].field || !strings.Contains(fe.Problem, want[i].contains) {
			t.Errorf("problem %d = %s: %s; want %s: ...%s...", i, fe.Field, fe.Problem, want[i].field, want[i].contains)
		}
	}
}

func TestValidateAsset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(d *asset.AssetDecl)
		want   []problem
	}{
		{"valid", func(d *asset.AssetDecl) {}, nil},
		{"minimal", func(d *asset.AssetDecl) { *d = asset.AssetDecl{Key: "a"} }, nil},
		{"key empty", func(d *asset.AssetDecl) { d.Key = "" }, []problem{{"key", "empty"}}},
		{"key invalid", func(d *asset.AssetDecl) { d.Key = "Analytics//x" }, []problem{{"key", "segment"}}},
		{"description too long", func(d *asset.AssetDecl) { d.Description = strings.Repeat("é", asset.MaxDescriptionLength+1) },
			[]problem{{"description", "more than 4096"}}},
		{"group", func(d *asset.AssetDecl) { d.Group = "Finance Team" }, []problem{{"group", "only a-z, 0-9 and _"}}},
		{"owners", func(d *asset.AssetDecl) { d.Owners = []string{"a", " ", "a"} },
			[]problem{{"owners[1]", "empty"}, {"owners[2]", `duplicate owner "a"`}}},
		{"tags", func(d *asset.AssetDecl) {
			d.Tags = map[string]string{"": "x", "long": strings.Repeat("v", asset.MaxTagValueLength+1)}
		}, []problem{{"tags", "tag name is empty"}, {"tags.long", "tag value is 1025 characters long"}}},
		{"code_version", func(d *asset.AssetDecl) { d.CodeVersion = strings.Repeat("x", 300) },
			[]problem{{"code_version", "more than 256"}}},
		{"deps", func(d *asset.AssetDecl) {
			d.Deps = []asset.DepDecl{
				{Asset: "raw/orders"},
				{Asset: "Raw Orders"},
				{Asset: "raw/orders"},
				{Asset: "b", Mapping: &asset.MappingDecl{}},
				{Asset: "c", Mapping: &asset.MappingDecl{Identity: &asset.Empty{}, All: &asset.Empty{}}},
			}
		}, []problem{
			{"deps[1].asset", "segment"},
			{"deps[2].asset", `duplicate dependency on "raw/orders" (also deps[0])`},
			{"deps[3].mapping", "set one mapping kind"},
			{"deps[4].mapping", "got identity and all"},
		}},
		{"mapping parameters", func(d *asset.AssetDecl) {
			d.Deps = []asset.DepDecl{
				{Asset: "a", Mapping: &asset.MappingDecl{Specific: []string{}}},
				{Asset: "b", Mapping: &asset.MappingDecl{Static: map[string][]string{"eu": {""}}}},
				{Asset: "c", Mapping: &asset.MappingDecl{Multi: map[string]*asset.MappingDecl{
					"date":   {Identity: &asset.Empty{}},
					"region": {},
					"x":      {Multi: map[string]*asset.MappingDecl{}},
					"y":      nil,
				}}},
			}
		}, []problem{
			{"deps[0].mapping.specific", "at least one"},
			{"deps[1].mapping.static.eu[0]", "empty"},
			{"deps[2].mapping.multi.region", "set one mapping kind"},
			{"deps[2].mapping.multi.x.multi", "cannot nest"},
			{"deps[2].mapping.multi.y", "set one mapping kind"},
		}},
		{"compute both", func(d *asset.AssetDecl) { d.Compute.Image = "ghcr.io/x/y:1" }, []problem{{"compute", "not both"}}},
		{"compute neither", func(d *asset.AssetDecl) { d.Compute = &asset.ComputeDecl{} }, []problem{{"compute", "set command"}}},
		{"compute details", func(d *asset.AssetDecl) {
			d.Compute.Command = []string{"python3", ""}
			d.Compute.Timeout = -1
			d.Compute.Env = map[string]string{"1X": "", "STRATA_RUN_ID": "x", "strata_x": "y", "OK_1": "fine"}
		}, []problem{
			{"compute.command[1]", "empty"},
			{"compute.timeout", "negative"},
			{"compute.env.1X", "not an environment variable name"},
			{"compute.env.STRATA_RUN_ID", "reserved"},
			{"compute.env.strata_x", "reserved"},
		}},
		{"retry", func(d *asset.AssetDecl) { d.Retry = &asset.RetryDecl{MaxAttempts: 101, Backoff: -1} },
			[]problem{{"retry.max_attempts", "between 1 and 100, got 101"}, {"retry.backoff", "negative"}}},
		{"retry unset attempts", func(d *asset.AssetDecl) { d.Retry = &asset.RetryDecl{} },
			[]problem{{"retry.max_attempts", "got 0"}}},
		{"freshness neither", func(d *asset.AssetDecl) { d.Freshness = &asset.FreshnessDecl{} },
			[]problem{{"freshness", "set max_lag"}}},
		{"freshness warn_lag", func(d *asset.AssetDecl) { d.Freshness.WarnLag = d.Freshness.MaxLag },
			[]problem{{"freshness.warn_lag", "less than max_lag (2h0m0s)"}}},
		{"freshness timezone", func(d *asset.AssetDecl) { d.Freshness.Timezone = "Mars/Base" },
			[]problem{{"freshness.timezone", `unknown time zone "Mars/Base"`}}},
		{"freshness local", func(d *asset.AssetDecl) { d.Freshness.Timezone = "Local" },
			[]problem{{"freshness.timezone", "depends on the machine"}}},
		{"automation unknown", func(d *asset.AssetDecl) { d.Automation.Condition = "eagre" },
			[]problem{{"automation.condition", `unknown condition "eagre"; use none, eager, on_missing or on_cron; did you mean "eager"?`}}},
		{"automation empty", func(d *asset.AssetDecl) { d.Automation.Condition = "" },
			[]problem{{"automation.condition", "set one of"}}},
		{"automation cron without on_cron", func(d *asset.AssetDecl) { d.Automation.Cron = "0 * * * *" },
			[]problem{{"automation.cron", "only on_cron takes a cron"}}},
		{"automation on_cron without cron", func(d *asset.AssetDecl) { d.Automation.Condition = asset.AutomationOnCron },
			[]problem{{"automation.cron", "needs a cron"}}},
		{"backfill_policy", func(d *asset.AssetDecl) { d.BackfillPolicy.MaxPartitionsPerRun = 0 },
			[]problem{{"backfill_policy.max_partitions_per_run", "at least 1"}}},
		{"resources", func(d *asset.AssetDecl) { d.Resources = &asset.ResourcesDecl{Memory: -1, CPUs: math.NaN()} },
			[]problem{{"resources.memory", "negative"}, {"resources.cpus", ">= 0"}}},
		{"output scheme", func(d *asset.AssetDecl) { d.Output = "s3://bucket/{asset}" },
			[]problem{{"output", `unsupported scheme "s3"`}}},
		{"output relative file url", func(d *asset.AssetDecl) { d.Output = "file://lake/{asset}" },
			[]problem{{"output", "absolute path"}}},
		{"output placeholder", func(d *asset.AssetDecl) { d.Output = "/lake/{asset}/{date}" },
			[]problem{{"output", "unknown placeholder {date}"}}},
		{"output braces", func(d *asset.AssetDecl) { d.Output = "/lake/{asset" }, []problem{{"output", "unclosed {"}}},
		{"output plain path", func(d *asset.AssetDecl) { d.Output = "lake/{asset}/{partition}/" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := validDecl()
			tt.modify(&d)
			err := d.Validate()
			if tt.want == nil && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			checkProblems(t, err, tt.want)
		})
	}
}

// The cases below call into the partitions definitions and the cron
// parser: Validate reports their problems under the asset's field paths.
func TestValidatePartitionsAndCron(t *testing.T) {
	t.Parallel()
	d := validDecl()
	d.Partitions = &asset.PartitionsDecl{TimeWindow: &asset.TimeWindowDecl{Schedule: "daily", Start: "2026-01-01", Timezone: "Europe/Berlin"}}
	d.Automation = &asset.AutomationDecl{Condition: asset.AutomationOnCron, Cron: "0 * * * *"}
	d.Freshness = &asset.FreshnessDecl{CronDeadline: "0 9 * * *"}
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}

	d.Partitions.TimeWindow.Timezone = "Mars/Base"
	d.Automation.Cron = "0 25 * * *"
	d.Freshness.CronDeadline = "every morning"
	fes := asset.FieldErrors(d.Validate())
	var fields []string
	for _, fe := range fes {
		fields = append(fields, fe.Field)
	}
	if len(fes) != 3 || !strings.HasPrefix(fields[0], "partitions.time_window") ||
		fields[1] != "freshness.cron_deadline" || fields[2] != "automation.cron" {
		t.Errorf("fields = %q; want partitions.time_window..., freshness.cron_deadline, automation.cron", fields)
	}

	d = validDecl()
	d.Output = "/lake/{asset}.parquet"
	d.Partitions = &asset.PartitionsDecl{Static: []string{"eu", "us"}}
	checkProblems(t, d.Validate(), []problem{{"output", "has no {partition}"}})

	d.Output = ""
	d.Partitions = &asset.PartitionsDecl{Static: []string{"eu", "eu"}}
	fes = asset.FieldErrors(d.Validate())
	if len(fes) == 0 || !strings.HasPrefix(fes[0].Field, "partitions.static") {
		t.Errorf("duplicate static keys: %v", d.Validate())
	}
}

func TestValidateFile(t *testing.T) {
	t.Parallel()
	f := &asset.File{Assets: []asset.AssetDecl{validDecl(), {Key: "b", Retry: &asset.RetryDecl{}}, {Key: "B"}}}
	err := f.Validate()
	var fields []string
	for _, fe := range asset.FieldErrors(err) {
		fields = append(fields, fe.Field)
	}
	if want := []string{"assets[1].retry.max_attempts", "assets[2].key"}; !slices.Equal(fields, want) {
		t.Errorf("fields = %q, want %q", fields, want)
	}
	// Cross-asset checks are NewGraph's: the same key twice passes here.
	f = &asset.File{Assets: []asset.AssetDecl{{Key: "a"}, {Key: "a"}}}
	if err := f.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
}
