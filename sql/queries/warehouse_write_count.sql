-- How many restatements the warehouse has committed (sql/schema/022): the rollups'
-- freshness gate (etl/storage/rollupgate.py), read before every refresh.
SELECT count() FROM warehouse_writes
