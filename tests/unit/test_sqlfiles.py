"""The SQL templates: what the macros write, and that every file renders to SQL that parses.

The macros (sql/include/macros.sql) keep the cost components, the collapsing idiom and
the reconciliation's view arguments in one place; these checks hold the rendering to
what the files mean: the components of Python in their order, every query parameter a
file names still in what it renders to, and statements ClickHouse's own parser accepts.
What each file renders to, to the letter, is pinned by test_sql_snapshots.py.
"""

from __future__ import annotations

import re
import textwrap

import jinja2
import pytest

from etl.core.components import COMPONENTS
from etl.storage import sqlfiles
from etl.storage.clickhouse import connect

PARAMETER = re.compile(r"\{\w+:[^{}]+\}")  # ClickHouse's `{name:Type}`
BILL_ARGUMENTS = (
    "bill_resource_ids = {bill_resource_ids:Array(String)}",
    "bill_instance_keys = {bill_instance_keys:Array(String)}",
    "cost_column = {cost_column:String}",
)


def sources() -> list[tuple[str, str]]:
    """(template path, its text as written) for every query and schema file."""
    return [
        (path.relative_to(sqlfiles.SQL_DIR).as_posix(), path.read_text())
        for path in sorted(sqlfiles.SQL_DIR.glob("[qs]*/*.sql"))
    ]


def macros(text: str) -> str:
    """`text` rendered as a template that imports the macros as `m`."""
    return sqlfiles.ENVIRONMENT.from_string(
        '{% import "include/macros.sql" as m %}' + text
    ).render()


def test_the_breakdown_table_has_a_column_per_component_in_order():
    (ddl,) = [text for name, text in sqlfiles.schema_statements() if "k8s_cost_breakdown" in name]
    columns = re.findall(r"^\s+(\w+) Float64,$", ddl, re.MULTILINE)
    assert tuple(columns) == COMPONENTS


def test_every_table_with_cost_components_has_all_of_them_in_order():
    for name, statement in sqlfiles.schema_statements():
        columns = re.findall(r"^\s+(\w+_cost) Float64,?$", statement, re.MULTILINE)
        if columns:
            assert [column for column in columns if column in COMPONENTS] == list(COMPONENTS), name


def test_the_macros_write_each_name_on_lines_of_its_own_indented_by_the_caller():
    def exact(value: str) -> str:
        """exact_sum's text (what it sums: tests/unit/test_exact_sums.py)."""
        return macros(f'{{{{ m.exact_sum("{value}") }}}}')

    text = (
        "SELECT\n    key,\n    {{ m.collapsed(['cost'] + components) | indent(4) }},\n    other\n"
    )
    sums = [
        textwrap.indent(f"{exact(f'{name} * sign')} AS {name}", "    ")
        for name in ("cost", *COMPONENTS)
    ]
    assert macros(text) == "SELECT\n    key,\n" + ",\n".join(sums) + ",\n    other\n"
    summed = [textwrap.indent(f"{exact(name)} AS {name}", " " * 7) for name in "ab"]
    assert macros('SELECT {{ m.summed(["a", "b"]) | indent(7) }}\nFROM t') == (
        "SELECT " + ",\n".join(summed)[7:] + "\nFROM t"
    )
    plain = "SELECT\n    {{ m.collapsed(['a', 'b'], exact=false) | indent(4) }}\n"
    assert macros(plain) == "SELECT\n    sum(a * sign) AS a,\n    sum(b * sign) AS b\n"
    assert macros('  {{ m.live_keys(["a", "b"]) | indent(2) }}') == (
        "  GROUP BY a, b\n  HAVING sum(sign) > 0"
    )


def test_a_view_of_the_reconciliation_gets_its_arguments_then_the_bill_arguments():
    call = macros('{{ m.cluster_bill_view("node_bill_factors", "[]", "{a:UInt32}", "1") }}')
    arguments = [line.strip().rstrip(",") for line in call.splitlines()[1:-1]]
    assert call.startswith("node_bill_factors(\n") and call.endswith("\n)")
    assert arguments == [
        "cluster_account_ids = []",
        "first_day = {a:UInt32}",
        "last_day = 1",
        *BILL_ARGUMENTS,
    ]


def test_a_misspelt_name_is_an_error_not_an_empty_string():
    with pytest.raises(jinja2.UndefinedError, match="componets"):
        macros("SELECT {{ m.summed(componets) }}")
    with pytest.raises(jinja2.UndefinedError, match="sumed"):
        macros("SELECT {{ m.sumed(components) }}")


def test_every_file_keeps_the_query_parameters_it_names():
    for path, text in sources():
        rendered = sqlfiles.render(path)
        assert "{{" not in rendered and "{%" not in rendered, path
        assert set(PARAMETER.findall(text)) <= set(PARAMETER.findall(rendered)), path


def test_clickhouse_parses_every_rendered_file(tmp_path):
    texts = [text for _, text in sqlfiles.schema_statements()]
    texts += [sqlfiles.query(name) for name in sqlfiles.query_names()]
    with connect(f"chdb://{tmp_path / 'ch'}") as client:
        for text in texts:
            formatted = client.query(
                "SELECT formatQuery({text:String})", parameters={"text": text}
            ).result_rows[0][0]
            assert formatted, text


def test_a_query_is_handed_exactly_the_parameters_it_names():
    """A reader may pass a dict shared with other queries: the unused ids are dropped,
    every name a placeholder holds is kept (for every query file)."""
    for name in sqlfiles.query_names():
        text = sqlfiles.query(name)
        named = {match.group()[1:].split(":")[0] for match in PARAMETER.finditer(text)}
        given = {parameter: object() for parameter in named | {"not_in_any_query"}}
        kept = sqlfiles.named_parameters(text, given)
        assert set(kept) == named, name
        assert all(kept[parameter] is given[parameter] for parameter in kept)
