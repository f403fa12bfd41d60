"""The cluster variant of sql/schema: generated for every schema file, parsed by ClickHouse.

No ClickHouse cluster (nor Keeper) runs here, so the checks are what one engine can do:
every generated statement goes through ClickHouse's own parser (`formatQuery` on chdb),
and each replicated local table, created and altered by the generated statements with
their cluster-only parts taken off by this test, is created on chdb next to the
original table and must have the same columns, keys, partitioning and skip indexes.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from etl.storage import clusterddl, sqlfiles, warehouse
from etl.storage.clickhouse import connect
from k8scost.cli import cli

CLUSTER = "k8scost"
SCHEMA = sqlfiles.schema_statements()
CREATES = [(name, text) for name, text in SCHEMA if "CREATE TABLE" in text]
TABLES = [re.search(r"CREATE TABLE IF NOT EXISTS (\w+)", text)[1] for _, text in CREATES]
ENGINES = [re.search(r"ENGINE = (\w+)\((.*?)\)", text).groups() for _, text in CREATES]
TARGET = re.compile(r"^(?:CREATE|ALTER) (?:TABLE|OR REPLACE VIEW) (?:IF NOT EXISTS )?(\w+)")
VIEWS = [(name, text) for name, text in SCHEMA if "CREATE OR REPLACE VIEW" in text]


@pytest.fixture
def client(tmp_path):
    with connect(f"chdb://{tmp_path / 'ch'}") as client:
        yield client


def is_local(statement: str) -> bool:
    """Whether a generated statement creates or alters a `<name>_local` table."""
    return TARGET.match(statement)[1].endswith(clusterddl.LOCAL_SUFFIX)


def test_every_schema_file_has_cluster_statements_in_file_order():
    generated = [name for name, _ in clusterddl.cluster_statements(CLUSTER)]
    assert sorted(set(generated)) == [name for name, _ in SCHEMA]
    assert generated == sorted(generated)


def test_every_create_table_becomes_a_local_and_a_distributed_table():
    generated = [
        (name, text)
        for name, text in clusterddl.cluster_statements(CLUSTER)
        if text.startswith("CREATE TABLE")
    ]
    assert [name for name, _ in generated] == [name for name, _ in CREATES for _twice in (1, 2)]
    pairs = zip(generated[::2], generated[1::2], strict=True)
    for table, (engine, arguments), (_, create), (local, distributed) in zip(
        TABLES, ENGINES, CREATES, pairs, strict=True
    ):
        # One account's rows on one shard; a table without accounts (a rollup of
        # resources: sql/schema/020, 021) spread evenly.
        shard_by = (
            "cityHash64(cloud_account_id)"
            if re.search(r"^\s+cloud_account_id String,$", create, re.MULTILINE)
            else "rand()"
        )
        local_sql, distributed_sql = local[1], distributed[1]
        assert local_sql.startswith(
            f"CREATE TABLE IF NOT EXISTS {table}_local ON CLUSTER '{CLUSTER}'"
        )
        assert (
            f"ENGINE = Replicated{engine}('/clickhouse/tables/{{shard}}/{{database}}/"
            f"{table}_local', '{{replica}}'{', ' if arguments else ''}{arguments})" in local_sql
        )
        assert distributed_sql == (
            f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER '{CLUSTER}' AS {table}_local\n"
            f"ENGINE = Distributed('{CLUSTER}', currentDatabase(), '{table}_local', "
            f"{shard_by})"
        )


def test_clickhouse_parses_every_generated_statement(client):
    for name, statement in clusterddl.cluster_statements(CLUSTER):
        formatted = client.query(
            "SELECT formatQuery({statement:String})", parameters={"statement": statement}
        ).result_rows[0][0]
        assert f"ON CLUSTER {CLUSTER}" in formatted, name


def _without_cluster_parts(local_statement: str) -> str:
    """The test's own inverse: drop ON CLUSTER and the Replicated prefix with its two paths."""
    plain = local_statement.replace(f" ON CLUSTER '{CLUSTER}'", "")
    return re.sub(r"Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?", r"\1(", plain)


def _structure(client, table: str) -> tuple[list, list, list]:
    columns = client.query(
        "SELECT name, type, position FROM system.columns "
        "WHERE database = currentDatabase() AND table = {table:String} ORDER BY position",
        parameters={"table": table},
    ).result_rows
    keys = client.query(
        "SELECT engine, partition_key, sorting_key, primary_key FROM system.tables "
        "WHERE database = currentDatabase() AND name = {table:String}",
        parameters={"table": table},
    ).result_rows
    indexes = client.query(
        "SELECT name, type_full, expr, granularity FROM system.data_skipping_indices "
        "WHERE database = currentDatabase() AND table = {table:String} ORDER BY name",
        parameters={"table": table},
    ).result_rows
    return columns, keys, indexes


def test_local_tables_keep_the_columns_keys_partitions_and_indexes_of_the_source(client):
    warehouse.init_schema(client)
    for _name, statement in clusterddl.cluster_statements(CLUSTER):
        if is_local(statement):
            client.command(_without_cluster_parts(statement))
    for table in TABLES:
        assert _structure(client, f"{table}_local") == _structure(client, table)
    assert _structure(client, "k8s_allocation_local")[2], "the allocation has skip indexes"


