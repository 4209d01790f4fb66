package catalog

import "github.com/uptrace/bun"

// bun models: the stored form of the domain types. They never leave the
// package. Timestamps are microseconds since the epoch; JSON is text.

type revisionModel struct {
	bun.BaseModel `bun:"table:catalog_revisions"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Actor         string `bun:"actor"`
	CreatedAt     int64  `bun:"created_at"`
}

type assetModel struct {
	bun.BaseModel   `bun:"table:assets"`
	Key             string `bun:"key,pk"`
	Revision        int64  `bun:"revision"`
	CatalogRevision int64  `bun:"catalog_revision"`
	Hash            string `bun:"hash"`
	GroupName       string `bun:"group_name"`
	CodeVersion     string `bun:"code_version"`
	Description     string `bun:"description"`
	Decl            string `bun:"decl"`
	Deleted         bool   `bun:"deleted"`
	CreatedAt       int64  `bun:"created_at"`
	UpdatedAt       int64  `bun:"updated_at"`
	UpdatedBy       string `bun:"updated_by"`
}

type assetRevisionModel struct {
	bun.BaseModel   `bun:"table:asset_revisions"`
	Key             string  `bun:"key,pk"`
	Revision        int64   `bun:"revision,pk"`
	CatalogRevision int64   `bun:"catalog_revision"`
	Change          string  `bun:"change"`
	Hash            string  `bun:"hash"`
	Decl            *string `bun:"decl"`
	Actor           string  `bun:"actor"`
	CreatedAt       int64   `bun:"created_at"`
}

type edgeModel struct {
	bun.BaseModel `bun:"table:asset_edges"`
	Downstream    string  `bun:"downstream,pk"`
	Upstream      string  `bun:"upstream,pk"`
	Mapping       *string `bun:"mapping"`
	FromRevision  int64   `bun:"from_revision,pk"`
	ToRevision    *int64  `bun:"to_revision"`
}

type dynPartModel struct {
	bun.BaseModel `bun:"table:dynamic_partitions"`
	Name          string `bun:"name,pk"`
	Key           string `bun:"key,pk"`
	Seq           int64  `bun:"seq"`
	CreatedAt     int64  `bun:"created_at"`
}

type backfillModel struct {
	bun.BaseModel `bun:"table:backfills"`
	ID            int64   `bun:"id,pk,autoincrement"`
	Selection     string  `bun:"selection"`
	Partitions    *string `bun:"partitions"`
	Filter        string  `bun:"filter"`
	Priority      int     `bun:"priority"`
	State         string  `bun:"state"`
	Actor         string  `bun:"actor"`
	RunsTotal     int64   `bun:"runs_total"`
	Queued        int64   `bun:"queued"`
	Running       int64   `bun:"running"`
	Succeeded     int64   `bun:"succeeded"`
	Failed        int64   `bun:"failed"`
	Cancelled     int64   `bun:"cancelled"`
	RequestID     string  `bun:"request_id"`
	Description   string  `bun:"description"`
	CreatedAt     int64   `bun:"created_at"`
	UpdatedAt     int64   `bun:"updated_at"`
	FinishedAt    *int64  `bun:"finished_at"`
}

type backfillAssetModel struct {
	bun.BaseModel `bun:"table:backfill_assets"`
	BackfillID    int64  `bun:"backfill_id,pk"`
	Asset         string `bun:"asset,pk"`
	Runs          int64  `bun:"runs"`
	Total         int64  `bun:"total"`
	Queued        int64  `bun:"queued"`
	Running       int64  `bun:"running"`
	Succeeded     int64  `bun:"succeeded"`
	Failed        int64  `bun:"failed"`
	Cancelled     int64  `bun:"cancelled"`
}

type runModel struct {
	bun.BaseModel   `bun:"table:runs"`
	ID              int64    `bun:"id,pk"`
	Asset           string   `bun:"asset"`
	PartitionKeys   string   `bun:"partition_keys"`
	PartitionCount  int      `bun:"partition_count"`
	Reason          string   `bun:"reason"`
	Priority        int      `bun:"priority"`
	Deadline        *int64   `bun:"deadline"`
	NotBefore       int64    `bun:"not_before"`
	BackfillID      *int64   `bun:"backfill_id"`
	State           string   `bun:"state"`
	Attempt         int      `bun:"attempt"`
	MaxAttempts     int      `bun:"max_attempts"`
	LeaseOwner      *string  `bun:"lease_owner"`
	LeaseExpiresAt  *int64   `bun:"lease_expires_at"`
	Sizing          *string  `bun:"sizing"`
	DurationUS      *int64   `bun:"duration_us"`
	PeakRSS         *int64   `bun:"peak_rss"`
	CPUSeconds      *float64 `bun:"cpu_seconds"`
	ExitCode        *int     `bun:"exit_code"`
	Error           string   `bun:"error"`
	Log             *string  `bun:"log"`
	LogPath         *string  `bun:"log_path"`
	CancelRequested bool     `bun:"cancel_requested"`
	CreatedAt       int64    `bun:"created_at"`
	StartedAt       *int64   `bun:"started_at"`
	FinishedAt      *int64   `bun:"finished_at"`
	UpdatedAt       int64    `bun:"updated_at"`
}

// runColumns lists the columns read into runModel (everything but the log).
const runColumns = `id, asset, partition_keys, partition_count, reason, priority, deadline, not_before,
backfill_id, state, attempt, max_attempts, lease_owner, lease_expires_at, sizing, duration_us,
peak_rss, cpu_seconds, exit_code, error, log_path, cancel_requested, created_at, started_at,
finished_at, updated_at`

type matModel struct {
	bun.BaseModel `bun:"table:materializations"`
	ID            int64   `bun:"id,pk"`
	Asset         string  `bun:"asset"`
	PartitionKey  string  `bun:"partition_key"`
	RunID         int64   `bun:"run_id"`
	Attempt       int     `bun:"attempt"`
	ClientID      string  `bun:"client_id"`
	DataVersion   string  `bun:"data_version"`
	CodeVersion   string  `bun:"code_version"`
	RowCount      *int64  `bun:"row_count"`
	ByteCount     *int64  `bun:"byte_count"`
	Schema        *string `bun:"schema"`
	Metadata      *string `bun:"metadata"`
	Location      string  `bun:"location"`
	CreatedAt     int64   `bun:"created_at"`
}

type provModel struct {
	bun.BaseModel             `bun:"table:provenance"`
	MaterializationID         int64  `bun:"materialization_id,pk"`
	UpstreamAsset             string `bun:"upstream_asset,pk"`
	UpstreamPartition         string `bun:"upstream_partition,pk"`
	UpstreamMaterializationID int64  `bun:"upstream_materialization_id"`
	DataVersion               string `bun:"data_version"`
}

type obsModel struct {
	bun.BaseModel `bun:"table:observations"`
	ID            int64   `bun:"id,pk,autoincrement"`
	Asset         string  `bun:"asset"`
	PartitionKey  string  `bun:"partition_key"`
	RunID         int64   `bun:"run_id"`
	ClientID      string  `bun:"client_id"`
	DataVersion   string  `bun:"data_version"`
	RowCount      *int64  `bun:"row_count"`
	ByteCount     *int64  `bun:"byte_count"`
	Metadata      *string `bun:"metadata"`
	CreatedAt     int64   `bun:"created_at"`
}

type checkModel struct {
	bun.BaseModel     `bun:"table:check_results"`
	ID                int64   `bun:"id,pk,autoincrement"`
	Asset             string  `bun:"asset"`
	PartitionKey      string  `bun:"partition_key"`
	CheckName         string  `bun:"check_name"`
	RunID             int64   `bun:"run_id"`
	Attempt           int     `bun:"attempt"`
	MaterializationID int64   `bun:"materialization_id"`
	Passed            bool    `bun:"passed"`
	Severity          string  `bun:"severity"`
	Description       string  `bun:"description"`
	ClientID          string  `bun:"client_id"`
	Metadata          *string `bun:"metadata"`
	CreatedAt         int64   `bun:"created_at"`
}

type eventModel struct {
	bun.BaseModel `bun:"table:events"`
	ID            int64   `bun:"id,pk,autoincrement"`
	Kind          string  `bun:"kind"`
	Asset         string  `bun:"asset"`
	PartitionKey  string  `bun:"partition_key"`
	RunID         int64   `bun:"run_id"`
	BackfillID    int64   `bun:"backfill_id"`
	Payload       *string `bun:"payload"`
	CreatedAt     int64   `bun:"created_at"`
}
