package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
)

// snapshot is the catalog's current asset definitions at one revision, with
// their graph. It is immutable and shared between requests.
type snapshot struct {
	rev     int64
	records []catalog.AssetRecord // ordered by key
	byKey   map[asset.Key]*catalog.AssetRecord
	graph   *asset.Graph
}

// snapshotCache keeps the latest snapshot; a request re-reads the assets
// only when the catalog revision moved.
type snapshotCache struct {
	mu  sync.Mutex
	cur *snapshot
}

func (s *Server) snapshot(ctx context.Context) (*snapshot, error) {
	rev, err := s.cat.CatalogRevision(ctx)
	if err != nil {
		return nil, err
	}
	s.snaps.mu.Lock()
	defer s.snaps.mu.Unlock()
	if cur := s.snaps.cur; cur != nil && cur.rev == rev {
		return cur, nil
	}
	recs, err := s.cat.CurrentAssets(ctx)
	if err != nil {
		return nil, err
	}
	decls := make([]asset.AssetDecl, len(recs))
	snap := &snapshot{rev: rev, records: recs, byKey: make(map[asset.Key]*catalog.AssetRecord, len(recs))}
	for i := range recs {
		decls[i] = recs[i].Decl
		snap.byKey[recs[i].Key] = &recs[i]
	}
	g, err := asset.NewGraph(decls)
	if err != nil {
		// Never a client error: the catalog holds only validated graphs.
		return nil, status.Errorf(codes.Internal, "the catalog's assets do not form a valid graph: %v", err)
	}
	snap.graph = g
	s.snaps.cur = snap
	return snap, nil
}

// asset returns a current asset of the snapshot, NotFound when absent.
func (sn *snapshot) asset(field, key string) (*asset.Asset, error) {
	if key == "" {
		return nil, InvalidArgument(field, "asset key is empty")
	}
	if _, err := asset.ParseKey(key); err != nil {
		return nil, InvalidArgument(field, "%v", err)
	}
	a, ok := sn.graph.Asset(asset.Key(key))
	if !ok {
		return nil, status.Errorf(codes.NotFound, "asset %q not found", key)
	}
	return a, nil
}

// selectIDs resolves a selection against the snapshot's graph; empty
// selects every asset. A syntax error is InvalidArgument at field, an
// unknown asset NotFound.
func (sn *snapshot) selectIDs(field, sel string) ([]int, error) {
	if strings.TrimSpace(sel) == "" {
		ids := make([]int, sn.graph.Len())
		for i := range ids {
			ids[i] = i
		}
		return ids, nil
	}
	ids, err := sn.graph.Select(sel)
	if err != nil {
		var se *asset.SelectionError
		if errors.As(err, &se) && strings.HasPrefix(se.Problem, "unknown asset") {
			return nil, status.Error(codes.NotFound, err.Error())
		}
		return nil, InvalidArgument(field, "%s", strings.TrimPrefix(err.Error(), "selection: "))
	}
	return ids, nil
}

// Page tokens are opaque: base64 of a kind prefix and a cursor.

func encodeToken(kind, cursor string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + cursor))
}

func decodeToken(field, kind, tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", InvalidArgument(field, "not a page token from this server")
	}
	k, cursor, ok := strings.Cut(string(b), ":")
	if !ok || k != kind {
		return "", InvalidArgument(field, "not a page token of this list")
	}
	return cursor, nil
}

func decodeIntToken(field, kind, tok string) (int64, error) {
	c, err := decodeToken(field, kind, tok)
	if err != nil || c == "" {
		return 0, err
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 0 {
		return 0, InvalidArgument(field, "not a page token of this list")
	}
	return n, nil
}

func pageSize(field string, n int32, def, max int) (int, error) {
	switch {
	case n < 0:
		return 0, InvalidArgument(field, "must not be negative, got %d", n)
	case n == 0:
		return def, nil
	case int(n) > max:
		return max, nil
	}
	return int(n), nil
}

// parseID parses a numeric id of a run, backfill or materialization.
func parseID(field, s string) (int64, error) {
	if s == "" {
		return 0, InvalidArgument(field, "is empty")
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, InvalidArgument(field, "%q is not an id (a positive integer)", s)
	}
	return id, nil
}

func formatID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
