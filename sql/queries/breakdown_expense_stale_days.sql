{% import "include/macros.sql" as m %}
-- The days of [first_day, last_day] whose rollup of breakdown_expenses_costs.sql under
-- {rollup_key} (sql/schema/020) is missing or older than the day's latest restatement
-- of a table the query reads ({table_names}: etl/storage/breakdownreads.py), with that
-- restatement's time (ns; 0 for a day never restated). Every day of the period is a
-- candidate (sql/include/macros.sql period_days): a day without any row has none in the
-- rollup either, and its marker says it was computed.
{{ m.stale_days(m.period_days(), "breakdown_expense_days", "key") }}
