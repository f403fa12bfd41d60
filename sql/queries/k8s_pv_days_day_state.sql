{% import "include/macros.sql" as m %}
-- What `k8s_pv_days` currently holds for one cloud account and day, per row key (the
-- PV, its provider id and the allocation row holding part of it; live_rows is
-- normally 1): what a restatement cancels. The instance key follows from the provider
-- id and the holder's kind from the holder, so any() of them is the key's.
SELECT
    resource_id,
    provider_id,
    holder,
    sum(sign) AS live_rows,
    {{ m.any_of(["instance_key", "holder_kind"]) | indent(4) }},
    {{ m.collapsed(["list_usd"], exact=false) | indent(4) }}
FROM k8s_pv_days
WHERE cloud_account_id = {cloud_account_id:String}
  AND date = toDateTime({day_start:UInt32})
{{ m.live_keys(["resource_id", "provider_id", "holder"]) }}
