{% import "include/macros.sql" as m %}
-- The days of [first_day, last_day] whose rollup of breakdown_expenses_costs.sql under
-- {rollup_key} (sql/schema/020) is missing or older than the day's latest restatement
-- of a table the query reads ({table_names}: etl/storage/breakdownreads.py), with that
-- restatement's time (ns; 0 for a day never restated). Every day of the period is a
-- candidate (midnights UTC, as every table's `date`, counted from integers so that no
-- time zone applies): a day without any row has none in the rollup either, and its
-- marker says it was computed.
{% set days %}
SELECT toDateTime((intDiv({first_day:UInt32} + 86399, 86400) + number) * 86400) AS day
FROM numbers(
    toUInt64(greatest(intDiv({last_day:UInt32}, 86400) + 1 - intDiv({first_day:UInt32} + 86399, 86400), 0))
)
{% endset %}
{{ m.stale_days(days | trim, "breakdown_expense_days", "key") }}
