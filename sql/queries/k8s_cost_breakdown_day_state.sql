{% import "include/macros.sql" as m %}
-- What `k8s_cost_breakdown` currently holds for one cloud account and day.
SELECT {{ m.day_state(components) | indent(7) }}
FROM k8s_cost_breakdown
WHERE cloud_account_id = {cloud_account_id:String}
  AND date = toDateTime({day_start:UInt32})
{{ m.live_keys(["resource_id"]) }}
