-- Columns and indexes the API reads instead of scanning or of keeping
-- fields inside user metadata.

-- Materialization history of a whole asset (newest first) and the
-- materializations a run recorded.
CREATE INDEX IF NOT EXISTS materializations_asset ON materializations (asset, id);
CREATE INDEX IF NOT EXISTS materializations_of_run ON materializations (run_id, id) WHERE run_id <> 0;

-- Where a materialization's output was written. Rows written before this
-- column existed may keep it in metadata under "_strata"."location"; the
-- catalog falls back to it on read.
ALTER TABLE materializations ADD COLUMN location text NOT NULL DEFAULT '';
ALTER TABLE latest_materializations ADD COLUMN location text NOT NULL DEFAULT '';
-- Rows that kept it in metadata get it as a column. jsonb refuses some
-- JSON that Go accepts (\u0000, lone surrogates, huge exponents): rows with
-- \u escapes are skipped, and if another such row stops the update, every
-- row is left to the read fallback rather than failing the migration.
DO $$
BEGIN
  UPDATE materializations SET location = metadata::jsonb -> '_strata' ->> 'location'
  WHERE location = '' AND CASE WHEN metadata LIKE '%"\_strata"%' AND strpos(metadata, '\u') = 0
    THEN jsonb_typeof(metadata::jsonb -> '_strata' -> 'location') = 'string' ELSE false END;
EXCEPTION WHEN others THEN
  NULL;
END $$;
UPDATE latest_materializations SET location = (SELECT m.location FROM materializations m WHERE m.id = latest_materializations.materialization_id)
WHERE location = '' AND materialization_id IN (SELECT id FROM materializations WHERE location <> '');

-- Reports from outside a run are idempotent by a client id, as for
-- materializations; observations carry the size observed.
ALTER TABLE observations ADD COLUMN client_id text NOT NULL DEFAULT '';
ALTER TABLE observations ADD COLUMN row_count bigint;
ALTER TABLE observations ADD COLUMN byte_count bigint;
CREATE UNIQUE INDEX IF NOT EXISTS observations_client ON observations (asset, partition_key, client_id) WHERE client_id <> '';
ALTER TABLE check_results ADD COLUMN client_id text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX IF NOT EXISTS check_results_client ON check_results (asset, partition_key, client_id) WHERE client_id <> '';

-- Backfills: an idempotency key (unique when set), a description, and
-- per-asset partition counters by run state, kept in the transaction of
-- every run state change (a run over N partitions counts N).
ALTER TABLE backfills ADD COLUMN request_id text NOT NULL DEFAULT '';
ALTER TABLE backfills ADD COLUMN description text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX IF NOT EXISTS backfills_request ON backfills (request_id) WHERE request_id <> '';

CREATE TABLE IF NOT EXISTS backfill_assets (
    backfill_id bigint NOT NULL,
    asset       text   NOT NULL,
    runs        bigint NOT NULL DEFAULT 0,
    total       bigint NOT NULL DEFAULT 0,
    queued      bigint NOT NULL DEFAULT 0,
    running     bigint NOT NULL DEFAULT 0,
    succeeded   bigint NOT NULL DEFAULT 0,
    failed      bigint NOT NULL DEFAULT 0,
    cancelled   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (backfill_id, asset)
);

INSERT INTO backfill_assets (backfill_id, asset, runs, total, queued, running, succeeded, failed, cancelled)
SELECT backfill_id, asset, count(*), sum(partition_count),
       sum(CASE WHEN state = 'queued' THEN partition_count ELSE 0 END),
       sum(CASE WHEN state = 'running' THEN partition_count ELSE 0 END),
       sum(CASE WHEN state = 'succeeded' THEN partition_count ELSE 0 END),
       sum(CASE WHEN state = 'failed' THEN partition_count ELSE 0 END),
       sum(CASE WHEN state = 'cancelled' THEN partition_count ELSE 0 END)
FROM runs WHERE backfill_id IS NOT NULL
GROUP BY backfill_id, asset;

-- ListRuns by worker.
CREATE INDEX IF NOT EXISTS runs_lease_owner ON runs (lease_owner, id) WHERE lease_owner IS NOT NULL;
