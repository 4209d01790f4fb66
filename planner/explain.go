package planner

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strata-data/strata/asset"
)

// ErrUnknownPartition is returned for a partition key that is not a
// partition of the asset at the state's now.
var ErrUnknownPartition = errors.New("unknown partition")

func (s *State) lookup(key asset.Key, partition string) (*assetState, int, error) {
	id, ok := s.byKey[key]
	if !ok {
		return nil, 0, fmt.Errorf("asset %q: %w", key, ErrUnknownAsset)
	}
	as := s.assets[id]
	j, ok := as.parts.Index(partition)
	if !ok {
		return nil, 0, fmt.Errorf("asset %s partition %q: %w", key, partition, ErrUnknownPartition)
	}
	return as, int(j), nil
}

// Status returns the status of one asset partition with its causes and its
// freshness at now.
func (s *State) Status(key asset.Key, partition string, now time.Time) (PartitionStatus, error) {
	return s.Explain(key, partition, now, nil)
}

// Explain is Status, optionally given the provenance recorded with the
// partition's latest materialization (read from the catalog by the
// caller): with it, an upstream_updated cause names exactly the upstream
// partitions whose data version differs; without it, the ones
// materialized after this partition (or, when data versions say it is
// stale but order does not, the latest materialized upstream partition).
func (s *State) Explain(key asset.Key, partition string, now time.Time, prov []InputVersion) (PartitionStatus, error) {
	as, i, err := s.lookup(key, partition)
	if err != nil {
		return PartitionStatus{}, err
	}
	return s.partitionStatus(as, i, now, prov), nil
}

func (s *State) partitionStatus(as *assetState, i int, now time.Time, prov []InputVersion) PartitionStatus {
	return PartitionStatus{
		Asset:      as.a.Key,
		Key:        as.parts.Key(int64(i)),
		Status:     as.status(i),
		DataStatus: Status(as.st[i] & stMask),
		Causes:     s.causes(as, i, prov, true),
		Freshness:  s.freshness(as, i, now),
		LatestSeq:  as.seq[i],
	}
}

// Counts counts an asset's partitions by status.
func (s *State) Counts(key asset.Key) (Counts, error) {
	id, ok := s.byKey[key]
	if !ok {
		return Counts{}, fmt.Errorf("asset %q: %w", key, ErrUnknownAsset)
	}
	as := s.assets[id]
	c := Counts{Partitions: int64(as.n)}
	for i := 0; i < as.n; i++ {
		countStatus(&c, as, i)
	}
	return c, nil
}

// Partitions returns the statuses of an asset's partitions lo..hi-1 (a
// page), with causes and freshness at now.
func (s *State) Partitions(key asset.Key, lo, hi int, now time.Time) ([]PartitionStatus, error) {
	id, ok := s.byKey[key]
	if !ok {
		return nil, fmt.Errorf("asset %q: %w", key, ErrUnknownAsset)
	}
	as := s.assets[id]
	lo, hi = max(lo, 0), min(hi, as.n)
	out := make([]PartitionStatus, 0, max(hi-lo, 0))
	for i := lo; i < hi; i++ {
		out = append(out, s.partitionStatus(as, i, now, nil))
	}
	return out, nil
}

