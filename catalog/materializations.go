package catalog

import (
	"bytes"
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
			Location: locationOf(m.Location, m.Metadata), CreatedAt: created})
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

// maxLatestOf bounds the partitions of one LatestOf query.
const maxLatestOf = 1000

// LatestOf returns the latest materialization of each of the given
// partitions of key that has one (in no particular order): the lookup of a
// page of partitions, where LatestMaterializations streams them all.
func (c *Catalog) LatestOf(ctx context.Context, key asset.Key, partitions []string) ([]MaterializationSummary, error) {
	var out []MaterializationSummary
	for len(partitions) > 0 {
		n := min(len(partitions), maxLatestOf)
		rows, err := c.rdb.QueryContext(ctx, latestSelect+"? AND partition_key IN (?)", string(key), bun.In(partitions[:n]))
		if err != nil {
			return nil, fmt.Errorf("latest materializations of %s: %w", key, translate(err))
		}
		for rows.Next() {
			var s MaterializationSummary
			var created int64
			if err := rows.Scan(&s.Partition, &s.ID, &s.RunID, &s.Attempt, &s.DataVersion, &s.CodeVersion,
				&s.RowCount, &s.ByteCount, &created, &s.Location); err != nil {
				rows.Close()
				return nil, fmt.Errorf("latest materializations of %s: %w", key, translate(err))
			}
			s.CreatedAt = fromMicros(created)
			out = append(out, s)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("latest materializations of %s: %w", key, translate(err))
		}
		partitions = partitions[n:]
	}
	return out, nil
}

// legacyMeta is the key under which the server and the materializer kept,
// inside a materialization's metadata, the output location before the
// location column existed.
const legacyMeta = "_strata"

// locationOf is loc, or when empty the legacy "_strata"."location" of
// metadata (rows written before the column, or by writers that have not
// switched to it yet).
func locationOf(loc string, metadata []byte) string {
	if loc != "" || !bytes.Contains(metadata, []byte(`"`+legacyMeta+`"`)) {
		return loc
	}
	var m struct {
		Reserved struct {
			Location string `json:"location"`
		} `json:"_strata"`
	}
	if err := json.Unmarshal(metadata, &m); err != nil {
		return ""
	}
	return m.Reserved.Location
}

