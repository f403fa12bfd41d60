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
    {{summed: cost, components}}
FROM
(
    SELECT
        cloud_account_id,
        {{collapsed: cost, components}}
    FROM k8s_allocation
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND date >= toDateTime({start_date:UInt32})
      AND date <= toDateTime({end_date:UInt32})
      AND (empty({namespaces:Array(String)}) OR has({namespaces:Array(String)}, namespace))
      AND (empty({nodes:Array(String)}) OR has({nodes:Array(String)}, node))
      AND (empty({services:Array(String)}) OR hasAny(services, {services:Array(String)}))
    {{live_keys: cloud_account_id, date, resource_id}}
)
GROUP BY cloud_account_id
