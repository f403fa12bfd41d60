{% import "include/macros.sql" as m %}
{#-
The k8s_costs groups (included by k8s_costs_groups.sql and k8s_costs_shared.sql,
in a select list over allocation rows): a row's controller (`Kind/name`), then its
group, `group_key`, and a pod's uid when grouping by pod, `group_pod_uid`. The
including query binds the grouping to `grouped_by` just before, so the query
parameter stands in the query itself. `grouped_by` is one grouping or several,
comma-separated (`label:<key>` the pod's label, else its namespace's): the key is
the row's part per grouping joined by the \x1F character (GROUP_PARTS_SEPARATOR of
etl/storage/sqlfiles.py), so one grouping keeps its plain key. `day` (internal:
api/query/series.py) is the row's midnight UTC in Unix seconds: a group's cost per
day, for the k8s_costs series; sharing is spread per cluster-day, so adding it
changes no group's share.
-#}
-- the row's group (sql/include/k8s_costs_grouping.sql)
{{ m.controller_key() }} AS controller_key,
splitByChar(',', grouped_by) AS grouping_parts,
arrayMap(part -> {{ m.label_value("substring(part, 7)") }},
         grouping_parts) AS grouping_label_values,
arrayStringConcat(arrayMap((part, label_value) -> multiIf(
    part = 'namespace', namespace,
    part = 'cluster', cloud_account_id,
    part = 'controller', controller_key,
    part = 'node', if(node = '', namespace, node),
    part = 'pod', if(pod_uid = '', pod, concat(namespace, '/', pod)),
    part = 'day', toString(toUInt32(date)),
    namespace IN ('__idle__', '__unmounted__', '__overhead__'), namespace,
    label_value = '', '__unallocated__',
    label_value
), grouping_parts, grouping_label_values), '{{ group_parts_sql }}') AS group_key,
if(has(grouping_parts, 'pod'), pod_uid, '') AS group_pod_uid
