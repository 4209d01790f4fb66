package asset

import (
	"strings"
	"testing"
)

func TestStrftimeFormat(t *testing.T) {
	t.Parallel()
	dt := StrftimeFields{Year: 2021, Month: 3, Day: 4, Hour: 5, Minute: 6, Second: 7, Offset: -6 * 3600}
	tests := []struct {
		format string
		want   string
	}{
		{"%Y-%m-%d", "2021-03-04"},
		{"%Y-%m-%d-%H:%M", "2021-03-04-05:06"},
		{"%Y-%m-%dT%H:%M:%S%z", "2021-03-04T05:06:07-0600"},
		{"%y/%b/%j %%", "21/Mar/063 %"},
		{"week of %d.%m.%Y", "week of 04.03.2021"},
		{"", ""},
	}
	for _, tt := range tests {
		s, err := CompileStrftime(tt.format)
		if err != nil {
			t.Fatalf("CompileStrftime(%q): %v", tt.format, err)
		}
		if got := s.Format(dt); got != tt.want {
			t.Errorf("Format(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
	s, _ := CompileStrftime("%z")
	if got := s.Format(StrftimeFields{Offset: 5*3600 + 30*60}); got != "+0530" {
		t.Errorf("%%z = %q", got)
	}
}

func TestStrftimeParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format, in string
		want       StrftimeFields
		wantErr    string
	}{
		{format: "%Y-%m-%d", in: "2021-03-04", want: StrftimeFields{Year: 2021, Month: 3, Day: 4}},
		{format: "%Y-%m-%d", in: "2021-3-4", want: StrftimeFields{Year: 2021, Month: 3, Day: 4}},
		{format: "%Y-%m-%d-%H:%M", in: "2020-11-01-2:30", want: StrftimeFields{Year: 2020, Month: 11, Day: 1, Hour: 2, Minute: 30}},
		{format: "%Y-%m-%d-%H:%M%z", in: "2021-11-07-01:00-0600", want: StrftimeFields{Year: 2021, Month: 11, Day: 7, Hour: 1, Offset: -21600, HasOffset: true}},
		{format: "%Y-%m-%d%z", in: "2020-01-01-00:00", want: StrftimeFields{Year: 2020, Month: 1, Day: 1, HasOffset: true}},
		{format: "%Y-%m-%dT%H:%M:%S%z", in: "2021-03-04T05:06:07Z", want: StrftimeFields{Year: 2021, Month: 3, Day: 4, Hour: 5, Minute: 6, Second: 7, HasOffset: true}},
		{format: "%Y%m%d", in: "20210304", want: StrftimeFields{Year: 2021, Month: 3, Day: 4}},
		{format: "%y %b %j", in: "21 mar 063", want: StrftimeFields{Year: 2021, Month: 3, Day: 4}},
		{format: "%H:%M", in: "23:59", want: StrftimeFields{Year: 1900, Month: 1, Day: 1, Hour: 23, Minute: 59}},
		{format: "%Y-%m-%d", in: "2021-02-29", wantErr: "out of range"},
		{format: "%Y-%m-%d", in: "2021-13-01", wantErr: "does not match"},
		{format: "%Y-%m-%d", in: "2021-03-04-05:00", wantErr: "unconverted text"},
		{format: "%Y-%m-%d", in: "21-03-04", wantErr: "does not match"},
		{format: "%H", in: "24", wantErr: "unconverted"},
		{format: "%Y-%m-%d%z", in: "2021-03-04+2500", wantErr: "does not match"},
	}
	for _, tt := range tests {
		s, err := CompileStrftime(tt.format)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q, %q) err = %v, want %q", tt.format, tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q, %q): %v", tt.format, tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q, %q) = %+v, want %+v", tt.format, tt.in, got, tt.want)
		}
	}
}

func TestStrftimeCompileErrors(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"%Y-%q", "%", "%Y%"} {
		if _, err := CompileStrftime(f); err == nil {
			t.Errorf("CompileStrftime(%q) succeeded", f)
		}
	}
}
