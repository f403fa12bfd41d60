{% import "include/macros.sql" as m %}
-- The days of [first_day, last_day] whose rollup of right-sizing under {rollup_key}
-- (sql/schema/023) is missing or older than the day's latest restatement of
-- k8s_container_usage ({table_names}) by one of its cluster accounts
-- {cloud_account_ids}, with that restatement's time (ns; 0 for a day never restated):
-- what etl/storage/usagereads.py computes before it reads. Every day of the period is a
-- candidate (sql/include/macros.sql period_days), so a day whose rows were all
-- cancelled, and since merged away, is computed again to no row.
{{ m.stale_days(
    m.period_days(),
    "k8s_recommendation_days",
    "cloud_account_id",
    accounts="{cloud_account_ids:Array(String)}",
) }}
