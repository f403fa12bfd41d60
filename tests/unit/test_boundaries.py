"""Where store I/O and command-line definitions may live, read from the source itself.

The import contracts (pyproject.toml, `lint-imports`) keep the store clients inside
etl/storage, but a module above it can still run a query on a client it was handed
(`client.query(...)`, `db["collection"].find(...)`) or read a SQL file: this test
finds those calls, so that etl/storage stays the one place a query or a collection
name is written.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Everything that ships, except the storage layer (tests/ and bench/ seed and time stores).
PACKAGES = ("api", "diproxy", "etl", "k8scost", "devtools", "plugins", "dags")
STORAGE = ROOT / "etl" / "storage"
# The names a ClickHouse client or a MongoDB handle goes by in this tree, and the
# methods of each that read or write (`db` is also the `k8scost db` click group, whose
# `command` is no store call).
CLICKHOUSE_HANDLES = frozenset({"client", "clickhouse"})
MONGODB_HANDLES = frozenset({"db", "database"})
CLICKHOUSE_METHODS = frozenset(
    {"query", "query_df", "query_arrow", "query_np", "raw_query", "command", "insert"}
    | {"insert_df", "insert_arrow"}
)
MONGODB_METHODS = frozenset(
    {"find", "find_one", "insert_one", "insert_many", "update_one", "update_many"}
    | {"replace_one", "delete_one", "delete_many", "find_one_and_update", "count_documents"}
    | {"aggregate", "create_index"}
)


def _shipped_modules() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not path.is_relative_to(STORAGE):
                yield path


def _handle(node: ast.expr) -> str | None:
    """The name a call is made on: `client` of `client.query`, `db` of `db[...].find`."""
    while isinstance(node, ast.Subscript | ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_store_call(func: ast.expr) -> bool:
    if not isinstance(func, ast.Attribute):
        return False
    handle = _handle(func.value)
    return (handle in CLICKHOUSE_HANDLES and func.attr in CLICKHOUSE_METHODS) or (
        handle in MONGODB_HANDLES and func.attr in MONGODB_METHODS
    )


def store_calls(source: str) -> list[str]:
    """The store calls and SQL file reads of one module, as `line: code`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _is_store_call(node.func):
            found.append(f"{node.lineno}: {ast.unparse(node.func)}")
        if isinstance(node, ast.Subscript) and _handle(node) in MONGODB_HANDLES:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "etl.storage"
            and any(alias.name == "sqlfiles" for alias in node.names)
        ):
            found.append(f"{node.lineno}: imports etl.storage.sqlfiles")
    return found


def test_the_scan_sees_a_query_and_a_collection() -> None:
    source = (
        "from etl.storage import sqlfiles\n"
        "rows = client.query('SELECT 1')\n"
        "found = db['k8s_import_ledger'].find_one({})\n"
        "frame.drop(columns=['x'])\n"
        "@db.command('init')\n"
        "def init(): ...\n"
    )
    assert store_calls(source) == [
        "1: imports etl.storage.sqlfiles",
        "2: client.query",
        "3: db['k8s_import_ledger'].find_one",
        "3: db['k8s_import_ledger']",
    ]


def test_no_store_io_outside_the_storage_layer() -> None:
    leaks = {
        str(path.relative_to(ROOT)): calls
        for path in _shipped_modules()
        if (calls := store_calls(path.read_text()))
    }
    assert leaks == {}
