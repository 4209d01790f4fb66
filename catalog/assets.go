package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/uptrace/bun"

	"github.com/strata-data/strata/asset"
)

var errDryRun = errors.New("dry run")

type applyItem struct {
	key  string
	decl asset.AssetDecl
	json string
	hash string
}

// canonicalDecl returns the stored form of d (its JSON encoding: fields in
// declaration order, map keys sorted) and the hash that makes applying
// idempotent.
func canonicalDecl(d asset.AssetDecl) (string, string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", "", err
	}
	h := sha256.Sum256(b)
	return string(b), hex.EncodeToString(h[:]), nil
}

func validateDecls(decls []asset.AssetDecl) ([]applyItem, error) {
	items := make([]applyItem, 0, len(decls))
	seen := make(map[string]int, len(decls))
	for i, d := range decls {
		if _, err := asset.ParseKey(d.Key); err != nil {
			return nil, invalidf("assets[%d].key: %v", i, err)
		}
		if j, ok := seen[d.Key]; ok {
			return nil, invalidf("assets[%d].key: %s is also declared at assets[%d]", i, d.Key, j)
		}
		seen[d.Key] = i
		deps := map[string]bool{}
		for j, dep := range d.Deps {
			if _, err := asset.ParseKey(dep.Asset); err != nil {
				return nil, invalidf("assets[%d].deps[%d].asset: %v", i, j, err)
			}
			if deps[dep.Asset] {
				return nil, invalidf("assets[%d].deps[%d].asset: %s is listed twice", i, j, dep.Asset)
			}
			deps[dep.Asset] = true
		}
		js, h, err := canonicalDecl(d)
		if err != nil {
			return nil, invalidf("assets[%d]: encode: %v", i, err)
		}
		items = append(items, applyItem{key: d.Key, decl: d, json: js, hash: h})
	}
	return items, nil
}

func currentRevision(ctx context.Context, db bun.IDB) (int64, error) {
	var rev int64
	err := db.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM catalog_revisions").Scan(&rev)
	return rev, err
}

// CatalogRevision returns the current catalog revision: it grows by one with
// every apply or deletion that changes something. 0 for an empty catalog.
func (c *Catalog) CatalogRevision(ctx context.Context) (int64, error) {
	rev, err := currentRevision(ctx, c.rdb)
	if err != nil {
		return 0, fmt.Errorf("read catalog revision: %w", translate(err))
	}
	return rev, nil
}

