{% import "include/macros.sql" as m %}
-- Right-sizing over a window (api/query/recommendations.py): per cluster, namespace,
-- controller (`Kind/name`, else the pod's name) and container, the days of
-- `k8s_container_usage` (sql/schema/006) in [start_date, end_date] combined
-- conservatively: the largest daily quantile (p95 or max, as asked) of cpu and of
-- memory, the current requests (those of the latest day: the largest when several
-- rows share it, so that the same rows always give the same one), and what it is based on
-- (days, days with usage, samples) and priced at (cost over core- and GiB-hours, the
-- prices of the nodes it ran on; running hours give the average number of replicas).
-- Each row key is collapsed the way every reader must (HAVING SUM(sign) > 0, no
-- FINAL); a quantile is NULL without usage, and max() of NULLs is NULL.
--
-- The definition, from the raw rows: the API reads the same answer from the per-day
-- rollup (k8s_recommendations.sql, sql/schema/023), and
-- tests/unit/test_recommendation_rollup.py holds the two equal.
SELECT
    {{ m.columns(m.recommendation_key) | indent(4) }},
    argMax(cpu_request, (date, cpu_request)) AS cpu_request,
    argMax(ram_request, (date, ram_request)) AS ram_request,
    {{ m.recommendation_usage() | indent(4) }},
    uniqExact(date) AS days,
    uniqExactIf(date, cpu_p95 IS NOT NULL) AS measured_days,
    sum(samples) AS samples,
    {{ m.summed(m.recommendation_sums) | indent(4) }}
FROM
(
    {{ m.live_container_days(
        "(empty({namespaces:Array(String)}) OR has({namespaces:Array(String)}, k8s_container_usage.namespace))"
    ) | indent(4) }}
)
GROUP BY {{ m.recommendation_key | join(", ") }}
