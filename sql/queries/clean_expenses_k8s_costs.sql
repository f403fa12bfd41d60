-- K8s cost breakdown of each cluster over a period, for the clean_expenses API.
-- Same collapsing rule and period as clean_expenses_costs.sql, so the components
-- add up to the cluster's cost for the same days.
SELECT
    resource_id,
    sum(cpu_cost) AS cpu_cost,
    sum(ram_cost) AS ram_cost,
    sum(gpu_cost) AS gpu_cost,
    sum(pv_cost) AS pv_cost,
    sum(load_balancer_cost) AS load_balancer_cost,
    sum(network_cost) AS network_cost,
    sum(management_cost) AS management_cost
FROM
(
    SELECT
        cloud_account_id,
        date,
        resource_id,
        sum(cpu_cost * sign) AS cpu_cost,
        sum(ram_cost * sign) AS ram_cost,
        sum(gpu_cost * sign) AS gpu_cost,
        sum(pv_cost * sign) AS pv_cost,
        sum(load_balancer_cost * sign) AS load_balancer_cost,
        sum(network_cost * sign) AS network_cost,
        sum(management_cost * sign) AS management_cost
    FROM k8s_cost_breakdown
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND resource_id IN {resource_ids:Array(String)}
      AND date >= toDateTime({start_date:UInt32})
      AND date <= toDateTime({end_date:UInt32})
    GROUP BY cloud_account_id, date, resource_id
    HAVING sum(sign) > 0
)
GROUP BY resource_id
