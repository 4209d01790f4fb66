package catalog

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/strata-data/strata/asset"
)

func validateMaterializations(ms []Materialization, fromRun bool) error {
	for i, m := range ms {
		if _, err := asset.ParseKey(string(m.Asset)); err != nil {
			return invalidf("materializations[%d].asset: %v", i, err)
		}
		if !fromRun {
			if m.RunID < 0 || m.Attempt < 0 {
				return invalidf("materializations[%d]: run id and attempt must not be negative", i)
			}
			if m.RunID != 0 && m.Attempt == 0 {
				return invalidf("materializations[%d].attempt: a materialization of run %d needs its attempt (>= 1)", i, m.RunID)
			}
		}
		if m.RowCount != nil && *m.RowCount < 0 {
			return invalidf("materializations[%d].row_count: %d is negative", i, *m.RowCount)
		}
		if m.ByteCount != nil && *m.ByteCount < 0 {
			return invalidf("materializations[%d].bytes: %d is negative", i, *m.ByteCount)
		}
		if err := validJSON(fmt.Sprintf("materializations[%d].schema", i), m.Schema); err != nil {
			return err
		}
		if err := validJSON(fmt.Sprintf("materializations[%d].metadata", i), m.Metadata); err != nil {
			return err
		}
		seen := map[[2]string]bool{}
		for j, p := range m.Provenance {
			if _, err := asset.ParseKey(string(p.UpstreamAsset)); err != nil {
				return invalidf("materializations[%d].provenance[%d].upstream_asset: %v", i, j, err)
			}
			k := [2]string{string(p.UpstreamAsset), p.UpstreamPartition}
			if seen[k] {
				return invalidf("materializations[%d].provenance[%d]: %s partition %q is listed twice", i, j, p.UpstreamAsset, p.UpstreamPartition)
			}
			seen[k] = true
		}
	}
	return nil
}

// RecordMaterializations records materializations in one transaction
// (reported over the API, or loaded in bulk) and returns their ids in order.
// (asset, partition, run, attempt) is unique: a duplicate gives
// ErrAlreadyExists and the whole batch is written or nothing is. A
// materialization with a ClientID already recorded is not recorded again:
// its existing id is returned (idempotent retries).
func (c *Catalog) RecordMaterializations(ctx context.Context, ms []Materialization) ([]int64, error) {
	if err := validateMaterializations(ms, false); err != nil {
		return nil, fmt.Errorf("record materializations: %w", err)
	}
	var ids []int64
	err := c.write(ctx, func(tx *txn) error {
		var events []eventModel
		var err error
		ids, events, err = c.recordMaterializations(ctx, tx, ms, micros(c.now()))
		if err != nil {
			return err
		}
		return c.appendEvents(ctx, tx, events)
	})
	if err != nil {
		return nil, fmt.Errorf("record %d materializations: %w", len(ms), err)
	}
	return ids, nil
}

type clientKey struct{ asset, partition, client string }

