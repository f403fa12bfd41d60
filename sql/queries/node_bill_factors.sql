{% import "include/macros.sql" as m %}
-- The node-bill factors of some clusters over some days, for etl/storage/nodedays.py:
-- the view of sql/schema/009_node_bill_factors.sql (the one rule), in a stable order.
SELECT *
FROM {{ m.cluster_bill_view("node_bill_factors") }}
ORDER BY cloud_account_id, date, node
