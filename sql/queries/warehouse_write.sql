-- Count one restatement of {table_name} (sql/schema/022), by etl/storage/warehouse.py
-- restate_day after the rows and their warehouse_day_writes row (warehouse_day_write.sql):
-- a rollup whose freshness gate sees this count sees those rows and that row too.
INSERT INTO warehouse_writes (table_name, written_at)
SELECT {table_name:String}, now64(9)