func (c *Catalog) recordMaterializations(ctx context.Context, tx *txn, ms []Materialization, now int64) ([]int64, []eventModel, error) {
	if len(ms) == 0 {
		return nil, nil, nil
	}
	ids := make([]int64, len(ms))
	// Idempotency by client id: find those already recorded.
	known := map[clientKey]int64{}
	var clients []string
	for _, m := range ms {
		if m.ClientID != "" {
			clients = append(clients, m.ClientID)
		}
	}
	for start := 0; start < len(clients); start += 1000 {
		var rows []matModel
		if err := tx.NewSelect().Model(&rows).Column("id", "asset", "partition_key", "client_id").
			Where("client_id IN (?)", bun.In(clients[start:min(start+1000, len(clients))])).Scan(ctx); err != nil {
			return nil, nil, err
		}
		for _, r := range rows {
			known[clientKey{r.Asset, r.PartitionKey, r.ClientID}] = r.ID
		}
	}
	fresh := 0
	pending := map[clientKey]int{} // client key -> index in ms of its first occurrence
	dupOf := make([]int, len(ms))
	for i, m := range ms {
		dupOf[i] = -1
		if m.ClientID != "" {
			k := clientKey{string(m.Asset), m.Partition, m.ClientID}
			if id, ok := known[k]; ok {
				ids[i] = id
				continue
			}
			if j, ok := pending[k]; ok {
				dupOf[i] = j
				continue
			}
			pending[k] = i
		}
		fresh++
	}
	newIDs, err := c.drv.allocIDs(ctx, tx, "materializations", fresh)
	if err != nil {
		return nil, nil, fmt.Errorf("allocate materialization ids: %w", err)
	}
	rows := make([]matModel, 0, fresh)
	var prov []provModel
	type span struct {
		n           int64
		first, last int64
		partitions  []string
	}
	perAsset := map[string]*span{}
	var order []string
	next := 0
	for i := range ms {
		m := &ms[i]
		if ids[i] != 0 || dupOf[i] >= 0 {
			continue
		}
		id := newIDs[next]
		next++
		ids[i] = id
		created := now
		if !m.CreatedAt.IsZero() {
			created = micros(m.CreatedAt)
		}
		rows = append(rows, matModel{ID: id, Asset: string(m.Asset), PartitionKey: m.Partition, RunID: m.RunID,
			Attempt: m.Attempt, ClientID: m.ClientID, DataVersion: m.DataVersion, CodeVersion: m.CodeVersion,
			RowCount: m.RowCount, ByteCount: m.ByteCount, Schema: jsonText(m.Schema), Metadata: jsonText(m.Metadata),
			CreatedAt: created})
		for _, p := range m.Provenance {
			prov = append(prov, provModel{MaterializationID: id, UpstreamAsset: string(p.UpstreamAsset),
				UpstreamPartition: p.UpstreamPartition, UpstreamMaterializationID: p.UpstreamMaterializationID,
				DataVersion: p.DataVersion})
		}
		sp := perAsset[string(m.Asset)]
		if sp == nil {
			sp = &span{first: id}
			perAsset[string(m.Asset)] = sp
			order = append(order, string(m.Asset))
		}
		sp.n++
		sp.last = id
		if len(sp.partitions) < 100 {
			sp.partitions = append(sp.partitions, m.Partition)
		}
	}
	for i, j := range dupOf {
		if j >= 0 {
			ids[i] = ids[j]
		}
	}
	if len(rows) == 0 {
		return ids, nil, nil
	}
	if err := c.drv.insertMaterializations(ctx, tx, rows); err != nil {
		return nil, nil, fmt.Errorf("insert materializations: %w", err)
	}
	if err := c.drv.insertProvenance(ctx, tx, prov); err != nil {
		return nil, nil, fmt.Errorf("insert provenance: %w", err)
	}
	if err := c.drv.updateLatest(ctx, tx, rows); err != nil {
		return nil, nil, fmt.Errorf("update latest materializations: %w", err)
	}
	events := make([]eventModel, 0, len(order))
	for _, a := range order {
		sp := perAsset[a]
		ev := eventModel{Kind: EventMaterialization, Asset: a, CreatedAt: now,
			Payload: jsonPayload(map[string]any{"count": sp.n, "first_id": sp.first, "last_id": sp.last, "partitions": sp.partitions})}
		if sp.n == 1 {
			ev.PartitionKey = sp.partitions[0]
			var run int64
			for _, r := range rows {
				if r.ID == sp.first {
					run = r.RunID
				}
			}
			ev.RunID = run
		}
		events = append(events, ev)
	}
	return ids, events, nil
}

// LatestMaterializations streams the latest materialization of every
// partition of key, in no particular order, with one query over the
// maintained latest_materializations table. The summary passed to fn is
// reused between calls; an error from fn stops the stream and is returned.
func (c *Catalog) LatestMaterializations(ctx context.Context, key asset.Key, fn func(*MaterializationSummary) error) error {
	if err := c.drv.streamLatest(ctx, string(key), fn); err != nil {
		return fmt.Errorf("latest materializations of %s: %w", key, translate(err))
	}
	return nil
}

func (m *matModel) materialization() Materialization {
	out := Materialization{ID: m.ID, Asset: asset.Key(m.Asset), Partition: m.PartitionKey, RunID: m.RunID,
		Attempt: m.Attempt, ClientID: m.ClientID, DataVersion: m.DataVersion, CodeVersion: m.CodeVersion,
		RowCount: m.RowCount, ByteCount: m.ByteCount, CreatedAt: fromMicros(m.CreatedAt)}
	if m.Schema != nil {
		out.Schema = json.RawMessage(*m.Schema)
	}
	if m.Metadata != nil {
		out.Metadata = json.RawMessage(*m.Metadata)
	}
	return out
}