func (m *matModel) materialization() Materialization {
	out := Materialization{ID: m.ID, Asset: asset.Key(m.Asset), Partition: m.PartitionKey, RunID: m.RunID,
		Attempt: m.Attempt, ClientID: m.ClientID, DataVersion: m.DataVersion, CodeVersion: m.CodeVersion,
		RowCount: m.RowCount, ByteCount: m.ByteCount, CreatedAt: fromMicros(m.CreatedAt)}
	if m.Schema != nil {
		out.Schema = json.RawMessage(*m.Schema)
	}
	var meta []byte
	if m.Metadata != nil {
		out.Metadata = json.RawMessage(*m.Metadata)
		meta = out.Metadata
	}
	out.Location = locationOf(m.Location, meta)
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

// ListMaterializations returns a page of the materializations of one asset
// (or one of its partitions), newest first, without provenance. It reads
// the materializations_asset (or materializations_partition) index. Page
// with q.BeforeID set to the last id of the previous page.
func (c *Catalog) ListMaterializations(ctx context.Context, q MaterializationQuery) ([]Materialization, error) {
	if _, err := asset.ParseKey(string(q.Asset)); err != nil {
		return nil, fmt.Errorf("list materializations: %w", invalidf("asset: %v", err))
	}
	if q.BeforeID < 0 {
		return nil, fmt.Errorf("list materializations: %w", invalidf("before id %d is negative", q.BeforeID))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	var rows []matModel
	sel := c.rdb.NewSelect().Model(&rows).Where("asset = ?", string(q.Asset))
	if q.Partition != nil {
		sel = sel.Where("partition_key = ?", *q.Partition)
	}
	if q.BeforeID > 0 {
		sel = sel.Where("id < ?", q.BeforeID)
	}
	if err := sel.Order("id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list materializations of %s: %w", q.Asset, translate(err))
	}
	out := make([]Materialization, len(rows))
	for i := range rows {
		out[i] = rows[i].materialization()
	}
	return out, nil
}

// MaterializationByClientID returns the materialization of an asset
// partition recorded with clientID, without provenance (ErrNotFound when
// none).
func (c *Catalog) MaterializationByClientID(ctx context.Context, key asset.Key, partition, clientID string) (Materialization, error) {
	var rows []matModel
	if err := c.rdb.NewSelect().Model(&rows).Where("asset = ?", string(key)).Where("partition_key = ?", partition).
		Where("client_id = ?", clientID).Where("client_id <> ''").Limit(1).Scan(ctx); err != nil {
		return Materialization{}, fmt.Errorf("materialization %q of %s partition %q: %w", clientID, key, partition, translate(err))
	}
	if len(rows) == 0 {
		return Materialization{}, fmt.Errorf("materialization %q of %s partition %q: %w", clientID, key, partition, ErrNotFound)
	}
	return rows[0].materialization(), nil
}

// RunMaterializationIDs returns the ids of the materializations run runID
// recorded, over all its attempts, ascending (the materializations_of_run
// index).
func (c *Catalog) RunMaterializationIDs(ctx context.Context, runID int64) ([]int64, error) {
	var ids []int64
	if err := c.rdb.NewSelect().Model((*matModel)(nil)).Column("id").Where("run_id = ?", runID).Where("run_id <> 0").
		Order("id").Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("materializations of run %d: %w", runID, translate(err))
	}
	return ids, nil
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
		if o.RowCount != nil && *o.RowCount < 0 {
			return invalidf("observations[%d].row_count: %d is negative", i, *o.RowCount)
		}
		if o.ByteCount != nil && *o.ByteCount < 0 {
			return invalidf("observations[%d].bytes: %d is negative", i, *o.ByteCount)
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

// knownClients returns the (asset, partition, client id) of rows of model
// already recorded among the client ids of keys.
func knownClients(ctx context.Context, tx *txn, model any, keys []clientKey) (map[clientKey]bool, error) {
	known := map[clientKey]bool{}
	var clients []string
	assetSet := map[string]bool{}
	var assets []string
	for _, k := range keys {
		if k.client != "" {
			clients = append(clients, k.client)
			if !assetSet[k.asset] {
				assetSet[k.asset] = true
				assets = append(assets, k.asset)
			}
		}
	}
	if len(clients) == 0 {
		return known, nil
	}
	for start := 0; start < len(clients); start += 1000 {
		var rows []struct {
			Asset        string `bun:"asset"`
			PartitionKey string `bun:"partition_key"`
			ClientID     string `bun:"client_id"`
		}
		if err := tx.NewSelect().Model(model).Column("asset", "partition_key", "client_id").
			Where("asset IN (?)", bun.In(assets)).
			Where("client_id IN (?)", bun.In(clients[start:min(start+1000, len(clients))])).Scan(ctx, &rows); err != nil {
			return nil, err
		}
		for _, r := range rows {
			known[clientKey{r.Asset, r.PartitionKey, r.ClientID}] = true
		}
	}
	return known, nil
}

func (c *Catalog) recordObsChecks(ctx context.Context, tx *txn, obs []Observation, checks []CheckResult, runID int64, attempt int, now int64) ([]eventModel, error) {
	var events []eventModel
	// Reports with a client id already recorded (or repeated in the batch)
	// are recorded once.
	if len(obs) > 0 {
		keys := make([]clientKey, len(obs))
		for i, o := range obs {
			keys[i] = clientKey{string(o.Asset), o.Partition, o.ClientID}
		}
		known, err := knownClients(ctx, tx, (*obsModel)(nil), keys)
		if err != nil {
			return nil, fmt.Errorf("find observation client ids: %w", err)
		}
		kept := make([]Observation, 0, len(obs))
		for i, o := range obs {
			if o.ClientID != "" {
				if known[keys[i]] {
					continue
				}
				known[keys[i]] = true
			}
			kept = append(kept, o)
		}
		obs = kept
	}
	if len(checks) > 0 {
		keys := make([]clientKey, len(checks))
		for i, ch := range checks {
			keys[i] = clientKey{string(ch.Asset), ch.Partition, ch.ClientID}
		}
		known, err := knownClients(ctx, tx, (*checkModel)(nil), keys)
		if err != nil {
			return nil, fmt.Errorf("find check result client ids: %w", err)
		}
		kept := make([]CheckResult, 0, len(checks))
		for i, ch := range checks {
			if ch.ClientID != "" {
				if known[keys[i]] {
					continue
				}
				known[keys[i]] = true
			}
			kept = append(kept, ch)
		}
		checks = kept
	}
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
			rows[i] = obsModel{Asset: string(o.Asset), PartitionKey: o.Partition, RunID: run, ClientID: o.ClientID,
				DataVersion: o.DataVersion, RowCount: o.RowCount, ByteCount: o.ByteCount,
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
				Description: ch.Description, ClientID: ch.ClientID, Metadata: jsonText(ch.Metadata), CreatedAt: created}
			events = append(events, eventModel{Kind: EventCheckResult, Asset: string(ch.Asset), PartitionKey: ch.Partition,
				RunID: run, CreatedAt: now, Payload: jsonPayload(map[string]any{"check": ch.Check, "passed": ch.Passed, "severity": ch.Severity})})
		}
		if err := bunInsertBatches(ctx, tx, rows, 500); err != nil {
			return nil, fmt.Errorf("insert check results: %w", err)
		}
	}
	return events, nil
}

