"""`k8scost db init|ddl`: the ClickHouse schema (sql/schema), as is or for a cluster
(etl/storage/clusterddl.py writes the cluster variant and applies statements)."""

from __future__ import annotations

import click

from etl.core.config import Settings
from etl.storage import warehouse
from etl.storage.clickhouse import connect
from etl.storage.clusterddl import apply_statements, schema_statements


@click.group("db")
def db() -> None:
    """ClickHouse schema."""


@db.command("init")
@click.pass_obj
def db_init(settings: Settings) -> None:
    """Apply sql/schema/*.sql (idempotent)."""
    with connect(settings.clickhouse_dsn) as client:
        for name in warehouse.init_schema(client):
            click.echo(f"applied {name}")


@db.command("ddl")
@click.option(
    "--cluster",
    help="Rewrite for this ClickHouse cluster (ON CLUSTER, Replicated*, Distributed).",
)
@click.option(
    "--apply",
    is_flag=True,
    help="Run the statements against CLICKHOUSE_DSN instead of only printing them.",
)
@click.pass_obj
def ddl(settings: Settings, cluster: str | None, apply: bool) -> None:
    """Print (or --apply) the schema: sql/schema as is, or its cluster variant."""
    statements = schema_statements(cluster)
    if not apply:
        for name, statement in statements:
            click.echo(f"-- from sql/schema/{name}\n{statement.strip()};\n")
        return
    for name, statement in apply_statements(settings.clickhouse_dsn, statements):
        click.echo(f"applied {name}: {statement.split(chr(10), 1)[0]}")
