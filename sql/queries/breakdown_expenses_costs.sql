{% import "include/macros.sql" as m %}
-- The daily costs behind breakdown_expenses (docs/api.md), and behind the budgets of an
-- organization or an account (by account: etl/storage/costreads.py): the cost of each
-- day of a period per breakdown key, counted the way clean_expenses counts its totals,
-- so that a day's buckets add up to clean_expenses' total_cost for that day alone.
--
-- Collapsing, without FINAL and without grouping by row key: a restatement leaves the
-- signs of each key (cloud_account_id, date, resource_id) summing to 1 (live) or 0
-- (dead), and a cancel row repeats the value it cancels, so a dead key adds 0 to both
-- SUM(cost * sign) and SUM(sign) (the argument of clean_expenses_costs.sql). Summed
-- over the keys of a (day, breakdown key) bucket, SUM(cost * sign) is the cost of its
-- live keys and SUM(sign) their number: the bucket is kept when that is positive.
-- Grouping by (resource, day) first, then by bucket, was 3 to 4 times slower on
-- bench/api.py's data (2 million resource-days over a period and the previous one).
--
-- Folding: a bill resource that is a node of a cluster ({node_ids} -> {node_clusters})
-- is left out on the days its cluster has a live row (its cost is inside the
-- cluster's K8s cost), exactly as clean_expenses_costs.sql folds it out of the totals.
-- {all_resources}: no attribute filter; else only {resource_ids} count.
-- {cost_column}: the cost metric's column (etl/core/metrics.py), as in clean_expenses.
-- {skip_account_ids}: accounts whose rows the caller takes from elsewhere (the K8s
-- clusters, split by component: breakdown_k8s_components.sql).
-- Reconciliation: a cluster's row (its account's one resource) holds the exporter's
-- price; what pricing its nodes from the bill adds that day
-- (sql/schema/014_cluster_bill_adjustments.sql, the bill arguments as in
-- clean_expenses_costs.sql: none under list) is joined per (account, day) to each of
-- its rows and summed times sign like the cost, so a live key adds it once and a
-- dead one not at all.
--
-- The key: the cloud account with {by_account}, else the resource's value of the
-- breakdown field, from the catalog's documents (api/query/breakdown.py KeyMap): by
-- resource ({key_ids} -> {key_values}), else by account for an account whose
-- resources all have the same ({key_account_ids} -> {key_account_values}), else
-- `null` (a resource without the field). The resource map and the node map are
-- joined as small tables built from their arrays: one hash table each, where
-- transform() over 100k ids took about 0.5 s more on bench/api.py's data. The caller reads the previous period in the same query
-- (start_date is then the previous period's start) and splits the days itself.
SELECT
    toUInt32(date) AS day,
    multiIf(
        {by_account:Bool}, cloud_account_id,
        keys.key != '', keys.key,
        transform(cloud_account_id, {key_account_ids:Array(String)}, {key_account_values:Array(String)}, 'null')
    ) AS key,
    {{ m.exact_sum("({cost_column:Identifier} + adjustments.adjustment) * sign") }} AS cost
FROM expenses
LEFT JOIN
(
    SELECT cloud_account_id AS adjusted_account_id, date AS adjusted_date, adjustment
    FROM {{ m.bill_adjustments_rollup() | indent(4) }}
) AS adjustments
ON adjustments.adjusted_account_id = expenses.cloud_account_id
    AND adjustments.adjusted_date = expenses.date
LEFT JOIN
(
    SELECT pair.1 AS resource_id, pair.2 AS key
    FROM (SELECT arrayJoin(arrayZip({key_ids:Array(String)}, {key_values:Array(String)})) AS pair)
) AS keys ON keys.resource_id = expenses.resource_id
LEFT JOIN
(
    SELECT pair.1 AS resource_id, pair.2 AS cluster_id
    FROM (SELECT arrayJoin(arrayZip({node_ids:Array(String)}, {node_clusters:Array(String)})) AS pair)
) AS nodes ON nodes.resource_id = expenses.resource_id
WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
  AND NOT has({skip_account_ids:Array(String)}, cloud_account_id)
  AND date >= toDateTime({start_date:UInt32})
  AND date <= toDateTime({end_date:UInt32})
  AND (
      {all_resources:Bool}
      OR expenses.resource_id IN (SELECT arrayJoin({resource_ids:Array(String)}))
  )
  -- a row that is no node has cluster_id '' (the join's default), in no cluster's days
  AND (nodes.cluster_id, date) NOT IN
  (
      {{ m.cluster_live_days() | indent(6) }}
  )
GROUP BY day, key
HAVING sum(sign) > 0
ORDER BY day, key
