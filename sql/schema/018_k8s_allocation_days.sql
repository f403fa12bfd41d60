{% import "include/macros.sql" as m %}
-- The rollup of k8s_allocation_reconciled (sql/schema/010): the view's rows per
-- (cluster account, day), collapsed and priced from the bill as computed for one set
-- of the bill's arguments, so that a reader (k8s_costs, the alerts' and the budgets'
-- allocation reads) scans stored rows instead of collapsing the allocation and joining
-- node_bill_factors and pv_bill_factors on every request (docs/dashboard.md,
-- "Performance").
--
-- The grain is the view's own, one row per allocation row: k8s_costs groups by pod
-- and by any label, and spreads idle and shared costs per row (k8s_costs_shared.sql),
-- so no coarser sum answers all of its questions.
--
-- `rollup_key` names the bill's arguments (a hash of the cost column, the folded bill
-- resources and their instance keys: etl/storage/allocationrollup.py); a row of one
-- cluster-day depends on no other cluster, so one key serves any set of clusters.
-- `version` is the latest warehouse_day_writes time (ns, sql/schema/015) of the
-- cluster-day read before computing it; `compute_id` tells two computes of one
-- cluster-day apart (two API processes may compute it at once: a reader takes the
-- rows of one, sql/schema/019). Each compute writes a marker row per cluster-day
-- (`resource_id` '', no allocation row has that key), since a cluster-day whose rows
-- all cancel out has none and must read as computed all the same. Computes are only
-- appended, never edited. Partitioned by year, as bill_adjustment_days (016): a
-- compute's INSERT spans the days of a reader's period.
CREATE TABLE IF NOT EXISTS k8s_allocation_days
(
    rollup_key String,
    cloud_account_id String,
    date DateTime,
    version Int64,
    compute_id UUID,
    resource_id String,
    namespace LowCardinality(String),
    controller_kind LowCardinality(String),
    controller LowCardinality(String),
    pod String,
    pod_uid String,
    node LowCardinality(String),
    labels Map(LowCardinality(String), String),
    namespace_labels Map(LowCardinality(String), String),
    services Array(LowCardinality(String)),
    {{ m.float_columns(components + ["cost", "list_cost", "cpu_request_core_hours", "ram_request_byte_hours"]) | indent(4) }},
    cpu_used_core_hours Nullable(Float64),
    ram_used_byte_hours Nullable(Float64)
)
ENGINE = MergeTree()
PARTITION BY toYear(date)
ORDER BY (rollup_key, cloud_account_id, date, version, compute_id, resource_id)
