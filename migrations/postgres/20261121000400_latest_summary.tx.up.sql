-- The bulk read of an asset's latest materializations (millions of rows)
-- spends most of the server's time sending ten columns per row. The summary
-- packs them into one value, computed when the row is written:
--   int8 materialization_id, int8 run_id, int4 attempt,
--   int8 row_count (-1 when null), int8 byte_count (-1 when null), int8 created_at,
--   then int4 length + bytes of partition_key, data_version and code_version,
--   then the bytes of location to the end.
-- Integers are big-endian (the send functions); text is its bytes in the
-- database encoding (decode(..., 'escape') of the text with backslashes
-- doubled is immutable, unlike convert_to). The catalog reads it only on a
-- UTF8 or SQL_ASCII database.
ALTER TABLE latest_materializations ADD COLUMN IF NOT EXISTS summary bytea GENERATED ALWAYS AS (
    int8send(materialization_id) || int8send(run_id) || int4send(attempt)
    || int8send(coalesce(row_count, -1)) || int8send(coalesce(byte_count, -1)) || int8send(created_at)
    || int4send(octet_length(partition_key)) || decode(replace(partition_key, E'\\', E'\\\\'), 'escape')
    || int4send(octet_length(data_version)) || decode(replace(data_version, E'\\', E'\\\\'), 'escape')
    || int4send(octet_length(code_version)) || decode(replace(code_version, E'\\', E'\\\\'), 'escape')
    || decode(replace(location, E'\\', E'\\\\'), 'escape')
) STORED;
