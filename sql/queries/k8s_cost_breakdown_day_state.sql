-- What `k8s_cost_breakdown` currently holds for one cloud account and day.
SELECT {{day_state: components}}
FROM k8s_cost_breakdown
WHERE cloud_account_id = {cloud_account_id:String}
  AND date = toDateTime({day_start:UInt32})
{{live_keys: resource_id}}
