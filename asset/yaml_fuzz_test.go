package asset_test

import (
	"os"
	"testing"

	"github.com/strata-data/strata/asset"
)

// FuzzParseFile feeds arbitrary bytes to ParseFile and what it decodes to
// Validate and NewGraph: none may panic, and every problem ParseFile reports
// names the file.
func FuzzParseFile(f *testing.F) {
	if data, err := os.ReadFile("../examples/partitions.yaml"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"assets: []\n",
		"assets:\n  - key: a\n    automation: {on_cron: \"0 * * * *\"}\n",
		"assets:\n  - key: a\n    partitions: {static: [x, y]}\n  - key: b\n    partitions: {static: [x]}\n    deps: [{asset: a, mapping: {static: {x: x, y: [x]}}}]\n",
		"assets:\n  - key: a\n    partitions: {time_window: {cron: \"0 */4 * * *\", start: \"2026-01-01\", end: \"2026-02-01\", fmt: \"%Y-%m-%d-%H:%M\", end_offset: 1}}\n",
		"assets:\n  - &a {key: a}\n  - <<: *a\n    key: b\n    deps: [{asset: a, mapping: {multi: {d: {identity: {}}}}}]\n",
		"assets: [{key: a, retry: {max_attempts: three}}]\n---\nassets: []\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, src, err := asset.ParseFile("fuzz.yaml", data)
		if file == nil || src == nil {
			t.Fatalf("ParseFile returned a nil File or Source (err %v)", err)
		}
		if err != nil {
			fes := asset.FieldErrors(err)
			if len(fes) == 0 {
				t.Fatalf("ParseFile error carries no FieldErrors: %v", err)
			}
			for _, fe := range fes {
				if fe.File != "fuzz.yaml" {
					t.Fatalf("FieldError without the file name: %#v", fe)
				}
			}
			return
		}
		_ = src.Locate(file.Validate())
		if _, err := asset.NewGraph(file.Assets); err != nil {
			_ = src.Locate(err)
		}
	})
}
