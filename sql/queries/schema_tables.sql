-- The tables and views of the current database: which of sql/schema's exist already
-- (etl/storage/warehouse.py, `ensure_schema`).
SELECT name
FROM system.tables
WHERE database = currentDatabase()
