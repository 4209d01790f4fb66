package catalog

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// driver is the seam between the dialect-neutral catalog code and the SQL
// that differs between PostgreSQL and SQLite: locking, id allocation and the
// set-based fast paths.
type driver interface {
	dialect() string
	// migrationLock serialises migrations across processes.
	migrationLock(ctx context.Context) (unlock func(), err error)
	// lockApply serialises ApplyAssets/DeleteAsset (catalog revisions).
	lockApply(ctx context.Context, tx *txn) error
	// lockEvents is taken right before events are appended, as the last
	// statement of a transaction, so event ids become visible in order.
	lockEvents(ctx context.Context, tx *txn) error
	// allocIDs reserves n ids of table (runs or materializations), ascending.
	allocIDs(ctx context.Context, tx *txn, table string, n int) ([]int64, error)
	insertRuns(ctx context.Context, tx *txn, rows []runModel) error
	insertMaterializations(ctx context.Context, tx *txn, rows []matModel) error
	insertProvenance(ctx context.Context, tx *txn, rows []provModel) error
	// updateLatest folds rows (just inserted in tx, ids ascending) into
	// latest_materializations.
	updateLatest(ctx context.Context, tx *txn, rows []matModel) error
	// skipLocked is appended to the claim's inner SELECT; forUpdate to a
	// SELECT whose rows the transaction then updates.
	skipLocked() string
	forUpdate() string
	// claimFrom names the runs table in the claim's inner SELECT (SQLite
	// is told to use the claim index; its planner prefers runs_state).
	claimFrom() string
	streamLatest(ctx context.Context, assetKey string, fn func(*MaterializationSummary) error) error
}

// Columns written by the bulk paths (COPY on PostgreSQL, multi-row INSERT
// on SQLite), in the order of the drivers' row functions.
var (
	runInsertColumns = []string{"id", "asset", "partition_keys", "partition_count", "reason", "priority", "deadline",
		"not_before", "backfill_id", "state", "attempt", "max_attempts", "sizing", "created_at", "updated_at"}
	matInsertColumns = []string{"id", "asset", "partition_key", "run_id", "attempt", "client_id", "data_version",
		"code_version", "row_count", "byte_count", "schema", "metadata", "created_at", "location"}
	provInsertColumns = []string{"materialization_id", "upstream_asset", "upstream_partition", "upstream_materialization_id", "data_version"}
)

const latestUpsertTail = `
ON CONFLICT (asset, partition_key) DO UPDATE SET
  materialization_id = excluded.materialization_id, run_id = excluded.run_id,
  attempt = excluded.attempt, data_version = excluded.data_version,
  code_version = excluded.code_version, row_count = excluded.row_count,
  byte_count = excluded.byte_count, created_at = excluded.created_at, location = excluded.location
WHERE latest_materializations.materialization_id < excluded.materialization_id`

const latestColumns = `asset, partition_key, materialization_id, run_id, attempt, data_version, code_version, row_count, byte_count, created_at, location`

const latestSelect = `SELECT partition_key, materialization_id, run_id, attempt, data_version,
code_version, coalesce(row_count, -1), coalesce(byte_count, -1), created_at, location
FROM latest_materializations WHERE asset = `

// ---------------------------------------------------------------- PostgreSQL

type pgDriver struct {
	c    *Catalog
	seqs sync.Map // table -> sequence name
	// packedLatest: the database's text bytes are UTF-8 (encoding UTF8 or
	// SQL_ASCII), so streamLatest reads the packed summary column.
	packedLatest bool
}

func (d *pgDriver) dialect() string { return "postgres" }

func (d *pgDriver) migrationLock(ctx context.Context) (func(), error) {
	conn, err := d.c.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", d.c.keyMigrate); err != nil {
		conn.Close()
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", d.c.keyMigrate)
		conn.Close()
	}, nil
}

func (d *pgDriver) lockApply(ctx context.Context, tx *txn) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", d.c.keyApply)
	return err
}

// lockEvents: event ids come from a sequence, which hands out values before
// commit; two transactions could commit out of id order and a cursor reader
// could skip the smaller id. Taking a transaction-level advisory lock right
// before the append, held until commit, makes id order equal commit order.
func (d *pgDriver) lockEvents(ctx context.Context, tx *txn) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", d.c.keyEvents)
	return err
}

func pgRaw(tx *txn, fn func(*pgx.Conn) error) error {
	return tx.conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		return fn(sc.Conn())
	})
}