// RecordObservations records observations in one transaction. An
// observation whose ClientID is already recorded for its asset partition
// is not recorded again (idempotent retries).
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

// RecordCheckResults records asset check results in one transaction,
// idempotent by ClientID like RecordObservations.
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
	for i := range rows {
		out[i] = rows[i].observation()
	}
	return out, nil
}

func (r *obsModel) observation() Observation {
	o := Observation{ID: r.ID, Asset: asset.Key(r.Asset), Partition: r.PartitionKey, RunID: r.RunID, ClientID: r.ClientID,
		DataVersion: r.DataVersion, RowCount: r.RowCount, ByteCount: r.ByteCount, CreatedAt: fromMicros(r.CreatedAt)}
	if r.Metadata != nil {
		o.Metadata = json.RawMessage(*r.Metadata)
	}
	return o
}

// ObservationByClientID returns the observation of an asset partition
// recorded with clientID (ErrNotFound when none).
func (c *Catalog) ObservationByClientID(ctx context.Context, key asset.Key, partition, clientID string) (Observation, error) {
	var rows []obsModel
	if err := c.rdb.NewSelect().Model(&rows).Where("asset = ?", string(key)).Where("partition_key = ?", partition).
		Where("client_id = ?", clientID).Where("client_id <> ''").Limit(1).Scan(ctx); err != nil {
		return Observation{}, fmt.Errorf("observation %q of %s partition %q: %w", clientID, key, partition, translate(err))
	}
	if len(rows) == 0 {
		return Observation{}, fmt.Errorf("observation %q of %s partition %q: %w", clientID, key, partition, ErrNotFound)
	}
	return rows[0].observation(), nil
}

// CheckResultByClientID returns the check result of an asset partition
// recorded with clientID (ErrNotFound when none).
func (c *Catalog) CheckResultByClientID(ctx context.Context, key asset.Key, partition, clientID string) (CheckResult, error) {
	var rows []checkModel
	if err := c.rdb.NewSelect().Model(&rows).Where("asset = ?", string(key)).Where("partition_key = ?", partition).
		Where("client_id = ?", clientID).Where("client_id <> ''").Limit(1).Scan(ctx); err != nil {
		return CheckResult{}, fmt.Errorf("check result %q of %s partition %q: %w", clientID, key, partition, translate(err))
	}
	if len(rows) == 0 {
		return CheckResult{}, fmt.Errorf("check result %q of %s partition %q: %w", clientID, key, partition, ErrNotFound)
	}
	return rows[0].checkResult(), nil
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
	for i := range rows {
		out[i] = rows[i].checkResult()
	}
	return out, nil
}

func (r *checkModel) checkResult() CheckResult {
	ch := CheckResult{ID: r.ID, Asset: asset.Key(r.Asset), Partition: r.PartitionKey, Check: r.CheckName,
		RunID: r.RunID, Attempt: r.Attempt, MaterializationID: r.MaterializationID, Passed: r.Passed,
		Severity: r.Severity, Description: r.Description, ClientID: r.ClientID, CreatedAt: fromMicros(r.CreatedAt)}
	if r.Metadata != nil {
		ch.Metadata = json.RawMessage(*r.Metadata)
	}
	return ch
}
