-- When each (table, account, day) of the warehouse was restated, one row per
-- restatement (etl/storage/warehouse.py restate_day writes it right after the rows it
-- inserted): what tells a rollup that a day it summed has changed since
-- (etl/storage/billrollup.py). `written_at` is the server's clock (now64), so the
-- writers' clocks never matter. A day no restatement wrote (rows inserted by hand, such
-- as bench/api.py's bulk load) reads as written at 0: a rollup of it stays valid until
-- a restatement comes. Kept apart from the tables it describes, so that their
-- collapsing is untouched.
CREATE TABLE IF NOT EXISTS warehouse_day_writes
(
    table_name LowCardinality(String),
    cloud_account_id String,
    date DateTime,
    written_at DateTime64(9)
)
ENGINE = ReplacingMergeTree(written_at)
PARTITION BY toYYYYMM(date)
ORDER BY (date, table_name, cloud_account_id)
