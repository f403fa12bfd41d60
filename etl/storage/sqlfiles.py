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
    # The sum of a column that a subquery has already collapsed.
    "summed": _each("sum({0}) AS {0}"),
    # The breakdown columns that clean_expenses_costs.sql joins to its items.
    "breakdown": _each("breakdown.{0} AS {0}"),
    # Cost columns of a table.
    "Float64": _each("{0} Float64"),
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
