package planner

import (
	"fmt"
	"time"

	"github.com/strata-data/strata/asset"
)

// StatusRange is a run of partitions with equal status: indices [Lo, Hi).
type StatusRange struct {
	Lo     int64  `json:"lo"`
	Hi     int64  `json:"hi"`
	Status Status `json:"status"`
}

// StatusRanges returns an asset's partitions lo..hi-1 as runs of equal
// status, in index order: the health bar of the UI, over a million
// partitions, without formatting a key or computing a cause. hi <= 0 means
// every partition.
func (s *State) StatusRanges(key asset.Key, lo, hi int64) ([]StatusRange, error) {
	id, ok := s.byKey[key]
	if !ok {
		return nil, fmt.Errorf("asset %q: %w", key, ErrUnknownAsset)
	}
	as := s.assets[id]
	if hi <= 0 || hi > int64(as.n) {
		hi = int64(as.n)
	}
	lo = max(lo, 0)
	var out []StatusRange
	for i := lo; i < hi; i++ {
		st := as.status(int(i))
		if n := len(out); n > 0 && out[n-1].Status == st {
			out[n-1].Hi = i + 1
			continue
		}
		out = append(out, StatusRange{Lo: i, Hi: i + 1, Status: st})
	}
	return out, nil
}

// Late counts an asset's partitions lo..hi-1 (hi <= 0: to the last) that
// are not missing and fail their freshness policy at now: the late count
// of a health bar, without a status per partition.
func (s *State) Late(key asset.Key, lo, hi int64, now time.Time) (int64, error) {
	id, ok := s.byKey[key]
	if !ok {
		return 0, fmt.Errorf("asset %q: %w", key, ErrUnknownAsset)
	}
	as := s.assets[id]
	if as.a.Decl.Freshness == nil {
		return 0, nil
	}
	if hi <= 0 || hi > int64(as.n) {
		hi = int64(as.n)
	}
	var n int64
	for i := max(lo, 0); i < hi; i++ {
		if as.status(int(i)) == StatusMissing || (as.windowed && as.seq[i] != 0) {
			continue // materialized windows pass
		}
		if s.freshness(as, int(i), now).State == FreshnessFail {
			n++
		}
	}
	return n, nil
}
