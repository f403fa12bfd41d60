{% import "include/macros.sql" as m %}
-- Right-sizing over a window, as k8s_recommendations_raw.sql (its definition) answers
-- it from the raw rows, read from its per-day rollup (sql/schema/023; per day, the
-- rows of its latest compute under {rollup_key}; etl/storage/usagereads.py refreshes
-- the days of [first_day, last_day] first) and filtered on {namespaces} (part of the
-- rollup's grain). A container has one row per day of its window: it counts its days
-- by its rows, and its requests are those of its latest row (no two share a date);
-- the quantiles are the largest day's, and the exact sums add up the days' units
-- (sql/include/macros.sql from_exact_parts), so the answer is the raw query's, value for
-- value. Grouped on the table's sort key after rollup_key, so aggregated in order.
SELECT
    {{ m.columns(m.recommendation_key) | indent(4) }},
    argMax(cpu_request, date) AS cpu_request,
    argMax(ram_request, date) AS ram_request,
    {{ m.recommendation_usage() | indent(4) }},
    count() AS days,
    countIf(measured) AS measured_days,
    sum(samples) AS samples,
    {% for name in m.recommendation_sums %}
    {{ m.from_exact_parts(name) | indent(4) }} AS {{ name }}{{ "," if not loop.last }}
    {% endfor %}
FROM k8s_recommendation_days
WHERE {{ m.in_latest_day_compute("k8s_recommendation_days", "cloud_account_id") | indent(2) }}
  AND (empty({namespaces:Array(String)}) OR has({namespaces:Array(String)}, namespace))
GROUP BY {{ m.recommendation_key | join(", ") }}
SETTINGS optimize_aggregation_in_order = 1
