{% import "include/macros.sql" as m %}
{# what was reconciled per cluster, carried before the components in `row.5`
   (api/render/clusterparts.py reads the same six, in this order) #}
{% set reconciled = ["node_days", "nodes", "volume_days", "volumes", "list_usd", "bill_usd"] %}
-- Everything ClickHouse answers for clean_expenses (docs/api.md), in one query: the
-- organization's resources costed over a period, the {limit} most expensive first
-- after skipping the {offset} most expensive (a page of the dashboard's table)
-- (ties by resource_id), the count and cost of every item before the cut, the K8s
-- breakdown of the clusters, and the bill costs of cluster nodes folded into them.
--
-- Collapsing, without FINAL: a restatement (etl/storage/warehouse.py) leaves the signs of
-- each key (cloud_account_id, date, resource_id) summing to 1 (live) or 0 (dead),
-- and a cancel row repeats the value it cancels, so a dead key adds 0 to both
-- SUM(cost * sign) and SUM(sign). Summed over any set of keys, SUM(cost * sign) is
-- then the cost of the live ones and SUM(sign) their number: one GROUP BY resource
-- (kept when SUM(sign) > 0, i.e. at least one live day) gives what collapsing key by
-- key gives, for a fraction of the work.
--
-- Folding: a bill resource that is a node of a cluster ({node_ids} -> {node_clusters})
-- keeps its rows (day, cost * sign, sign) in node_days while it is summed; a node's
-- day goes to its cluster (folded) when that cluster has a live row on the same day
-- (cluster_days), since the cluster's K8s cost already covers the node. The other
-- days make the node's own item (item_cost, item_sign), the folded ones a folded row
-- (folded_cost, folded_sign), each kept when its sign sum is positive. Folding inside
-- arrays keeps one GROUP BY on resource_id alone: grouping every row by resource and
-- day, and again by resource and cluster, took 35 ms more for the full listing.
-- Folded rows are returned after the items (all of them: the caller keeps those of
-- the returned clusters), by cluster, then cost descending and resource_id, and count
-- in neither the items nor the totals.
--
-- in_k8s_account marks the rows of kubernetes_cnr accounts, which hold clusters only:
-- the caller then checks a thousand rows for clusters rather than every item.
-- resource_key (xxHash64 of the id) lets the caller find each item's document by a
-- binary search on integers (api/render/itemindex.py).
--
-- Ranking: the items are gathered in one array and only its first {limit} places are
-- sorted (arrayPartialSort on (-cost, resource_id)). groupArraySorted, a heap of
-- {limit}, was as fast for 100 items but 2.5 times slower for 45,000.
-- {all_resources}: no attribute filter; else only {resource_ids} count.
-- {cost_column}: the column of the cost metric summed (etl/core/metrics.py: cost,
-- effective_cost or list_cost), for the items and the folded nodes alike; a cluster's
-- rows hold the exporter's price in each, and the reconciliation below reads the
-- bill in the metric.
-- {billing_periods} (YYYYMM numbers): only the rows those bills charged, on whatever
-- day (docs/api.md, "Days and billing periods"); empty: every row. The caller folds
-- no node under it (an invoice's view shows its rows as the bill has them).
--
-- Reconciliation (docs/api.md, "Reconciliation: nodes priced from the bill"): a
-- cluster's rows hold the exporter's list price; under billed and effective each
-- cluster (its account's one item) adds what pricing its matched nodes and PVs from
-- the bill adds over the period (`adjustments`: cluster_bill_adjustments,
-- sql/schema/014, the one rule summed per cluster-day) to its cost (so to the ranking
-- and the totals) and to its breakdown, and says what was reconciled (reconciled_*).
-- Read once: the item carries it (`reconciled`, what was reconciled then the
-- components) to the outer query, where a second join of the rule would scan the
-- period's bill rows again. The bill arguments ({bill_resource_ids} ->
-- {bill_instance_keys}: the organization's folded node VMs and disks) are empty under
-- list and under {billing_periods}: nothing is reconciled then. A folded node's or
-- disk's bill line is then what its cluster carries for it.
--
-- Big arrays: ClickHouse analyses an array parameter at every place it is used, and
-- `x IN <array literal>` builds its set the slow way (~9 ms for 5,000 ids), so each
-- big array appears once: the node pairs in one transform() (which also tells nodes
-- apart), the filter's ids through `IN (SELECT arrayJoin(...))`. The breakdown needs
-- no id filter: it only joins the items.
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
        SELECT
            resources.resource_id AS resource_id,
            account_id,
            cluster_id,
            resources.node_days AS vm_days,
            arrayMap(day -> has(cluster_days.days, day.1), vm_days) AS folded,
            plain_cost + adjustments.cost
                + {{ m.exact_array_sum("(day, gone)", "if(gone, 0, day.2)", "vm_days, folded") | indent(16) }}
                AS item_cost,
            plain_sign + arraySum((day, gone) -> if(gone, 0, day.3), vm_days, folded) AS item_sign,
            {{ m.exact_array_sum("(day, gone)", "if(gone, day.2, 0)", "vm_days, folded") | indent(12) }}
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
                WHERE {{ m.in_period() | indent(18) }}
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
                {{ m.cluster_live_days() | indent(16) }}
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
                {{ m.zero(["load_balancer_cost", "network_cost", "management_cost"]) | indent(16) }},
                {{ m.exact_sum("adjustment") }} AS cost,
                {{ m.summed(["list_usd", "bill_usd"]) | indent(16) }},
                sum(toUInt64(matched_nodes)) AS node_days,
                uniqExactArray(node_names) AS nodes,
                sum(toUInt64(matched_volumes)) AS volume_days,
                uniqExactArray(volume_names) AS volumes
            FROM {{ m.bill_adjustments_rollup() | indent(12) }}
            GROUP BY cloud_account_id
        ) AS adjustments
        ON adjustments.cloud_account_id = resources.account_id
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
