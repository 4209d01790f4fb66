package jobs

import "testing"

// BenchmarkDay measures one day of the demo at full scale: generating the
// 24 hourly event files (about 0.9 million events on a weekday) and
// stitching them into sessions.
func BenchmarkDay(b *testing.B) {
	day := "2026-11-20"
	for b.Loop() {
		tb := &testBundle{dir: b.TempDir(), scale: "1"}
		if _, err := tb.run(b, "events", "raw/events", hoursOf(day), nil); err != nil {
			b.Fatal(err)
		}
		if _, err := tb.run(b, "customers", "raw/customers", regions, nil); err != nil {
			b.Fatal(err)
		}
		ins := append(tb.inputsFor(b, "raw/events", hoursOf(day)...), tb.inputsFor(b, "raw/customers", regions...)...)
		if _, err := tb.run(b, "sessions", "analytics/sessions", []string{day}, ins); err != nil {
			b.Fatal(err)
		}
	}
}
