{% import "include/macros.sql" as m %}
{% import "include/clean_expenses_answer.sql" as answer %}
-- clean_expenses_costs.sql's answer (its columns and rows, the page {offset}, {limit})
-- ranked from the rollup of its resources over the period under {rollup_key}
-- (sql/schema/021: the rows of the period's latest compute, dated at its start
-- {first_day} = {start_date}; etl/storage/expensereads.py refreshes it first). The
-- clusters' breakdown is joined per request, as the raw query joins it.
{% set stored %}
{{ m.latest_day_compute(
    "clean_expense_periods",
    "resource_id",
    [
        "resource_id", "account_id", "cluster_id", "item_cost", "item_sign", "folded_cost",
        "folded_sign", "reconciled",
    ],
) }}
{% endset %}
{{ answer.answer(stored | trim) }}
