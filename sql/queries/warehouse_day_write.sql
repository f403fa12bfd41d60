-- Say that a restatement wrote (table, account, day) now (sql/schema/015, by
-- etl/storage/warehouse.py restate_day right after its rows).
INSERT INTO warehouse_day_writes (table_name, cloud_account_id, date, written_at)
SELECT {table_name:String}, {cloud_account_id:String}, toDateTime({day_start:UInt32}), now64(9)
