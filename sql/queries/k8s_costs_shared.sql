{% import "include/macros.sql" as m %}
-- The allocation of some clusters over a period, grouped for k8s_costs (and costed
-- per cluster for clean_expenses) with shared costs spread over the groups
-- (etl/core/sharing.py; the formulas and a worked example: docs/allocation.md,
-- "Sharing"). The stored rows stay unshared: this query spreads, per cluster-day,
-- - the `__idle__` rows (share_idle weighted|even; idle_by node: per node),
-- - the rows of share_namespaces / share_labels, and a synthetic `__overhead__` row
--   of overhead_hourly x 24 USD per cluster-day (share_split weighted|even),
-- over the *recipient* rows: every row but idle, `__unmounted__` and shared ones.
-- Shares are computed per row over the clusters' whole allocation, before the
-- filters, then the filters keep rows (a group's share of idle is its share of the
-- cluster's idle, whatever the filter shows). `weighted` is linear in the rows;
-- `even` gives each recipient group of the scope pool / groups, carried by its rows
-- in proportion to their cost (by count when the group costs nothing). A pool with
-- nobody to take it (no recipient cost of that resource, no recipient group) stays
-- where it is: idle in `__idle__`, a shared namespace in its group, overhead in
-- `__overhead__`; so the groups always sum to the rows' cost plus the overhead.
-- A token's scope (scope_*) keeps rows like the filters, after the shares.
-- Output per group: the kept components, own_cost (their sum) and the dollars it
-- received by each rule (shared_idle, shared_namespaces, shared_overhead). The rows
-- are the view k8s_allocation_reconciled's (sql/schema/010, read from its rollup:
-- sql/schema/018, 019; unfiltered: shares come before the filters): their nodes
-- priced from the bill under the metric, so what is shared is what the bill says.
SELECT
    group_key,
    group_pod_uid,
    cloud_account_id,
    {% for name in components %}
    {{ m.exact_sum("kept_" ~ name) }} AS {{ name }},
    {% endfor %}
    {{ m.exact_sum("kept_" ~ components | join(" + kept_")) }} AS own_cost,
    {{ m.summed(["shared_idle", "shared_namespaces", "shared_overhead"]) | indent(4) }},
    -- efficiency over the group's own rows (a shared row's usage is not the group's)
    {{ m.efficiency("m_cpu_used", "m_cpu_request", "m_ram_used", "m_ram_request") | indent(4) }}
