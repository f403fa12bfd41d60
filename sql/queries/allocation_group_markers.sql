{% import "include/macros.sql" as m %}
-- The marker rows of a compute of the k8s_costs groups (sql/schema/024), one per
-- cluster-day ({stale_accounts}[i], {stale_days}[i]) with its version {versions}[i]:
-- inserted after the compute's rows (allocation_group_compute.sql), so that a
-- cluster-day reads as computed only once its rows are there.
{{ m.cluster_day_markers("k8s_allocation_group_days", "marker", "true") }}
