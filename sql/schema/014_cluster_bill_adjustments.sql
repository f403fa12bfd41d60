{% import "include/macros.sql" as m %}
-- What pricing a cluster from the bill changes, per (cluster account, day): the one
-- figure that the expense side (a cluster's item in clean_expenses, its k8s breakdown,
-- breakdown_expenses, the organization's budgets) adds to the cluster's exporter
-- cost, so that it equals the sum of the allocation rows priced from the bill
-- (sql/schema/010_k8s_allocation_reconciled.sql) that k8s_costs and the other
-- allocation readers sum: both sides read one rule (docs/api.md, "Reconciliation:
-- nodes priced from the bill"). Arguments as node_bill_factors' (sql/schema/009).
--
-- Per component, the reconciled rows minus their list: `cpu_adjustment`,
-- `ram_adjustment`, `gpu_adjustment` = Σ over the matched node-days of
-- (`*_bill_usd` - `*_list_usd`) (a node's rows add up to its list, and scale by one
-- factor, or a list-0 node's bill sits on its idle row); `pv_adjustment` = Σ over the
-- matched PV-days' holders of (`holder_bill_usd` - `holder_list_usd`)
-- (sql/schema/013). `adjustment` is their sum. Load balancers have none: no bill key
-- matches them (docs/api.md says why). Beside them, what was reconciled:
-- `matched_nodes` and `matched_volumes` (distinct node and PV names of the day; the
-- names too, `node_names` and `volume_names`, which a reader counts distinct over its
-- period),
-- `list_usd` (their exporter cost) and `bill_usd` (their bill under the metric), so
-- `bill_usd - list_usd = adjustment`. A cluster-day with nothing matched is absent.
CREATE OR REPLACE VIEW cluster_bill_adjustments AS
SELECT
    cloud_account_id,
    date,
    {% for name in ["cpu", "ram", "gpu", "pv"] %}
    {{ m.exact_sum(name ~ "_delta") }} AS {{ name }}_adjustment,
    {% endfor %}
    cpu_adjustment + ram_adjustment + gpu_adjustment + pv_adjustment AS adjustment,
    uniqExactIf(name, is_node) AS matched_nodes,
    groupUniqArrayIf(name, is_node) AS node_names,
    uniqExactIf(name, NOT is_node) AS matched_volumes,
    groupUniqArrayIf(name, NOT is_node) AS volume_names,
    {{ m.exact_sum("matched_list_usd") }} AS list_usd,
    {{ m.exact_sum("matched_bill_usd") }} AS bill_usd
FROM
(
    SELECT
        cloud_account_id,
        date,
        node AS name,
        true AS is_node,
        cpu_bill_usd - cpu_list_usd AS cpu_delta,
        ram_bill_usd - ram_list_usd AS ram_delta,
        gpu_bill_usd - gpu_list_usd AS gpu_delta,
        toFloat64(0) AS pv_delta,
        list_usd AS matched_list_usd,
        bill_usd AS matched_bill_usd
    FROM {{ m.cluster_bill_view("node_bill_factors") | indent(4) }}
    UNION ALL
    SELECT
        cloud_account_id,
        date,
        persistentvolume AS name,
        false AS is_node,
        toFloat64(0) AS cpu_delta,
        toFloat64(0) AS ram_delta,
        toFloat64(0) AS gpu_delta,
        holder_bill_usd - holder_list_usd AS pv_delta,
        holder_list_usd AS matched_list_usd,
        holder_bill_usd AS matched_bill_usd
    FROM {{ m.cluster_bill_view("pv_bill_factors") | indent(4) }}
)
GROUP BY cloud_account_id, date
