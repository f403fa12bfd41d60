{% import "include/macros.sql" as m %}
-- The bills (docs/api.md, `bills`): per cloud account and billing period (a bill's
-- BillingPeriodStart month, on whatever day its rows were charged), how many items
-- it charged and their billed, effective and list totals, in one read of the rows.
-- The same count as clean_expenses with that one `billing_period` over every day:
-- each (resource, billing period) collapsed and kept when live (HAVING sum(sign) > 0,
-- sql/schema/001_expenses.sql), nodes not folded (an invoice as the bill has it).
-- {all_resources}: no attribute filter; else only {resource_ids} count.
SELECT
    cloud_account_id,
    billing_month,
    count() AS item_count,
    {{ m.exact_sum("cost") }} AS billed_cost,
    {{ m.summed(["effective_cost", "list_cost"]) | indent(4) }}
FROM
(
    SELECT
        cloud_account_id,
        resource_id,
        toYYYYMM(billing_period) AS billing_month,
        {{ m.collapsed(["cost", "effective_cost", "list_cost"]) | indent(8) }}
    FROM expenses
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND has({billing_periods:Array(UInt32)}, toYYYYMM(billing_period))
      AND (
          {all_resources:Bool}
          OR resource_id IN (SELECT arrayJoin({resource_ids:Array(String)}))
      )
    {{ m.live_keys(["cloud_account_id", "resource_id", "billing_month"]) | indent(4) }}
)
GROUP BY cloud_account_id, billing_month
ORDER BY billing_month, billed_cost DESC, cloud_account_id
