-- The allocation of some clusters over a period, grouped for the k8s_costs API.
-- The inner query collapses each row key the way every reader must (cancel rows
-- included, HAVING SUM(sign) > 0, no FINAL); a row key names one row's content, so
-- any() of a name is that row's name, and filtering the table's names inside (named
-- `k8s_allocation.x`, not the any() of the same name) is exact. Rows are
-- dated at midnight UTC: a day counts when start_date <= date <= end_date.
-- group_by: namespace | controller | pod | node | label (then label_key). `__idle__`
-- and `__unmounted__` rows keep those names in every grouping (a node's idle row
-- under its node); a pod without controller, or without the label, is
-- `__unallocated__`. Filters: an empty array means no filter; labels match the pod's
-- label, else its namespace's; services match any of the row's Services (a pod's, or
-- a load balancer's `__unmounted__` row).
WITH
    multiIf(
        controller_kind != '', concat(controller_kind, '/', controller),
        controller != '', controller,
        '__unallocated__'
    ) AS controller_key,
    if(mapContains(labels, {label_key:String}), labels[{label_key:String}],
       namespace_labels[{label_key:String}]) AS label_value
SELECT
    multiIf(
        {group_by:String} = 'namespace', namespace,
        {group_by:String} = 'controller', controller_key,
        {group_by:String} = 'node', if(node = '', namespace, node),
        {group_by:String} = 'pod', if(pod_uid = '', pod, concat(namespace, '/', pod)),
        namespace IN ('__idle__', '__unmounted__'), namespace,
        label_value = '', '__unallocated__',
        label_value
    ) AS group_key,
    if({group_by:String} = 'pod', pod_uid, '') AS group_pod_uid,
    sum(cpu_cost) AS cpu_cost,
    sum(ram_cost) AS ram_cost,
    sum(gpu_cost) AS gpu_cost,
    sum(pv_cost) AS pv_cost,
    sum(load_balancer_cost) AS load_balancer_cost,
    sum(network_cost) AS network_cost,
    sum(management_cost) AS management_cost,
    sum(cost) AS cost
FROM
(
    SELECT
        cloud_account_id,
        date,
        resource_id,
        any(namespace) AS namespace,
        any(controller_kind) AS controller_kind,
        any(controller) AS controller,
        any(pod) AS pod,
        any(pod_uid) AS pod_uid,
        any(node) AS node,
        any(labels) AS labels,
        any(namespace_labels) AS namespace_labels,
        sum(cpu_cost * sign) AS cpu_cost,
        sum(ram_cost * sign) AS ram_cost,
        sum(gpu_cost * sign) AS gpu_cost,
        sum(pv_cost * sign) AS pv_cost,
        sum(load_balancer_cost * sign) AS load_balancer_cost,
        sum(network_cost * sign) AS network_cost,
        sum(management_cost * sign) AS management_cost,
        sum(cost * sign) AS cost
    FROM k8s_allocation
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND date >= toDateTime({start_date:UInt32})
      AND date <= toDateTime({end_date:UInt32})
      AND (empty({namespaces:Array(String)}) OR has({namespaces:Array(String)}, k8s_allocation.namespace))
      AND (empty({nodes:Array(String)}) OR has({nodes:Array(String)}, k8s_allocation.node))
      AND (empty({services:Array(String)}) OR hasAny(k8s_allocation.services, {services:Array(String)}))
    GROUP BY cloud_account_id, date, resource_id
    HAVING sum(sign) > 0
)
WHERE (empty({controllers:Array(String)}) OR has({controllers:Array(String)}, controller_key))
  AND arrayAll(
        (k, v) -> if(mapContains(labels, k), labels[k], namespace_labels[k]) = v,
        {label_keys:Array(String)},
        {label_values:Array(String)}
      )
GROUP BY group_key, group_pod_uid
ORDER BY cost DESC, group_key, group_pod_uid
