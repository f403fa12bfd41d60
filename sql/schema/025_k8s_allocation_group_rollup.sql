{% import "include/macros.sql" as m %}
-- The k8s_costs groups per cluster-day as stored by sql/schema/024 under {rollup_key}
-- (etl/storage/allocationgroups.py refreshes the cluster-days first), of the clusters
-- {cloud_account_ids} over [start_date, end_date]: per cluster-day, the rows of its
-- latest finished compute, as sql/schema/019 reads the allocation's.
CREATE OR REPLACE VIEW k8s_allocation_group_rollup AS
{{ m.cluster_day_latest_rows("k8s_allocation_group_days", "NOT marker", "marker", ["marker"]) }}
