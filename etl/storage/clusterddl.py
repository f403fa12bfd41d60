"""The ClickHouse cluster variant of `sql/schema`, generated from the same files.

A cluster needs each table twice: a replicated local table on every node
(`<name>_local`, `Replicated*MergeTree`, created `ON CLUSTER`) and a `Distributed`
table under the original name that fans reads out to every shard and routes
writes. Because the Distributed table keeps the name, every query in `sql/queries`
and the restatement in `etl/storage/warehouse.py` run unchanged on a cluster.

The rows of one cloud account go to one shard (`cityHash64(cloud_account_id)`),
so a restatement's cancel and new rows land in one INSERT on one shard and stay
atomic, and CollapsingMergeTree merges can collapse them. Writes must reach the
shard before the next restatement reads the day back, so the pipeline's user
needs `distributed_foreground_insert = 1` (deploy/clickhouse/users.d/k8scost.xml
sets it; with several replicas also `insert_quorum` and
`select_sequential_consistency`, see docs/production.md).

A schema file may also change an existing table (`ALTER TABLE <name> ADD COLUMN
...`, `ADD INDEX ...`, `MODIFY ORDER BY ...`), since `CREATE TABLE IF NOT EXISTS` never
changes a table that exists. On a cluster a column is added to both tables, `ON
CLUSTER` (the Distributed table must know the columns of its local table); an index
and a sorting key only to `<name>_local` (a Distributed table stores nothing to
index or sort).

A view (`CREATE OR REPLACE VIEW <name> AS ...`, such as the reconciliation's
parameterized view) is created `ON CLUSTER` on every node under its name, over the
Distributed tables, so that it reads every shard like the queries do.

Generating instead of keeping a second copy means a new schema file cannot be
forgotten: a statement the rewrite does not understand is an error, not a skip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from etl.storage import sqlfiles
from etl.storage.clickhouse import connect

LOCAL_SUFFIX = "_local"
# Keeper path per shard and table; {shard}, {replica} and {database} are macros every
# node expands itself (deploy/clickhouse/cluster/*.xml defines shard and replica).
REPLICA_PATH = "/clickhouse/tables/{shard}/{database}/"
REPLICA_NAME = "{replica}"
SHARD_COLUMN = "cloud_account_id"

_COMMENT = re.compile(r"--[^\n]*")
_CREATE_TABLE = re.compile(
    r"""^\s*CREATE\s+TABLE\s+(?P<if_not_exists>IF\s+NOT\s+EXISTS\s+)?
        (?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*
        (?P<columns>\(.*\))\s*
        ENGINE\s*=\s*(?P<engine>[A-Za-z]*MergeTree)\s*(?:\((?P<args>[^()]*)\))?
        (?P<rest>.*?)\s*;?\s*$""",
    re.DOTALL | re.IGNORECASE | re.VERBOSE,
)
_ALTER_TABLE = re.compile(
    r"^\s*ALTER\s+TABLE\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s+(?P<actions>.*?)\s*;?\s*$",
    re.DOTALL | re.IGNORECASE,
)
_CREATE_VIEW = re.compile(
    r"^\s*CREATE\s+OR\s+REPLACE\s+VIEW\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s+AS\s+(?P<query>.*?)\s*;?\s*$",
    re.DOTALL | re.IGNORECASE,
)
_COLUMN_ACTION = re.compile(r"ADD\s+COLUMN\b", re.IGNORECASE)
_INDEX_ACTION = re.compile(r"ADD\s+INDEX\b", re.IGNORECASE)
_ORDER_ACTION = re.compile(r"MODIFY\s+ORDER\s+BY\b", re.IGNORECASE)
_CLUSTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class UnsupportedStatementError(ValueError):
    """A schema statement the cluster rewrite has no rule for."""


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def rewrite_statement(statement: str, cluster: str) -> list[str]:
    """One schema statement -> its cluster statements.

    `CREATE TABLE ... ENGINE = *MergeTree` -> [replicated local table, Distributed table];
    `ALTER TABLE ... ADD COLUMN / ADD INDEX / MODIFY ORDER BY` -> [the local table's
    ALTER, and the Distributed table's when columns are added];
    `CREATE OR REPLACE VIEW ... AS` -> [the view, ON CLUSTER].
    """
    if not _CLUSTER_NAME.fullmatch(cluster):
        raise ValueError(f"cluster name {cluster!r} is not a plain identifier")
    text = _COMMENT.sub("", statement)
    create, alter = _CREATE_TABLE.match(text), _ALTER_TABLE.match(text)
    if create is not None:
        return _rewrite_create(create, cluster)
    if alter is not None:
        return _rewrite_alter(alter, cluster)
    view = _CREATE_VIEW.match(text)
    if view is not None:
        return [
            f"CREATE OR REPLACE VIEW {view['name']} ON CLUSTER {_quoted(cluster)} AS\n"
            + view["query"]
        ]
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    raise UnsupportedStatementError(
        "only `CREATE TABLE <name> (...) ENGINE = <X>MergeTree(...)`, `ALTER TABLE <name> "
        "ADD COLUMN ... / ADD INDEX ... / MODIFY ORDER BY ...` and `CREATE OR REPLACE VIEW "
        "<name> AS ...` statements have a cluster rewrite "
        f"(etl/storage/clusterddl.py); got: {first_line[:80]!r}"
    )


def _rewrite_create(match: re.Match[str], cluster: str) -> list[str]:
    if match["engine"].lower().startswith("replicated"):
        raise UnsupportedStatementError(f"{match['name']} is already replicated")
    name, local = match["name"], match["name"] + LOCAL_SUFFIX
    if_not_exists = "IF NOT EXISTS " if match["if_not_exists"] else ""
    on_cluster = f"ON CLUSTER {_quoted(cluster)}"
    engine_args = [_quoted(REPLICA_PATH + local), _quoted(REPLICA_NAME)]
    if match["args"] and match["args"].strip():
        engine_args.append(match["args"].strip())
    rest = match["rest"].strip()
    local_table = (
        f"CREATE TABLE {if_not_exists}{local} {on_cluster}\n{match['columns']}\n"
        f"ENGINE = Replicated{match['engine']}({', '.join(engine_args)})"
        + (f"\n{rest}" if rest else "")
    )
    shard_by = (
        f"cityHash64({SHARD_COLUMN})"
        if re.search(rf"\b{SHARD_COLUMN}\b", match["columns"])
        else "rand()"
    )
    distributed = (
        f"CREATE TABLE {if_not_exists}{name} {on_cluster} AS {local}\n"
        f"ENGINE = Distributed({_quoted(cluster)}, currentDatabase(), {_quoted(local)}, "
        f"{shard_by})"
    )
    return [local_table, distributed]


def _actions(text: str) -> list[str]:
    """An ALTER's actions: `text` split at its commas outside parentheses and quotes."""
    actions, depth, quoted, start = [], 0, False, 0
    for position, char in enumerate(text):
        if char == "'" and text[position - 1 : position] != "\\":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and not depth and char == ",":
            actions.append(text[start:position].strip())
            start = position + 1
    return [*actions, text[start:].strip()]


def _rewrite_alter(match: re.Match[str], cluster: str) -> list[str]:
    name, actions = match["name"], _actions(match["actions"])
    for action in actions:
        if not any(rule.match(action) for rule in (_COLUMN_ACTION, _INDEX_ACTION, _ORDER_ACTION)):
            raise UnsupportedStatementError(
                f"ALTER TABLE {name}: only ADD COLUMN, ADD INDEX and MODIFY ORDER BY have a "
                "cluster rewrite "
                f"(etl/storage/clusterddl.py); got: {action[:80]!r}"
            )
    columns = [action for action in actions if _COLUMN_ACTION.match(action)]
    on_cluster = f"ON CLUSTER {_quoted(cluster)}"
    targets = [(name + LOCAL_SUFFIX, actions)] + ([(name, columns)] if columns else [])
    return [
        f"ALTER TABLE {table} {on_cluster}\n    " + ",\n    ".join(changes)
        for table, changes in targets
    ]


def cluster_statements(cluster: str) -> list[tuple[str, str]]:
    """(schema file name, statement) for the whole cluster schema, in file order."""
    return [
        (name, rewritten)
        for name, statement in sqlfiles.schema_statements()
        for rewritten in rewrite_statement(statement, cluster)
    ]


def schema_statements(cluster: str | None) -> list[tuple[str, str]]:
    """(schema file name, statement): sql/schema as is, or its variant for `cluster`."""
    return cluster_statements(cluster) if cluster else sqlfiles.schema_statements()


def apply_statements(dsn: str, statements: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Run each (file name, statement) against `dsn` in order, yielding it once applied."""
    with connect(dsn) as client:
        for name, statement in statements:
            client.command(statement)
            yield name, statement
