-- What `k8s_cost_breakdown` currently holds for one cloud account and day.
SELECT
    resource_id,
    sum(sign) AS live_rows,
    sum(cpu_cost * sign) AS cpu_cost,
    sum(ram_cost * sign) AS ram_cost,
    sum(gpu_cost * sign) AS gpu_cost,
    sum(pv_cost * sign) AS pv_cost,
    sum(load_balancer_cost * sign) AS load_balancer_cost,
    sum(network_cost * sign) AS network_cost,
    sum(management_cost * sign) AS management_cost
FROM k8s_cost_breakdown
WHERE cloud_account_id = {cloud_account_id:String}
  AND date = toDateTime({day_start:UInt32})
GROUP BY resource_id
HAVING sum(sign) > 0
