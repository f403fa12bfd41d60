-- The daily spend of each of some cloud accounts (cloud bills and K8s clusters alike) between
-- two days, inclusive: what an organization or cloud-account budget is checked
-- against (etl/alerts/budgets.py). The resources of node_resource_ids (bill resources
-- that are nodes of a cluster: etl/storage/nodes.py) keep rows of their own, so that a
-- node's cost can be folded into its cluster; every other resource's is in the row
-- with node_resource_id ''. Each row key is collapsed first (HAVING SUM(sign) > 0, no FINAL).
SELECT
    cloud_account_id,
    toDate(date) AS day,
    if(has({node_resource_ids:Array(String)}, resource_id), resource_id, '') AS node_resource_id,
    sum(cost) AS cost
FROM
(
    SELECT
        cloud_account_id,
        date,
        resource_id,
        {{collapsed: cost}}
    FROM expenses
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND date >= toDateTime({first_day:UInt32})
      AND date <= toDateTime({last_day:UInt32})
    {{live_keys: cloud_account_id, date, resource_id}}
)
GROUP BY cloud_account_id, day, node_resource_id
ORDER BY cloud_account_id, day, node_resource_id
