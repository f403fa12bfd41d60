{% import "include/macros.sql" as m %}
-- k8s_costs_groups.sql's answer, unfiltered, from the groups stored per cluster-day
-- (sql/schema/024, 025) under {rollup_key} (one grouping: etl/storage/allocationgroups.py
-- refreshes them first) of the clusters {cloud_account_ids} over [start_date, end_date]:
-- the same columns, rows, order and bits. With {per_day} 1, each group per day: the key
-- the grouping's `day` part gives (sql/include/k8s_costs_grouping.sql), the group's
-- key and the day's midnight UTC in Unix seconds joined by the parts' separator.
SELECT
    group_key,
    group_pod_uid,
    {% for name in m.group_sums %}
    {{ m.from_exact_parts(name) | indent(4) }} AS {{ name }}{{ "," if not loop.last }}
    {% endfor %}
FROM
(
    SELECT * REPLACE (
        if({per_day:UInt8},
           concat(group_key, '{{ group_parts_sql }}', toString(toUInt32(date))),
           group_key) AS group_key
    )
    FROM k8s_allocation_group_rollup(
        rollup_key = {rollup_key:String},
        cloud_account_ids = {cloud_account_ids:Array(String)},
        start_date = {start_date:UInt32},
        end_date = {end_date:UInt32}
    )
)
GROUP BY group_key, group_pod_uid
ORDER BY cost DESC, group_key, group_pod_uid
