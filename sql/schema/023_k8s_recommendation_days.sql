{% import "include/macros.sql" as m %}
-- The rollup of right-sizing (sql/queries/k8s_recommendations_raw.sql): per (cluster
-- account, day, namespace, controller, container), what the window's answer takes of
-- that day's container-days, collapsed as the raw query collapses them, so that the
-- savings page's answer (sql/queries/k8s_recommendations.sql) groups a few stored rows
-- per container and day instead of collapsing every row key of the window on every
-- request (docs/dashboard.md, "Performance").
--
-- What a day keeps is what the window combines: the largest of each daily quantile
-- (the question's p95 or max is chosen when read), the day's requests as the window
-- takes them (argMax over (date, request): on one day, the largest), whether any
-- container-day had usage (`measured`: a cpu p95), the samples, and each exact sum in
-- its two parts (sql/include/macros.sql exact_parts: the Int128 units and what lies
-- beyond them), since the units of several days add up to the window's units exactly
-- and a day's sum turned back into a Float64 would not always. Namespace is part of
-- the grain, so the namespaces filter applies to these rows.
--
-- `rollup_key` names the cluster accounts (etl/storage/usagereads.py: a day's rows
-- depend on nothing else); `version` and `compute_id` are those of sql/schema/016,
-- and each compute writes a marker row per day (`cloud_account_id` '', which no
-- cluster's account is). Only appended: a restated day gets a newer compute.
CREATE TABLE IF NOT EXISTS k8s_recommendation_days
(
    rollup_key String,
    date DateTime,
    version Int64,
    compute_id UUID,
    cloud_account_id String,
    namespace LowCardinality(String),
    controller_key String,
    container LowCardinality(String),
    cpu_request Float64,
    ram_request Float64,
    {% for name in m.recommendation_quantiles %}
    {{ name }} Nullable(Float64),
    {% endfor %}
    measured Bool,
    samples Nullable(Float64),
    {% for name in m.recommendation_sums %}
    {{ name }}_units Int128,
    {{ name }}_beyond Float64{{ "," if not loop.last }}
    {% endfor %}
)
ENGINE = MergeTree()
PARTITION BY toYear(date)
ORDER BY (rollup_key, cloud_account_id, namespace, controller_key, container, date, version, compute_id)
