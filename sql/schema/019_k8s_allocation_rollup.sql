{% import "include/macros.sql" as m %}
-- k8s_allocation_reconciled (sql/schema/010) read from its rollup (sql/schema/018):
-- the same columns, every row of the clusters {cloud_account_ids} over
-- [start_date, end_date], for the bill's arguments named {rollup_key}
-- (etl/storage/allocationrollup.py `refresh` computes the cluster-days missing or
-- restated since, and returns the key, before a reader runs). Per cluster-day, the
-- rows of its latest compute (highest version, then compute id: two computes of one
-- version hold the same rows); a cluster-day's marker row is no allocation row.
--
-- Why two set filters (sql/include/macros.sql `cluster_day_latest_rows`) rather than
-- a join on each cluster-day's latest compute: the join probes every row (seconds on
-- a large organization's month), while the computes a cluster-day has had beside its
-- latest (`superseded`) are few, often none. A row is read when its compute wrote
-- markers (the compute is finished: its markers are one INSERT after its rows,
-- sql/queries/allocation_rollup_markers.sql) and is not superseded on the row's
-- cluster-day. Unfiltered: a reader filters the rows it reads (sql/include/macros.sql
-- `allocation_rollup`).
CREATE OR REPLACE VIEW k8s_allocation_rollup AS
{{ m.cluster_day_latest_rows("k8s_allocation_days", "resource_id != ''", "resource_id = ''") }}
