{% import "include/macros.sql" as m %}
-- The marker row of a compute of clean_expenses' rollup (sql/schema/021), after the
-- compute's rows (clean_expense_period_compute.sql).
{{ m.day_markers("clean_expense_periods", "resource_id") }}
