{% from "include/clean_expenses_answer.sql" import reconciled %}
-- The rollup of clean_expenses: its resources costed over one period (what
-- sql/include/clean_expenses_resources.sql computes from the raw rows: per resource the
-- item's cost and sign sum, what was folded into its cluster, and a cluster's
-- reconciliation), stored per set of arguments, so that the dashboard's table (one
-- page of the same period on every visit) ranks stored rows instead of grouping a
-- period of raw rows, folding the nodes and joining the bill adjustments per request.
-- An item's cost is a sum over the whole period and its rank depends on every day, so
-- the unit stored is the period itself, not its days: `date` is the period's start
-- (the key also names its end), `version` the latest warehouse_day_writes time
-- (sql/schema/015) of the period's days when computed: a restatement of any of its
-- days makes it stale (etl/storage/expensereads.py, through etl/storage/dayrollup.py).
-- `compute_id` and the marker row per compute (`resource_id` '', which no resource
-- is) as in sql/schema/016. Only resources with a live item or folded row are stored.
CREATE TABLE IF NOT EXISTS clean_expense_periods
(
    rollup_key String,
    date DateTime,
    version Int64,
    compute_id UUID,
    resource_id String,
    account_id String,
    cluster_id String,
    item_cost Float64,
    item_sign Int64,
    folded_cost Float64,
    folded_sign Int64,
    reconciled Tuple(
        {% for name in reconciled %}
        {{ name }} {{ "Float64" if name.endswith("_usd") else "UInt64" }},
        {% endfor %}
        {% for name in components %}
        {{ name }} Float64{{ "," if not loop.last }}
        {% endfor %}
    )
)
ENGINE = MergeTree()
PARTITION BY toYear(date)
ORDER BY (rollup_key, date, version, compute_id, resource_id)
