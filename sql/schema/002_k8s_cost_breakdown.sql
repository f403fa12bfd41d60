{% import "include/macros.sql" as m %}
-- The K8s cost breakdown of each cluster-day, in USD; its components add up to the
-- cluster's row in `expenses`. Same collapsing rule and keys as `expenses`, so one
-- restatement mechanism serves both tables.
CREATE TABLE IF NOT EXISTS k8s_cost_breakdown
(
    cloud_account_id String,
    resource_id String,
    date DateTime,
    {{ m.float_columns(components) | indent(4) }},
    sign Int8
)
ENGINE = CollapsingMergeTree(sign)
PARTITION BY toYYYYMM(date)
ORDER BY (cloud_account_id, date, resource_id)
