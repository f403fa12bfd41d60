-- What `k8s_container_usage` currently holds for one cloud account and day, per row
-- key (live_rows is normally 1): what a restatement cancels. A key names the row's
-- names, so any() of a name is that row's.
SELECT
    resource_id,
    sum(sign) AS live_rows,
    {{any: namespace, controller_kind, controller, pod, pod_uid, container, node}},
    {{collapsed: running_hours, cpu_request, ram_request, cpu_p95, cpu_max, ram_p95, ram_max, samples, cpu_usd, cpu_core_hours, ram_usd, ram_gib_hours}}
FROM k8s_container_usage
WHERE cloud_account_id = {cloud_account_id:String}
  AND date = toDateTime({day_start:UInt32})
{{live_keys: resource_id}}
