{% import "include/macros.sql" as m %}
-- breakdown_expenses_costs.sql's rows (day, key, cost) over [first_day, last_day], read
-- from their rollup under {rollup_key} (sql/schema/020: per day, the rows of its latest
-- compute; etl/storage/breakdownreads.py refreshes the period's days first), in the
-- query's order.
SELECT toUInt32(date) AS day, key, cost
FROM
(
    {{ m.latest_day_compute("breakdown_expense_days", "key", ["date", "key", "cost"]) | indent(4) }}
)
ORDER BY day, key
