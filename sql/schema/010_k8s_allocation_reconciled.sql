{% import "include/macros.sql" as m %}
-- The allocation rows of some clusters over some days, collapsed, with their nodes
-- priced from the bill (docs/api.md, "Reconciliation: nodes priced from the bill"):
-- what every reader of the allocation sums, as a parameterized view so that they all
-- apply one rule, their arguments written out (by the macro `k8s_allocation_reconciled`
-- of sql/include/macros.sql).
--
-- A row on a node-day that node_bill_factors (sql/schema/009) returns scales its cpu,
-- ram and gpu cost by the node's factor (bill / list), pods and `__idle__` alike, so
-- the split of the node between its rows stays OpenCost's and the rows of the node
-- add up to the bill. A node whose list price is 0 has nothing to scale: its
-- `__idle__` row carries the bill's cpu, ram and gpu (split by the cost model's
-- shares), since no price says which pod used what it cost. A row holding part of a
-- PV-day whose disk the bill prices (pv_bill_factors, sql/schema/013: a pod mounting
-- it, or its `__unmounted__` row) has that part of its pv cost priced from the bill
-- the same way. Other components (load balancers: no bill key matches them), and
-- rows on nodes and PVs no bill matched, stay as loaded; `cost` is the row's new sum
-- and `list_cost` its exporter's figure, kept beside it. The bill arguments empty
-- (the `list` metric, or no bill resource) reconcile nothing. Summed per cluster-day,
-- the rows move by cluster_bill_adjustments' figures (sql/schema/014), what the
-- expense side adds.
--
-- Collapsing as every reader does (cancel rows included, HAVING sum(sign) > 0, no
-- FINAL); a row key names one row's content, so any() of a name is that row's, and
-- the filters on the table's names (`k8s_allocation.x`; empty: none) are exact
-- inside. CREATE OR REPLACE keeps the file idempotent like every schema file.
CREATE OR REPLACE VIEW k8s_allocation_reconciled AS
SELECT
    * EXCEPT (
        cpu_cost, ram_cost, gpu_cost, pv_cost, cost, matched, factor, list_usd, bill_usd,
        cpu_bill_usd, ram_bill_usd, gpu_bill_usd, pv_list_usd, pv_bill_usd,
        reconciled_cpu, reconciled_ram, reconciled_gpu, reconciled_pv, reconciled_cost
    ),
    reconciled_cpu AS cpu_cost,
    reconciled_ram AS ram_cost,
    reconciled_gpu AS gpu_cost,
    reconciled_pv AS pv_cost,
    reconciled_cost AS cost
FROM
(
    SELECT
        *,
        if(matched, if(list_usd > 0, cpu_cost * factor, if(namespace = '__idle__', cpu_bill_usd, 0)), cpu_cost) AS reconciled_cpu,
        if(matched, if(list_usd > 0, ram_cost * factor, if(namespace = '__idle__', ram_bill_usd, 0)), ram_cost) AS reconciled_ram,
        if(matched, if(list_usd > 0, gpu_cost * factor, if(namespace = '__idle__', gpu_bill_usd, 0)), gpu_cost) AS reconciled_gpu,
        pv_cost - pv_list_usd + pv_bill_usd AS reconciled_pv,
        cost - cpu_cost - ram_cost - gpu_cost - pv_cost
            + reconciled_cpu + reconciled_ram + reconciled_gpu + reconciled_pv AS reconciled_cost,
        cost AS list_cost
    FROM
    (
        SELECT
            cloud_account_id,
            date,
            resource_id,
            {{ m.any_of(m.allocation_names) | indent(12) }},
            {{ m.collapsed(m.allocation_values) | indent(12) }}
        FROM k8s_allocation
        WHERE {{ m.in_period() | indent(10) }}
          AND (empty({namespaces:Array(String)}) OR has({namespaces:Array(String)}, k8s_allocation.namespace))
          AND (empty({nodes:Array(String)}) OR has({nodes:Array(String)}, k8s_allocation.node))
          AND (empty({services:Array(String)}) OR hasAny(k8s_allocation.services, {services:Array(String)}))
        {{ m.live_keys(["cloud_account_id", "date", "resource_id"]) | indent(8) }}
    ) AS allocation
    LEFT JOIN
    (
        SELECT
            cloud_account_id,
            date,
            node,
            true AS matched,
            factor,
            list_usd,
            bill_usd,
            cpu_bill_usd,
            ram_bill_usd,
            gpu_bill_usd
        FROM {{ m.cluster_bill_view(
            "node_bill_factors",
            "{cloud_account_ids:Array(String)}", "{start_date:UInt32}", "{end_date:UInt32}"
        ) | indent(8) }}
    ) AS factors
    USING (cloud_account_id, date, node)
    LEFT JOIN
    (
        SELECT
            cloud_account_id,
            date,
            holder AS resource_id,
            {{ m.exact_sum("holder_list_usd") }} AS pv_list_usd,
            {{ m.exact_sum("holder_bill_usd") }} AS pv_bill_usd
        FROM {{ m.cluster_bill_view(
            "pv_bill_factors",
            "{cloud_account_ids:Array(String)}", "{start_date:UInt32}", "{end_date:UInt32}"
        ) | indent(8) }}
        GROUP BY cloud_account_id, date, holder
    ) AS volumes
    USING (cloud_account_id, date, resource_id)
)
