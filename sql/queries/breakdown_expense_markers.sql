{% import "include/macros.sql" as m %}
-- The marker rows of a compute of the rollup of breakdown_expenses_costs.sql
-- (sql/schema/020), after the compute's rows (breakdown_expense_compute.sql).
{{ m.day_markers("breakdown_expense_days", "key") }}
