-- What pricing the nodes from the bill adds to each cluster-day (docs/api.md,
-- "Reconciliation: nodes priced from the bill"), per component: the readers of a
-- cluster's own rows (`expenses`, `k8s_cost_breakdown`: clean_expenses, the
-- breakdowns, the expense budgets) add it to the exporter's figures those rows hold,
-- as a parameterized view so that they all apply the one rule of node_bill_factors
-- (sql/schema/009), its arguments written out in the reader.
--
-- Why a sum per component is exact: a node-day's allocation rows (pods and
-- `__idle__`) add up to the node's list price, component by component, so scaling
-- every row by bill / list (sql/schema/010, what k8s_costs sums) adds
-- `*_bill_usd - *_list_usd` to the node's cpu, ram and gpu; a list-0 node adds its
-- whole `*_bill_usd` (its idle row carries them). The cluster-day's cost then holds
-- each matched node at the bill's figure and the rest (other nodes, PVs, load
-- balancers, network, the management fee) as loaded.
--
-- The components no bill line prices yet are 0, so that a reader adds the view's
-- `components` to the cluster's, whatever the component.
-- Also what the cluster item says was reconciled: the matched node-days, the names of
-- the nodes (a reader counts the distinct ones over its period), their list and bill.
-- Rows only for the cluster-days with a matched node; none when the bill arguments
-- are empty (the `list` metric, an invoice's view): nothing is reconciled then.
-- CREATE OR REPLACE keeps the file idempotent like every schema file.
CREATE OR REPLACE VIEW cluster_bill_adjustments AS
SELECT
    cloud_account_id,
    date,
    sum(cpu_bill_usd - cpu_list_usd) AS cpu_cost,
    sum(ram_bill_usd - ram_list_usd) AS ram_cost,
    sum(gpu_bill_usd - gpu_list_usd) AS gpu_cost,
    {{zero: pv_cost, load_balancer_cost, network_cost, management_cost}},
    cpu_cost + ram_cost + gpu_cost AS cost,
    sum(list_usd) AS list_usd,
    sum(bill_usd) AS bill_usd,
    count() AS node_days,
    groupUniqArray(node) AS nodes
FROM node_bill_factors(
    cluster_account_ids = {cluster_account_ids:Array(String)},
    first_day = {first_day:UInt32},
    last_day = {last_day:UInt32},
    bill_resource_ids = {bill_resource_ids:Array(String)},
    bill_instance_keys = {bill_instance_keys:Array(String)},
    cost_column = {cost_column:String}
)
GROUP BY cloud_account_id, date
