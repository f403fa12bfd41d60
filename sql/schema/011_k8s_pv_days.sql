-- Which persistent volume was which cloud disk each cluster-day, and who carried its
-- cost, at load (etl/worker/pipeline.py), beside k8s_node_days (sql/schema/008): the
-- reconciliation to the bill prices a PV whose disk is in a bill as the bill does
-- (docs/api.md, "Reconciliation: nodes priced from the bill"). One row per (PV, holder):
-- `resource_id` the PV's name, `provider_id` its `pv_hourly_cost` series' provider_id
-- label (an EBS volume id, a GCE disk path, an Azure disk id) and `instance_key` that
-- id's key (etl/storage/nodes.instance_key, the rule bill lines are matched by),
-- `holder` the allocation row (k8s_allocation.resource_id: a pod mounting it, or the
-- PV's own `__unmounted__` row, which every PV of the day has), `holder_kind` which of
-- the two (`pod`, `unmounted`: a name, so a restatement's cancel row copies it) and
-- `list_usd` the part of the PV's exporter cost that row carries. A PV's holders add up to its cost in the
-- asset view, as the allocation's rows do; a pod's pv_cost is the sum over the PVs it
-- holds. A PV seen with two provider ids in a day gets none (never matched, flagged).
-- Stored whether or not any bill is imported: either side may come first. Readers
-- aggregate sum(x * sign) per (cloud_account_id, date, resource_id, provider_id,
-- holder) HAVING sum(sign) > 0, never FINAL, like every table.
CREATE TABLE IF NOT EXISTS k8s_pv_days
(
    cloud_account_id String,
    resource_id String,
    date DateTime,
    provider_id String,
    instance_key String,
    holder String,
    holder_kind LowCardinality(String),
    list_usd Float64,
    sign Int8
)
ENGINE = CollapsingMergeTree(sign)
PARTITION BY toYYYYMM(date)
ORDER BY (cloud_account_id, date, resource_id, provider_id, holder)
