-- breakdown_expenses_costs.sql's rows (day, key, cost) over [first_day, last_day], read
-- from their rollup under {rollup_key} (sql/schema/021; etl/storage/breakdownreads.py
-- refreshes the period's days first), in the query's order.
SELECT toUInt32(date) AS day, key, cost
FROM breakdown_expense_days_rollup(
    rollup_key = {rollup_key:String},
    first_day = {first_day:UInt32},
    last_day = {last_day:UInt32}
)
ORDER BY day, key
