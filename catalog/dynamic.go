package catalog

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

func validDynamicName(name string) error {
	if name == "" {
		return invalidf("dynamic partitions name is empty")
	}
	return nil
}

// AddDynamicPartitions adds keys to the dynamic partitions definition name,
// in order, skipping keys it already has (idempotent). It returns how many
// were added.
func (c *Catalog) AddDynamicPartitions(ctx context.Context, name string, keys []string) (int, error) {
	if err := validDynamicName(name); err != nil {
		return 0, fmt.Errorf("add dynamic partitions: %w", err)
	}
	for i, k := range keys {
		if k == "" {
			return 0, fmt.Errorf("add dynamic partitions to %s: %w", name, invalidf("keys[%d] is empty", i))
		}
	}
	var added int
	err := c.write(ctx, func(tx *txn) error {
		added = 0
		have := map[string]bool{}
		for start := 0; start < len(keys); start += 1000 {
			chunk := keys[start:min(start+1000, len(keys))]
			var existing []string
			if err := tx.NewSelect().Model((*dynPartModel)(nil)).Column("key").Where("name = ?", name).
				Where("key IN (?)", bun.In(chunk)).Scan(ctx, &existing); err != nil {
				return err
			}
			for _, k := range existing {
				have[k] = true
			}
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM dynamic_partitions WHERE name = ?", name).Scan(&seq); err != nil {
			return err
		}
		now := micros(c.now())
		var rows []dynPartModel
		for _, k := range keys {
			if have[k] {
				continue
			}
			have[k] = true
			seq++
			rows = append(rows, dynPartModel{Name: name, Key: k, Seq: seq, CreatedAt: now})
		}
		if len(rows) == 0 {
			return nil
		}
		added = len(rows)
		for start := 0; start < len(rows); start += 1000 {
			batch := rows[start:min(start+1000, len(rows))]
			if _, err := tx.NewInsert().Model(&batch).Exec(ctx); err != nil {
				return err
			}
		}
		return c.appendEvents(ctx, tx, []eventModel{{Kind: EventDynamicPartitions, CreatedAt: now,
			Payload: jsonPayload(map[string]any{"name": name, "added": added})}})
	})
	if err != nil {
		return 0, fmt.Errorf("add dynamic partitions to %s: %w", name, err)
	}
	return added, nil
}

// DeleteDynamicPartitions removes keys from name; absent keys are ignored.
// It returns how many were removed.
func (c *Catalog) DeleteDynamicPartitions(ctx context.Context, name string, keys []string) (int, error) {
	if err := validDynamicName(name); err != nil {
		return 0, fmt.Errorf("delete dynamic partitions: %w", err)
	}
	var removed int
	err := c.write(ctx, func(tx *txn) error {
		removed = 0
		for start := 0; start < len(keys); start += 1000 {
			chunk := keys[start:min(start+1000, len(keys))]
			res, err := tx.NewDelete().Model((*dynPartModel)(nil)).Where("name = ?", name).Where("key IN (?)", bun.In(chunk)).Exec(ctx)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			removed += int(n)
		}
		if removed == 0 {
			return nil
		}
		return c.appendEvents(ctx, tx, []eventModel{{Kind: EventDynamicPartitions, CreatedAt: micros(c.now()),
			Payload: jsonPayload(map[string]any{"name": name, "removed": removed})}})
	})
	if err != nil {
		return 0, fmt.Errorf("delete dynamic partitions from %s: %w", name, err)
	}
	return removed, nil
}

// DynamicPartitionKeys returns the keys of name in insertion order.
func (c *Catalog) DynamicPartitionKeys(ctx context.Context, name string) ([]string, error) {
	keys := []string{}
	if err := c.rdb.NewSelect().Model((*dynPartModel)(nil)).Column("key").Where("name = ?", name).
		Order("seq").Scan(ctx, &keys); err != nil {
		return nil, fmt.Errorf("dynamic partition keys of %s: %w", name, translate(err))
	}
	return keys, nil
}

// DynamicKeysSnapshot reads the keys of every dynamic partitions definition
// at once, for the planner (it satisfies asset.DynamicKeys).
func (c *Catalog) DynamicKeysSnapshot(ctx context.Context) (DynamicKeys, error) {
	rows, err := c.rdb.QueryContext(ctx, "SELECT name, key FROM dynamic_partitions ORDER BY name, seq")
	if err != nil {
		return nil, fmt.Errorf("dynamic keys snapshot: %w", translate(err))
	}
	defer rows.Close()
	out := DynamicKeys{}
	for rows.Next() {
		var n, k string
		if err := rows.Scan(&n, &k); err != nil {
			return nil, fmt.Errorf("dynamic keys snapshot: %w", translate(err))
		}
		out[n] = append(out[n], k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dynamic keys snapshot: %w", translate(err))
	}
	return out, nil
}
