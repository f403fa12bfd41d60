-- What pricing from the bill changes per (cluster account, day), for
-- etl/storage/nodedays.py: the view of sql/schema/014_cluster_bill_adjustments.sql
-- (the one rule), in a stable order.
SELECT *
FROM cluster_bill_adjustments(
    cluster_account_ids = {cluster_account_ids:Array(String)},
    first_day = {first_day:UInt32},
    last_day = {last_day:UInt32},
    bill_resource_ids = {bill_resource_ids:Array(String)},
    bill_instance_keys = {bill_instance_keys:Array(String)},
    cost_column = {cost_column:String}
)
ORDER BY cloud_account_id, date
