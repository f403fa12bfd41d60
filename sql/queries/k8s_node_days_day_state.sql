{% import "include/macros.sql" as m %}
-- What `k8s_node_days` currently holds for one cloud account and day, per row key
-- (the node and its provider id; live_rows is normally 1): what a restatement
-- cancels. The instance key follows from the provider id, so any() of it is the key's.
SELECT
    resource_id,
    provider_id,
    sum(sign) AS live_rows,
    {{ m.any_of(["instance_key"]) | indent(4) }},
    {{ m.collapsed(["cpu_list_usd", "ram_list_usd", "gpu_list_usd", "hours", "cpu_model_share", "ram_model_share", "gpu_model_share"], exact=false) | indent(4) }}
FROM k8s_node_days
WHERE cloud_account_id = {cloud_account_id:String}
  AND date = toDateTime({day_start:UInt32})
{{ m.live_keys(["resource_id", "provider_id"]) }}
