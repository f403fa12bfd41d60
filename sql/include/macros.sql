{#-
The macros of the SQL templates (Jinja2, rendered by etl/storage/sqlfiles.py): what
many files would otherwise each write out, so that one change reaches every query.
A file imports them with `{% import "include/macros.sql" as m %}`. A macro that
writes several lines leaves all but the first unindented: the caller indents them to
its column with Jinja's `indent` filter (`{{ m.collapsed(components) | indent(8) }}`).
Names are lists of column names; `components` (etl/core/components.py, the one list)
is one, and `components + ["cost"]` adds to it.
-#}

{#- Float64 quantities summed exactly (docs/api.md, "Summation: same rows, same bits"). A
    Float64 sum depends on the order of its additions, and ClickHouse adds in whatever
    order its threads and the table's parts give, so the same rows could sum to a
    different last bit on each run. Each value is instead counted in whole units of
    10^-exact_scale (the value times 10^12, rounded to the nearest integer, ties to even,
    as an Int128); those integers add up exactly, in any order to the same result, and
    the sum is turned back into a Float64 once (as a Decimal128 of scale 12, which
    toFloat64 turns into the units' nearest double divided by 10^12: correctly rounded
    below 2^53 units, about 9,007, rounded twice above). Overflow: an Int128 holds 38
    digits, and neither toInt128 of a double nor sum() checks it. A value below exact_bound (1e15, a thousand times MAX_USD of
    etl/core/money.py) is under 10^27 units, so about 10^11 rows add up before the sum
    could wrap. A value at or beyond the bound, NaN or infinite (rows stored before the
    bound at entry) is summed as a Float64 beside the units and added at the end: such
    a sum comes out as large or as non-finite as it is, for the API to refuse
    (api/render/finite.py), rather than wrapping or failing on the conversion.
    `exact_units` and `beyond_exact` are the two parts of a value, `from_exact_units`
    turns summed units back into a Float64. exact_scale (12) and exact_bound ("1e15")
    come from etl/core/exactsum.py, where Python sums by the same rule. -#}
{#- NULL stays NULL in the units and counts 0 beyond them (sum() skips NULL). -#}
{% macro exact_units(value) -%}
toInt128(round(if(NOT (abs({{ value }}) < {{ exact_bound }}), 0, {{ value }}) * 1e{{ exact_scale }}))
{%- endmacro %}

{% macro beyond_exact(value) -%}
if(NOT (abs({{ value }}) < {{ exact_bound }}), {{ value }}, 0)
{%- endmacro %}

{% macro from_exact_units(units) -%}
toFloat64(toDecimal128({{ units }}, 0) * toDecimal128('1e-{{ exact_scale }}', {{ exact_scale }}))
{%- endmacro %}

{#- The aggregate `function` of `argument` (with `where`'s condition: sumIf), over a
    window when `over` names one. -#}
{% macro aggregate(function, argument, where, over) -%}
{{ function }}{{ "If" if where }}({{ argument }}{{ ", " ~ where if where }}){{ " OVER " ~ over if over }}
{%- endmacro %}

{#- exact_sum's two parts of `value` (by default the column `name`, with `where`'s
    condition when given) kept apart as `<name>_units` (an Int128) and `<name>_beyond`,
    for a rollup to store per day or cluster-day (sql/schema/023, 024): adding up the
    stored units of several rows is the same integer as adding up their own rows'
    units at once, so `from_exact_parts` of stored rows is `exact_sum` of the rows, bit
    for bit, whereas a stored sum turned back into a Float64 and counted in units again
    need not be (correctly rounded below 2^53 units only). The part beyond the bound
    (none below 1e15 USD, whose answer the API refuses) is a Float64 sum of sums. -#}
{% macro exact_parts(name, value=none, where=none) -%}
{{ aggregate("sum", exact_units(value or name), where, none) }} AS {{ name }}_units,
{{ aggregate("sum", beyond_exact(value or name), where, none) }} AS {{ name }}_beyond
{%- endmacro %}

{#- ... and the sum of stored parts, a Float64 as exact_sum gives it. -#}
{% macro from_exact_parts(name) -%}
({{ from_exact_units("sum(" ~ name ~ "_units)") }}
    + sum({{ name }}_beyond))
{%- endmacro %}

{#- sum(value), sumIf(value, where), either over a window `over`: every sum of Float64
    quantities in the SQL goes through here (money, hours and bytes alike). -#}
{% macro exact_sum(value, where=none, over=none) -%}
({{ from_exact_units(aggregate("sum", exact_units(value), where, over)) }}
    + {{ aggregate("sum", beyond_exact(value), where, over) }})
{%- endmacro %}

{#- arraySum(params -> value, arrays) exactly: an array gathered by groupArray holds
    its values in no set order either. -#}
{% macro exact_array_sum(params, value, arrays) -%}
({{ from_exact_units("arraySum(" ~ params ~ " -> " ~ exact_units(value) ~ ", " ~ arrays ~ ")") }}
    + arraySum({{ params }} -> {{ beyond_exact(value) }}, {{ arrays }}))
{%- endmacro %}

{#- The collapsing idiom of every table (sql/schema/001): a column's live value over a
    key's rows, since a cancel row repeats what it cancels with sign -1 ... -#}
{% macro collapsed(names, exact=true) -%}
{% for name in names %}{{ live_value(name, exact_sum(name ~ " * sign") if exact else "sum(" ~ name ~ " * sign)") }} AS {{ name }}{{ ",\n" if not loop.last }}{% endfor %}
{%- endmacro %}

{#- The Nullable columns (sql/schema/005, 006): usage a row may not have measured. -#}
{% set nullable_values = [
    "cpu_used_core_hours", "ram_used_byte_hours",
    "cpu_p95", "cpu_max", "ram_p95", "ram_max", "samples",
] %}

{#- A collapsed column's live value. A Nullable one is NULL when its key's live row has
    none: sum() skips NULLs, so a key whose measured rows were cancelled and whose live
    row is NULL would otherwise sum to 0.0 (used nothing) until a merge removed the
    cancelled rows, and NULL after. It is NULL when its non-NULL rows' signs add up to
    0 and so do their values; the second test keeps a value whose cancel row was
    written as 0.0 (a restatement's read-back before this rule) counted. -#}
{% macro live_value(name, summed) -%}
{%- if name in nullable_values -%}
if(sumIf(sign, {{ name }} IS NOT NULL) > 0 OR {{ summed }} != 0, {{ summed }}, NULL)
{%- else -%}
{{ summed }}
{%- endif -%}
{%- endmacro %}

{#- ... and the keys kept: those with a live row (a dead key's signs add up to 0). -#}
{% macro live_keys(keys) -%}
GROUP BY {{ keys | join(", ") }}
HAVING sum(sign) > 0
{%- endmacro %}

{#- What a restatement reads back of a key it may cancel (etl/storage/warehouse.py):
    the key, its live rows (normally 1) and its collapsed values, summed as stored
    rather than exactly: a cancel row must repeat the live row's own bits, which a
    value taken to 12 decimal places and back would not for every value. -#}
{% macro day_state(names) -%}
resource_id,
sum(sign) AS live_rows,
{{ collapsed(names, exact=false) }}
{%- endmacro %}

{#- Names that are part of the row key, so all copies of a key carry the same ones. -#}
{% macro any_of(names) -%}
{% for name in names %}any({{ name }}) AS {{ name }}{{ ",\n" if not loop.last }}{% endfor %}
{%- endmacro %}

{#- Columns by name, in the order given (a UNION's branches match by position). -#}
{% macro columns(names) -%}
{{ names | join(",\n") }}
{%- endmacro %}

{#- The sum of columns that a subquery has already collapsed. -#}
{% macro summed(names) -%}
{% for name in names %}{{ exact_sum(name) }} AS {{ name }}{{ ",\n" if not loop.last }}{% endfor %}
{%- endmacro %}

{#- Columns' zero, for a synthetic row or a part that has none of them. -#}
{% macro zero(names) -%}
{% for name in names %}toFloat64(0) AS {{ name }}{{ ",\n" if not loop.last }}{% endfor %}
{%- endmacro %}

{#- Cost columns of a table. -#}
{% macro float_columns(names) -%}
{% for name in names %}{{ name }} Float64{{ ",\n" if not loop.last }}{% endfor %}
{%- endmacro %}

{#- An allocation row's names (part of its key: every copy of a row carries the
    same) and its values, as k8s_allocation_reconciled (sql/schema/010) serves them. -#}
{% set allocation_names = [
    "namespace", "controller_kind", "controller", "pod", "pod_uid", "node", "labels",
    "namespace_labels", "services",
] %}
{% set allocation_values = components + [
    "cost", "cpu_request_core_hours", "ram_request_byte_hours", "cpu_used_core_hours",
    "ram_used_byte_hours",
] %}

{#- The sums k8s_costs answers per group (sql/queries/k8s_costs_groups.sql): its
    components, cost and list_cost, then its efficiency's (`efficiency` below), each
    the sum of its column but those `group_sum_of` names, over the rows where
    `group_sum_where` holds; the usage is NULL on a row that measured none. -#}
{% set group_sums = components + [
    "cost", "list_cost", "cpu_used", "cpu_requested_measured", "ram_used",
    "ram_requested_measured",
] %}
{% set group_sum_of = {
    "cpu_used": "cpu_used_core_hours",
    "cpu_requested_measured": "cpu_request_core_hours",
    "ram_used": "ram_used_byte_hours",
    "ram_requested_measured": "ram_request_byte_hours",
} %}
{% set group_sum_where = {
    "cpu_requested_measured": "cpu_used_core_hours IS NOT NULL",
    "ram_requested_measured": "ram_used_byte_hours IS NOT NULL",
} %}
{% set nullable_group_sums = ["cpu_used", "ram_used"] %}

{#- A container-day's values in k8s_container_usage (sql/schema/006). -#}
{% set container_usage_values = [
    "running_hours", "cpu_request", "ram_request", "cpu_p95", "cpu_max", "ram_p95", "ram_max",
    "samples", "cpu_usd", "cpu_core_hours", "ram_usd", "ram_gib_hours",
] %}

{#- What right-sizing sums of a container's days (exactly: exact_sum), the daily
    quantiles it takes the largest of, and the key of its answer's rows. -#}
{% set recommendation_sums = [
    "running_hours", "cpu_usd", "cpu_core_hours", "ram_usd", "ram_gib_hours",
] %}
{% set recommendation_quantiles = ["cpu_p95", "cpu_max", "ram_p95", "ram_max"] %}
{% set recommendation_key = ["cloud_account_id", "namespace", "controller_key", "container"] %}

{#- A right-sizing row's usage: the largest daily quantile of its days (p95 or max, as
    asked), of cpu and of memory. -#}
{% macro recommendation_usage() -%}
max(if({cpu_quantile:String} = 'max', cpu_max, cpu_p95)) AS cpu_usage,
max(if({memory_quantile:String} = 'max', ram_max, ram_p95)) AS ram_usage
{%- endmacro %}

{#- k8s_container_usage's container-days of the query's accounts and period (by default
    its cloud_account_ids, start_date and end_date) that `where` keeps, collapsed (each
    row key's live values, its names and its controller as controller_key() names it,
    else its pod): what right-sizing combines (sql/queries/k8s_recommendations_raw.sql,
    and per day its rollup, recommendation_day_compute.sql). -#}
{% macro live_container_days(where) -%}
SELECT
    cloud_account_id,
    date,
    resource_id,
    {{ any_of(["namespace", "controller_kind", "controller", "pod", "container"]) | indent(4) }},
    {{ controller_key("pod") | indent(4) }} AS controller_key,
    {{ collapsed(container_usage_values) | indent(4) }}
FROM k8s_container_usage
WHERE {{ in_period() | indent(2) }}
  AND {{ where }}
{{ live_keys(["cloud_account_id", "date", "resource_id"]) }}
{%- endmacro %}

{#- Efficiency (api/routes/k8s_costs.py): what was used, and what the rows that
    measured usage requested (a row without usage series is unknown, not idle). -#}
{% macro efficiency(cpu_used, cpu_request, ram_used, ram_request) -%}
{{ exact_sum(cpu_used) }} AS cpu_used,
{{ exact_sum(cpu_request, where=cpu_used ~ " IS NOT NULL") }} AS cpu_requested_measured,
{{ exact_sum(ram_used) }} AS ram_used,
{{ exact_sum(ram_request, where=ram_used ~ " IS NOT NULL") }} AS ram_requested_measured
{%- endmacro %}

{#- A table's rows of some accounts over some days (rows are dated at midnight UTC, so
    a day counts when first <= date <= last), by default the query's own parameters
    cloud_account_ids, start_date and end_date. -#}
{% macro in_period(
    cloud_account_ids="{cloud_account_ids:Array(String)}",
    first_day="{start_date:UInt32}",
    last_day="{end_date:UInt32}"
) -%}
cloud_account_id IN {{ cloud_account_ids }}
AND date >= toDateTime({{ first_day }})
AND date <= toDateTime({{ last_day }})
{%- endmacro %}

{#- The live days of the clusters over the query's period, (resource_id, date):
    what a cluster node's bill row folds into (its cost is inside the cluster's K8s
    cost). A cluster's account holds nothing but the cluster. -#}
{% macro cluster_live_days() -%}
SELECT resource_id, date
FROM expenses
WHERE {{ in_period("{cluster_account_ids:Array(String)}") | indent(2) }}
{{ live_keys(["resource_id", "date"]) }}
{%- endmacro %}

{#- A Kubernetes label of an allocation row: the pod's, else its namespace's. -#}
{% macro label_value(key) -%}
if(mapContains(labels, {{ key }}), labels[{{ key }}], namespace_labels[{{ key }}])
{%- endmacro %}

{#- A row's controller as the API names it, `Kind/name` (or the bare name without a
    kind); a row without one is `otherwise`. -#}
{% macro controller_key(otherwise="'__unallocated__'") -%}
multiIf(
    controller_kind != '', concat(controller_kind, '/', controller),
    controller != '', controller,
    {{ otherwise }}
)
{%- endmacro %}

{#- A parameterized view of the reconciliation to the bill (sql/schema/009 to 014),
    called with the caller's arguments (`name="{parameter:Type}"`, in order), then the
    bill arguments, which every reader passes on from its own query parameters of those
    names: the organization's bill resources, their instance keys and the metric's
    column (docs/api.md, "Reconciliation: nodes priced from the bill"). -#}
{% macro priced_from_bill(view) -%}
{{ view }}(
{% for name, value in kwargs.items() %}
    {{ name }} = {{ value }},
{% endfor %}
    bill_resource_ids = {bill_resource_ids:Array(String)},
    bill_instance_keys = {bill_instance_keys:Array(String)},
    cost_column = {cost_column:String}
)
{%- endmacro %}

{#- A view of the rule per cluster-day (node_bill_factors, pv_bill_factors,
    cluster_bill_adjustments: sql/schema/009, 013, 014) over some clusters and days,
    by default the query's own parameters of the view's names. -#}
{% macro cluster_bill_view(
    view,
    cluster_account_ids="{cluster_account_ids:Array(String)}",
    first_day="{first_day:UInt32}",
    last_day="{last_day:UInt32}"
) -%}
{{ priced_from_bill(
    view, cluster_account_ids=cluster_account_ids, first_day=first_day, last_day=last_day
) }}
{%- endmacro %}

{#- cluster_bill_adjustments' rows as stored by its rollup (sql/schema/016, 017;
    etl/storage/billrollup.py refreshes the days first): `rollup_key` names the
    question's cost column, clusters and bill arguments. -#}
{% macro bill_adjustments_rollup(first_day="{start_date:UInt32}", last_day="{end_date:UInt32}") -%}
cluster_bill_adjustments_rollup(
    rollup_key = {rollup_key:String},
    first_day = {{ first_day }},
    last_day = {{ last_day }}
)
{%- endmacro %}

{#- A per-day rollup's rows under {rollup_key} over [first_day, last_day]. -#}
{% macro rollup_days() -%}
rollup_key = {rollup_key:String}
AND date >= toDateTime({first_day:UInt32})
AND date <= toDateTime({last_day:UInt32})
{%- endmacro %}

{#- Per day of a per-day rollup's `table` (its rollup_days), its latest compute
    (`latest`: the highest version, then compute id, of its marker rows: two computes
    of one version hold the same rows). -#}
{% macro latest_computes(table, marker_column) -%}
SELECT date, max((version, compute_id)) AS latest
FROM {{ table }}
WHERE {{ rollup_days() | indent(2) }}
  AND {{ marker_column }} = ''
GROUP BY date
{%- endmacro %}

{#- A per-day rollup (etl/storage/dayrollup.py) holds, per day, the rows of computes
    and one marker row per compute (its `marker_column` ''); a day reads the rows of its
    latest compute (latest_computes) among those of {rollup_key} over [first_day,
    last_day]. -#}
{% macro latest_day_compute(table, marker_column, columns) -%}
SELECT
    {% for name in columns %}
    computed.{{ name }} AS {{ name }}{{ "," if not loop.last }}
    {% endfor %}
FROM
(
    SELECT *
    FROM {{ table }}
    WHERE {{ rollup_days() | indent(6) }}
      AND {{ marker_column }} != ''
) AS computed
INNER JOIN
(
    {{ latest_computes(table, marker_column) | indent(4) }}
) AS days
ON days.date = computed.date AND days.latest = (computed.version, computed.compute_id)
{%- endmacro %}

{#- The same rows as a condition on the rollup's own rows (a set filter, not a join),
    so that they are read in the table's order: a GROUP BY on a prefix of its sort key
    then aggregates as the rows stream (optimize_aggregation_in_order), without a hash
    table of every group. -#}
{% macro in_latest_day_compute(table, marker_column) -%}
{{ rollup_days() }}
AND {{ marker_column }} != ''
AND (date, (version, compute_id)) IN
(
    {{ latest_computes(table, marker_column) | indent(4) }}
)
{%- endmacro %}

{#- The first columns of a per-day rollup's compute rows: its key {day_rollup_key},
    the row's day, that day's version (of {versions}, by its place in {days}) and the
    compute's id. -#}
{% macro day_compute_head() -%}
{day_rollup_key:String},
date,
transform(toUInt32(date), {days:Array(UInt32)}, {versions:Array(Int64)}, toInt64(0)),
{compute_id:UUID}
{%- endmacro %}

{#- The marker rows of a compute of a per-day rollup's `table`, one per day {days} with
    its version {versions} (its `marker_column` ''): inserted after the compute's rows,
    so that a day reads as computed only once its rows are there. -#}
{% macro day_markers(table, marker_column) -%}
INSERT INTO {{ table }} (rollup_key, date, version, compute_id, {{ marker_column }})
SELECT {rollup_key:String}, toDateTime(day_version.1), day_version.2, {compute_id:UUID}, ''
FROM (SELECT arrayJoin(arrayZip({days:Array(UInt32)}, {versions:Array(Int64)})) AS day_version)
{%- endmacro %}

{#- Every day of [first_day, last_day] (midnights UTC, as every table's `date`, counted
    from integers so that no time zone applies), as `day`: a per-day rollup's candidate
    days when a day without any row must be computed too (to no row, its marker saying
    so). -#}
{% macro period_days() -%}
SELECT toDateTime((intDiv({first_day:UInt32} + 86399, 86400) + number) * 86400) AS day
FROM numbers(
    toUInt64(greatest(intDiv({last_day:UInt32}, 86400) + 1 - intDiv({first_day:UInt32} + 86399, 86400), 0))
)
{%- endmacro %}

{#- The time (ns) of the latest restatement of each day of [first_day, last_day] of
    the tables `tables` (an array), of the accounts `accounts` only when given, per
    account too unless `per_account` is false (warehouse_day_writes, sql/schema/015):
    what makes a rollup's day stale. -#}
{% macro latest_writes(
    tables,
    first_day="{first_day:UInt32}",
    last_day="{last_day:UInt32}",
    accounts=none,
    per_account=true
) -%}
{% set grouped = accounts and per_account %}
SELECT {{ "cloud_account_id, " if grouped }}date, max(toUnixTimestamp64Nano(written_at)) AS version
FROM warehouse_day_writes
WHERE table_name IN {{ tables }}
  AND {{ in_period(accounts, first_day, last_day) | indent(2) if accounts else "date >= toDateTime(" ~ first_day ~ ")\n  AND date <= toDateTime(" ~ last_day ~ ")" }}
GROUP BY {{ "cloud_account_id, " if grouped }}date
{%- endmacro %}

{#- Of the candidate days `days` (a query of midnights named `day`) of [first_day,
    last_day], those a per-day rollup's `table` under {rollup_key} misses or computed
    before the day's latest restatement of a table it reads ({table_names}:
    warehouse_day_writes, sql/schema/015), with that restatement's time (ns; 0 for a
    day never restated): the days etl/storage/dayrollup.py computes. With `accounts`
    (a rollup of those accounts' rows only), only their restatements count. -#}
{% macro stale_days(days, table, marker_column, accounts=none) -%}
SELECT toUInt32(days.day) AS day, writes.version AS version
FROM
(
    {{ days | indent(4) }}
) AS days
LEFT JOIN
(
    {{ latest_writes("{table_names:Array(String)}", accounts=accounts, per_account=false) | indent(4) }}
) AS writes
ON writes.date = days.day
LEFT JOIN
(
    SELECT date, max(version) AS computed_version, true AS computed
    FROM {{ table }}
    WHERE rollup_key = {rollup_key:String}
      AND {{ marker_column }} = ''
      AND date >= toDateTime({first_day:UInt32})
      AND date <= toDateTime({last_day:UInt32})
    GROUP BY date
) AS computes
ON computes.date = days.day
WHERE NOT computes.computed OR computes.computed_version < writes.version
ORDER BY day
{%- endmacro %}

{#- The bill's side of the rule (sql/schema/012) over the query's days. -#}
{% macro bill_instance_days() -%}
{{ priced_from_bill(
    "bill_instance_days", first_day="{first_day:UInt32}", last_day="{last_day:UInt32}"
) }}
{%- endmacro %}

{#- The allocation rows as every reader sums them (sql/schema/010): by default over
    the query's own parameters of the view's names, filtered on namespaces, nodes and
    Services inside; `filtered=false` reads every row (the filters then come after, or
    not at all). -#}
{% macro k8s_allocation_reconciled(
    cloud_account_ids="{cloud_account_ids:Array(String)}",
    start_date="{start_date:UInt32}",
    end_date="{end_date:UInt32}",
    filtered=true
) -%}
{{ priced_from_bill(
    "k8s_allocation_reconciled",
    cloud_account_ids=cloud_account_ids,
    start_date=start_date,
    end_date=end_date,
    namespaces="{namespaces:Array(String)}" if filtered else "[]",
    nodes="{nodes:Array(String)}" if filtered else "[]",
    services="{services:Array(String)}" if filtered else "[]",
) }}
{%- endmacro %}

{#- The filters on an allocation row's controller and labels, and a token's scope
    (api/query/tokenscope.py: scope_namespaces, and scope_label_keys/values of which
    one must match), each empty array meaning no filter. `controller` is the row's
    controller as controller_key() names it. -#}
{% macro allocation_filters(controller="controller_key") -%}
(empty({controllers:Array(String)}) OR has({controllers:Array(String)}, {{ controller }}))
AND arrayAll(
      (k, v) -> {{ label_value("k") }} = v,
      {label_keys:Array(String)},
      {label_values:Array(String)}
    )
AND (empty({scope_namespaces:Array(String)}) OR has({scope_namespaces:Array(String)}, namespace))
AND (empty({scope_label_keys:Array(String)}) OR arrayExists(
      (k, v) -> {{ label_value("k") }} = v,
      {scope_label_keys:Array(String)}, {scope_label_values:Array(String)}))
{%- endmacro %}

{#- The filters on an allocation row's namespace, node and Services, each empty array
    meaning no filter (the view k8s_allocation_reconciled applies them inside). -#}
{% macro allocation_row_filters() -%}
(empty({namespaces:Array(String)}) OR has({namespaces:Array(String)}, namespace))
AND (empty({nodes:Array(String)}) OR has({nodes:Array(String)}, node))
AND (empty({services:Array(String)}) OR hasAny(services, {services:Array(String)}))
{%- endmacro %}

{#- k8s_allocation_reconciled's rows as stored by its rollup (sql/schema/018, 019;
    etl/storage/allocationrollup.py refreshes the cluster-days first): `allocation_key`
    names the question's bill arguments. Arguments as k8s_allocation_reconciled's. -#}
{% macro allocation_rollup(
    cloud_account_ids="{cloud_account_ids:Array(String)}",
    start_date="{start_date:UInt32}",
    end_date="{end_date:UInt32}",
    filtered=true
) -%}
(
    SELECT *
    FROM k8s_allocation_rollup(
        rollup_key = {allocation_key:String},
        cloud_account_ids = {{ cloud_account_ids }},
        start_date = {{ start_date }},
        end_date = {{ end_date }}
    )
{% if filtered %}
    WHERE {{ allocation_row_filters() | indent(6) }}
{% endif %}
)
{%- endmacro %}

{#- The rows of the allocation's rollup (sql/schema/018) under {rollup_key}, of the
    clusters {cloud_account_ids} over [start_date, end_date]: what its view reads. -#}
{% macro allocation_rollup_days() -%}
rollup_key = {rollup_key:String}
AND {{ in_period() }}
{%- endmacro %}

{#- The rows of a per-cluster-day rollup `table` (sql/schema/019, 024) under {rollup_key},
    of the clusters {cloud_account_ids} over [start_date, end_date]: per cluster-day,
    the rows of its latest finished compute (highest version, then compute id), those
    where `row` holds; `marker` picks its marker rows, and `hidden` names the columns
    a reader does not see besides the compute's own. Two set filters rather than a
    join on each cluster-day's latest compute: sql/schema/019 says why. -#}
{% macro cluster_day_latest_rows(table, row, marker, hidden=[]) -%}
SELECT * EXCEPT ({{ (["rollup_key", "version", "compute_id"] + hidden) | join(", ") }})
FROM {{ table }}
WHERE {{ allocation_rollup_days() | indent(2) }}
  AND {{ row }}
  AND compute_id IN
  (
      SELECT compute_id
      FROM {{ table }}
      WHERE {{ allocation_rollup_days() | indent(8) }}
        AND {{ marker }}
  )
  AND (cloud_account_id, date, version, compute_id) NOT IN
  (
      SELECT cloud_account_id, date, version, compute_id
      FROM
      (
          SELECT
              cloud_account_id,
              date,
              version,
              compute_id,
              max((version, compute_id)) OVER (PARTITION BY cloud_account_id, date) AS latest
          FROM {{ table }}
          WHERE {{ allocation_rollup_days() | indent(12) }}
            AND {{ marker }}
      )
      WHERE (version, compute_id) != latest
  )
{%- endmacro %}

{#- The cluster-days a per-cluster-day rollup computes, one row each (account, midnight
    UTC, version) from the arrays {stale_accounts}, {stale_days} and {versions}
    (etl/storage/allocationrollup.py `stale_compute`). -#}
{% macro stale_cluster_days() -%}
SELECT
    cluster_day.1 AS cloud_account_id,
    toDateTime(cluster_day.2) AS date,
    cluster_day.3 AS version
FROM
(
    SELECT arrayJoin(
        arrayZip({stale_accounts:Array(String)}, {stale_days:Array(UInt32)}, {versions:Array(Int64)})
    ) AS cluster_day
)
{%- endmacro %}

{#- The marker rows of a compute {compute_id} of a per-cluster-day rollup `table` under
    {rollup_key}, one per stale cluster-day (`stale_cluster_days`), `marker_column`
    set to `marker_value`: inserted after the compute's rows, so that a cluster-day
    reads as computed only once its rows are there. -#}
{% macro cluster_day_markers(table, marker_column, marker_value) -%}
INSERT INTO {{ table }} (rollup_key, cloud_account_id, date, version, compute_id, {{ marker_column }})
SELECT {rollup_key:String}, cloud_account_id, date, version, {compute_id:UUID}, {{ marker_value }}
FROM
(
    {{ stale_cluster_days() | indent(4) }}
)
{%- endmacro %}
