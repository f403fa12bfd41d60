{% import "include/macros.sql" as m %}
-- The cluster-days of the clusters {cloud_account_ids} over [start_date, end_date]
-- whose k8s_costs groups under {rollup_key} (sql/schema/024) are missing or older than
-- the allocation rollup's latest finished compute under {allocation_key}
-- (sql/schema/018), with that compute's version: what etl/storage/allocationgroups.py
-- computes, right after refreshing the allocation rollup of the same cluster-days.
SELECT computed.cloud_account_id AS cloud_account_id,
       toUInt32(computed.date) AS day,
       computed.version AS version
FROM
(
    SELECT cloud_account_id, date, max(version) AS version
    FROM k8s_allocation_days
    WHERE rollup_key = {allocation_key:String}
      AND resource_id = ''
      AND {{ m.in_period() | indent(6) }}
    GROUP BY cloud_account_id, date
) AS computed
LEFT JOIN
(
    SELECT cloud_account_id, date, max(version) AS grouped_version, true AS grouped
    FROM k8s_allocation_group_days
    WHERE rollup_key = {rollup_key:String}
      AND marker
      AND {{ m.in_period() | indent(6) }}
    GROUP BY cloud_account_id, date
) AS groups
ON groups.cloud_account_id = computed.cloud_account_id AND groups.date = computed.date
WHERE NOT groups.grouped OR groups.grouped_version < computed.version
ORDER BY cloud_account_id, day
