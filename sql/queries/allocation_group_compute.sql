{% import "include/macros.sql" as m %}
-- Compute the k8s_costs groups (sql/schema/024) of the cluster-days
-- ({stale_accounts}[i], {stale_days}[i]), each with its version {versions}[i]
-- (allocation_group_stale_days.sql), under {rollup_key}: the allocation rollup's rows
-- under {allocation_key} (sql/schema/019) of their accounts {cloud_account_ids} over
-- [start_date, end_date], grouped by {group_by} as k8s_costs_groups.sql groups them
-- (sql/include/k8s_costs_grouping.sql), unfiltered, each sum in its exact parts.
-- Their marker rows are allocation_group_markers.sql, inserted after these.
INSERT INTO k8s_allocation_group_days (
    rollup_key, cloud_account_id, date, version, compute_id, marker, group_key, group_pod_uid,
    {% for name in m.group_sums %}
    {{ name }}_units, {{ name }}_beyond{{ "," if not loop.last }}
    {% endfor %}
)
SELECT
    {rollup_key:String},
    cloud_account_id,
    date,
    stale.version,
    {compute_id:UUID},
    false,
    group_key,
    group_pod_uid,
    {% for name in m.group_sums %}
    {{ m.exact_parts(name, m.group_sum_of.get(name, name), m.group_sum_where.get(name)) | indent(4) }}{{ "," if not loop.last }}
    {% endfor %}
FROM
(
    SELECT
        *,
        {group_by:String} AS grouped_by,
        {%+ filter trim | indent(8) %}{% include "include/k8s_costs_grouping.sql" %}{% endfilter %}

    FROM {{ m.allocation_rollup(filtered=false) | indent(4) }}
) AS grouped
INNER JOIN
(
    {{ m.stale_cluster_days() | indent(4) }}
) AS stale
USING (cloud_account_id, date)
GROUP BY cloud_account_id, date, stale.version, group_key, group_pod_uid
