-- Cost and breakdown of each cluster over a period, restricted to the allocation rows
-- (sql/schema/003_k8s_allocation.sql, 004 for `services`) of some namespaces, nodes
-- and/or Services: what clean_expenses answers when k8s_namespace, k8s_node or
-- k8s_service is given. A node's `__idle__` row carries the node's name, so a node
-- filter keeps it; a load balancer's `__unmounted__` row names its Service, so a
-- Service filter keeps it. Each row key is collapsed the way every reader must
-- (HAVING SUM(sign) > 0, no FINAL); all copies of a key carry the same names, so
-- filtering them before the collapse is exact. An empty array means "no filter on
-- that name".
SELECT
    cloud_account_id,
    sum(row_cost) AS cost,
    sum(row_cpu_cost) AS cpu_cost,
    sum(row_ram_cost) AS ram_cost,
    sum(row_gpu_cost) AS gpu_cost,
    sum(row_pv_cost) AS pv_cost,
    sum(row_load_balancer_cost) AS load_balancer_cost,
    sum(row_network_cost) AS network_cost,
    sum(row_management_cost) AS management_cost
FROM
(
    SELECT
        cloud_account_id,
        sum(cost * sign) AS row_cost,
        sum(cpu_cost * sign) AS row_cpu_cost,
        sum(ram_cost * sign) AS row_ram_cost,
        sum(gpu_cost * sign) AS row_gpu_cost,
        sum(pv_cost * sign) AS row_pv_cost,
        sum(load_balancer_cost * sign) AS row_load_balancer_cost,
        sum(network_cost * sign) AS row_network_cost,
        sum(management_cost * sign) AS row_management_cost
    FROM k8s_allocation
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND date >= toDateTime({start_date:UInt32})
      AND date <= toDateTime({end_date:UInt32})
      AND (empty({namespaces:Array(String)}) OR has({namespaces:Array(String)}, namespace))
      AND (empty({nodes:Array(String)}) OR has({nodes:Array(String)}, node))
      AND (empty({services:Array(String)}) OR hasAny(services, {services:Array(String)}))
    GROUP BY cloud_account_id, date, resource_id
    HAVING sum(sign) > 0
)
GROUP BY cloud_account_id
