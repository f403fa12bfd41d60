-- Daily cost rows, shared with the cloud-bill importers (the platform's contract).
-- A restatement inserts a cancel row (sign -1, the old cost) and the new row (sign +1)
-- in one INSERT; readers aggregate SUM(cost * sign) ... HAVING SUM(sign) > 0, so they
-- are correct before any merge and never need FINAL. Queries write the idiom as
-- the macros `collapsed` and `live_keys` of sql/include/macros.sql.
CREATE TABLE IF NOT EXISTS expenses
(
    cloud_account_id String,
    resource_id String,
    date DateTime,
    cost Float64,
    sign Int8
)
ENGINE = CollapsingMergeTree(sign)
PARTITION BY toYYYYMM(date)
ORDER BY (cloud_account_id, date, resource_id)
