{% import "include/macros.sql" as m %}
-- What `k8s_allocation` currently holds for one cloud account and day, per row key
-- (live_rows is normally 1); the restatement cancels exactly this. A row key names
-- one row's content, so any() of a name is that row's name. The names come between
-- the key's live_rows and its sums, so the head of the `day_state` macro is written out.
SELECT
    resource_id,
    sum(sign) AS live_rows,
    {{ m.any_of(["namespace", "controller_kind", "controller", "pod", "pod_uid", "node", "labels", "namespace_labels", "services", "price_flag"]) | indent(4) }},
    {{ m.collapsed(["running_hours", "cpu_core_hours", "ram_gib_hours", "gpu_hours", "cpu_request_core_hours", "ram_request_byte_hours", "cpu_used_core_hours", "ram_used_byte_hours"] + components + ["cost"], exact=false) | indent(4) }}
FROM k8s_allocation
WHERE cloud_account_id = {cloud_account_id:String}
  AND date = toDateTime({day_start:UInt32})
{{ m.live_keys(["resource_id"]) }}
