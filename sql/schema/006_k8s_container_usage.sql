-- Right-sizing's daily record of each running container (etl/costmodel/allocation/usage.py):
-- its names and its pod's controller, its day-average requests (cpu cores, memory
-- bytes), the day's usage quantiles of its name from cAdvisor (cpu cores: p95 and max
-- of the steps' rates; memory bytes: p95 and max of the working-set samples; NULL
-- without usage series), how many samples they come from, and what its cpu and ram
-- cost for how many core- and GiB-hours (so the prices of the nodes it ran on).
-- Extracted once per tenant-day; k8s_recommendations combines the days of a window
-- (sql/queries/k8s_recommendations.sql). Same collapsing rule as every table: a
-- restatement cancels each live row and inserts the new ones in one INSERT; readers
-- aggregate per (cloud_account_id, date, resource_id) HAVING SUM(sign) > 0. A row's
-- key (resource_id) names its namespace, controller, pod, uid, container and node.
CREATE TABLE IF NOT EXISTS k8s_container_usage
(
    cloud_account_id String,
    date DateTime,
    namespace LowCardinality(String),
    controller_kind LowCardinality(String),
    controller LowCardinality(String),
    container LowCardinality(String),
    pod String,
    pod_uid String,
    node LowCardinality(String),
    resource_id String,
    running_hours Float64,
    cpu_request Float64,
    ram_request Float64,
    cpu_p95 Nullable(Float64),
    cpu_max Nullable(Float64),
    ram_p95 Nullable(Float64),
    ram_max Nullable(Float64),
    samples Nullable(Float64),
    cpu_usd Float64,
    cpu_core_hours Float64,
    ram_usd Float64,
    ram_gib_hours Float64,
    sign Int8
)
ENGINE = CollapsingMergeTree(sign)
PARTITION BY toYYYYMM(date)
ORDER BY (cloud_account_id, date, namespace, controller, container, resource_id)
