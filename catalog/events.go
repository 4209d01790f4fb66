package catalog

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/strata-data/strata/asset"
)

// appendEvents appends events in one multi-row insert. It must be the last
// statement of its transaction: on PostgreSQL it takes the event lock, held
// until commit, so that ids are committed in increasing order.
func (c *Catalog) appendEvents(ctx context.Context, tx *txn, events []eventModel) error {
	if len(events) == 0 {
		return nil
	}
	if err := c.drv.lockEvents(ctx, tx); err != nil {
		return fmt.Errorf("lock event log: %w", err)
	}
	for len(events) > 0 {
		n := min(len(events), 1000)
		batch := events[:n]
		if _, err := tx.NewInsert().Model(&batch).Exec(ctx); err != nil {
			return fmt.Errorf("append events: %w", err)
		}
		events = events[n:]
	}
	return nil
}

// Events returns up to limit events with an id greater than afterID, in id
// order (limit 0 means 1000). A consumer resumes from the last id it saw.
func (c *Catalog) Events(ctx context.Context, afterID int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	var ms []eventModel
	if err := c.rdb.NewSelect().Model(&ms).Where("id > ?", afterID).Order("id").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("events after %d: %w", afterID, translate(err))
	}
	out := make([]Event, len(ms))
	for i, m := range ms {
		out[i] = Event{ID: m.ID, Kind: m.Kind, Asset: asset.Key(m.Asset), Partition: m.PartitionKey, RunID: m.RunID,
			BackfillID: m.BackfillID, CreatedAt: fromMicros(m.CreatedAt)}
		if m.Payload != nil {
			out[i].Payload = json.RawMessage(*m.Payload)
		}
	}
	return out, nil
}

// LastEventID returns the id of the newest event (0 when there is none), so
// a new consumer can start from "now".
func (c *Catalog) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := c.rdb.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM events").Scan(&id); err != nil {
		return 0, fmt.Errorf("last event id: %w", translate(err))
	}
	return id, nil
}

func jsonPayload(v any) *string {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	s := string(b)
	return &s
}
