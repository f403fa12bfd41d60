{% import "include/macros.sql" as m %}
-- The marker rows of a compute of right-sizing's rollup (sql/schema/023), after the
-- compute's rows (recommendation_day_compute.sql).
{{ m.day_markers("k8s_recommendation_days", "cloud_account_id") }}
