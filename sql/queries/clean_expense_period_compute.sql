-- Compute the rollup of clean_expenses (sql/schema/021) for the period [start_date,
-- end_date] under {day_rollup_key}, at the version {versions} (one: the period's, read
-- before by clean_expense_period_stale.sql; {days} is its start): its resources as
-- costed now from the raw rows (sql/include/clean_expenses_resources.sql, the bill
-- adjustments' rollup refreshed first: etl/storage/expensereads.py), those with a live
-- item or folded row. The marker row is clean_expense_period_markers.sql, inserted after.
INSERT INTO clean_expense_periods
SELECT
    {day_rollup_key:String},
    toDateTime({start_date:UInt32}),
    {versions:Array(Int64)}[1],
    {compute_id:UUID},
    resource_id,
    account_id,
    cluster_id,
    item_cost,
    item_sign,
    folded_cost,
    folded_sign,
    reconciled
FROM
(
{% include "include/clean_expenses_resources.sql" %}
)
WHERE item_sign > 0 OR folded_sign > 0
