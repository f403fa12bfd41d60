-- One row per node of each cluster-day, at load (etl/worker/pipeline.py): which VM the
-- node was (its provider id, and that id's instance key, the part the bill's
-- ResourceId is matched on: etl/storage/nodes.instance_key), what the exporter's list
-- prices made its cpu, ram and gpu cost that day (`*_list_usd`: the asset view,
-- etl/costmodel/assets.py), how many hours it lived, and how the account's cost model
-- would split its cost over cpu, ram and gpu (the `*_model_share`s, summing to 1):
-- what sql/schema/009_node_bill_factors.sql splits a bill by when the list price is 0.
-- The reconciliation to the bill (docs/api.md, "Reconciliation") reads it, so it is
-- stored whether or not any bill is imported: either side may come first.
-- `resource_id` holds the node's name, the key a restatement cancels by
-- (etl/storage/warehouse.py); the provider id is part of the row's key too (a
-- rerun may find another VM under the name), so readers aggregate sum(x * sign) per
-- (cloud_account_id, date, resource_id, provider_id) HAVING sum(sign) > 0, never
-- FINAL, like every table.
CREATE TABLE IF NOT EXISTS k8s_node_days
(
    cloud_account_id String,
    resource_id String,
    date DateTime,
    provider_id String,
    instance_key String,
    cpu_list_usd Float64,
    ram_list_usd Float64,
    gpu_list_usd Float64,
    hours Float64,
    cpu_model_share Float64,
    ram_model_share Float64,
    gpu_model_share Float64,
    sign Int8
)
ENGINE = CollapsingMergeTree(sign)
PARTITION BY toYYYYMM(date)
ORDER BY (cloud_account_id, date, resource_id, provider_id)
