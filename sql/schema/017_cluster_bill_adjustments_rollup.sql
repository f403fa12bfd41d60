{% import "include/macros.sql" as m %}
-- cluster_bill_adjustments (sql/schema/014) read from its rollup (sql/schema/016):
-- the same columns, per (cluster account, day) of [first_day, last_day], for the
-- arguments named {rollup_key} (etl/storage/billrollup.py `refresh` computes the days
-- missing or restated since, and returns the key, before a reader runs). Per day, the
-- latest compute (highest version, then compute id: two computes of one version hold
-- the same rows); a day's marker row is no account's.
CREATE OR REPLACE VIEW cluster_bill_adjustments_rollup AS
{{ m.latest_day_compute(
    "bill_adjustment_days",
    "cloud_account_id",
    [
        "cloud_account_id", "date", "cpu_adjustment", "ram_adjustment", "gpu_adjustment",
        "pv_adjustment", "adjustment", "matched_nodes", "node_names", "matched_volumes",
        "volume_names", "list_usd", "bill_usd",
    ],
) }}
