-- The node-bill factors of some clusters over some days, for etl/storage/nodedays.py:
-- the view of sql/schema/009_node_bill_factors.sql (the one rule), in a stable order.
SELECT *
FROM node_bill_factors(
    cluster_account_ids = {cluster_account_ids:Array(String)},
    first_day = {first_day:UInt32},
    last_day = {last_day:UInt32},
    bill_resource_ids = {bill_resource_ids:Array(String)},
    bill_instance_keys = {bill_instance_keys:Array(String)},
    cost_column = {cost_column:String}
)
ORDER BY cloud_account_id, date, node
