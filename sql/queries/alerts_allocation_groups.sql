-- One cluster's allocation over a run of days, summed per (day, namespace, controller,
-- node): what an anomaly compares a day with and what names its cause (etl/alerts/).
-- Each row key is collapsed the way every reader must (HAVING SUM(sign) > 0, no FINAL);
-- a row key names one row's content, so any() of a name is that row's name. The
-- controller key spells a pod's owner `Kind/name`, an owner-less pod `__unallocated__`,
-- and keeps the `__idle__` / `__unmounted__` rows under their own names, as
-- k8s_costs_groups.sql does; a row without node (PVs, load balancers) keeps node ''.
WITH
    multiIf(
        controller_kind != '', concat(controller_kind, '/', controller),
        controller != '', controller,
        namespace IN ('__idle__', '__unmounted__'), namespace,
        '__unallocated__'
    ) AS controller_key
SELECT
    toDate(date) AS day,
    namespace,
    controller_key AS controller,
    node,
    {{summed: components, cost}}
FROM
(
    SELECT
        cloud_account_id,
        date,
        resource_id,
        {{any: namespace, controller_kind, controller, node}},
        {{collapsed: components, cost}}
    FROM k8s_allocation
    WHERE cloud_account_id = {cloud_account_id:String}
      AND date >= toDateTime({first_day:UInt32})
      AND date <= toDateTime({last_day:UInt32})
    {{live_keys: cloud_account_id, date, resource_id}}
)
GROUP BY day, namespace, controller, node
ORDER BY day, namespace, controller, node
