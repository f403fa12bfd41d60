{% import "include/macros.sql" as m %}
-- Compute the rollup of k8s_allocation_reconciled (sql/schema/018) for the cluster-days
-- ({stale_accounts}[i], {stale_days}[i]) (midnights UTC, each with its version
-- {versions}[i], read before: allocation_rollup_stale_days.sql) under {rollup_key}:
-- the view's rows of those cluster-days, as computed now, unfiltered, with the bill's
-- arguments the key names (etl/storage/allocationrollup.py). The view is read over
-- their accounts {cloud_account_ids} and the span [start_date, end_date]; the join
-- keeps the stale cluster-days. Their marker rows are allocation_rollup_markers.sql,
-- inserted after these.
{% set stored = ["cloud_account_id", "date", "resource_id"] + m.allocation_names + m.allocation_values + ["list_cost"] %}
INSERT INTO k8s_allocation_days (rollup_key, version, compute_id, {{ stored | join(", ") }})
SELECT
    {rollup_key:String},
    stale.version,
    {compute_id:UUID},
    {{ m.columns(stored) | indent(4) }}
FROM {{ m.k8s_allocation_reconciled(filtered=false) }} AS reconciled
INNER JOIN
(
    {{ m.stale_cluster_days() | indent(4) }}
) AS stale
USING (cloud_account_id, date)