// GetMaterialization returns one materialization with its provenance.
func (c *Catalog) GetMaterialization(ctx context.Context, id int64) (Materialization, error) {
	var rows []matModel
	if err := c.rdb.NewSelect().Model(&rows).Where("id = ?", id).Scan(ctx); err != nil {
		return Materialization{}, fmt.Errorf("get materialization %d: %w", id, translate(err))
	}
	if len(rows) == 0 {
		return Materialization{}, fmt.Errorf("get materialization %d: %w", id, ErrNotFound)
	}
	m := rows[0].materialization()
	prov, err := c.Provenance(ctx, id)
	if err != nil {
		return Materialization{}, err
	}
	m.Provenance = prov
	return m, nil
}

// MaterializationHistory returns the materializations of one asset
// partition, newest first (limit 0 means 100), without provenance.
func (c *Catalog) MaterializationHistory(ctx context.Context, key asset.Key, partition string, limit int) ([]Materialization, error) {
	if limit <= 0 {
		limit = 100
	}
	var rows []matModel
	if err := c.rdb.NewSelect().Model(&rows).Where("asset = ?", string(key)).Where("partition_key = ?", partition).
		Order("id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("materialization history of %s partition %q: %w", key, partition, translate(err))
	}
	out := make([]Materialization, len(rows))
	for i := range rows {
		out[i] = rows[i].materialization()
	}
	return out, nil
}

// Provenance returns what materialization id consumed, ordered by upstream
// asset and partition.
func (c *Catalog) Provenance(ctx context.Context, id int64) ([]ProvenanceEntry, error) {
	var rows []provModel
	if err := c.rdb.NewSelect().Model(&rows).Where("materialization_id = ?", id).
		Order("upstream_asset", "upstream_partition").Scan(ctx); err != nil {
		return nil, fmt.Errorf("provenance of materialization %d: %w", id, translate(err))
	}
	out := make([]ProvenanceEntry, len(rows))
	for i, r := range rows {
		out[i] = ProvenanceEntry{UpstreamAsset: asset.Key(r.UpstreamAsset), UpstreamPartition: r.UpstreamPartition,
			UpstreamMaterializationID: r.UpstreamMaterializationID, DataVersion: r.DataVersion}
	}
	return out, nil
}

func validateObsChecks(obs []Observation, checks []CheckResult) error {
	for i, o := range obs {
		if _, err := asset.ParseKey(string(o.Asset)); err != nil {
			return invalidf("observations[%d].asset: %v", i, err)
		}
		if err := validJSON(fmt.Sprintf("observations[%d].metadata", i), o.Metadata); err != nil {
			return err
		}
	}
	for i, ch := range checks {
		if _, err := asset.ParseKey(string(ch.Asset)); err != nil {
			return invalidf("checks[%d].asset: %v", i, err)
		}
		if ch.Check == "" {
			return invalidf("checks[%d].check: empty name", i)
		}
		if err := validJSON(fmt.Sprintf("checks[%d].metadata", i), ch.Metadata); err != nil {
			return err
		}
	}
	return nil
}

func (c *Catalog) recordObsChecks(ctx context.Context, tx *txn, obs []Observation, checks []CheckResult, runID int64, attempt int, now int64) ([]eventModel, error) {
	var events []eventModel
	if len(obs) > 0 {
		rows := make([]obsModel, len(obs))
		for i, o := range obs {
			created := now
			if !o.CreatedAt.IsZero() {
				created = micros(o.CreatedAt)
			}
			run := o.RunID
			if runID != 0 {
				run = runID
			}
			rows[i] = obsModel{Asset: string(o.Asset), PartitionKey: o.Partition, RunID: run, DataVersion: o.DataVersion,
				Metadata: jsonText(o.Metadata), CreatedAt: created}
			events = append(events, eventModel{Kind: EventObservation, Asset: string(o.Asset), PartitionKey: o.Partition,
				RunID: run, CreatedAt: now, Payload: jsonPayload(map[string]string{"data_version": o.DataVersion})})
		}
		if err := bunInsertBatches(ctx, tx, rows, 500); err != nil {
			return nil, fmt.Errorf("insert observations: %w", err)
		}
	}
	if len(checks) > 0 {
		rows := make([]checkModel, len(checks))
		for i, ch := range checks {
			created := now
			if !ch.CreatedAt.IsZero() {
				created = micros(ch.CreatedAt)
			}
			run, att := ch.RunID, ch.Attempt
			if runID != 0 {
				run, att = runID, attempt
			}
			rows[i] = checkModel{Asset: string(ch.Asset), PartitionKey: ch.Partition, CheckName: ch.Check, RunID: run,
				Attempt: att, MaterializationID: ch.MaterializationID, Passed: ch.Passed, Severity: ch.Severity,
				Description: ch.Description, Metadata: jsonText(ch.Metadata), CreatedAt: created}
			events = append(events, eventModel{Kind: EventCheckResult, Asset: string(ch.Asset), PartitionKey: ch.Partition,
				RunID: run, CreatedAt: now, Payload: jsonPayload(map[string]any{"check": ch.Check, "passed": ch.Passed, "severity": ch.Severity})})
		}
		if err := bunInsertBatches(ctx, tx, rows, 500); err != nil {
			return nil, fmt.Errorf("insert check results: %w", err)
		}
	}
	return events, nil
}

