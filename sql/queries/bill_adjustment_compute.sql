{% import "include/macros.sql" as m %}
-- Compute the rollup of cluster_bill_adjustments (sql/schema/016) for the days {days}
-- (midnights UTC, each with its version {versions}, read before: sql/queries/
-- bill_adjustment_stale_days.sql) under {day_rollup_key}: the view's rows of those days,
-- as computed now, with the arguments the key names (etl/storage/billrollup.py). The
-- days' marker rows are bill_adjustment_markers.sql, inserted after these.
INSERT INTO bill_adjustment_days
SELECT
    {{ m.day_compute_head() | indent(4) }},
    cloud_account_id,
    cpu_adjustment,
    ram_adjustment,
    gpu_adjustment,
    pv_adjustment,
    adjustment,
    matched_nodes,
    node_names,
    matched_volumes,
    volume_names,
    list_usd,
    bill_usd
FROM {{ m.cluster_bill_view("cluster_bill_adjustments") }}
WHERE has({days:Array(UInt32)}, toUInt32(date))
