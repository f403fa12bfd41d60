"""Read the `.sql` files under `sql/`: the one source of truth for DDL and queries.

The cost components and the collapsing idiom of the CollapsingMergeTree tables stand
in many files; written out in each, a new component had to be added to every copy by
hand. So the files are templates, expanded when read: `{{form: names}}`, ending its
line but for a comma, stands for the lines FORMS makes of the names, each indented
to where the placeholder starts (so `SELECT {{form: names}}` lines them up under its
first). `names` is a comma-separated list of columns in which `components`
stands for the cost components (etl/core/components.py, the one list).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

from etl.core.components import COMPONENTS

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
# Between the parts of a group key of several groupings (a character no Kubernetes name
# or label value holds), and how a SQL literal writes it.
GROUP_PARTS_SEPARATOR = "\x1f"
GROUP_PARTS_SQL = "\\x1F"
# What clean_expenses_costs.sql says was reconciled per cluster before its components:
# node-days, nodes, volume-days, volumes, list and bill (api/render/clusterparts.py).
RECONCILED_VALUES = 6


def _each(pattern: str) -> Callable[[list[str]], list[str]]:
    """A form of one line per name, the lines comma-separated like a select list."""
    return lambda names: (
        [pattern.format(name) + "," for name in names[:-1]] + [pattern.format(names[-1])]
    )


FORMS: dict[str, Callable[[list[str]], list[str]]] = {
    # The collapsing idiom (sql/schema/001): a column's live value over a key's rows,
    # since a cancel row repeats what it cancels with sign -1 ...
    "collapsed": _each("sum({0} * sign) AS {0}"),
    # ... and the keys kept: those with a live row (a dead key's signs add up to 0).
    "live_keys": lambda keys: [f"GROUP BY {', '.join(keys)}", "HAVING sum(sign) > 0"],
    # What a restatement reads back of a key it may cancel (etl/storage/warehouse.py):
    # the key, its live rows (normally 1) and its collapsed values.
    "day_state": lambda names: [
        "resource_id,",
        "sum(sign) AS live_rows,",
        *FORMS["collapsed"](names),
    ],
    # A name that is part of the row key, so all copies of a key carry the same one.
    "any": _each("any({0}) AS {0}"),
    # Columns by name, in the order given (a UNION's branches match by position).
    "plain": _each("{0}"),
    # The sum of a column that a subquery has already collapsed.
    "summed": _each("sum({0}) AS {0}"),
    # The breakdown columns that clean_expenses_costs.sql joins to its items.
    # ... plus what pricing its nodes and PVs from the bill adds: the item's tuple
    # `row.5` holds what was reconciled (RECONCILED_VALUES values), then the components
    # in this order.
    "breakdown_reconciled": lambda names: [
        f"breakdown.{name} + row.5.{index} AS {name}"
        + ("," if index < len(names) + RECONCILED_VALUES else "")
        for index, name in enumerate(names, start=RECONCILED_VALUES + 1)
    ],
    # The joined per-cluster reconciliation's columns (clean_expenses_costs.sql).
    "adjustments": _each("adjustments.{0}"),
    # A cluster's components plus what pricing its nodes from the bill adds
    # (sql/schema/014_cluster_bill_adjustments.sql, summed as `adjustments`).
    "adjusted": _each("own.{0} + adjustments.{0} AS {0}"),
    # Cost columns of a table.
    "Float64": _each("{0} Float64"),
    # The k8s_costs groups (k8s_costs_groups.sql, k8s_costs_shared.sql): a row's
    # controller (`Kind/name`), then its group as the two names given (the group's key,
    # and a pod's uid when grouping by pod). The file binds the grouping to `grouped_by`
    # just before (a form never hides a query parameter). `grouped_by` is one grouping
    # or several, comma-separated (`label:<key>` the pod's label, else its namespace's):
    # the key is the row's part per grouping joined by GROUP_PARTS_SEPARATOR, so one
    # grouping keeps its plain key. `day` (internal: api/query/series.py) is the row's
    # midnight UTC in Unix seconds: a group's cost per day, for the k8s_costs series;
    # sharing is spread per cluster-day, so adding it changes no group's share.
    "grouping": lambda names: [
        line.format(*names)
        for line in (
            "multiIf(",
            "    controller_kind != '', concat(controller_kind, '/', controller),",
            "    controller != '', controller,",
            "    '__unallocated__'",
            ") AS controller_key,",
            "splitByChar(',', grouped_by) AS grouping_parts,",
            "arrayMap(part -> if(mapContains(labels, substring(part, 7)),",
            "                    labels[substring(part, 7)],",
            "                    namespace_labels[substring(part, 7)]),",
            "         grouping_parts) AS grouping_label_values,",
            "arrayStringConcat(arrayMap((part, label_value) -> multiIf(",
            "    part = 'namespace', namespace,",
            "    part = 'cluster', cloud_account_id,",
            "    part = 'controller', controller_key,",
            "    part = 'node', if(node = '', namespace, node),",
            "    part = 'pod', if(pod_uid = '', pod, concat(namespace, '/', pod)),",
            "    part = 'day', toString(toUInt32(date)),",
            "    namespace IN ('__idle__', '__unmounted__', '__overhead__'), namespace,",
            "    label_value = '', '__unallocated__',",
            "    label_value",
            f"), grouping_parts, grouping_label_values), '{GROUP_PARTS_SQL}') AS " + "{0},",
            "if(has(grouping_parts, 'pod'), pod_uid, '') AS {1}",
        )
    ],
    # Sharing (sql/queries/k8s_costs_shared.sql): a column's zero, for a synthetic row ...
    "zero": _each("toFloat64(0) AS {0}"),
    # ... what a row keeps of a column: an idle row the factor of its resource
    # (`idle_keep` is [other, cpu, ram, gpu]), a shared row `pool_keep`, others all ...
    "kept": _each(
        "{0} * multiIf(idle_pooled, idle_keep[indexOf(['cpu_cost', 'ram_cost', 'gpu_cost'],"
        " '{0}') + 1], shared_row, pool_keep, 1) AS kept_{0}"
    ),
    # ... summed per group under the column's name, and all of them as one sum.
    "summed_kept": _each("sum(kept_{0}) AS {0}"),
    "plus_kept": lambda names: [" + ".join(f"kept_{name}" for name in names)],
}
_PLACEHOLDER = re.compile(
    r"^(?P<lead>[^{\n]*)\{\{(?P<form>\w+): (?P<names>\w+(?:, \w+)*)\}\}(?P<rest>,?)$",
    re.MULTILINE,
)


@cache
def expand(text: str) -> str:
    """`text` with every `{{form: names}}` line written out; an unknown form is an error."""

    def lines(match: re.Match[str]) -> str:
        if match["form"] not in FORMS:
            raise ValueError(f"unknown SQL template form {match['form']!r}: {match[0].strip()}")
        names = [
            column
            for name in match["names"].split(", ")
            for column in (COMPONENTS if name == "components" else (name,))
        ]
        written = FORMS[match["form"]](names)
        indent = "\n" + " " * len(match["lead"])
        return match["lead"] + indent.join(written) + match["rest"]

    expanded = _PLACEHOLDER.sub(lines, text)
    if "{{" in expanded:
        raise ValueError(f"a SQL template placeholder does not end its line: {expanded!r}")
    return expanded


@cache
def query(name: str) -> str:
    """The text of `sql/queries/<name>.sql`, expanded."""
    return expand((SQL_DIR / "queries" / f"{name}.sql").read_text())


def schema_statements() -> list[tuple[str, str]]:
    """(file name, statement) for every `sql/schema/NNN_*.sql`, in file-name order, expanded."""
    return [
        (path.name, expand(path.read_text())) for path in sorted((SQL_DIR / "schema").glob("*.sql"))
    ]
