// Package catalog is Strata's memory: what was declared, how assets connect,
// what ran, what each run produced and consumed. It is the only package that
// speaks SQL.
//
// # Databases
//
// One API, two databases behind one driver seam (driver.go): PostgreSQL
// (pgx/v5 with pgxpool, bun with pgdialect over pgx's database/sql adapter)
// for production and SQLite (bun with sqlitedialect on modernc.org/sqlite,
// pure Go) as the embedded default. Open takes a URL:
//
//	sqlite:///var/lib/strata/strata.db   absolute path
//	sqlite://data/strata.db              relative path
//	postgres://user@host/db?search_path=strata
//
// Open applies the embedded SQL migrations (package migrations, bun/migrate)
// under a lock: a PostgreSQL session advisory lock keyed by the schema, or an
// exclusive flock on <db>.migrate-lock for SQLite, so servers starting
// together migrate once. A database that has applied a migration this binary
// does not know is refused with ErrSchemaTooNew; an existing SQLite file
// that is not a database, or whose first pages are damaged, gives
// ErrCorrupt and is left untouched.
//
// SQLite runs in WAL mode with a busy timeout, synchronous=NORMAL, a 64 MiB
// page cache and one writer connection (BEGIN IMMEDIATE) beside a small pool
// of read-only connections. PostgreSQL uses a pgxpool.
//
// # Schema
//
// Timestamps are int8 microseconds since the Unix epoch (UTC) in both
// dialects, so ordering, comparisons and COPY are identical; JSON (asset
// declarations, sizing, schemas, metadata, event payloads) is stored as text,
// byte for byte as given, after validation in Go.
//
//   - catalog_revisions: one row per apply or deletion that changed
//     something; its id is the global catalog revision.
//   - assets: the current definition of each asset: canonical JSON of the
//     asset.AssetDecl, its sha256 (idempotency), indexed key, group, code
//     version, per-asset revision; deleted assets stay with deleted = true.
//   - asset_revisions: every revision of every asset (created, changed,
//     deleted) with actor and time: the history (AssetHistory, or paged
//     newest first by AssetRevisions).
//   - asset_edges: lineage edges (downstream, upstream, mapping JSON) valid
//     over [from_revision, to_revision); current edges have no to_revision,
//     so the graph at any catalog revision can be read back (EdgesAt).
//   - dynamic_partitions: keys per dynamic definition, with an insertion
//     sequence.
//   - runs: the queue and the history of work (see Run). The claim reads the
//     partial index runs_claim (priority desc, deadline nulls last, id) WHERE
//     state = 'queued'.
//   - materializations: unique (asset, partition, run, attempt) for run
//     output and (asset, partition, client_id) for idempotent external
//     reports, with the output location as a column (a legacy
//     "_strata"."location" in metadata fills it on write and on read);
//     indexed by (asset, id) for the asset-wide history
//     (ListMaterializations) and by (run_id, id) for a run's
//     materializations (RunMaterializationIDs); provenance: the upstream
//     asset partitions, materialization ids and data versions each one
//     consumed.
//   - latest_materializations: the latest materialization of every asset
//     partition (location included), maintained on write in the same
//     transaction, so the planner's bulk status read is one scan of one
//     table.
//   - observations, check_results: likewise per asset partition, idempotent
//     by (asset, partition, client_id) like materializations; observations
//     carry row and byte counts.
//   - backfills: selection, partition subset (opaque JSON), filter, priority,
//     request id (unique when set: CreateBackfill is idempotent by it),
//     description, state and per-state run counters; backfill_assets: per
//     asset, runs and partitions by the state of their run (a run over N
//     partitions counts N). Both are kept up to date in the transaction that
//     changes a run's state, so GetBackfill reads one row plus one per asset.
//   - events: the append-only log (see Events).
//
// # Writes
//
// Every exported write is one transaction: it validates its input first
// (ErrInvalid, writing nothing), and a constraint violation rolls the whole
// batch back. The hot paths are set-based: EnqueueRuns and
// RecordMaterializations allocate ids in one query and write rows with COPY
// on PostgreSQL and prepared multi-row INSERTs on SQLite; the latest table is
// updated with one upsert (unnest arrays on PostgreSQL); events are appended
// with one multi-row INSERT. LatestMaterializations streams one query: on
// PostgreSQL over the latest table's packed summary column (a stored
// generated column, one value a row instead of ten), on SQLite through a
// pooled read-only connection opened without SQLite's connection mutex
// (bulkReader), which database/sql's driver takes for every column read;
// LatestOf looks up a page of partitions.
//
// Runs: EnqueueRuns queues; ClaimRuns leases the next runnable runs (queued,
// not_before <= now) by priority, then deadline, then age, using FOR UPDATE
// SKIP LOCKED on PostgreSQL; Heartbeat extends a lease and reports a
// requested cancellation; FinishRun records an attempt's outcome with its
// materializations, provenance, observations, checks, usage and log in one
// transaction, exactly once per (run, attempt) (a repeat, a stale attempt or
// a lost lease is ErrConflict); RequeueExpired retries runs whose lease
// expired, or fails them when their attempts are used up; CancelRuns and
// CancelBackfill cancel queued runs and flag running ones.
//
// # Events
//
// Every write appends its events (asset_applied, runs_enqueued, run_state,
// materialization, backfill_state, ...) in its own transaction; consumers
// page with Events(afterID). Ids increase strictly in commit order. On
// PostgreSQL a sequence alone would not give that: a transaction can take id
// 10, another id 11 and commit first, and a reader that saw 11 would never
// see 10. So appending events is the last statement of every transaction
// and is preceded by a transaction-scoped advisory lock held until commit:
// event-writing transactions commit in the order they took ids. SQLite has a
// single writer, which gives the same order for free.
//
// # Retention
//
// Prune deletes materializations beyond the newest N per partition, never
// the latest one and never one a provenance row references, together with
// their own provenance, and clears run logs older than a cut-off.
//
// # Errors
//
// Errors wrap the sentinels ErrNotFound, ErrAlreadyExists, ErrConflict,
// ErrInvalid, ErrSchemaTooNew and ErrCorrupt (test with errors.Is) and read
// like paths ("finish run 12 attempt 1: conflict: ..."). Driver error types
// (pgconn, sqlite) never cross the package boundary.
//
// The conformance suite in package catalogtest runs every behaviour against
// both databases; catalogtest/pgtest finds a PostgreSQL server for tests.
package catalog
