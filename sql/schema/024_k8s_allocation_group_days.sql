{% import "include/macros.sql" as m %}
-- The k8s_costs groups per cluster-day, summed from the allocation's rollup
-- (sql/schema/018, 019) for one grouping: what an unshared, unfiltered k8s_costs
-- request (the allocation page's table and chart by default) reads instead of every
-- allocation row (etl/storage/allocationgroups.py says which requests). A group's
-- row holds each sum of sql/queries/k8s_costs_groups.sql in its two exact parts
-- (sql/include/macros.sql `exact_parts`), so summing the stored rows of a period
-- gives the bits the allocation rows give.
--
-- `rollup_key` hashes the allocation rollup's key and the grouping. A cluster-day is
-- computed from the allocation rollup's latest compute of it, and `version` is that
-- compute's: a cluster-day is stale when the allocation rollup holds a newer version
-- (it was restated and computed again), never by comparing with the warehouse's
-- writes, which the allocation rollup may not have caught up with. `compute_id` tells
-- two computes of one cluster-day apart; each compute writes a marker row per
-- cluster-day (`marker`), as sql/schema/018 does. Only appended.
CREATE TABLE IF NOT EXISTS k8s_allocation_group_days
(
    rollup_key String,
    cloud_account_id String,
    date DateTime,
    version Int64,
    compute_id UUID,
    marker Bool,
    group_key String,
    group_pod_uid String,
    {% for name in m.group_sums %}
    {% set nullable = name in m.nullable_group_sums %}
    {{ name }}_units {{ "Nullable(Int128)" if nullable else "Int128" }},
    {{ name }}_beyond {{ "Nullable(Float64)" if nullable else "Float64" }}{{ "," if not loop.last }}
    {% endfor %}
)
ENGINE = MergeTree()
PARTITION BY toYear(date)
ORDER BY (rollup_key, cloud_account_id, date, version, compute_id, marker, group_key)
