{% import "include/macros.sql" as m %}
-- The reconciliation to the bill (docs/api.md, "Reconciliation: nodes priced from the
-- bill"), the one rule, as a parameterized view so that every reader joins the same
-- rows by name, its arguments written out in the reader
-- (`node_bill_factors(cluster_account_ids = ..., first_day = ..., ...)`, by the
-- macro `cluster_bill_view` of sql/include/macros.sql): per
-- node-day of the clusters {cluster_account_ids} over [first_day, last_day] whose VM
-- is in the bill, what the bill charged for that VM that day under a metric, and the
-- factor bill/list by which the node's cpu, ram and gpu costs scale.
--
-- Matching: a node-day's instance key (sql/schema/008, from its provider id) equals a
-- bill resource's on the same day: the bill's side is bill_instance_days
-- (sql/schema/012, shared with the PV-days' rule), every live expense row of the VM
-- that day under the metric's column. A commitment's purchase and its unused part are
-- rows of other resources: never a node's (a reserved node costs 0 billed, its
-- amortized share effective).
-- A node-day without a live bill row is not returned: it stays at its list price (a
-- node without a provider id has the instance key '', which no bill resource has).
--
-- Splitting: with a list price (list_usd > 0) the bill splits as the list does, so
-- every component scales by one factor, bill_usd / list_usd, and OpenCost's split
-- of the node between cpu, ram and gpu stays. A node whose list price is 0 has
-- nothing to scale: its bill splits by the node's model shares (what the account's
-- cost model charges for its capacity, sql/schema/008), its factors are 0, and the
-- `*_bill_usd`s say what the node's rows must carry instead.
--
-- Collapsing as everywhere: the node-days per (account, date, node, provider id) are
-- sums of x * sign over their live keys.
-- CREATE OR REPLACE keeps the file idempotent like every schema file, and a changed
-- rule reaches existing deployments at their next `k8scost db init`.
CREATE OR REPLACE VIEW node_bill_factors AS
SELECT
    nodes.cloud_account_id AS cloud_account_id,
    nodes.date AS date,
    nodes.node AS node,
    nodes.provider_id AS provider_id,
    nodes.cpu_list_usd + nodes.ram_list_usd + nodes.gpu_list_usd AS list_usd,
    bill.bill_usd AS bill_usd,
    nodes.cpu_list_usd AS cpu_list_usd,
    nodes.ram_list_usd AS ram_list_usd,
    nodes.gpu_list_usd AS gpu_list_usd,
    bill_usd * if(list_usd > 0, cpu_list_usd / list_usd, nodes.cpu_model_share) AS cpu_bill_usd,
    bill_usd * if(list_usd > 0, ram_list_usd / list_usd, nodes.ram_model_share) AS ram_bill_usd,
    bill_usd * if(list_usd > 0, gpu_list_usd / list_usd, nodes.gpu_model_share) AS gpu_bill_usd,
    if(list_usd > 0, bill_usd / list_usd, 0) AS factor
FROM
(
    SELECT
        cloud_account_id,
        date,
        resource_id AS node,
        provider_id,
        any(instance_key) AS instance_key,
        {{ m.collapsed(["cpu_list_usd", "ram_list_usd", "gpu_list_usd", "cpu_model_share", "ram_model_share", "gpu_model_share"]) | indent(8) }}
    FROM k8s_node_days
    WHERE {{ m.in_period(
        "{cluster_account_ids:Array(String)}", "{first_day:UInt32}", "{last_day:UInt32}"
    ) | indent(6) }}
    {{ m.live_keys(["cloud_account_id", "date", "resource_id", "provider_id"]) | indent(4) }}
) AS nodes
INNER JOIN {{ m.bill_instance_days() }} AS bill
ON bill.date = nodes.date AND bill.instance_key = nodes.instance_key