def test_distributed_tables_take_the_structure_of_their_local_table(client):
    """No cluster here, so a Merge table stands in for Distributed: both copy `AS` the same
    way (columns kept, skip indexes dropped), which checks the AS clause of every table."""
    for _name, statement in clusterddl.cluster_statements(CLUSTER):
        table = TARGET.match(statement)[1]
        proxy = re.sub(
            r"ENGINE = Distributed\(.*\)$",
            f"ENGINE = Merge(currentDatabase(), '^{table}_local$')",
            statement.replace(f" ON CLUSTER '{CLUSTER}'", ""),
        )
        client.command(_without_cluster_parts(statement) if is_local(statement) else proxy)
    for table in TABLES:
        assert _structure(client, table)[0] == _structure(client, f"{table}_local")[0]


def test_an_alter_adds_columns_to_both_tables_and_indexes_to_the_local_one():
    statement = """-- a comment, with a comma
ALTER TABLE t
    ADD COLUMN IF NOT EXISTS m Map(String, String) DEFAULT map('a,b', ')') AFTER a,
    ADD INDEX IF NOT EXISTS m_index mapKeys(m) TYPE bloom_filter GRANULARITY 4,
    add column n Int8;"""
    column = "ADD COLUMN IF NOT EXISTS m Map(String, String) DEFAULT map('a,b', ')') AFTER a"
    index = "ADD INDEX IF NOT EXISTS m_index mapKeys(m) TYPE bloom_filter GRANULARITY 4"
    assert clusterddl.rewrite_statement(statement, CLUSTER) == [
        f"ALTER TABLE t_local ON CLUSTER '{CLUSTER}'\n    {column},\n    {index},\n    "
        "add column n Int8",
        f"ALTER TABLE t ON CLUSTER '{CLUSTER}'\n    {column},\n    add column n Int8",
    ]
    assert clusterddl.rewrite_statement(f"ALTER TABLE t {index}", CLUSTER) == [
        f"ALTER TABLE t_local ON CLUSTER '{CLUSTER}'\n    {index}"
    ]


def test_a_new_sorting_key_goes_to_the_local_table_only():
    """A Distributed table has no sorting key of its own: only its columns follow."""
    statement = "ALTER TABLE t ADD COLUMN IF NOT EXISTS k String, MODIFY ORDER BY (a, k)"
    assert clusterddl.rewrite_statement(statement, CLUSTER) == [
        f"ALTER TABLE t_local ON CLUSTER '{CLUSTER}'\n    ADD COLUMN IF NOT EXISTS k String,\n"
        "    MODIFY ORDER BY (a, k)",
        f"ALTER TABLE t ON CLUSTER '{CLUSTER}'\n    ADD COLUMN IF NOT EXISTS k String",
    ]


def test_a_view_is_created_on_the_cluster_over_the_distributed_tables(client):
    assert VIEWS, "the reconciliation's view (sql/schema/009)"
    for name, text in VIEWS:
        (statement,) = clusterddl.rewrite_statement(text, CLUSTER)
        view = re.search(r"CREATE OR REPLACE VIEW (\w+)", text)[1]
        assert statement.startswith(f"CREATE OR REPLACE VIEW {view} ON CLUSTER '{CLUSTER}' AS\n")
        # The same query under the same name: without ON CLUSTER, the plain statement.
        query = statement.split(" AS\n", 1)[1]
        assert re.sub(r"\s+", " ", query).strip() in re.sub(r"\s+", " ", text), name


def test_statements_without_a_rule_are_refused_not_skipped():
    for statement in (
        "ALTER TABLE expenses DROP COLUMN x",
        "ALTER TABLE expenses ADD COLUMN x Int8, MODIFY TTL date + INTERVAL 1 YEAR",
        "ALTER TABLE expenses ON CLUSTER c ADD COLUMN x Int8",
    ):
        with pytest.raises(clusterddl.UnsupportedStatementError, match="ALTER TABLE expenses"):
            clusterddl.rewrite_statement(statement, CLUSTER)
    with pytest.raises(clusterddl.UnsupportedStatementError, match="DROP TABLE"):
        clusterddl.rewrite_statement("DROP TABLE expenses", CLUSTER)
    with pytest.raises(clusterddl.UnsupportedStatementError, match="already replicated"):
        clusterddl.rewrite_statement(
            "CREATE TABLE t (a Int8) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a", CLUSTER
        )
    with pytest.raises(ValueError, match="plain identifier"):
        clusterddl.rewrite_statement(SCHEMA[0][1], "bad'name")


def test_engines_without_arguments_and_tables_without_the_account_column():
    local, distributed = clusterddl.rewrite_statement(
        "CREATE TABLE t (a Int8) ENGINE = MergeTree ORDER BY a", CLUSTER
    )
    assert local.endswith(
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/t_local', "
        "'{replica}')\nORDER BY a"
    )
    assert distributed.endswith("'t_local', rand())")


def test_the_cli_prints_the_cluster_ddl_and_the_plain_ddl():
    runner = CliRunner()
    clustered = runner.invoke(cli, ["db", "ddl", "--cluster", CLUSTER])
    assert clustered.exit_code == 0, clustered.output
    assert clustered.output.count("ON CLUSTER 'k8scost'") == len(
        clusterddl.cluster_statements(CLUSTER)
    )
    plain = runner.invoke(cli, ["db", "ddl"])
    assert plain.exit_code == 0, plain.output
    assert plain.output == "".join(
        f"-- from sql/schema/{name}\n{text.strip()};\n\n" for name, text in SCHEMA
    )
    refused = runner.invoke(cli, ["db", "ddl", "--cluster", "bad'name"])
    assert refused.exit_code == 1
    assert refused.output.startswith("error: cluster name")
