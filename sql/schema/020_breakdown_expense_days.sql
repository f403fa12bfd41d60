-- The rollup of breakdown_expenses_costs.sql (sql/queries): its rows per day (the cost
-- per breakdown key) as computed for one set of its arguments, so that the
-- breakdown_expenses answer, read on every dashboard visit over two 30-day periods,
-- sums stored rows instead of raw expense rows (docs/dashboard.md, "Performance").
-- A day's rows depend on that day's data only: the collapsing (HAVING per day and
-- key), the folding of node VMs (their cluster's live rows that day) and the bill
-- adjustments (per cluster-day) all stay within the day.
--
-- `rollup_key` names the arguments (etl/storage/dayrollup.py: a hash of every query
-- parameter but the period, so the accounts, the filters' resources, the folded nodes,
-- the breakdown key map built from the MongoDB documents, the cost column and the bill
-- arguments); a changed document, filter or metric is another key, computed on its
-- first read. `version` and `compute_id` are those of sql/schema/016 (the day's latest
-- warehouse_day_writes time when computed; two computes of one day told apart), and
-- each compute writes a marker row per day (`key` '', which no breakdown key is:
-- api/query/breakdown.py names a missing value `null`). Only appended: a restated
-- day gets a newer compute.
CREATE TABLE IF NOT EXISTS breakdown_expense_days
(
    rollup_key String,
    date DateTime,
    version Int64,
    compute_id UUID,
    key String,
    cost Float64
)
ENGINE = MergeTree()
PARTITION BY toYear(date)
ORDER BY (rollup_key, date, version, compute_id, key)
