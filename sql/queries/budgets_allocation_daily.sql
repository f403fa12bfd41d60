{% import "include/macros.sql" as m %}
-- The daily spend of each of some clusters' allocation rows between two days, inclusive,
-- restricted to one namespace and/or one label (the pod's label, else its
-- namespace's, as k8s_costs_groups.sql matches them): what a namespace or label
-- budget is checked against (etl/alerts/budgets.py). An empty namespace or label key
-- means no filter on it. The rows are the view k8s_allocation_reconciled's
-- (sql/schema/010, read from its rollup: sql/schema/018, 019, refreshed by
-- etl/storage/costreads.py): collapsed first, with their nodes and PVs priced from the bill
-- under the budget's metric (the bill arguments empty: none).
SELECT cloud_account_id, toDate(date) AS day, {{ m.exact_sum("cost") }} AS cost
FROM {{ m.allocation_rollup(
    cloud_account_ids="{cloud_account_ids:Array(String)}",
    start_date="{first_day:UInt32}",
    end_date="{last_day:UInt32}",
    filtered=false,
) }}
WHERE ({namespace:String} = '' OR namespace = {namespace:String})
  AND ({label_key:String} = ''
       OR {{ m.label_value("{label_key:String}") }} = {label_value:String})
GROUP BY cloud_account_id, day
ORDER BY cloud_account_id, day
