-- Cost of each resource over a period, for the clean_expenses API.
-- The inner query collapses each (cloud_account_id, date, resource_id) key the
-- way every reader must (cancel rows included, HAVING SUM(sign) > 0, no FINAL);
-- the outer one adds the surviving days up per resource. Rows are dated at
-- midnight UTC, so a day counts when start_date <= date <= end_date.
SELECT
    resource_id,
    sum(day_cost) AS cost
FROM
(
    SELECT
        cloud_account_id,
        date,
        resource_id,
        sum(cost * sign) AS day_cost
    FROM expenses
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND resource_id IN {resource_ids:Array(String)}
      AND date >= toDateTime({start_date:UInt32})
      AND date <= toDateTime({end_date:UInt32})
    GROUP BY cloud_account_id, date, resource_id
    HAVING sum(sign) > 0
)
GROUP BY resource_id
