"""The SQL templates: what each form writes, and that every file expands to SQL that parses.

The placeholders keep the cost components and the collapsing idiom in one place
(etl/storage/sqlfiles.py); these checks hold the expansion to what the files meant
when they were written out by hand: the components of Python, each parameter
untouched, and statements ClickHouse's own parser accepts.
"""

from __future__ import annotations

import re

import pytest

from etl.core.components import COMPONENTS
from etl.storage import sqlfiles
from etl.storage.clickhouse import connect

QUERIES = sorted(path.stem for path in (sqlfiles.SQL_DIR / "queries").glob("*.sql"))
PARAMETER = re.compile(r"\{\w+:\S[^{}]*\}")  # `{name:Type}`; a placeholder has a space


def raw_texts() -> list[tuple[str, str]]:
    return [(path.name, path.read_text()) for path in sorted(sqlfiles.SQL_DIR.glob("*/*.sql"))]


def test_the_breakdown_table_has_a_column_per_component_in_order():
    (ddl,) = [text for name, text in sqlfiles.schema_statements() if "k8s_cost_breakdown" in name]
    columns = re.findall(r"^\s+(\w+) Float64,$", ddl, re.MULTILINE)
    assert tuple(columns) == COMPONENTS


def test_the_forms_write_one_line_per_name_in_the_placeholders_indent():
    text = "SELECT\n    key,\n    {{collapsed: cost, components}},\n    other\n"
    sums = [f"    sum({name} * sign) AS {name}" for name in ("cost", *COMPONENTS)]
    assert sqlfiles.expand(text) == "SELECT\n    key,\n" + ",\n".join(sums) + ",\n    other\n"
    assert sqlfiles.expand("SELECT {{summed: a, b}}\nFROM t") == (
        "SELECT sum(a) AS a,\n       sum(b) AS b\nFROM t"
    )
    assert sqlfiles.expand("  {{live_keys: a, b}}") == "  GROUP BY a, b\n  HAVING sum(sign) > 0"


def test_unknown_forms_and_placeholders_inside_a_line_are_refused():
    with pytest.raises(ValueError, match="unknown SQL template form 'sums'"):
        sqlfiles.expand("    {{sums: components}}")
    with pytest.raises(ValueError, match="does not end its line"):
        sqlfiles.expand("SELECT {{summed: a}} AS b")


def test_every_file_expands_with_its_parameters_untouched():
    for name, text in raw_texts():
        expanded = sqlfiles.expand(text)
        assert "{{" not in expanded, name
        assert PARAMETER.findall(expanded) == PARAMETER.findall(text), name


def test_every_table_with_cost_components_has_all_of_them_in_order():
    for name, statement in sqlfiles.schema_statements():
        columns = re.findall(r"^\s+(\w+_cost) Float64,$", statement, re.MULTILINE)
        if columns:
            assert [column for column in columns if column in COMPONENTS] == list(COMPONENTS), name


def test_clickhouse_parses_every_expanded_file(tmp_path):
    texts = [text for _, text in sqlfiles.schema_statements()]
    texts += [sqlfiles.query(name) for name in QUERIES]
    with connect(f"chdb://{tmp_path / 'ch'}") as client:
        for text in texts:
            formatted = client.query(
                "SELECT formatQuery({text:String})", parameters={"text": text}
            ).result_rows[0][0]
            assert formatted, text
