{% import "include/macros.sql" as m %}
-- What `k8s_container_usage` currently holds for one cloud account and day, per row
-- key (live_rows is normally 1): what a restatement cancels. A key names the row's
-- names, so any() of a name is that row's.
SELECT
    resource_id,
    sum(sign) AS live_rows,
    {{ m.any_of(["namespace", "controller_kind", "controller", "pod", "pod_uid", "container", "node"]) | indent(4) }},
    {{ m.collapsed(m.container_usage_values, exact=false) | indent(4) }}
FROM k8s_container_usage
WHERE cloud_account_id = {cloud_account_id:String}
  AND date = toDateTime({day_start:UInt32})
{{ m.live_keys(["resource_id"]) }}