// ApplyAssets applies declarations atomically. An unchanged declaration (same
// canonical JSON) creates no revision; a changed one creates a new revision
// of the asset and replaces its lineage edges. With Prune, current assets
// absent from decls are deleted (their history is kept).
func (c *Catalog) ApplyAssets(ctx context.Context, decls []asset.AssetDecl, opts ApplyOptions) (ApplyResult, error) {
	items, err := validateDecls(decls)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("apply assets: %w", err)
	}
	var res ApplyResult
	err = c.write(ctx, func(tx *txn) error {
		res = ApplyResult{}
		if err := c.drv.lockApply(ctx, tx); err != nil {
			return err
		}
		cur, err := currentRevision(ctx, tx)
		if err != nil {
			return err
		}
		if opts.ExpectedRevision != 0 && opts.ExpectedRevision != cur {
			return fmt.Errorf("%w: expected catalog revision %d, current is %d", ErrConflict, opts.ExpectedRevision, cur)
		}
		var existing []assetModel
		if err := tx.NewSelect().Model(&existing).
			Column("key", "revision", "hash", "deleted", "created_at").Scan(ctx); err != nil {
			return err
		}
		byKey := make(map[string]*assetModel, len(existing))
		for i := range existing {
			byKey[existing[i].Key] = &existing[i]
		}
		var upserts []applyItem
		for _, it := range items {
			old, ok := byKey[it.key]
			switch {
			case !ok || old.Deleted:
				res.Created = append(res.Created, asset.Key(it.key))
				upserts = append(upserts, it)
			case old.Hash != it.hash:
				res.Changed = append(res.Changed, asset.Key(it.key))
				upserts = append(upserts, it)
			default:
				res.Unchanged = append(res.Unchanged, asset.Key(it.key))
			}
		}
		var deleted []string
		if opts.Prune {
			declared := make(map[string]bool, len(items))
			for _, it := range items {
				declared[it.key] = true
			}
			for _, e := range existing {
				if !e.Deleted && !declared[e.Key] {
					deleted = append(deleted, e.Key)
				}
			}
			sort.Strings(deleted)
			for _, k := range deleted {
				res.Deleted = append(res.Deleted, asset.Key(k))
			}
		}
		res.Revision = cur
		if len(upserts) == 0 && len(deleted) == 0 {
			return nil
		}
		if opts.DryRun {
			return errDryRun
		}
		now := micros(c.now())
		rev := &revisionModel{Actor: opts.Actor, CreatedAt: now}
		if _, err := tx.NewInsert().Model(rev).Returning("id").Exec(ctx); err != nil {
			return err
		}
		res.Revision = rev.ID
		var events []eventModel
		if len(upserts) > 0 {
			models := make([]assetModel, 0, len(upserts))
			revs := make([]assetRevisionModel, 0, len(upserts))
			var edges []edgeModel
			keys := make([]string, 0, len(upserts))
			for _, it := range upserts {
				var n int64 = 1
				change := ChangeCreated
				created := now
				if old, ok := byKey[it.key]; ok {
					n = old.Revision + 1
					created = old.CreatedAt
					if !old.Deleted {
						change = ChangeChanged
					}
				}
				keys = append(keys, it.key)
				models = append(models, assetModel{Key: it.key, Revision: n, CatalogRevision: rev.ID, Hash: it.hash,
					GroupName: it.decl.Group, CodeVersion: it.decl.CodeVersion, Description: it.decl.Description,
					Decl: it.json, CreatedAt: created, UpdatedAt: now, UpdatedBy: opts.Actor})
				js := it.json
				revs = append(revs, assetRevisionModel{Key: it.key, Revision: n, CatalogRevision: rev.ID, Change: change,
					Hash: it.hash, Decl: &js, Actor: opts.Actor, CreatedAt: now})
				for _, dep := range it.decl.Deps {
					e := edgeModel{Downstream: it.key, Upstream: dep.Asset, FromRevision: rev.ID}
					if dep.Mapping != nil {
						b, err := json.Marshal(dep.Mapping)
						if err != nil {
							return invalidf("%s: mapping of %s: %v", it.key, dep.Asset, err)
						}
						s := string(b)
						e.Mapping = &s
					}
					edges = append(edges, e)
				}
				payload := fmt.Sprintf(`{"change":%q,"revision":%d,"catalog_revision":%d}`, change, n, rev.ID)
				events = append(events, eventModel{Kind: EventAssetApplied, Asset: it.key, Payload: &payload, CreatedAt: now})
			}
			if _, err := tx.NewInsert().Model(&models).
				On("CONFLICT (key) DO UPDATE").
				Set("revision = EXCLUDED.revision, catalog_revision = EXCLUDED.catalog_revision, hash = EXCLUDED.hash").
				Set("group_name = EXCLUDED.group_name, code_version = EXCLUDED.code_version").
				Set("description = EXCLUDED.description, decl = EXCLUDED.decl, deleted = EXCLUDED.deleted").
				Set("updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by").
				Exec(ctx); err != nil {
				return err
			}
			if _, err := tx.NewInsert().Model(&revs).Exec(ctx); err != nil {
				return err
			}
			if err := closeEdges(ctx, tx, keys, rev.ID); err != nil {
				return err
			}
			if len(edges) > 0 {
				if _, err := tx.NewInsert().Model(&edges).Exec(ctx); err != nil {
					return err
				}
			}
		}
		if len(deleted) > 0 {
			evs, err := c.deleteAssets(ctx, tx, deleted, rev.ID, opts.Actor, now)
			if err != nil {
				return err
			}
			events = append(events, evs...)
		}
		return c.appendEvents(ctx, tx, events)
	})
	if errors.Is(err, errDryRun) {
		return res, nil
	}
	if err != nil {
		return ApplyResult{}, fmt.Errorf("apply assets: %w", err)
	}
	return res, nil
}

