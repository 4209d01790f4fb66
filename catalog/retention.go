package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Prune applies a retention policy. It deletes materializations beyond the
// newest KeepMaterializationsPerPartition of each partition, never the
// latest of a partition and never one that a provenance row references
// (some downstream materialization consumed it), together with their own
// provenance rows; and it clears the logs of runs finished before
// Now - RunLogsOlderThan. Materializations are pruned asset by asset, in
// batches of 10,000 rows, each in its own transaction.
func (c *Catalog) Prune(ctx context.Context, p RetentionPolicy) (PruneResult, error) {
	var res PruneResult
	if p.KeepMaterializationsPerPartition < 0 || p.RunLogsOlderThan < 0 {
		return res, fmt.Errorf("prune: %w", invalidf("negative retention"))
	}
	now := c.nowOr(p.Now)
	if p.KeepMaterializationsPerPartition > 0 {
		// Asset by asset (the next asset found through the latest table's
		// primary key), so each batch ranks one asset's history, not the
		// whole table's.
		var key string
		for {
			var next []string
			if err := c.rdb.NewRaw("SELECT asset FROM latest_materializations WHERE asset > ? ORDER BY asset LIMIT 1", key).
				Scan(ctx, &next); err != nil {
				return res, fmt.Errorf("prune materializations: %w", translate(err))
			}
			if len(next) == 0 {
				break
			}
			key = next[0]
			n, err := c.pruneAsset(ctx, key, p.KeepMaterializationsPerPartition, now)
			res.Materializations += n
			if err != nil {
				return res, fmt.Errorf("prune materializations of %s: %w", key, translate(err))
			}
		}
	}
	if p.RunLogsOlderThan > 0 {
		cutoff := micros(now.Add(-p.RunLogsOlderThan))
		err := c.write(ctx, func(tx *txn) error {
			r, err := tx.ExecContext(ctx, "UPDATE runs SET log = NULL WHERE log IS NOT NULL AND finished_at < ?", cutoff)
			if err != nil {
				return err
			}
			res.RunLogs, _ = r.RowsAffected()
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("prune run logs: %w", err)
		}
	}
	return res, nil
}

// pruneBatch is how many materializations one transaction of Prune deletes.
const pruneBatch = 10_000

// pruneAsset deletes the materializations of one asset beyond the newest
// keep of each partition (but not a latest one, nor one some provenance
// references), in transactions of pruneBatch rows.
func (c *Catalog) pruneAsset(ctx context.Context, key string, keep int, now time.Time) (int64, error) {
	var total int64
	for {
		var ids []int64
		err := c.write(ctx, func(tx *txn) error {
			ids = nil
			if err := tx.NewRaw(`SELECT id FROM (
  SELECT id, row_number() OVER (PARTITION BY partition_key ORDER BY id DESC) AS rn FROM materializations WHERE asset = ?
) t
WHERE rn > ?
  AND NOT EXISTS (SELECT 1 FROM provenance p WHERE p.upstream_materialization_id = t.id)
  AND NOT EXISTS (SELECT 1 FROM latest_materializations l WHERE l.materialization_id = t.id)
ORDER BY id LIMIT ?`, key, keep, pruneBatch).Scan(ctx, &ids); err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM provenance WHERE materialization_id IN (?)", bun.In(ids)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM materializations WHERE id IN (?)", bun.In(ids)); err != nil {
				return err
			}
			return c.appendEvents(ctx, tx, []eventModel{{Kind: EventMaterializationsPruned, CreatedAt: micros(now),
				Payload: jsonPayload(map[string]any{"asset": key, "count": len(ids), "first_id": ids[0], "last_id": ids[len(ids)-1]})}})
		})
		if err != nil {
			return total, err
		}
		total += int64(len(ids))
		if len(ids) < pruneBatch {
			return total, nil
		}
	}
}
