"""Render the `.sql` files under `sql/`: the one source of truth for DDL and queries.

The cost components, the collapsing idiom of the CollapsingMergeTree tables, the
arguments of the reconciliation's views and the k8s_costs grouping stand in many
files; written out in each, a change had to reach every copy by hand. So the files
are Jinja2 templates, rendered when read: their macros live in
`sql/include/macros.sql`, a rule that reads as a piece of SQL in a file of its own
beside it (`sql/include/k8s_costs_grouping.sql`), and a template sees `components`
(etl/core/components.py, the one list) and GROUP_PARTS_SQL below. A standard engine
rather than a home-made one: its syntax is documented, and `StrictUndefined` makes a
misspelt name an error when rendered, never an empty string in a query. ClickHouse's
query parameters (`{name:Type}`) pass through as they are: Jinja's delimiters are
`{{`, `{%` and `{#`.

What each file renders to is checked into `tests/snapshots/sql/` (a query or
statement there can be read, diffed in review and pasted into clickhouse-client);
`tests/unit/test_sql_snapshots.py` compares, and `pytest
tests/unit/test_sql_snapshots.py --update-sql-snapshots` rewrites them after a change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from etl.core.components import COMPONENTS
from etl.core.exactsum import EXACT_BOUND_SQL, EXACT_SCALE

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
# Between the parts of a group key of several groupings (a character no Kubernetes name
# or label value holds), and how a SQL literal writes it (sql/include/k8s_costs_grouping.sql).
GROUP_PARTS_SEPARATOR = "\x1f"
GROUP_PARTS_SQL = f"\\x{ord(GROUP_PARTS_SEPARATOR):02X}"
# A query parameter's placeholder, `{name:Type}`, as ClickHouse reads it.
PLACEHOLDER = re.compile(r"\{(\w+):")

# The environment every file renders in (tests render macros through it too).
ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(SQL_DIR),
    undefined=jinja2.StrictUndefined,
    # a block tag on a line of its own leaves no blank line or indent behind
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
)
ENVIRONMENT.globals.update(
    components=list(COMPONENTS),
    group_parts_sql=GROUP_PARTS_SQL,
    # the exact_sum rule's constants (sql/include/macros.sql), Python's too
    exact_scale=EXACT_SCALE,
    exact_bound=EXACT_BOUND_SQL,
)


@cache
def render(path: str) -> str:
    """The file `sql/<path>` rendered (a path with `/`, as Jinja names templates)."""
    return ENVIRONMENT.get_template(path).render()


@cache
def query(name: str) -> str:
    """The text of `sql/queries/<name>.sql`, rendered, without its lines that are only a
    `--` comment: they document the file, while every request pays for each character
    it sends, in clickhouse-connect's lexer (several passes over the text in Python)
    and in ClickHouse's parser (which reads a query's tokens more than once), the
    longest files' comments a few milliseconds a request between them."""
    return "".join(
        line
        for line in render(f"queries/{name}.sql").splitlines(keepends=True)
        if not line.lstrip().startswith("--")
    )


@cache
def _placeholder_names(text: str) -> frozenset[str]:
    return frozenset(PLACEHOLDER.findall(text))


def named_parameters(text: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Those of `parameters` that the query `text` names. clickhouse-connect formats
    every parameter it is given and hands each to the engine, used or not, so a reader
    sharing one dict of parameters between queries (thousands of ids some of them read
    and this one does not) passes only these."""
    names = _placeholder_names(text)
    return {name: value for name, value in parameters.items() if name in names}


def query_names() -> list[str]:
    """The name of every query under `sql/queries`, sorted."""
    return sorted(path.stem for path in (SQL_DIR / "queries").glob("*.sql"))


def schema_statements() -> list[tuple[str, str]]:
    """(file name, statement) for every `sql/schema/NNN_*.sql`, in file-name order, rendered."""
    return [
        (path.name, render(f"schema/{path.name}"))
        for path in sorted((SQL_DIR / "schema").glob("*.sql"))
    ]
