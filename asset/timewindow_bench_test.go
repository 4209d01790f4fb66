package asset

import (
	"testing"
)

// twBenchDef is an hourly definition with 1,000,000 partitions existing.
func twBenchDef(b *testing.B, tz string) (*TimeWindowDef, Partitions) {
	b.Helper()
	d := twMustDef(b, TimeWindowDecl{Schedule: "hourly", Start: "2000-01-01-00:00", Timezone: tz})
	p := d.At(d.WindowStart(1_000_000), nil)
	if p.Len() != 1_000_000 {
		b.Fatalf("Len = %d", p.Len())
	}
	return d, p
}

// BenchmarkTimeWindowKeysPage lists 100 keys at offset 900,000.
func BenchmarkTimeWindowKeysPage(b *testing.B) {
	for _, tz := range []string{"UTC", "Europe/Berlin"} {
		b.Run(tz, func(b *testing.B) {
			_, p := twBenchDef(b, tz)
			keys := make([]string, 100)
			b.ReportAllocs()
			for b.Loop() {
				for i := range keys {
					keys[i] = p.Key(900_000 + int64(i))
				}
			}
		})
	}
}

// BenchmarkTimeWindowIndex tests membership of one key.
func BenchmarkTimeWindowIndex(b *testing.B) {
	for _, tz := range []string{"UTC", "Europe/Berlin"} {
		b.Run(tz, func(b *testing.B) {
			_, p := twBenchDef(b, tz)
			key := p.Key(900_123)
			b.ReportAllocs()
			for b.Loop() {
				if i, ok := p.Index(key); !ok || i != 900_123 {
					b.Fatalf("Index(%q) = %d, %v", key, i, ok)
				}
			}
		})
	}
}

// BenchmarkTimeWindowNewDef measures building a definition (validation,
// zone table and model).
func BenchmarkTimeWindowNewDef(b *testing.B) {
	for _, tz := range []string{"UTC", "Europe/Berlin"} {
		b.Run(tz, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := twMustDef(b, TimeWindowDecl{Schedule: "daily", Start: "2020-01-01", Timezone: tz})
				d.init()
			}
		})
	}
}