// causes lists why partition i has its status, computed on demand from
// the cause bits' inputs (nothing is stored per partition but the bits).
//
// roots follows upstream_stale chains to their root (a walk upstream);
// without it RootAsset/RootPartition are left empty.
func (s *State) causes(as *assetState, i int, prov []InputVersion, roots bool) []Cause {
	st := as.st[i]
	if st&causeBits == 0 {
		return nil
	}
	var out []Cause
	if st&cCode != 0 {
		old, nw := s.codeName[as.code[i]], as.a.Decl.CodeVersion
		out = append(out, Cause{Kind: CauseCodeVersionChanged, OldCodeVersion: old, NewCodeVersion: nw,
			Detail: fmt.Sprintf("code version changed from %q to %q", old, nw)})
	}
	seq := as.seq[i]
	for d := range as.deps {
		u := s.assets[as.deps[d].up]
		if st&cUpMiss != 0 && s.requiresNonexistent(as, d, i) {
			for _, k := range s.nonexistentKeys(as, d, i) {
				out = append(out, Cause{Kind: CauseUpstreamMissing, UpstreamAsset: u.a.Key, UpstreamPartition: k, Nonexistent: true,
					Detail: fmt.Sprintf("upstream %s is required but does not exist", ref(u.a.Key, k))})
			}
		}
		var missing, stale []int
		latest, latestSeq := -1, int64(0)
		var after []int
		s.upstreamRanges(as, d, i, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				switch u.st[j] & stMask {
				case stMissing:
					missing = append(missing, j)
				case stStale:
					stale = append(stale, j)
				}
				if u.seq[j] > latestSeq {
					latest, latestSeq = j, u.seq[j]
				}
				if seq != 0 && u.seq[j] > seq {
					after = append(after, j)
				}
			}
		})
		if st&cUpMiss != 0 {
			out = appendMany(out, missing, func(j int) Cause {
				k := u.parts.Key(int64(j))
				return Cause{Kind: CauseUpstreamMissing, UpstreamAsset: u.a.Key, UpstreamPartition: k,
					Detail: fmt.Sprintf("upstream %s is missing", ref(u.a.Key, k))}
			})
		}
		if st&stMask == stMissing {
			continue
		}
		if st&cUpdated != 0 && s.depUpdated(as, d, i) {
			out = append(out, s.updatedCauses(as, d, i, u, after, latest, prov)...)
		}
		if st&cUpStale != 0 {
			out = appendMany(out, stale, func(j int) Cause {
				if !roots {
					k := u.parts.Key(int64(j))
					return Cause{Kind: CauseUpstreamStale, UpstreamAsset: u.a.Key, UpstreamPartition: k,
						Detail: fmt.Sprintf("upstream %s is stale", ref(u.a.Key, k))}
				}
				ra, rj, rk := s.root(u, j, 0)
				return Cause{Kind: CauseUpstreamStale, UpstreamAsset: u.a.Key, UpstreamPartition: u.parts.Key(int64(j)),
					RootAsset: ra.a.Key, RootPartition: ra.parts.Key(int64(rj)), RootKind: rk,
					Detail: fmt.Sprintf("upstream %s is stale (root cause: %s at %s)", ref(u.a.Key, u.parts.Key(int64(j))), rk, ref(ra.a.Key, ra.parts.Key(int64(rj))))}
			})
		}
	}
	return out
}

// appendMany appends a cause for the first few of idx, folding the rest
// into the last one's Detail.
func appendMany(out []Cause, idx []int, mk func(int) Cause) []Cause {
	const show = 3
	for k, j := range idx {
		if k == show {
			out[len(out)-1].Detail += fmt.Sprintf(" (and %d more)", len(idx)-show)
			break
		}
		out = append(out, mk(j))
	}
	return out
}

// depUpdated reports whether dep d alone makes partition i upstream_updated.
func (s *State) depUpdated(as *assetState, d, i int) bool {
	seq := as.seq[i]
	u := s.assets[as.deps[d].up]
	var prov uint64
	if p := as.prov[d]; p != nil {
		prov = p[i]
	}
	var maxSeq int64
	var sum uint64
	s.upstreamRanges(as, d, i, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			maxSeq = max(maxSeq, u.seq[j])
			sum += u.elem(j)
		}
	})
	if prov != 0 {
		return sum|1 != prov
	}
	return maxSeq > seq
}

