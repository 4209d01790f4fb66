DROP INDEX IF EXISTS events_run_id;
DROP INDEX IF EXISTS events_kind_id;
