-- Compute the rollup of breakdown_expenses_costs.sql (sql/schema/020) for the days
-- {days} (midnights UTC, each with its version {versions}, read before:
-- breakdown_expense_stale_days.sql) under {day_rollup_key}: the query's rows of those
-- days as computed now, with the arguments the key names, over the span of the days
-- ({start_date}, {end_date}; its bill rollup refreshed for it: etl/storage/breakdownreads.py).
-- The days' marker rows are breakdown_expense_markers.sql, inserted after these.
INSERT INTO breakdown_expense_days
SELECT
    {day_rollup_key:String},
    toDateTime(day),
    transform(day, {days:Array(UInt32)}, {versions:Array(Int64)}, toInt64(0)),
    {compute_id:UUID},
    key,
    cost
FROM
(
{% include "queries/breakdown_expenses_costs.sql" %}
)
WHERE has({days:Array(UInt32)}, day)
