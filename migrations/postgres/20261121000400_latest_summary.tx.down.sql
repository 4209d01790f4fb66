ALTER TABLE latest_materializations DROP COLUMN IF EXISTS summary;
