{% import "include/macros.sql" as m %}
{#- The answer of clean_expenses (docs/api.md) from its costed resources: what
    sql/queries/clean_expenses_costs.sql says, whether `resources` (a query of one row per
    resource: resource_id, account_id, cluster_id, item_cost, item_sign, folded_cost,
    folded_sign, reconciled) computes them from the raw rows
    (include/clean_expenses_resources.sql) or reads their rollup
    (sql/queries/clean_expense_periods.sql). -#}
{# what was reconciled per cluster, carried before the components in `row.5`
   (api/render/clusterparts.py reads the same six, in this order) #}
{% set reconciled = ["node_days", "nodes", "volume_days", "volumes", "list_usd", "bill_usd"] %}
{% macro answer(resources) -%}
SELECT
    row.1 AS folded_into,
    row.2 AS resource_id,
    row.3 AS cloud_account_id,
    row.4 AS cost,
    total_count,
    total_cost,
    row.5.1 AS reconciled_node_days,
    row.5.2 AS reconciled_nodes,
    row.5.3 AS reconciled_volume_days,
    row.5.4 AS reconciled_volumes,
    row.5.5 AS reconciled_list_cost,
    row.5.6 AS reconciled_bill_cost,
    {% for name in components %}
    breakdown.{{ name }} + row.5.{{ (reconciled | length) + loop.index }} AS {{ name }},
    {% endfor %}
    row.3 IN (SELECT arrayJoin({k8s_account_ids:Array(String)})) AS in_k8s_account,
    xxHash64(row.2) AS resource_key
FROM
(
    SELECT
        countIf(item_sign > 0) AS total_count,
        {{ m.exact_sum("item_cost", where="item_sign > 0") }} AS total_cost,
        arrayConcat(
            arrayMap(
                item -> ('', item.2, item.3, -item.1, item.4),
                arraySlice(
                    arrayPartialSort(
                        {offset:UInt64} + {limit:UInt64},
                        groupArrayIf(
                            (-item_cost, resource_id, account_id, reconciled), item_sign > 0
                        )
                    ),
                    {offset:UInt64} + 1,
                    {limit:UInt64}
                )
            ),
            arraySort(
                node -> (node.1, -node.4, node.2),
                groupArrayIf(
                    (cluster_id, resource_id, account_id, folded_cost, reconciled), folded_sign > 0
                )
            )
        ) AS rows
    FROM
    (
        {{ resources | indent(8) }}
    )
)
ARRAY JOIN rows AS row, arrayEnumerate(rows) AS position
LEFT JOIN
(
    -- the breakdown of the clusters, collapsed the same way over the same days
    SELECT
        resource_id,
        {{ m.collapsed(components) | indent(8) }}
    FROM k8s_cost_breakdown
    WHERE {{ m.in_period() | indent(6) }}
    {{ m.live_keys(["resource_id"]) | indent(4) }}
) AS breakdown
ON breakdown.resource_id = row.2 AND row.1 = ''
ORDER BY position
{%- endmacro %}