func closeEdges(ctx context.Context, tx *txn, keys []string, rev int64) error {
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if _, err := tx.NewUpdate().Model((*edgeModel)(nil)).Set("to_revision = ?", rev).
			Where("to_revision IS NULL").Where("downstream IN (?)", bun.In(keys[:n])).Exec(ctx); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// deleteAssets marks current assets deleted at catalog revision rev.
func (c *Catalog) deleteAssets(ctx context.Context, tx *txn, keys []string, rev int64, actor string, now int64) ([]eventModel, error) {
	var cur []assetModel
	if err := tx.NewSelect().Model(&cur).Column("key", "revision", "hash").
		Where("key IN (?)", bun.In(keys)).Where("deleted = ?", false).Scan(ctx); err != nil {
		return nil, err
	}
	revs := make([]assetRevisionModel, 0, len(cur))
	events := make([]eventModel, 0, len(cur))
	for _, a := range cur {
		revs = append(revs, assetRevisionModel{Key: a.Key, Revision: a.Revision + 1, CatalogRevision: rev,
			Change: ChangeDeleted, Actor: actor, CreatedAt: now})
		payload := fmt.Sprintf(`{"change":"deleted","revision":%d,"catalog_revision":%d}`, a.Revision+1, rev)
		events = append(events, eventModel{Kind: EventAssetDeleted, Asset: a.Key, Payload: &payload, CreatedAt: now})
	}
	if len(revs) == 0 {
		return nil, nil
	}
	if _, err := tx.NewInsert().Model(&revs).Exec(ctx); err != nil {
		return nil, err
	}
	if _, err := tx.NewUpdate().Model((*assetModel)(nil)).
		Set("deleted = ?", true).Set("revision = revision + 1").Set("catalog_revision = ?", rev).
		Set("updated_at = ?", now).Set("updated_by = ?", actor).
		Where("key IN (?)", bun.In(keys)).Where("deleted = ?", false).Exec(ctx); err != nil {
		return nil, err
	}
	return events, closeEdges(ctx, tx, keys, rev)
}

// DeleteAsset deletes the current definition of key, keeping its history
// and its materializations. It returns the new catalog revision.
func (c *Catalog) DeleteAsset(ctx context.Context, key asset.Key, actor string) (int64, error) {
	var revID int64
	err := c.write(ctx, func(tx *txn) error {
		if err := c.drv.lockApply(ctx, tx); err != nil {
			return err
		}
		n, err := tx.NewSelect().Model((*assetModel)(nil)).Where("key = ?", string(key)).Where("deleted = ?", false).Count(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("asset %s: %w", key, ErrNotFound)
		}
		now := micros(c.now())
		rev := &revisionModel{Actor: actor, CreatedAt: now}
		if _, err := tx.NewInsert().Model(rev).Returning("id").Exec(ctx); err != nil {
			return err
		}
		revID = rev.ID
		events, err := c.deleteAssets(ctx, tx, []string{string(key)}, rev.ID, actor, now)
		if err != nil {
			return err
		}
		return c.appendEvents(ctx, tx, events)
	})
	if err != nil {
		return 0, fmt.Errorf("delete asset %s: %w", key, err)
	}
	return revID, nil
}

func (m *assetModel) record() (AssetRecord, error) {
	r := AssetRecord{Key: asset.Key(m.Key), Revision: m.Revision, CatalogRevision: m.CatalogRevision, Hash: m.Hash,
		CreatedAt: fromMicros(m.CreatedAt), UpdatedAt: fromMicros(m.UpdatedAt), UpdatedBy: m.UpdatedBy}
	if err := json.Unmarshal([]byte(m.Decl), &r.Decl); err != nil {
		return AssetRecord{}, fmt.Errorf("decode declaration of %s: %w", m.Key, err)
	}
	return r, nil
}

// GetAsset returns the current definition of key (ErrNotFound when it does
// not exist or was deleted).
func (c *Catalog) GetAsset(ctx context.Context, key asset.Key) (AssetRecord, error) {
	var m assetModel
	err := c.rdb.NewSelect().Model(&m).Where("key = ?", string(key)).Where("deleted = ?", false).Scan(ctx)
	if err != nil {
		return AssetRecord{}, fmt.Errorf("get asset %s: %w", key, translate(err))
	}
	return m.record()
}

// CurrentAssets returns every current asset, ordered by key, for building
// the asset graph.
func (c *Catalog) CurrentAssets(ctx context.Context) ([]AssetRecord, error) {
	var ms []assetModel
	if err := c.rdb.NewSelect().Model(&ms).Where("deleted = ?", false).Order("key").Scan(ctx); err != nil {
		return nil, fmt.Errorf("current assets: %w", translate(err))
	}
	out := make([]AssetRecord, 0, len(ms))
	for i := range ms {
		r, err := ms[i].record()
		if err != nil {
			return nil, fmt.Errorf("current assets: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// ListAssets returns one page of current assets ordered by key, and the
// token of the next page ("" on the last page).
func (c *Catalog) ListAssets(ctx context.Context, q ListAssetsQuery) ([]AssetRecord, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	var ms []assetModel
	sel := c.rdb.NewSelect().Model(&ms).Where("deleted = ?", false)
	if q.Group != "" {
		sel = sel.Where("group_name = ?", q.Group)
	}
	if q.Search != "" {
		pat := "%" + likeEscape(strings.ToLower(q.Search)) + "%"
		sel = sel.Where("(lower(key) LIKE ? ESCAPE '\\' OR lower(description) LIKE ? ESCAPE '\\')", pat, pat)
	}
	if len(q.Keys) > 0 {
		ks := make([]string, len(q.Keys))
		for i, k := range q.Keys {
			ks[i] = string(k)
		}
		sel = sel.Where("key IN (?)", bun.In(ks))
	}
	if q.PageToken != "" {
		sel = sel.Where("key > ?", q.PageToken)
	}
	if err := sel.Order("key").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return nil, "", fmt.Errorf("list assets: %w", translate(err))
	}
	next := ""
	if len(ms) > limit {
		ms = ms[:limit]
		next = ms[limit-1].Key
	}
	out := make([]AssetRecord, 0, len(ms))
	for i := range ms {
		r, err := ms[i].record()
		if err != nil {
			return nil, "", fmt.Errorf("list assets: %w", err)
		}
		out = append(out, r)
	}
	return out, next, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// AssetHistory returns every revision of key, oldest first, including
// deletions (ErrNotFound when the asset never existed).
func (c *Catalog) AssetHistory(ctx context.Context, key asset.Key) ([]AssetRevision, error) {
	var ms []assetRevisionModel
	if err := c.rdb.NewSelect().Model(&ms).Where("key = ?", string(key)).Order("revision").Scan(ctx); err != nil {
		return nil, fmt.Errorf("asset history of %s: %w", key, translate(err))
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("asset history of %s: %w", key, ErrNotFound)
	}
	out := make([]AssetRevision, 0, len(ms))
	for _, m := range ms {
		r := AssetRevision{Key: asset.Key(m.Key), Revision: m.Revision, CatalogRevision: m.CatalogRevision,
			Change: m.Change, Hash: m.Hash, Actor: m.Actor, CreatedAt: fromMicros(m.CreatedAt)}
		if m.Decl != nil {
			var d asset.AssetDecl
			if err := json.Unmarshal([]byte(*m.Decl), &d); err != nil {
				return nil, fmt.Errorf("asset history of %s: decode revision %d: %w", key, m.Revision, err)
			}
			r.Decl = &d
		}
		out = append(out, r)
	}
	return out, nil
}

func edgesFrom(ms []edgeModel) []Edge {
	out := make([]Edge, 0, len(ms))
	for _, m := range ms {
		e := Edge{Downstream: asset.Key(m.Downstream), Upstream: asset.Key(m.Upstream), FromRevision: m.FromRevision}
		if m.Mapping != nil {
			e.Mapping = json.RawMessage(*m.Mapping)
		}
		if m.ToRevision != nil {
			e.ToRevision = *m.ToRevision
		}
		out = append(out, e)
	}
	return out
}

// Edges returns the current lineage edges, ordered by downstream then upstream.
func (c *Catalog) Edges(ctx context.Context) ([]Edge, error) {
	var ms []edgeModel
	if err := c.rdb.NewSelect().Model(&ms).Where("to_revision IS NULL").Order("downstream", "upstream").Scan(ctx); err != nil {
		return nil, fmt.Errorf("edges: %w", translate(err))
	}
	return edgesFrom(ms), nil
}

// EdgesAt returns the lineage edges as they were at catalog revision rev.
func (c *Catalog) EdgesAt(ctx context.Context, rev int64) ([]Edge, error) {
	var ms []edgeModel
	if err := c.rdb.NewSelect().Model(&ms).Where("from_revision <= ?", rev).
		Where("(to_revision IS NULL OR to_revision > ?)", rev).Order("downstream", "upstream").Scan(ctx); err != nil {
		return nil, fmt.Errorf("edges at revision %d: %w", rev, translate(err))
	}
	return edgesFrom(ms), nil
}

// AssetRevisions returns a page of key's revisions, newest first, including
// deletions, read by the (key, revision) primary key: up to limit (0 means
// 100, at most 1000) revisions older than beforeRevision (0: from the
// newest). ErrNotFound when the asset never existed.
func (c *Catalog) AssetRevisions(ctx context.Context, key asset.Key, beforeRevision int64, limit int) ([]AssetRevision, error) {
	if _, err := asset.ParseKey(string(key)); err != nil {
		return nil, fmt.Errorf("asset revisions: %w", invalidf("key: %v", err))
	}
	if beforeRevision < 0 {
		return nil, fmt.Errorf("asset revisions of %s: %w", key, invalidf("before revision %d is negative", beforeRevision))
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var ms []assetRevisionModel
	q := c.rdb.NewSelect().Model(&ms).Where("key = ?", string(key))
	if beforeRevision > 0 {
		q = q.Where("revision < ?", beforeRevision)
	}
	if err := q.Order("revision DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("asset revisions of %s: %w", key, translate(err))
	}
	if len(ms) == 0 {
		n, err := c.rdb.NewSelect().Model((*assetRevisionModel)(nil)).Where("key = ?", string(key)).Limit(1).Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("asset revisions of %s: %w", key, translate(err))
		}
		if n == 0 {
			return nil, fmt.Errorf("asset revisions of %s: %w", key, ErrNotFound)
		}
		return nil, nil
	}
	out := make([]AssetRevision, 0, len(ms))
	for _, m := range ms {
		r, err := m.revision()
		if err != nil {
			return nil, fmt.Errorf("asset revisions of %s: %w", key, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (m *assetRevisionModel) revision() (AssetRevision, error) {
	r := AssetRevision{Key: asset.Key(m.Key), Revision: m.Revision, CatalogRevision: m.CatalogRevision,
		Change: m.Change, Hash: m.Hash, Actor: m.Actor, CreatedAt: fromMicros(m.CreatedAt)}
	if m.Decl != nil {
		var d asset.AssetDecl
		if err := json.Unmarshal([]byte(*m.Decl), &d); err != nil {
			return AssetRevision{}, fmt.Errorf("decode revision %d: %w", m.Revision, err)
		}
		r.Decl = &d
	}
	return r, nil
}
