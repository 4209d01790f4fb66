DROP TABLE IF EXISTS planner_backfills;
