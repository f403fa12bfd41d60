{% import "include/macros.sql" as m %}
-- What `expenses` currently holds for one cloud account and day, per row key: the
-- resource and the FOCUS attributes that are part of the key (sql/schema/007)
-- (live_rows is normally 1); the restatement cancels exactly this, or the part of
-- it of one billing period (a bill's re-import, etl/bills/load.py).
SELECT {{ m.day_state(["cost", "effective_cost", "list_cost", "contracted_cost"]) | indent(7) }},
       billing_period,
       charge_category,
       pricing_category,
       commitment_discount_status,
       commitment_discount_id
FROM expenses
WHERE cloud_account_id = {cloud_account_id:String}
  AND date = toDateTime({day_start:UInt32})
{{ m.live_keys(["resource_id", "billing_period", "charge_category", "pricing_category", "commitment_discount_status", "commitment_discount_id"]) }}
