{% import "include/macros.sql" as m %}
-- The bill's side of the reconciliation (docs/api.md, "Reconciliation: nodes priced
-- from the bill"), one definition for the node-day and PV-day rules
-- (sql/schema/009_node_bill_factors.sql, 013_pv_bill_factors.sql): per day over
-- [first_day, last_day] and instance key, the sum under {cost_column:Identifier}
-- (etl/core/metrics.py: cost, effective_cost or list_cost) of every live expense row of
-- the organization's bill resources {bill_resource_ids} whose key
-- ({bill_instance_keys}, etl/storage/nodes.instance_key of their cloud resource id, the
-- rule that folds a VM into its cluster) is that one, on that day: usage, and a
-- correction billed in the next period for this day's hours. A commitment's purchase
-- and its unused part are rows of the commitment's own resource, never a VM's or a
-- disk's. Collapsed as everywhere: sum(x * sign) over the live keys.
CREATE OR REPLACE VIEW bill_instance_days AS
SELECT
    date,
    transform(
        resource_id, {bill_resource_ids:Array(String)}, {bill_instance_keys:Array(String)}, ''
    ) AS instance_key,
    {{ m.exact_sum("{cost_column:Identifier} * sign") }} AS bill_usd
FROM expenses
WHERE resource_id IN (SELECT arrayJoin({bill_resource_ids:Array(String)}))
  AND date >= toDateTime({first_day:UInt32})
  AND date <= toDateTime({last_day:UInt32})
{{ m.live_keys(["date", "instance_key"]) }}