// RecordObservations records observations in one transaction.
func (c *Catalog) RecordObservations(ctx context.Context, obs []Observation) error {
	if err := validateObsChecks(obs, nil); err != nil {
		return fmt.Errorf("record observations: %w", err)
	}
	err := c.write(ctx, func(tx *txn) error {
		evs, err := c.recordObsChecks(ctx, tx, obs, nil, 0, 0, micros(c.now()))
		if err != nil {
			return err
		}
		return c.appendEvents(ctx, tx, evs)
	})
	if err != nil {
		return fmt.Errorf("record observations: %w", err)
	}
	return nil
}

// RecordCheckResults records asset check results in one transaction.
func (c *Catalog) RecordCheckResults(ctx context.Context, checks []CheckResult) error {
	if err := validateObsChecks(nil, checks); err != nil {
		return fmt.Errorf("record check results: %w", err)
	}
	err := c.write(ctx, func(tx *txn) error {
		evs, err := c.recordObsChecks(ctx, tx, nil, checks, 0, 0, micros(c.now()))
		if err != nil {
			return err
		}
		return c.appendEvents(ctx, tx, evs)
	})
	if err != nil {
		return fmt.Errorf("record check results: %w", err)
	}
	return nil
}

// Observations returns the observations of one asset partition, newest first.
func (c *Catalog) Observations(ctx context.Context, key asset.Key, partition string, limit int) ([]Observation, error) {
	if limit <= 0 {
		limit = 100
	}
	var rows []obsModel
	if err := c.rdb.NewSelect().Model(&rows).Where("asset = ?", string(key)).Where("partition_key = ?", partition).
		Order("id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("observations of %s partition %q: %w", key, partition, translate(err))
	}
	out := make([]Observation, len(rows))
	for i, r := range rows {
		out[i] = Observation{ID: r.ID, Asset: asset.Key(r.Asset), Partition: r.PartitionKey, RunID: r.RunID,
			DataVersion: r.DataVersion, CreatedAt: fromMicros(r.CreatedAt)}
		if r.Metadata != nil {
			out[i].Metadata = json.RawMessage(*r.Metadata)
		}
	}
	return out, nil
}

// CheckResults returns the check results of one asset partition, newest first.
func (c *Catalog) CheckResults(ctx context.Context, key asset.Key, partition string, limit int) ([]CheckResult, error) {
	if limit <= 0 {
		limit = 100
	}
	var rows []checkModel
	if err := c.rdb.NewSelect().Model(&rows).Where("asset = ?", string(key)).Where("partition_key = ?", partition).
		Order("id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("check results of %s partition %q: %w", key, partition, translate(err))
	}
	out := make([]CheckResult, len(rows))
	for i, r := range rows {
		out[i] = CheckResult{ID: r.ID, Asset: asset.Key(r.Asset), Partition: r.PartitionKey, Check: r.CheckName,
			RunID: r.RunID, Attempt: r.Attempt, MaterializationID: r.MaterializationID, Passed: r.Passed,
			Severity: r.Severity, Description: r.Description, CreatedAt: fromMicros(r.CreatedAt)}
		if r.Metadata != nil {
			out[i].Metadata = json.RawMessage(*r.Metadata)
		}
	}
	return out, nil
}
