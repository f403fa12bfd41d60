{% import "include/macros.sql" as m %}
-- What pricing from the bill changes per (cluster account, day), for
-- etl/storage/nodedays.py: the view of sql/schema/014_cluster_bill_adjustments.sql
-- (the one rule), in a stable order.
SELECT *
FROM {{ m.cluster_bill_view("cluster_bill_adjustments") }}
ORDER BY cloud_account_id, date
