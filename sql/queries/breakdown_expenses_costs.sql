-- The daily costs behind breakdown_expenses (docs/api.md): the cost of each day of a
-- period per breakdown key, counted the way clean_expenses counts its totals, so that
-- a day's buckets add up to clean_expenses' total_cost for that day alone.
--
-- Collapsing, without FINAL: each key (cloud_account_id, date, resource_id) is summed
-- SUM(cost * sign) and kept when SUM(sign) > 0 (sql/schema/001_expenses.sql).
-- Folding: a bill resource that is a node of a cluster ({node_ids} -> {node_clusters})
-- is left out on the days its cluster has a live row (its cost is inside the
-- cluster's K8s cost), exactly as clean_expenses_costs.sql folds it out of the totals.
-- {all_resources}: no attribute filter; else only {resource_ids} count.
-- {skip_account_ids}: accounts whose rows the caller takes from elsewhere (the K8s
-- clusters, split by component from k8s_cost_breakdown: breakdown_k8s_components.sql).
--
-- The key: the cloud account with {by_account}, else the resource's value of the
-- breakdown field ({key_ids} -> {key_values}, from the catalog's documents), `null`
-- for a resource without one. The caller reads the previous period in the same query
-- (start_date is then the previous period's start) and splits the days itself.
SELECT
    days.date AS date,
    if(
        {by_account:Bool},
        days.cloud_account_id,
        transform(days.resource_id, {key_ids:Array(String)}, {key_values:Array(String)}, 'null')
    ) AS key,
    sum(days.cost) AS cost
FROM
(
    SELECT
        cloud_account_id,
        resource_id,
        date,
        sum(cost * sign) AS cost,
        transform(resource_id, {node_ids:Array(String)}, {node_clusters:Array(String)}, '') AS cluster_id
    FROM expenses
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND NOT has({skip_account_ids:Array(String)}, cloud_account_id)
      AND date >= toDateTime({start_date:UInt32})
      AND date <= toDateTime({end_date:UInt32})
      AND (
          {all_resources:Bool}
          OR resource_id IN (SELECT arrayJoin({resource_ids:Array(String)}))
      )
    GROUP BY cloud_account_id, date, resource_id
    HAVING sum(sign) > 0
) AS days
LEFT JOIN
(
    -- the live days of the clusters: their accounts hold nothing else
    SELECT resource_id, date, 1 AS live
    FROM expenses
    WHERE cloud_account_id IN {cluster_account_ids:Array(String)}
      AND date >= toDateTime({start_date:UInt32})
      AND date <= toDateTime({end_date:UInt32})
    {{live_keys: resource_id, date}}
) AS cluster_days
ON cluster_days.resource_id = days.cluster_id AND cluster_days.date = days.date
WHERE cluster_days.live = 0
GROUP BY date, key
ORDER BY date, key
