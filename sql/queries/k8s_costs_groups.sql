-- The allocation of some clusters over a period, grouped for the k8s_costs API.
-- The rows are the view k8s_allocation_reconciled's (sql/schema/010): collapsed the
-- way every reader must, filtered on namespaces, nodes and Services inside, and with
-- their nodes priced from the bill under the metric ({cost_column}; the bill
-- arguments empty: none), each keeping its exporter's figure (`list_cost`). Rows are
-- dated at midnight UTC: a day counts when start_date <= date <= end_date.
-- group_by: namespace | controller | pod | node | label:<key> | cluster (the
-- cloud account: clean_expenses' allocation filters, api/query/clean_expenses.py), or
-- several of them, comma-separated (the allocation API's `aggregate`,
-- api/query/opencost.py: the key joins the parts with the \x1F character). `__idle__`
-- and `__unmounted__` rows keep those names in every grouping (a node's idle row
-- under its node); a pod without controller, or without the label, is
-- `__unallocated__`. Filters: an empty array means no filter; labels match the pod's
-- label, else its namespace's; services match any of the row's Services (a pod's, or
-- a load balancer's `__unmounted__` row); the token's scope (scope_namespaces, and
-- scope_label_keys/values of which one must match: api/query/tokenscope.py) narrows
-- like the filters. The group of a row is written once, by the
-- `grouping` form (etl/storage/sqlfiles.py), shared with k8s_costs_shared.sql.
SELECT
    group_key,
    group_pod_uid,
    {{summed: components, cost, list_cost}},
    -- efficiency (api/routes/k8s_costs.py): used over what the measured rows requested
    sum(cpu_used_core_hours) AS cpu_used,
    sumIf(cpu_request_core_hours, cpu_used_core_hours IS NOT NULL) AS cpu_requested_measured,
    sum(ram_used_byte_hours) AS ram_used,
    sumIf(ram_request_byte_hours, ram_used_byte_hours IS NOT NULL) AS ram_requested_measured
FROM
(
    SELECT
        *,
        {group_by:String} AS grouped_by,
        {{grouping: group_key, group_pod_uid}}
    FROM k8s_allocation_reconciled(
        cloud_account_ids = {cloud_account_ids:Array(String)},
        start_date = {start_date:UInt32},
        end_date = {end_date:UInt32},
        namespaces = {namespaces:Array(String)},
        nodes = {nodes:Array(String)},
        services = {services:Array(String)},
        bill_resource_ids = {bill_resource_ids:Array(String)},
        bill_instance_keys = {bill_instance_keys:Array(String)},
        cost_column = {cost_column:String}
    )
)
WHERE (empty({controllers:Array(String)}) OR has({controllers:Array(String)}, controller_key))
  AND arrayAll(
        (k, v) -> if(mapContains(labels, k), labels[k], namespace_labels[k]) = v,
        {label_keys:Array(String)},
        {label_values:Array(String)}
      )
  AND (empty({scope_namespaces:Array(String)}) OR has({scope_namespaces:Array(String)}, namespace))
  AND (empty({scope_label_keys:Array(String)}) OR arrayExists(
        (k, v) -> if(mapContains(labels, k), labels[k], namespace_labels[k]) = v,
        {scope_label_keys:Array(String)}, {scope_label_values:Array(String)}))
GROUP BY group_key, group_pod_uid
ORDER BY cost DESC, group_key, group_pod_uid
