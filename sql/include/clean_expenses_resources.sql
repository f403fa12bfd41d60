{% import "include/macros.sql" as m %}
{% from "include/clean_expenses_answer.sql" import reconciled %}
{#- clean_expenses' resources costed from the raw rows over the period, one row per
    resource (sql/queries/clean_expenses_costs.sql says how): what its answer
    (include/clean_expenses_answer.sql) ranks, and what its rollup stores
    (sql/schema/021). -#}
SELECT
    resources.resource_id AS resource_id,
    account_id,
    cluster_id,
    resources.node_days AS vm_days,
    arrayMap(day -> has(cluster_days.days, day.1), vm_days) AS folded,
    plain_cost + adjustments.cost
        + {{ m.exact_array_sum("(day, gone)", "if(gone, 0, day.2)", "vm_days, folded") | indent(8) }}
        AS item_cost,
    plain_sign + arraySum((day, gone) -> if(gone, 0, day.3), vm_days, folded) AS item_sign,
    {{ m.exact_array_sum("(day, gone)", "if(gone, day.2, 0)", "vm_days, folded") | indent(4) }}
        AS folded_cost,
    arraySum((day, gone) -> if(gone, day.3, 0), vm_days, folded) AS folded_sign,
    (
        {% for name in reconciled + components %}
        adjustments.{{ name }}{{ "," if not loop.last }}
        {% endfor %}
    ) AS reconciled
FROM
(
    SELECT
        resource_id,
        any(cloud_account_id) AS account_id,
        any(row_cluster_id) AS cluster_id,
        {{ m.exact_sum("cost * sign", where="row_cluster_id = ''") }} AS plain_cost,
        sumIf(toInt64(sign), row_cluster_id = '') AS plain_sign,
        groupArrayIf((date, cost * sign, toInt64(sign)), row_cluster_id != '') AS node_days
    FROM
    (
        SELECT
            resource_id,
            cloud_account_id,
            date,
            {cost_column:Identifier} AS cost,
            sign,
            transform(
                resource_id, {node_ids:Array(String)}, {node_clusters:Array(String)}, ''
            ) AS row_cluster_id
        FROM expenses
        WHERE {{ m.in_period() | indent(10) }}
          AND (
              {all_resources:Bool}
              OR resource_id IN (SELECT arrayJoin({resource_ids:Array(String)}))
          )
          AND (
              empty({billing_periods:Array(UInt32)})
              OR has({billing_periods:Array(UInt32)}, toYYYYMM(billing_period))
          )
    )
    GROUP BY resource_id
) AS resources
LEFT JOIN
(
    -- the live days of the clusters
    SELECT resource_id, groupArray(date) AS days
    FROM
    (
        {{ m.cluster_live_days() | indent(8) }}
    )
    GROUP BY resource_id
) AS cluster_days
ON cluster_days.resource_id = resources.cluster_id
LEFT JOIN
(
    -- what pricing the nodes and PVs from the bill adds to each cluster (its
    -- account's one item) over the period, per component, and what was reconciled
    SELECT
        cloud_account_id,
        {% for name in ["cpu", "ram", "gpu", "pv"] %}
        {{ m.exact_sum(name ~ "_adjustment") }} AS {{ name }}_cost,
        {% endfor %}
        {{ m.zero(["load_balancer_cost", "network_cost", "management_cost"]) | indent(8) }},
        {{ m.exact_sum("adjustment") }} AS cost,
        {{ m.summed(["list_usd", "bill_usd"]) | indent(8) }},
        sum(toUInt64(matched_nodes)) AS node_days,
        uniqExactArray(node_names) AS nodes,
        sum(toUInt64(matched_volumes)) AS volume_days,
        uniqExactArray(volume_names) AS volumes
    FROM {{ m.bill_adjustments_rollup() | indent(4) }}
    GROUP BY cloud_account_id
) AS adjustments
ON adjustments.cloud_account_id = resources.account_id
