{% import "include/macros.sql" as m %}
-- The cluster-days of the clusters {cloud_account_ids} over [start_date, end_date]
-- whose rollup of k8s_allocation_reconciled under {rollup_key} (sql/schema/018) is
-- missing or older than the latest restatement of a table the view reads
-- (sql/schema/015), with that restatement's time (ns; 0 for one never restated): what
-- etl/storage/allocationrollup.py computes before a reader reads the rollup.
-- A cluster-day's own tables (k8s_allocation, k8s_node_days, k8s_pv_days) count by
-- its account; `expenses` by the day alone, since the bill rows that price its nodes
-- and PVs are other accounts' (every bill import of a day restates it for every
-- cluster: exact, not minimal). Candidates: the cluster-days holding allocation rows
-- (cancelled ones included) and those an allocation restatement wrote, so a day
-- whose rows were all cancelled, and since merged away, is computed again (to no
-- row) rather than read from its older compute; on any other day the view has no row.
SELECT cluster_days.cloud_account_id AS cloud_account_id,
       toUInt32(cluster_days.date) AS day,
       greatest(own.version, bill.version) AS version
FROM
(
    SELECT DISTINCT cloud_account_id, date
    FROM
    (
        SELECT cloud_account_id, date
        FROM k8s_allocation
        WHERE {{ m.in_period() | indent(10) }}
        UNION ALL
        SELECT cloud_account_id, date
        FROM warehouse_day_writes
        WHERE table_name = 'k8s_allocation'
          AND {{ m.in_period() | indent(10) }}
    )
) AS cluster_days
LEFT JOIN
(
    {{ m.latest_writes(
        "('k8s_allocation', 'k8s_node_days', 'k8s_pv_days')",
        first_day="{start_date:UInt32}",
        last_day="{end_date:UInt32}",
        accounts="{cloud_account_ids:Array(String)}",
    ) | indent(4) }}
) AS own
ON own.cloud_account_id = cluster_days.cloud_account_id AND own.date = cluster_days.date
LEFT JOIN
(
    {{ m.latest_writes(
        "('expenses')", first_day="{start_date:UInt32}", last_day="{end_date:UInt32}"
    ) | indent(4) }}
) AS bill
ON bill.date = cluster_days.date
LEFT JOIN
(
    SELECT cloud_account_id, date, max(version) AS computed_version, true AS computed
    FROM k8s_allocation_days
    WHERE rollup_key = {rollup_key:String}
      AND resource_id = ''
      AND {{ m.in_period() | indent(6) }}
    GROUP BY cloud_account_id, date
) AS computes
ON computes.cloud_account_id = cluster_days.cloud_account_id
    AND computes.date = cluster_days.date
WHERE NOT computes.computed OR computes.computed_version < version
ORDER BY cloud_account_id, day