FROM
(
    SELECT
        group_key,
        group_pod_uid,
        if({per_cluster:UInt8}, cloud_account_id, '') AS cloud_account_id,
        namespace, node, services, labels, namespace_labels, controller_key, recipient,
        multiIf(idle_pooled, arraySum(idle_keep) > 0, shared_row, pool_keep, 1) AS kept_row,
        if(shared_row, NULL, cpu_used_core_hours) AS m_cpu_used,
        if(shared_row, 0, cpu_request_core_hours) AS m_cpu_request,
        if(shared_row, NULL, ram_used_byte_hours) AS m_ram_used,
        if(shared_row, 0, ram_request_byte_hours) AS m_ram_request,
        {% for name in components %}
        {{ name }} * multiIf(idle_pooled, idle_keep[indexOf(['cpu_cost', 'ram_cost', 'gpu_cost'], '{{ name }}') + 1], shared_row, pool_keep, 1) AS kept_{{ name }},
        {% endfor %}
        if(NOT recipient, 0, if({share_idle:String} = 'weighted',
            if(r_cpu != 0, i_cpu * cpu_cost / r_cpu, 0)
            + if(r_ram != 0, i_ram * ram_cost / r_ram, 0)
            + if(r_gpu != 0, i_gpu * gpu_cost / r_gpu, 0)
            + if(r_compute != 0, (i_all - i_cpu - i_ram - i_gpu) * compute / r_compute, 0),
            if(n_scope > 0, i_all / n_scope * if(g_scope != 0, cost / g_scope, 1 / k_scope), 0)
        )) AS shared_idle,
        if(NOT recipient, 0, if({share_split:String} = 'weighted',
            if(r_cost != 0, cost / r_cost, 0),
            if(n_day > 0, if(g_day != 0, cost / g_day, 1 / k_day) / n_day, 0)
        )) AS pool_part,
        pool_part * s_namespaces AS shared_namespaces,
        pool_part * s_overhead + if(is_overhead AND pool_keep, s_overhead, 0) AS shared_overhead
    FROM
    (
        SELECT
            *,
            -- the idle scope's pools and recipients
            {{ m.exact_sum("cpu_cost", where="idle_pooled", over="idle_scope") }} AS i_cpu,
            {{ m.exact_sum("ram_cost", where="idle_pooled", over="idle_scope") }} AS i_ram,
            {{ m.exact_sum("gpu_cost", where="idle_pooled", over="idle_scope") }} AS i_gpu,
            {{ m.exact_sum("cost", where="idle_pooled", over="idle_scope") }} AS i_all,
            {{ m.exact_sum("cpu_cost", where="recipient", over="idle_scope") }} AS r_cpu,
            {{ m.exact_sum("ram_cost", where="recipient", over="idle_scope") }} AS r_ram,
            {{ m.exact_sum("gpu_cost", where="recipient", over="idle_scope") }} AS r_gpu,
            {{ m.exact_sum("compute", where="recipient", over="idle_scope") }} AS r_compute,
            uniqExactIf(tuple(group_key, group_pod_uid), recipient) OVER idle_scope AS n_scope,
            {{ m.exact_sum("cost", where="recipient", over="idle_group") }} AS g_scope,
            countIf(recipient) OVER idle_group AS k_scope,
            -- the cluster-day's pools and recipients
            {{ m.exact_sum("cost", where="shared_row AND NOT is_overhead", over="cluster_day") }} AS s_namespaces,
            countIf(is_overhead) OVER cluster_day * {overhead_hourly:Float64} * 24 AS s_overhead,
            {{ m.exact_sum("cost", where="recipient", over="cluster_day") }} AS r_cost,
            uniqExactIf(tuple(group_key, group_pod_uid), recipient) OVER cluster_day AS n_day,
            {{ m.exact_sum("cost", where="recipient", over="day_group") }} AS g_day,
            countIf(recipient) OVER day_group AS k_day,
            -- what an idle row keeps of [other, cpu, ram, gpu], a shared row of itself
            if({share_idle:String} = 'weighted',
               [r_compute = 0, r_cpu = 0, r_ram = 0, r_gpu = 0],
               [n_scope = 0, n_scope = 0, n_scope = 0, n_scope = 0]) AS idle_keep,
            if({share_split:String} = 'weighted', r_cost = 0, n_day = 0) AS pool_keep
        FROM
        (
            SELECT
                *,
                {group_by:String} AS grouped_by,
                {%+ filter trim | indent(16) %}{% include "include/k8s_costs_grouping.sql" %}{% endfilter %},
                resource_id = '__overhead__' AS is_overhead,
                namespace = '__idle__' AND {share_idle:String} != 'none' AS idle_pooled,
                is_overhead OR (namespace != '__idle__' AND (
                    has({share_namespaces:Array(String)}, namespace)
                    OR arrayExists(
                        (k, v) -> {{ m.label_value("k") }} = v,
                        {share_label_keys:Array(String)},
                        {share_label_values:Array(String)}
                    ))) AS shared_row,
                namespace NOT IN ('__idle__', '__unmounted__') AND NOT shared_row AS recipient,
                cpu_cost + ram_cost + gpu_cost AS compute,
                if({idle_by:String} = 'node', node, '') AS scope
            FROM
            (
                SELECT
                    {{ m.columns(
                        ["cloud_account_id", "date", "resource_id"]
                        + m.allocation_names
                        + m.allocation_values
                    ) | indent(20) }}
                FROM {{ m.allocation_rollup(filtered=false) | indent(16) }}
                UNION ALL
                SELECT
                    cloud_account_id,
                    date,
                    '__overhead__' AS resource_id,
                    '__overhead__' AS namespace,
                    '' AS controller_kind,
                    '__overhead__' AS controller,
                    '__overhead__' AS pod,
                    '' AS pod_uid,
                    '' AS node,
                    CAST(map(), 'Map(LowCardinality(String), String)') AS labels,
                    CAST(map(), 'Map(LowCardinality(String), String)') AS namespace_labels,
                    CAST([], 'Array(LowCardinality(String))') AS services,
                    {{ m.zero(components + ["cost", "cpu_request_core_hours", "ram_request_byte_hours"]) | indent(20) }},
                    CAST(NULL, 'Nullable(Float64)') AS cpu_used_core_hours,
                    CAST(NULL, 'Nullable(Float64)') AS ram_used_byte_hours
                FROM k8s_allocation
                WHERE {overhead_hourly:Float64} > 0
                  AND {{ m.in_period() | indent(18) }}
                {{ m.live_keys(["cloud_account_id", "date"]) | indent(16) }}
            )
        )
        WINDOW
            idle_scope AS (PARTITION BY cloud_account_id, date, scope),
            idle_group AS (PARTITION BY cloud_account_id, date, scope, group_key, group_pod_uid),
            cluster_day AS (PARTITION BY cloud_account_id, date),
            day_group AS (PARTITION BY cloud_account_id, date, group_key, group_pod_uid)
    )
)
WHERE {{ m.allocation_row_filters() | indent(2) }}
  AND {{ m.allocation_filters() | indent(2) }}
GROUP BY group_key, group_pod_uid, cloud_account_id
HAVING countIf(kept_row) > 0
ORDER BY own_cost + shared_idle + shared_namespaces + shared_overhead DESC, group_key,
    group_pod_uid, cloud_account_id
