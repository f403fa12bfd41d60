-- The marker rows of a compute of the allocation's rollup (sql/schema/018), one per
-- cluster-day ({stale_accounts}[i], {stale_days}[i]) with its version {versions}[i]:
-- inserted after the compute's rows (allocation_rollup_compute.sql), so that a
-- cluster-day reads as computed only once its rows are there.
INSERT INTO k8s_allocation_days (rollup_key, cloud_account_id, date, version, compute_id, resource_id)
SELECT
    {rollup_key:String},
    cluster_day.1,
    toDateTime(cluster_day.2),
    cluster_day.3,
    {compute_id:UUID},
    ''
FROM
(
    SELECT arrayJoin(
        arrayZip({stale_accounts:Array(String)}, {stale_days:Array(UInt32)}, {versions:Array(Int64)})
    ) AS cluster_day
)
