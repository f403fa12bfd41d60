-- The days on which the given accounts hold live expense rows, between two days
-- (inclusive): a cloud bill's import restates these as well as the days its file
-- has, so that a day (or a resource's day) left out of a corrected bill is
-- cancelled rather than left over (etl/bills/load.py).
SELECT DISTINCT cloud_account_id, toDate(date) AS day
FROM
(
    SELECT cloud_account_id, date
    FROM expenses
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND date >= toDateTime({first_day:UInt32})
      AND date <= toDateTime({last_day:UInt32})
    {{live_keys: cloud_account_id, date, resource_id}}
)
