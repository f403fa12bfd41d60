-- What `k8s_allocation` currently holds for one cloud account and day, per row key
-- (live_rows is normally 1); the restatement cancels exactly this. A row key names
-- one row's content, so any() of a name is that row's name.
SELECT
    resource_id,
    sum(sign) AS live_rows,
    any(namespace) AS namespace,
    any(controller_kind) AS controller_kind,
    any(controller) AS controller,
    any(pod) AS pod,
    any(pod_uid) AS pod_uid,
    any(node) AS node,
    any(labels) AS labels,
    any(namespace_labels) AS namespace_labels,
    any(services) AS services,
    any(price_flag) AS price_flag,
    sum(running_hours * sign) AS running_hours,
    sum(cpu_core_hours * sign) AS cpu_core_hours,
    sum(ram_gib_hours * sign) AS ram_gib_hours,
    sum(gpu_hours * sign) AS gpu_hours,
    sum(cpu_cost * sign) AS cpu_cost,
    sum(ram_cost * sign) AS ram_cost,
    sum(gpu_cost * sign) AS gpu_cost,
    sum(pv_cost * sign) AS pv_cost,
    sum(load_balancer_cost * sign) AS load_balancer_cost,
    sum(network_cost * sign) AS network_cost,
    sum(management_cost * sign) AS management_cost,
    sum(cost * sign) AS cost
FROM k8s_allocation
WHERE cloud_account_id = {cloud_account_id:String}
  AND date = toDateTime({day_start:UInt32})
GROUP BY resource_id
HAVING sum(sign) > 0
