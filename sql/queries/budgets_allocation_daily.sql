-- The daily spend of each of some clusters' allocation rows between two days, inclusive,
-- restricted to one namespace and/or one label (the pod's label, else its
-- namespace's, as k8s_costs_groups.sql matches them): what a namespace or label
-- budget is checked against (etl/alerts/budgets.py). An empty namespace or label key
-- means no filter on it. Each row key is collapsed first (HAVING SUM(sign) > 0).
SELECT cloud_account_id, toDate(date) AS day, sum(cost) AS cost
FROM
(
    SELECT
        cloud_account_id,
        date,
        resource_id,
        {{any: namespace, labels, namespace_labels}},
        {{collapsed: cost}}
    FROM k8s_allocation
    WHERE cloud_account_id IN {cloud_account_ids:Array(String)}
      AND date >= toDateTime({first_day:UInt32})
      AND date <= toDateTime({last_day:UInt32})
    {{live_keys: cloud_account_id, date, resource_id}}
)
WHERE ({namespace:String} = '' OR namespace = {namespace:String})
  AND ({label_key:String} = ''
       OR if(mapContains(labels, {label_key:String}), labels[{label_key:String}],
             namespace_labels[{label_key:String}]) = {label_value:String})
GROUP BY cloud_account_id, day
ORDER BY cloud_account_id, day
