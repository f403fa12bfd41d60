{% import "include/macros.sql" as m %}
-- The allocation of some clusters over a period, grouped for the k8s_costs API.
-- The rows are the view k8s_allocation_reconciled's (sql/schema/010, read from its
-- rollup: sql/schema/018, 019, refreshed by etl/storage/k8scostreads.py): collapsed the
-- way every reader must, filtered on namespaces, nodes and Services inside, and with
-- their nodes priced from the bill under the metric ({cost_column}; the bill
-- arguments empty: none), each keeping its exporter's figure (`list_cost`). Rows are
-- dated at midnight UTC: a day counts when start_date <= date <= end_date.
-- group_by: namespace | controller | pod | node | label:<key> | cluster (the
-- cloud account: clean_expenses' allocation filters, api/query/clean_expenses.py), or
-- several of them, comma-separated (the allocation API's `aggregate`,
-- api/query/opencost.py: the key joins the parts with the \x1F character). `__idle__`
-- and `__unmounted__` rows keep those names in every grouping (a node's idle row
-- under its node); a pod without controller, or without the label, is
-- `__unallocated__`. Filters: an empty array means no filter; labels match the pod's
-- label, else its namespace's; services match any of the row's Services (a pod's, or
-- a load balancer's `__unmounted__` row); the token's scope (scope_namespaces, and
-- scope_label_keys/values of which one must match: api/query/tokenscope.py) narrows
-- like the filters. The group of a row is written once, in
-- sql/include/k8s_costs_grouping.sql, shared with k8s_costs_shared.sql.
SELECT
    group_key,
    group_pod_uid,
    {{ m.summed(components + ["cost", "list_cost"]) | indent(4) }},
    -- efficiency (api/routes/k8s_costs.py): used over what the measured rows requested
    {{ m.efficiency(
        "cpu_used_core_hours", "cpu_request_core_hours", "ram_used_byte_hours", "ram_request_byte_hours"
    ) | indent(4) }}
FROM
(
    SELECT
        *,
        {group_by:String} AS grouped_by,
        {%+ filter trim | indent(8) %}{% include "include/k8s_costs_grouping.sql" %}{% endfilter %}
    FROM {{ m.allocation_rollup() | indent(4) }}
)
WHERE {{ m.allocation_filters() | indent(2) }}
GROUP BY group_key, group_pod_uid
ORDER BY cost DESC, group_key, group_pod_uid
