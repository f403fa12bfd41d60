{% import "include/macros.sql" as m %}
-- The K8s clusters' daily cost by component, for breakdown_expenses (docs/api.md):
-- per account and day, part `breakdown` is the cluster's cost by component and part
-- `idle` the components of its `__idle__` allocation rows (node capacity no pod
-- used, sql/schema/003_k8s_allocation.sql). The caller shows idle as a component of
-- its own and takes it out of each component, so the components still add up to
-- the cluster's cost; a day without allocation rows has no idle part.
--
-- Where `breakdown` comes from: without {from_allocation}, the cluster's row of
-- k8s_cost_breakdown (its components add up to its row in expenses); with it, the
-- allocation rows of some namespaces, nodes, controllers (`Kind/name`, as
-- sql/include/k8s_costs_grouping.sql names them), labels and/or Services, within a token's scope
-- (scope_*: api/query/tokenscope.py; an empty array: no
-- filter on that name), what clean_expenses_k8s_allocation.sql sums over the period,
-- here per day; an idle row the filters keep then counts in both parts.
-- Nodes priced from the bill (docs/api.md, "Reconciliation: nodes priced from the
-- bill"; bill arguments as in clean_expenses_costs.sql, none under list): a
-- cluster-day of k8s_cost_breakdown adds what its matched nodes add per component
-- (sql/schema/014_cluster_bill_adjustments.sql), joined to each of its rows and
-- summed times sign, so a live key adds it once; the allocation rows are
-- k8s_allocation_reconciled's (sql/schema/010: each row on a matched node scaled, the
-- same rule) as its rollup stores them (sql/schema/018, 019; {allocation_key}:
-- etl/storage/allocationrollup.py refreshes the cluster-days first), rather than the
-- view collapsed and joined to the bill per request; already collapsed, so they count
-- as one live row each. Without {from_allocation} the caller passes {namespaces} =
-- ['__idle__'], the only rows read.
-- `cost` is what clean_expenses sums for the same rows (docs/api.md, "Summation: same
-- rows, same bits"): with {from_allocation} the allocation rows' own `cost` (what
-- clean_expenses' clusters sum then, sql/queries/k8s_costs_groups.sql); without it,
-- part `cost`, the cluster's rows of `expenses` in the metric's column {cost_column}
-- plus the day's bill adjustment, times sign, as breakdown_expenses_costs.sql sums them
-- (its components add up to that row only as floats do, so they are not summed for it).
-- The caller adds the period's total up from `cost`, and the components per key.
-- The rows of the tables are collapsed together per (part, row key) (HAVING
-- SUM(sign) > 0, no FINAL). Ordered, though the caller's sums no longer depend on
-- the order: it adds the days up exactly (docs/api.md, "Summation: same rows, same
-- bits").
-- {cloud_account_ids}: the kubernetes_cnr accounts whose cluster the request sees
-- (one cluster per account).
SELECT
    part,
    cloud_account_id,
    toUInt32(date) AS day,
    {{ m.summed(components + ["cost"]) | indent(4) }}
FROM
(
    SELECT
        part,
        cloud_account_id,
        date,
        {{ m.collapsed(components + ["cost"]) | indent(8) }}
    FROM
    (
        SELECT
            'breakdown' AS part,
            own.cloud_account_id AS cloud_account_id,
            own.date AS date,
            resource_id,
            {% for name in components %}
            own.{{ name }} + adjustments.{{ name }} AS {{ name }},
            {% endfor %}
            toFloat64(0) AS cost,
            sign
        FROM k8s_cost_breakdown AS own
        LEFT JOIN
        (
            SELECT
                cloud_account_id,
                date,
                cpu_adjustment AS cpu_cost,
                ram_adjustment AS ram_cost,
                gpu_adjustment AS gpu_cost,
                pv_adjustment AS pv_cost,
                {{ m.zero(["load_balancer_cost", "network_cost", "management_cost"]) | indent(16) }}
            FROM {{ m.bill_adjustments_rollup() | indent(12) }}
            WHERE NOT {from_allocation:Bool}
        ) AS adjustments
        ON adjustments.cloud_account_id = own.cloud_account_id AND adjustments.date = own.date
        WHERE NOT {from_allocation:Bool}
          AND own.cloud_account_id IN {cloud_account_ids:Array(String)}
          AND own.date >= toDateTime({start_date:UInt32})
          AND own.date <= toDateTime({end_date:UInt32})
        UNION ALL
        SELECT
            'cost' AS part,
            expenses.cloud_account_id AS cloud_account_id,
            expenses.date AS date,
            resource_id,
            {{ m.zero(components) | indent(12) }},
            expenses.{cost_column:Identifier} + adjustments.adjustment AS cost,
            sign
        FROM expenses
        LEFT JOIN
        (
            SELECT cloud_account_id, date, adjustment
            FROM {{ m.bill_adjustments_rollup() | indent(12) }}
            WHERE NOT {from_allocation:Bool}
        ) AS adjustments
        ON adjustments.cloud_account_id = expenses.cloud_account_id
            AND adjustments.date = expenses.date
        WHERE NOT {from_allocation:Bool}
          AND expenses.cloud_account_id IN {cloud_account_ids:Array(String)}
          AND expenses.date >= toDateTime({start_date:UInt32})
          AND expenses.date <= toDateTime({end_date:UInt32})
        UNION ALL
        SELECT
            part,
            cloud_account_id,
            date,
            resource_id,
            {{ m.columns(components + ["cost"]) | indent(12) }},
            toInt8(1) AS sign
        FROM {{ m.allocation_rollup() | indent(8) }}
        ARRAY JOIN arrayFilter(
            p -> {from_allocation:Bool} OR p = 'idle',
            if(namespace = '__idle__', ['breakdown', 'idle'], ['breakdown'])
        ) AS part
        WHERE ({from_allocation:Bool} OR namespace = '__idle__')
          AND {{ m.allocation_filters(m.controller_key()) | indent(10) }}
    )
    {{ m.live_keys(["part", "cloud_account_id", "date", "resource_id"]) | indent(4) }}
)
GROUP BY part, cloud_account_id, day
ORDER BY part, cloud_account_id, day
