{% import "include/macros.sql" as m %}
-- Compute right-sizing's rollup (sql/schema/023) for the days {days} (midnights UTC,
-- each with its version {versions}, read before: recommendation_day_stale.sql) under
-- {day_rollup_key}: the container-days of the cluster accounts {cloud_account_ids}
-- over the days' span [start_date, end_date], collapsed as k8s_recommendations_raw.sql
-- collapses them, and per day and container what the window combines. Aliases are
-- the stored columns' with `day_`, so that none stands for a column another
-- expression reads. The days' marker rows are recommendation_day_markers.sql,
-- inserted after these.
INSERT INTO k8s_recommendation_days
(
    rollup_key, date, version, compute_id, {{ m.recommendation_key | join(", ") }},
    cpu_request, ram_request, {{ m.recommendation_quantiles | join(", ") }}, measured, samples,
    {% for name in m.recommendation_sums %}
    {{ name }}_units, {{ name }}_beyond{{ "," if not loop.last }}
    {% endfor %}
)
SELECT
    {{ m.day_compute_head() | indent(4) }},
    {{ m.columns(m.recommendation_key) | indent(4) }},
    max(cpu_request) AS day_cpu_request,
    max(ram_request) AS day_ram_request,
    {% for name in m.recommendation_quantiles %}
    max({{ name }}) AS day_{{ name }},
    {% endfor %}
    max(cpu_p95 IS NOT NULL) AS day_measured,
    sum(samples) AS day_samples,
    {% for name in m.recommendation_sums %}
    {{ m.exact_parts(name) | indent(4) }}{{ "," if not loop.last }}
    {% endfor %}
FROM
(
    {{ m.live_container_days("has({days:Array(UInt32)}, toUInt32(date))") | indent(4) }}
)
GROUP BY date, {{ m.recommendation_key | join(", ") }}
