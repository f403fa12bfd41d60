{% import "include/macros.sql" as m %}
-- The allocation of each cluster-day (etl/allocation): one row per pod uid, one
-- `__idle__` row per node, one `__unmounted__` row per PV or load balancer; over a
-- cluster-day its cost columns add up to the cluster's row in `k8s_cost_breakdown`.
-- Same collapsing rule as `expenses`: a restatement cancels each live row (sign -1,
-- same values and names) and inserts the new rows in one INSERT; readers aggregate
-- SUM(x * sign) per (cloud_account_id, date, resource_id) HAVING SUM(sign) > 0, never
-- FINAL. `resource_id` is the row's key (a hash of everything that names the row), so
-- all copies of a row carry the same names and labels.
-- Ordering key: the drill-down reads one organization's accounts over a period, then
-- filters and groups by namespace, controller, pod, node or a label. (account, date)
-- prunes to the period; namespace and controller next serve their filters and keep a
-- namespace's rows together; node and label filters use the skip indexes. Names that
-- repeat across rows are LowCardinality; labels are maps of the pod's and the
-- namespace's Kubernetes labels (kube-state-metrics' sanitized names, no `label_`).
-- The `services` column and its index are added by 004_k8s_allocation_services.sql
-- (an ALTER, so that tables created by this file gain them too).
CREATE TABLE IF NOT EXISTS k8s_allocation
(
    cloud_account_id String,
    date DateTime,
    namespace LowCardinality(String),
    controller_kind LowCardinality(String),
    controller LowCardinality(String),
    pod String,
    resource_id String,
    pod_uid String,
    node LowCardinality(String),
    labels Map(LowCardinality(String), String),
    namespace_labels Map(LowCardinality(String), String),
    price_flag LowCardinality(String),
    running_hours Float64,
    cpu_core_hours Float64,
    ram_gib_hours Float64,
    gpu_hours Float64,
    {{ m.float_columns(components) | indent(4) }},
    cost Float64,
    sign Int8,
    INDEX node_index node TYPE set(4096) GRANULARITY 4,
    INDEX label_values_index mapValues(labels) TYPE bloom_filter GRANULARITY 4
)
ENGINE = CollapsingMergeTree(sign)
PARTITION BY toYYYYMM(date)
ORDER BY (cloud_account_id, date, namespace, controller_kind, controller, pod, resource_id)
