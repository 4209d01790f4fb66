-- The planner's state of each backfill it runs (planner.BackfillState as
-- JSON: spec, start seq, resolved targets), written with the backfill in one
-- transaction so any server's planner loop can take it up (and take it up
-- again after a restart). done is set when every target reached a terminal
-- state, or the backfill was cancelled: a done backfill is not restored.
CREATE TABLE planner_backfills (
    backfill_id bigint  PRIMARY KEY REFERENCES backfills (id) ON DELETE CASCADE,
    state       text    NOT NULL,
    done        boolean NOT NULL DEFAULT false,
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL
);
