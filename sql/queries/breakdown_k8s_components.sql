-- The K8s clusters' daily cost by component, for breakdown_expenses (docs/api.md):
-- per account and day, part `breakdown` is the cluster's cost by component and part
-- `idle` the components of its `__idle__` allocation rows (node capacity no pod
-- used, sql/schema/003_k8s_allocation.sql). The caller shows idle as a component of
-- its own and takes it out of each component, so the components still add up to
-- the cluster's cost; a day without allocation rows has no idle part.
--
-- Where `breakdown` comes from: without {from_allocation}, the cluster's row of
-- k8s_cost_breakdown (its components add up to its row in expenses); with it, the
-- allocation rows of some namespaces, nodes, controllers (`Kind/name`, as the grouping
-- form of etl/storage/sqlfiles.py names them), labels and/or Services, within a token's scope
-- (scope_*: api/query/tokenscope.py; an empty array: no
-- filter on that name), what clean_expenses_k8s_allocation.sql sums over the period,
-- here per day; an idle row the filters keep then counts in both parts.
-- The rows of both tables are collapsed together per (part, row key) (HAVING
-- SUM(sign) > 0, no FINAL); COLUMNS('_cost$') reads the component columns, which
-- both tables declare in the same order (the Float64 form of the components).
-- {cloud_account_ids}: the kubernetes_cnr accounts whose cluster the request sees
-- (one cluster per account).
SELECT
    part,
    cloud_account_id,
    toUInt32(date) AS day,
    {{summed: components}}
FROM
(
    SELECT
        part,
        cloud_account_id,
        date,
        {{collapsed: components}}
    FROM
    (
        SELECT 'breakdown' AS part, cloud_account_id, date, resource_id, COLUMNS('_cost$'), sign
        FROM k8s_cost_breakdown
        WHERE NOT {from_allocation:Bool}
          AND cloud_account_id IN {cloud_account_ids:Array(String)}
          AND date >= toDateTime({start_date:UInt32})
          AND date <= toDateTime({end_date:UInt32})
        UNION ALL
        SELECT part, cloud_account_id, date, resource_id, COLUMNS('_cost$'), sign
        FROM k8s_allocation
        ARRAY JOIN arrayFilter(
            p -> {from_allocation:Bool} OR p = 'idle',
            if(namespace = '__idle__', ['breakdown', 'idle'], ['breakdown'])
        ) AS part
        WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
          AND date >= toDateTime({start_date:UInt32})
          AND date <= toDateTime({end_date:UInt32})
          AND ({from_allocation:Bool} OR namespace = '__idle__')
          AND (empty({namespaces:Array(String)}) OR has({namespaces:Array(String)}, namespace))
          AND (empty({nodes:Array(String)}) OR has({nodes:Array(String)}, node))
          AND (empty({services:Array(String)}) OR hasAny(services, {services:Array(String)}))
          AND (empty({controllers:Array(String)}) OR has({controllers:Array(String)}, multiIf(
                controller_kind != '', concat(controller_kind, '/', controller),
                controller != '', controller,
                '__unallocated__')))
          AND arrayAll((k, v) -> if(mapContains(labels, k), labels[k], namespace_labels[k]) = v,
                       {label_keys:Array(String)}, {label_values:Array(String)})
          AND (empty({scope_namespaces:Array(String)}) OR has({scope_namespaces:Array(String)}, namespace))
          AND (empty({scope_label_keys:Array(String)}) OR arrayExists(
              (k, v) -> if(mapContains(labels, k), labels[k], namespace_labels[k]) = v,
              {scope_label_keys:Array(String)}, {scope_label_values:Array(String)}))
    )
    {{live_keys: part, cloud_account_id, date, resource_id}}
)
GROUP BY part, cloud_account_id, day
