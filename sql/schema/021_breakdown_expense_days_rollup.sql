{% import "include/macros.sql" as m %}
-- breakdown_expenses_costs.sql's rows read from their rollup (sql/schema/020): per day
-- of [first_day, last_day], the (key, cost) rows of the latest compute under
-- {rollup_key} (etl/storage/dayrollup.py `refresh` computes the days missing or
-- restated since, and returns the key, before a reader runs).
CREATE OR REPLACE VIEW breakdown_expense_days_rollup AS
{{ m.latest_day_compute("breakdown_expense_days", "key", ["date", "key", "cost"]) }}
