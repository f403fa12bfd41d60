-- The ranked costs behind clean_expenses: per resource over a period, most expensive
-- first, cut at {limit}, with the count and cost of every item before the cut, plus
-- the bill costs of cluster nodes folded into their cluster (docs/api.md).
--
-- Collapsing: every reader counts a (cloud_account_id, date, resource_id) key only
-- when SUM(sign) > 0 (no FINAL). A key without any cancel row (sign < 0) in the
-- period has only +1 rows, so it is live and its rows can be summed straight per
-- resource (branch 1, one hash table of resources); the keys that have a cancel
-- row are collapsed one by one (branch 2). Same answer as collapsing every key,
-- about 3x faster, since only freshly restated keys (before ClickHouse merges
-- them away) take the slow path.
--
-- Folding: the keys of cloud-bill resources that are nodes of a cluster
-- ({node_ids} -> {node_clusters}) also take branch 2; a node's day goes to its
-- cluster (folded_into) when that cluster has a live row on the same day, since
-- the cluster's K8s cost already covers the node. Folded rows are returned apart
-- and count in neither the items nor the totals.
--
-- {all_resources}: no attribute filter; else only {resource_ids} count.
WITH touched AS
(
    -- The keys that have a cancel row in the period.
    SELECT cloud_account_id, date, resource_id
    FROM expenses
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND date >= toDateTime({start_date:UInt32})
      AND date <= toDateTime({end_date:UInt32})
      AND sign < 0
)
SELECT
    resource_id,
    cloud_account_id,
    folded_into,
    cost,
    total_count,
    total_cost
FROM
(
    SELECT
        resource_id,
        any(account_id) AS cloud_account_id,
        folded_into,
        sum(part_cost) AS cost,
        countIf(folded_into = '') OVER () AS total_count,
        sumIf(cost, folded_into = '') OVER () AS total_cost,
        row_number() OVER (
            PARTITION BY folded_into = '' ORDER BY cost DESC, resource_id
        ) AS position
    FROM
    (
        SELECT
            resource_id,
            any(cloud_account_id) AS account_id,
            '' AS folded_into,
            sum(cost * sign) AS part_cost
        FROM expenses
        WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
          AND date >= toDateTime({start_date:UInt32})
          AND date <= toDateTime({end_date:UInt32})
          AND ({all_resources:Bool} OR resource_id IN {resource_ids:Array(String)})
          AND resource_id NOT IN {node_ids:Array(String)}
          AND (cloud_account_id, date, resource_id) NOT IN touched
        GROUP BY resource_id

        UNION ALL

        SELECT
            resource_id,
            account_id,
            if(
                cluster_id != '' AND (cluster_id, date) IN
                (
                    SELECT resource_id, date
                    FROM expenses
                    WHERE cloud_account_id IN {cluster_account_ids:Array(String)}
                      AND resource_id IN {node_clusters:Array(String)}
                      AND date >= toDateTime({start_date:UInt32})
                      AND date <= toDateTime({end_date:UInt32})
                    GROUP BY cloud_account_id, date, resource_id
                    HAVING sum(sign) > 0
                ),
                cluster_id,
                ''
            ) AS folded_into,
            day_cost AS part_cost
        FROM
        (
            SELECT
                cloud_account_id AS account_id,
                date,
                resource_id,
                transform(
                    resource_id, {node_ids:Array(String)}, {node_clusters:Array(String)}, ''
                ) AS cluster_id,
                sum(cost * sign) AS day_cost
            FROM expenses
            WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
              AND date >= toDateTime({start_date:UInt32})
              AND date <= toDateTime({end_date:UInt32})
              AND ({all_resources:Bool} OR resource_id IN {resource_ids:Array(String)})
              AND (
                  resource_id IN {node_ids:Array(String)}
                  OR (cloud_account_id, date, resource_id) IN touched
              )
            GROUP BY cloud_account_id, date, resource_id
            HAVING sum(sign) > 0
        )
    )
    GROUP BY resource_id, folded_into
)
WHERE folded_into != '' OR position <= {limit:UInt64}
ORDER BY folded_into, position
