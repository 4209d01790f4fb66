-- Strata catalog schema, SQLite. Tables keyed by text are WITHOUT ROWID
-- (one b-tree each: the latest-per-partition scan reads it in key order).
-- Timestamps are integer microseconds since
-- the Unix epoch (UTC); JSON is stored as text exactly as written.

CREATE TABLE IF NOT EXISTS catalog_revisions (
    id         INTEGER PRIMARY KEY,
    actor      text   NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS assets (
    key              text    PRIMARY KEY,
    revision         bigint  NOT NULL,
    catalog_revision bigint  NOT NULL,
    hash             text    NOT NULL,
    group_name       text    NOT NULL DEFAULT '',
    code_version     text    NOT NULL DEFAULT '',
    description      text    NOT NULL DEFAULT '',
    decl             text    NOT NULL,
    deleted          integer NOT NULL DEFAULT 0,
    created_at       bigint  NOT NULL,
    updated_at       bigint  NOT NULL,
    updated_by       text    NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS assets_group ON assets (group_name, key) WHERE deleted = 0;

CREATE TABLE IF NOT EXISTS asset_revisions (
    key              text   NOT NULL,
    revision         bigint NOT NULL,
    catalog_revision bigint NOT NULL,
    change           text   NOT NULL CHECK (change IN ('created', 'changed', 'deleted')),
    hash             text   NOT NULL,
    decl             text,
    actor            text   NOT NULL DEFAULT '',
    created_at       bigint NOT NULL,
    PRIMARY KEY (key, revision)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS asset_edges (
    downstream    text   NOT NULL,
    upstream      text   NOT NULL,
    mapping       text,
    from_revision bigint NOT NULL,
    to_revision   bigint,
    PRIMARY KEY (downstream, upstream, from_revision)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS asset_edges_current ON asset_edges (downstream) WHERE to_revision IS NULL;
CREATE INDEX IF NOT EXISTS asset_edges_upstream ON asset_edges (upstream) WHERE to_revision IS NULL;

CREATE TABLE IF NOT EXISTS dynamic_partitions (
    name       text   NOT NULL,
    key        text   NOT NULL,
    seq        integer NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (name, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dynamic_partitions_order ON dynamic_partitions (name, seq);

CREATE TABLE IF NOT EXISTS backfills (
    id          INTEGER PRIMARY KEY,
    selection   text   NOT NULL,
    partitions  text,
    filter      text   NOT NULL DEFAULT '',
    priority    int    NOT NULL DEFAULT 0,
    state       text   NOT NULL CHECK (state IN ('running', 'completed', 'failed', 'cancelling', 'cancelled')),
    actor       text   NOT NULL DEFAULT '',
    runs_total  bigint NOT NULL DEFAULT 0,
    queued      bigint NOT NULL DEFAULT 0,
    running     bigint NOT NULL DEFAULT 0,
    succeeded   bigint NOT NULL DEFAULT 0,
    failed      bigint NOT NULL DEFAULT 0,
    cancelled   bigint NOT NULL DEFAULT 0,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    finished_at bigint
);

CREATE TABLE IF NOT EXISTS runs (
    id               INTEGER PRIMARY KEY,
    asset            text    NOT NULL,
    partition_keys   text    NOT NULL,
    partition_count  int     NOT NULL,
    reason           text    NOT NULL DEFAULT '',
    priority         int     NOT NULL DEFAULT 0,
    deadline         bigint,
    not_before       bigint  NOT NULL DEFAULT 0,
    backfill_id      bigint,
    state            text    NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempt          int     NOT NULL DEFAULT 0,
    max_attempts     int     NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
    lease_owner      text,
    lease_expires_at bigint,
    sizing           text,
    duration_us      bigint,
    peak_rss         bigint,
    cpu_seconds      real,
    exit_code        int,
    error            text    NOT NULL DEFAULT '',
    log              text,
    log_path         text,
    cancel_requested integer NOT NULL DEFAULT 0,
    created_at       bigint  NOT NULL,
    started_at       bigint,
    finished_at      bigint,
    updated_at       bigint  NOT NULL
);
-- The claim index: runnable runs by priority desc, deadline asc (nulls last), id.
CREATE INDEX IF NOT EXISTS runs_claim ON runs (priority DESC, coalesce(deadline, 9223372036854775807), id) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS runs_lease ON runs (lease_expires_at) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS runs_backfill ON runs (backfill_id, id) WHERE backfill_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_asset ON runs (asset, id);
CREATE INDEX IF NOT EXISTS runs_state ON runs (state, id);

CREATE TABLE IF NOT EXISTS materializations (
    id           INTEGER PRIMARY KEY,
    asset        text   NOT NULL,
    partition_key text  NOT NULL,
    run_id       bigint NOT NULL DEFAULT 0,
    attempt      int    NOT NULL DEFAULT 0,
    client_id    text   NOT NULL DEFAULT '',
    data_version text   NOT NULL DEFAULT '',
    code_version text   NOT NULL DEFAULT '',
    row_count    bigint,
    byte_count   bigint,
    schema       text,
    metadata     text,
    created_at   bigint NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS materializations_run ON materializations (asset, partition_key, run_id, attempt) WHERE run_id <> 0;
CREATE UNIQUE INDEX IF NOT EXISTS materializations_client ON materializations (asset, partition_key, client_id) WHERE client_id <> '';
CREATE INDEX IF NOT EXISTS materializations_partition ON materializations (asset, partition_key, id);

-- The latest materialization of each asset partition, maintained on write.
CREATE TABLE IF NOT EXISTS latest_materializations (
    asset              text   NOT NULL,
    partition_key      text   NOT NULL,
    materialization_id bigint NOT NULL,
    run_id             bigint NOT NULL,
    attempt            int    NOT NULL,
    data_version       text   NOT NULL,
    code_version       text   NOT NULL,
    row_count          bigint,
    byte_count         bigint,
    created_at         bigint NOT NULL,
    PRIMARY KEY (asset, partition_key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS provenance (
    materialization_id          bigint NOT NULL,
    upstream_asset              text   NOT NULL,
    upstream_partition          text   NOT NULL,
    upstream_materialization_id bigint NOT NULL DEFAULT 0,
    data_version                text   NOT NULL DEFAULT '',
    PRIMARY KEY (materialization_id, upstream_asset, upstream_partition)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS provenance_upstream ON provenance (upstream_materialization_id) WHERE upstream_materialization_id <> 0;

CREATE TABLE IF NOT EXISTS observations (
    id            INTEGER PRIMARY KEY,
    asset         text   NOT NULL,
    partition_key text   NOT NULL,
    run_id        bigint NOT NULL DEFAULT 0,
    data_version  text   NOT NULL DEFAULT '',
    metadata      text,
    created_at    bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS observations_partition ON observations (asset, partition_key, id);

CREATE TABLE IF NOT EXISTS check_results (
    id                 INTEGER PRIMARY KEY,
    asset              text    NOT NULL,
    partition_key      text    NOT NULL,
    check_name         text    NOT NULL,
    run_id             bigint  NOT NULL DEFAULT 0,
    attempt            int     NOT NULL DEFAULT 0,
    materialization_id bigint  NOT NULL DEFAULT 0,
    passed             integer NOT NULL,
    severity           text    NOT NULL DEFAULT '',
    description        text    NOT NULL DEFAULT '',
    metadata           text,
    created_at         bigint  NOT NULL
);
CREATE INDEX IF NOT EXISTS check_results_partition ON check_results (asset, partition_key, check_name, id);

CREATE TABLE IF NOT EXISTS events (
    id            INTEGER PRIMARY KEY,
    kind          text   NOT NULL,
    asset         text   NOT NULL DEFAULT '',
    partition_key text   NOT NULL DEFAULT '',
    run_id        bigint NOT NULL DEFAULT 0,
    backfill_id   bigint NOT NULL DEFAULT 0,
    payload       text,
    created_at    bigint NOT NULL
);
