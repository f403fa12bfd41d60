-- cluster_bill_adjustments (sql/schema/014) read from its rollup (sql/schema/016):
-- the same columns, per (cluster account, day) of [first_day, last_day], for the
-- arguments named {rollup_key} (etl/storage/billrollup.py `refresh` computes the days
-- missing or restated since, and returns the key, before a reader runs). Per day, the
-- latest compute (highest version, then compute id: two computes of one version hold
-- the same rows); a day's marker row is no account's.
CREATE OR REPLACE VIEW cluster_bill_adjustments_rollup AS
SELECT
    computed.cloud_account_id AS cloud_account_id,
    computed.date AS date,
    computed.cpu_adjustment AS cpu_adjustment,
    computed.ram_adjustment AS ram_adjustment,
    computed.gpu_adjustment AS gpu_adjustment,
    computed.pv_adjustment AS pv_adjustment,
    computed.adjustment AS adjustment,
    computed.matched_nodes AS matched_nodes,
    computed.node_names AS node_names,
    computed.matched_volumes AS matched_volumes,
    computed.volume_names AS volume_names,
    computed.list_usd AS list_usd,
    computed.bill_usd AS bill_usd
FROM
(
    SELECT *
    FROM bill_adjustment_days
    WHERE rollup_key = {rollup_key:String}
      AND date >= toDateTime({first_day:UInt32})
      AND date <= toDateTime({last_day:UInt32})
      AND cloud_account_id != ''
) AS computed
INNER JOIN
(
    SELECT date, max((version, compute_id)) AS latest
    FROM bill_adjustment_days
    WHERE rollup_key = {rollup_key:String}
      AND date >= toDateTime({first_day:UInt32})
      AND date <= toDateTime({last_day:UInt32})
      AND cloud_account_id = ''
    GROUP BY date
) AS days
ON days.date = computed.date AND days.latest = (computed.version, computed.compute_id)