func (d *pgDriver) allocIDs(ctx context.Context, tx *txn, table string, n int) ([]int64, error) {
	if n == 0 {
		return nil, nil
	}
	seq, ok := d.seqs.Load(table)
	if !ok {
		var s string
		if err := tx.QueryRowContext(ctx, "SELECT pg_get_serial_sequence(?, 'id')", table).Scan(&s); err != nil {
			return nil, fmt.Errorf("sequence of %s: %w", table, err)
		}
		d.seqs.Store(table, s)
		seq = s
	}
	ids := make([]int64, 0, n)
	err := pgRaw(tx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, "SELECT nextval($1::regclass) FROM generate_series(1, $2)", seq.(string), n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	return ids, err
}

func (d *pgDriver) insertRuns(ctx context.Context, tx *txn, rows []runModel) error {
	cols := runInsertColumns
	return pgRaw(tx, func(conn *pgx.Conn) error {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"runs"}, cols, pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := &rows[i]
			return []any{r.ID, r.Asset, r.PartitionKeys, r.PartitionCount, r.Reason, r.Priority, r.Deadline,
				r.NotBefore, r.BackfillID, r.State, r.Attempt, r.MaxAttempts, r.Sizing, r.CreatedAt, r.UpdatedAt}, nil
		}))
		return err
	})
}

func (d *pgDriver) insertMaterializations(ctx context.Context, tx *txn, rows []matModel) error {
	cols := matInsertColumns
	return pgRaw(tx, func(conn *pgx.Conn) error {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"materializations"}, cols, pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := &rows[i]
			return []any{r.ID, r.Asset, r.PartitionKey, r.RunID, r.Attempt, r.ClientID, r.DataVersion,
				r.CodeVersion, r.RowCount, r.ByteCount, r.Schema, r.Metadata, r.CreatedAt, r.Location}, nil
		}))
		return err
	})
}

func (d *pgDriver) insertProvenance(ctx context.Context, tx *txn, rows []provModel) error {
	if len(rows) == 0 {
		return nil
	}
	cols := provInsertColumns
	return pgRaw(tx, func(conn *pgx.Conn) error {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"provenance"}, cols, pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := &rows[i]
			return []any{r.MaterializationID, r.UpstreamAsset, r.UpstreamPartition, r.UpstreamMaterializationID, r.DataVersion}, nil
		}))
		return err
	})
}

func (d *pgDriver) updateLatest(ctx context.Context, tx *txn, rows []matModel) error {
	if len(rows) == 0 {
		return nil
	}
	// Keep the last (highest id) row of each partition: an upsert may not
	// touch one row twice. The arrays travel in binary, one round trip.
	last := make(map[[2]string]int, len(rows))
	for i := range rows {
		last[[2]string{rows[i].Asset, rows[i].PartitionKey}] = i
	}
	n := len(last)
	assets, parts := make([]string, 0, n), make([]string, 0, n)
	ids, runs, created := make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
	attempts := make([]int32, 0, n)
	dvs, cvs := make([]string, 0, n), make([]string, 0, n)
	rowCounts, byteCounts := make([]*int64, 0, n), make([]*int64, 0, n)
	locations := make([]string, 0, n)
	for i := range rows {
		r := &rows[i]
		if last[[2]string{r.Asset, r.PartitionKey}] != i {
			continue
		}
		assets, parts, ids, runs = append(assets, r.Asset), append(parts, r.PartitionKey), append(ids, r.ID), append(runs, r.RunID)
		attempts, dvs, cvs = append(attempts, int32(r.Attempt)), append(dvs, r.DataVersion), append(cvs, r.CodeVersion)
		rowCounts, byteCounts, created = append(rowCounts, r.RowCount), append(byteCounts, r.ByteCount), append(created, r.CreatedAt)
		locations = append(locations, r.Location)
	}
	q := `INSERT INTO latest_materializations (` + latestColumns + `)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::text[], $7::text[],
  $8::bigint[], $9::bigint[], $10::bigint[], $11::text[])` + latestUpsertTail
	return pgRaw(tx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, q, assets, parts, ids, runs, attempts, dvs, cvs, rowCounts, byteCounts, created, locations)
		return err
	})
}

func (d *pgDriver) skipLocked() string { return " FOR UPDATE SKIP LOCKED" }
func (d *pgDriver) forUpdate() string  { return " FOR UPDATE" }
func (d *pgDriver) claimFrom() string  { return "runs" }

