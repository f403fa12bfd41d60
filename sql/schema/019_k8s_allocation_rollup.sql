-- k8s_allocation_reconciled (sql/schema/010) read from its rollup (sql/schema/018):
-- the same columns, every row of the clusters {cloud_account_ids} over
-- [start_date, end_date], for the bill's arguments named {rollup_key}
-- (etl/storage/allocationrollup.py `refresh` computes the cluster-days missing or
-- restated since, and returns the key, before a reader runs). Per cluster-day, the
-- latest compute (highest version, then compute id: two computes of one version hold
-- the same rows); a cluster-day's marker row is no allocation row. Unfiltered: a
-- reader filters the rows it reads (sql/include/macros.sql `allocation_rollup`).
CREATE OR REPLACE VIEW k8s_allocation_rollup AS
SELECT computed.* EXCEPT (rollup_key, version, compute_id)
FROM
(
    SELECT *
    FROM k8s_allocation_days
    WHERE rollup_key = {rollup_key:String}
      AND cloud_account_id IN {cloud_account_ids:Array(String)}
      AND date >= toDateTime({start_date:UInt32})
      AND date <= toDateTime({end_date:UInt32})
      AND resource_id != ''
) AS computed
INNER JOIN
(
    SELECT cloud_account_id, date, max((version, compute_id)) AS latest
    FROM k8s_allocation_days
    WHERE rollup_key = {rollup_key:String}
      AND cloud_account_id IN {cloud_account_ids:Array(String)}
      AND date >= toDateTime({start_date:UInt32})
      AND date <= toDateTime({end_date:UInt32})
      AND resource_id = ''
    GROUP BY cloud_account_id, date
) AS cluster_days
ON cluster_days.cloud_account_id = computed.cloud_account_id
    AND cluster_days.date = computed.date
    AND cluster_days.latest = (computed.version, computed.compute_id)
