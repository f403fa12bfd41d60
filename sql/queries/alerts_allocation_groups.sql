{% import "include/macros.sql" as m %}
-- One cluster's allocation over a run of days, summed per (day, namespace, controller,
-- node): what an anomaly compares a day with and what names its cause (etl/alerts/).
-- The rows are the view k8s_allocation_reconciled's (sql/schema/010, read from its
-- rollup: sql/schema/018, 019, refreshed by etl/storage/costreads.py): collapsed the way
-- every reader must, with their nodes and PVs priced from the bill under the metric
-- (the bill arguments empty: none), so a node's bill, not its list price, is what
-- moves a day. The
-- controller key spells a pod's owner `Kind/name`, an owner-less pod `__unallocated__`,
-- and keeps the `__idle__` / `__unmounted__` rows under their own names, as
-- k8s_costs_groups.sql does; a row without node (PVs, load balancers) keeps node ''.
WITH
    {{ m.controller_key(
        "if(namespace IN ('__idle__', '__unmounted__'), namespace, '__unallocated__')"
    ) | indent(4) }} AS controller_key
SELECT
    toDate(date) AS day,
    namespace,
    controller_key AS controller,
    node,
    {{ m.summed(components + ["cost"]) | indent(4) }}
FROM {{ m.allocation_rollup(
    cloud_account_ids="[{cloud_account_id:String}]",
    start_date="{first_day:UInt32}",
    end_date="{last_day:UInt32}",
    filtered=false,
) }}
GROUP BY day, namespace, controller, node
ORDER BY day, namespace, controller, node