func (d *pgDriver) streamLatest(ctx context.Context, assetKey string, fn func(*MaterializationSummary) error) error {
	// A prepared, cached statement returns binary values, decoded here by
	// hand (no reflection). On a UTF-8 database one packed bytea per row
	// (see migration 20261121000400): sending ten columns a row costs the
	// server twice the time of the whole scan.
	query, decode := latestSelect+"$1", decodeLatestColumns
	if d.packedLatest {
		query, decode = "SELECT summary FROM latest_materializations WHERE asset = $1", decodeLatestSummary
	}
	rows, err := d.c.pool.Query(ctx, query, pgx.QueryExecModeCacheStatement, assetKey)
	if err != nil {
		return err
	}
	defer rows.Close()
	var s MaterializationSummary
	for rows.Next() {
		if !decode(rows.RawValues(), &s) {
			return fmt.Errorf("unexpected latest_materializations row encoding")
		}
		if err := fn(&s); err != nil {
			return err
		}
	}
	return rows.Err()
}

// decodeLatestColumns fills s from the binary values of latestSelect's
// columns. Strings equal to the previous row's keep their storage.
func decodeLatestColumns(v [][]byte, s *MaterializationSummary) bool {
	if len(v) != 10 || len(v[1]) != 8 || len(v[2]) != 8 || len(v[3]) != 4 || len(v[6]) != 8 || len(v[7]) != 8 || len(v[8]) != 8 {
		return false
	}
	s.Partition = string(v[0])
	s.ID = int64(binary.BigEndian.Uint64(v[1]))
	s.RunID = int64(binary.BigEndian.Uint64(v[2]))
	s.Attempt = int(int32(binary.BigEndian.Uint32(v[3])))
	if s.DataVersion != string(v[4]) {
		s.DataVersion = string(v[4])
	}
	if s.CodeVersion != string(v[5]) {
		s.CodeVersion = string(v[5])
	}
	s.RowCount = int64(binary.BigEndian.Uint64(v[6]))
	s.ByteCount = int64(binary.BigEndian.Uint64(v[7]))
	s.CreatedAt = fromMicros(int64(binary.BigEndian.Uint64(v[8])))
	if s.Location != string(v[9]) {
		s.Location = string(v[9])
	}
	return true
}

// decodeLatestSummary fills s from the one summary column. Strings equal to
// the previous row's (code versions, locations) keep their storage.
func decodeLatestSummary(v [][]byte, s *MaterializationSummary) bool {
	if len(v) != 1 {
		return false
	}
	b := v[0]
	const fixed = 8 + 8 + 4 + 8 + 8 + 8
	if len(b) < fixed {
		return false
	}
	be := binary.BigEndian
	s.ID = int64(be.Uint64(b[0:]))
	s.RunID = int64(be.Uint64(b[8:]))
	s.Attempt = int(int32(be.Uint32(b[16:])))
	s.RowCount = int64(be.Uint64(b[20:]))
	s.ByteCount = int64(be.Uint64(b[28:]))
	s.CreatedAt = fromMicros(int64(be.Uint64(b[36:])))
	b = b[fixed:]
	var part, dv, cv []byte
	for _, dst := range []*[]byte{&part, &dv, &cv} {
		if len(b) < 4 {
			return false
		}
		n := be.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return false
		}
		*dst, b = b[4:4+n], b[4+n:]
	}
	s.Partition = string(part)
	if s.DataVersion != string(dv) {
		s.DataVersion = string(dv)
	}
	if s.CodeVersion != string(cv) {
		s.CodeVersion = string(cv)
	}
	if s.Location != string(b) {
		s.Location = string(b)
	}
	return true
}

// ---------------------------------------------------------------- SQLite

type sqliteDriver struct {
	c    *Catalog
	path string
	bulk *bulkPool // connections for the bulk reads
}

func (d *sqliteDriver) dialect() string { return "sqlite" }

// migrationLock: Open holds the file lock (lockPath) while it opens and
// migrates a SQLite database.
func (d *sqliteDriver) migrationLock(context.Context) (func(), error) { return func() {}, nil }

// lockPath takes an exclusive lock on a file beside the database, so two
// processes opening one database migrate one after the other.
func lockPath(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open migration lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	return func() { _ = unlockFile(f); f.Close() }, nil
}

// The single writer connection with BEGIN IMMEDIATE serialises writers.
func (d *sqliteDriver) lockApply(context.Context, *txn) error  { return nil }
func (d *sqliteDriver) lockEvents(context.Context, *txn) error { return nil }

