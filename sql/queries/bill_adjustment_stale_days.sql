-- The days of [first_day, last_day] whose rollup of cluster_bill_adjustments under
-- {rollup_key} (sql/schema/016) is missing or older than the day's latest restatement
-- of a table the view reads (sql/schema/015: expenses, k8s_node_days, k8s_pv_days), with
-- that restatement's time (ns; 0 for a day never restated): what
-- etl/storage/billrollup.py computes before a reader reads the rollup. Only the days
-- holding node-days or PV-days of the clusters {cluster_account_ids} (cancelled ones
-- included) are candidates: on any other day the view has no row (both its sides
-- join those to the bill), so the rollup needs none either, and a period of years
-- costs only its days with clusters. Days are midnights UTC, as every table's `date`.
SELECT toUInt32(days.day) AS day, writes.version AS version
FROM
(
    SELECT DISTINCT date AS day
    FROM
    (
        SELECT date
        FROM k8s_node_days
        WHERE cloud_account_id IN {cluster_account_ids:Array(String)}
          AND date >= toDateTime({first_day:UInt32})
          AND date <= toDateTime({last_day:UInt32})
        UNION ALL
        SELECT date
        FROM k8s_pv_days
        WHERE cloud_account_id IN {cluster_account_ids:Array(String)}
          AND date >= toDateTime({first_day:UInt32})
          AND date <= toDateTime({last_day:UInt32})
    )
) AS days
LEFT JOIN
(
    SELECT date, max(toUnixTimestamp64Nano(written_at)) AS version
    FROM warehouse_day_writes
    WHERE table_name IN ('expenses', 'k8s_node_days', 'k8s_pv_days')
      AND date >= toDateTime({first_day:UInt32})
      AND date <= toDateTime({last_day:UInt32})
    GROUP BY date
) AS writes
ON writes.date = days.day
LEFT JOIN
(
    SELECT date, max(version) AS computed_version, true AS computed
    FROM bill_adjustment_days
    WHERE rollup_key = {rollup_key:String}
      AND cloud_account_id = ''
      AND date >= toDateTime({first_day:UInt32})
      AND date <= toDateTime({last_day:UInt32})
    GROUP BY date
) AS computes
ON computes.date = days.day
WHERE NOT computes.computed OR computes.computed_version < writes.version
ORDER BY day
