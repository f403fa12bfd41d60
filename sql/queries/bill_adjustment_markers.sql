{% import "include/macros.sql" as m %}
-- The marker rows of a compute of the rollup of cluster_bill_adjustments (sql/schema/016),
-- after the compute's rows (bill_adjustment_compute.sql).
{{ m.day_markers("bill_adjustment_days", "cloud_account_id") }}
