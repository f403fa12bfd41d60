-- The daily spend of each of some cloud accounts (cloud bills and K8s clusters alike) between
-- two days, inclusive: what an organization or cloud-account budget is checked
-- against (etl/alerts/budgets.py). Each row key is collapsed first (HAVING SUM(sign)
-- > 0, no FINAL).
SELECT cloud_account_id, toDate(date) AS day, sum(cost) AS cost
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
GROUP BY cloud_account_id, day
ORDER BY cloud_account_id, day
