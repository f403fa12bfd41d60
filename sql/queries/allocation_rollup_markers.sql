{% import "include/macros.sql" as m %}
-- The marker rows of a compute of the allocation's rollup (sql/schema/018), one per
-- cluster-day ({stale_accounts}[i], {stale_days}[i]) with its version {versions}[i]:
-- inserted after the compute's rows (allocation_rollup_compute.sql), so that a
-- cluster-day reads as computed only once its rows are there.
{{ m.cluster_day_markers("k8s_allocation_days", "resource_id", "''") }}
