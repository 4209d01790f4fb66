-- The planner's rebuild reads the materialization events (by kind, in id
-- order) and the run_state events of failed runs (by run): index both, so a
-- rebuild does not scan the whole event log.
CREATE INDEX IF NOT EXISTS events_kind_id ON events (kind, id);
CREATE INDEX IF NOT EXISTS events_run_id ON events (run_id, id) WHERE run_id <> 0;
