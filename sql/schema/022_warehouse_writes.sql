-- One row per restatement of the warehouse (etl/storage/warehouse.py restate_day writes
-- it last, after the rows and their warehouse_day_writes row, sql/schema/015): only
-- appended, never merged away (a plain MergeTree, unlike 015's ReplacingMergeTree), so
-- its count() grows with every restatement committed and reads from the parts'
-- metadata alone. That count is what the rollups' freshness gate compares
-- (etl/storage/rollupgate.py): the same count as at a refresh means nothing was
-- restated since, and the refresh's stale-days query need not run again.
CREATE TABLE IF NOT EXISTS warehouse_writes
(
    table_name LowCardinality(String),
    written_at DateTime64(9)
)
ENGINE = MergeTree()
ORDER BY tuple()
