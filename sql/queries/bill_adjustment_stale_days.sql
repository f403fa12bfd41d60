{% import "include/macros.sql" as m %}
-- The days of [first_day, last_day] whose rollup of cluster_bill_adjustments under
-- {rollup_key} (sql/schema/016) is missing or older than the day's latest restatement
-- of a table the view reads ({table_names}: expenses, k8s_node_days, k8s_pv_days;
-- sql/schema/015), with that restatement's time (ns; 0 for a day never restated): what
-- etl/storage/billrollup.py computes before a reader reads the rollup. Only the days
-- holding node-days or PV-days of the clusters {cluster_account_ids} (cancelled ones
-- included) are candidates: on any other day the view has no row (both its sides
-- join those to the bill), so the rollup needs none either, and a period of years
-- costs only its days with clusters. Days are midnights UTC, as every table's `date`.
{% set days %}
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
{% endset %}
{{ m.stale_days(days | trim, "bill_adjustment_days", "cloud_account_id") }}
