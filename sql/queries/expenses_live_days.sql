{% import "include/macros.sql" as m %}
-- The (account, billing period, day)s on which the given accounts hold live expense
-- rows of the given billing periods (on any day: a row lands on its charge day, which
-- may lie outside its period), or rows without a billing period (1970-01-01: an
-- import from before sql/schema/007) between two days (inclusive). A cloud bill's
-- import restates these as well as the days its file has, so that a day (or a
-- resource's day) left out of a corrected bill is cancelled rather than left over
-- (etl/bills/load.py).
SELECT DISTINCT cloud_account_id, billing_period, toDate(date) AS day
FROM
(
    SELECT cloud_account_id, billing_period, date
    FROM expenses
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND (
          billing_period IN {billing_periods:Array(Date)}
          OR (
              billing_period = toDate(0)
              AND date >= toDateTime({first_day:UInt32})
              AND date <= toDateTime({last_day:UInt32})
          )
      )
    {{ m.live_keys(["cloud_account_id", "date", "resource_id", "billing_period"]) | indent(4) }}
)