func (s *State) updatedCauses(as *assetState, d, i int, u *assetState, after []int, latest int, prov []InputVersion) []Cause {
	mk := func(j int, why string) Cause {
		k := u.parts.Key(int64(j))
		return Cause{Kind: CauseUpstreamUpdated, UpstreamAsset: u.a.Key, UpstreamPartition: k,
			Detail: fmt.Sprintf("upstream %s %s", ref(u.a.Key, k), why)}
	}
	if len(prov) > 0 {
		// Exact: compare the recorded versions with the current ones.
		recorded := map[int]string{}
		for _, in := range prov {
			if in.Asset != u.a.Key {
				continue
			}
			if j, ok := u.parts.Index(in.PartitionKey); ok {
				recorded[int(j)] = in.DataVersion
			}
		}
		var diff []int
		s.upstreamRanges(as, d, i, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				v, ok := recorded[j]
				if u.seq[j] != 0 && (!ok || hashString(v) != u.ver[j]) {
					diff = append(diff, j)
				}
			}
		})
		if len(diff) > 0 {
			return appendMany(nil, diff, func(j int) Cause {
				return mk(j, "has a data version other than the one this materialization read")
			})
		}
	}
	if len(after) > 0 {
		return appendMany(nil, after, func(j int) Cause { return mk(j, "was materialized after this one") })
	}
	if latest >= 0 {
		return []Cause{mk(latest, "has a data version other than the one recorded in provenance")}
	}
	// Provenance names inputs the mapping no longer reads.
	return []Cause{{Kind: CauseUpstreamUpdated, UpstreamAsset: u.a.Key,
		Detail: fmt.Sprintf("upstream %s: the partitions read changed since this materialization", u.a.Key)}}
}

// root follows upstream_stale links from partition j of u to a partition
// whose own cause is something else, returning it and that cause.
func (s *State) root(u *assetState, j int, depth int) (*assetState, int, CauseKind) {
	st := u.st[j]
	switch {
	case st&cCode != 0:
		return u, j, CauseCodeVersionChanged
	case st&cUpdated != 0:
		return u, j, CauseUpstreamUpdated
	case st&cUpMiss != 0:
		return u, j, CauseUpstreamMissing
	}
	if depth > len(s.assets)+1 {
		return u, j, CauseUpstreamStale
	}
	for d := range u.deps {
		w := s.assets[u.deps[d].up]
		found := -1
		s.upstreamRanges(u, d, j, func(lo, hi int) {
			for k := lo; k < hi && found < 0; k++ {
				if w.st[k]&stMask == stStale {
					found = k
				}
			}
		})
		if found >= 0 {
			return s.root(w, found, depth+1)
		}
	}
	return u, j, CauseUpstreamStale
}

// nonexistentKeys asks the mapping which upstream keys partition i
// requires that do not exist.
func (s *State) nonexistentKeys(as *assetState, d, i int) []string {
	dm := &as.deps[d]
	u := s.assets[dm.up]
	if dm.kind == depIdentity {
		return []string{as.parts.Key(int64(i))}
	}
	m := as.a.Deps[d].Mapping
	if m == nil {
		return nil
	}
	sub := asset.NewSubset(as.parts)
	sub.Add(int64(i))
	res, err := m.Upstream(sub, u.parts)
	if err != nil {
		return []string{fmt.Sprintf("(mapping error: %v)", err)}
	}
	if len(res.Missing) > 3 {
		return res.Missing[:3]
	}
	return res.Missing
}

// describeCauses is a one-line summary of partition i's causes.
func (s *State) describeCauses(as *assetState, i int) string {
	cs := s.causes(as, i, nil, false)
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, c.Detail)
		if len(parts) == 2 {
			break
		}
	}
	if len(cs) > 2 {
		parts = append(parts, fmt.Sprintf("%d more causes", len(cs)-2))
	}
	return strings.Join(parts, "; ")
}

// PartitionRef names one asset partition.
type PartitionRef struct {
	Asset asset.Key `json:"asset"`
	Key   string    `json:"key"`
}

// Inputs returns the upstream asset partitions that partition reads, dep
// by dep (the provenance a run of it should record).
func (s *State) Inputs(key asset.Key, partition string) ([]PartitionRef, error) {
	as, i, err := s.lookup(key, partition)
	if err != nil {
		return nil, err
	}
	var out []PartitionRef
	for d := range as.deps {
		u := s.assets[as.deps[d].up]
		s.upstreamRanges(as, d, i, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				out = append(out, PartitionRef{Asset: u.a.Key, Key: u.parts.Key(int64(j))})
			}
		})
	}
	return out, nil
}

// ref names an asset partition in a sentence: `a/b partition "2026-01-01"`,
// or just `a/b` for an unpartitioned asset.
func ref(a asset.Key, key string) string {
	if key == "" {
		return string(a)
	}
	return fmt.Sprintf("%s partition %q", a, key)
}