func (d *sqliteDriver) allocIDs(ctx context.Context, tx *txn, table string, n int) ([]int64, error) {
	if n == 0 {
		return nil, nil
	}
	var max int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM "+table).Scan(&max); err != nil {
		return nil, err
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = max + 1 + int64(i)
	}
	return ids, nil
}

// bunInsertBatches inserts small slices of models with bun multi-row INSERTs.
func bunInsertBatches[T any](ctx context.Context, tx *txn, rows []T, size int) error {
	for len(rows) > 0 {
		n := min(size, len(rows))
		batch := rows[:n]
		if _, err := tx.NewInsert().Model(&batch).Exec(ctx); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// sqliteInsert inserts n rows into table with multi-row INSERTs whose
// values are bound as parameters (one prepared statement for full batches).
func sqliteInsert(ctx context.Context, tx *txn, table string, cols []string, n int, row func(i int, dst []any)) error {
	per := max(1, min(500, 30000/len(cols)))
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	stmtFor := func(rows int) string {
		return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(tuple+",", rows), ",")
	}
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, per*len(cols))
	for start := 0; start < n; start += per {
		k := min(per, n-start)
		for i := 0; i < k; i++ {
			row(start+i, args[i*len(cols):(i+1)*len(cols)])
		}
		var err error
		if k == per {
			if full == nil {
				if full, err = tx.Tx.Tx.PrepareContext(ctx, stmtFor(per)); err != nil {
					return err
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.Tx.Tx.ExecContext(ctx, stmtFor(k), args[:k*len(cols)]...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *sqliteDriver) insertRuns(ctx context.Context, tx *txn, rows []runModel) error {
	return sqliteInsert(ctx, tx, "runs", runInsertColumns, len(rows), func(i int, dst []any) {
		r := &rows[i]
		dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6] = r.ID, r.Asset, r.PartitionKeys, r.PartitionCount, r.Reason, r.Priority, r.Deadline
		dst[7], dst[8], dst[9], dst[10], dst[11], dst[12], dst[13], dst[14] = r.NotBefore, r.BackfillID, r.State, r.Attempt, r.MaxAttempts, r.Sizing, r.CreatedAt, r.UpdatedAt
	})
}

func (d *sqliteDriver) insertMaterializations(ctx context.Context, tx *txn, rows []matModel) error {
	return sqliteInsert(ctx, tx, "materializations", matInsertColumns, len(rows), func(i int, dst []any) {
		r := &rows[i]
		dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6] = r.ID, r.Asset, r.PartitionKey, r.RunID, r.Attempt, r.ClientID, r.DataVersion
		dst[7], dst[8], dst[9], dst[10], dst[11], dst[12], dst[13] = r.CodeVersion, r.RowCount, r.ByteCount, r.Schema, r.Metadata, r.CreatedAt, r.Location
	})
}

func (d *sqliteDriver) insertProvenance(ctx context.Context, tx *txn, rows []provModel) error {
	return sqliteInsert(ctx, tx, "provenance", provInsertColumns, len(rows), func(i int, dst []any) {
		r := &rows[i]
		dst[0], dst[1], dst[2], dst[3], dst[4] = r.MaterializationID, r.UpstreamAsset, r.UpstreamPartition, r.UpstreamMaterializationID, r.DataVersion
	})
}

func (d *sqliteDriver) updateLatest(ctx context.Context, tx *txn, rows []matModel) error {
	if len(rows) == 0 {
		return nil
	}
	// ids of one transaction are contiguous on SQLite (single writer); the
	// upsert's guard keeps the highest id when a partition repeats.
	q := `INSERT INTO latest_materializations (` + latestColumns + `)
SELECT asset, partition_key, id, run_id, attempt, data_version, code_version, row_count, byte_count, created_at, location
FROM materializations WHERE id BETWEEN ? AND ? ORDER BY id` + latestUpsertTail
	_, err := tx.ExecContext(ctx, q, rows[0].ID, rows[len(rows)-1].ID)
	return err
}

func (d *sqliteDriver) skipLocked() string { return "" }
func (d *sqliteDriver) forUpdate() string  { return "" }
func (d *sqliteDriver) claimFrom() string  { return "runs INDEXED BY runs_claim" }

func (d *sqliteDriver) streamLatest(ctx context.Context, assetKey string, fn func(*MaterializationSummary) error) error {
	// Not through database/sql: its driver locks SQLite's connection mutex
	// for every column of every row (see bulkReader).
	return d.bulk.streamLatest(ctx, assetKey, fn)
}
