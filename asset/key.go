package asset

import (
	"fmt"
	"strings"
)

// Key is an asset key: one or more segments of [a-z0-9_]+ joined by "/",
// for example "analytics/daily_revenue".
type Key string

// MaxKeyLength bounds the length of an asset key.
const MaxKeyLength = 512

// ParseKey validates s as an asset key.
func ParseKey(s string) (Key, error) {
	if err := validateKey(s); err != nil {
		return "", err
	}
	return Key(s), nil
}

func validateKey(s string) error {
	if s == "" {
		return fmt.Errorf("asset key is empty")
	}
	if len(s) > MaxKeyLength {
		return fmt.Errorf("asset key is %d characters long, more than %d", len(s), MaxKeyLength)
	}
	for i, seg := range strings.Split(s, "/") {
		if seg == "" {
			return fmt.Errorf("asset key %q has an empty segment (segment %d)", s, i)
		}
		for j := 0; j < len(seg); j++ {
			c := seg[j]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return fmt.Errorf("asset key %q: segment %q has %q; segments take only a-z, 0-9 and _", s, seg, rune(c))
			}
		}
	}
	return nil
}

// Segments returns the key's path segments.
func (k Key) Segments() []string { return strings.Split(string(k), "/") }

func (k Key) String() string { return string(k) }
