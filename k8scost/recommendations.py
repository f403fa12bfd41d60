"""`k8scost recommendations --organization-id ORG`: the top right-sizing savings, as a table.

The same recommendations as `GET .../k8s_recommendations` (api/query/recommendations.py),
over the last `--days` full UTC days (default 7) or `--start-date`/`--end-date`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from api.query.recommendations import QUANTILES, Options, find_recommendations
from etl.core.config import Settings
from etl.core.days import day_start_epoch, parse_day
from etl.storage import registry
from etl.storage.clickhouse import connect

MIB = 2**20
HEADER = ("savings/mo", "cluster", "namespace", "controller", "container", "cpu", "memory", "days")


def _cores(value: float | None) -> str:
    return "?" if value is None else f"{value * 1000:.0f}m"


def _mib(value: float | None) -> str:
    return "?" if value is None else f"{value / MIB:.0f}Mi"


def _line(row: dict) -> tuple[str, ...]:
    savings = row["monthly_savings"]
    return (
        "-" if savings is None else f"{savings:.2f}",
        row["cloud_account_id"],
        row["namespace"],
        row["controller"],
        row["container"],
        f"{_cores(row['current']['cpu_cores'])}->{_cores(row['recommended']['cpu_cores'])}",
        f"{_mib(row['current']['memory_bytes'])}->{_mib(row['recommended']['memory_bytes'])}",
        str(row["based_on"]["days"]),
    )


@click.command("recommendations")
@click.option("--organization-id", required=True)
@click.option("--start-date", help="First UTC day, YYYY-MM-DD (default: --days before today).")
@click.option("--end-date", help="Last UTC day, YYYY-MM-DD (default: yesterday).")
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True)
@click.option("--namespace", "namespaces", multiple=True, help="Only this namespace (repeatable).")
@click.option("--cpu-quantile", type=click.Choice(QUANTILES), default="p95", show_default=True)
@click.option("--memory-quantile", type=click.Choice(QUANTILES), default="max", show_default=True)
@click.option("--target-utilization", type=click.FloatRange(0, 1, min_open=True), default=0.7)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.pass_obj
def recommendations_command(
    settings: Settings,
    organization_id: str,
    start_date: str | None,
    end_date: str | None,
    days: int,
    namespaces: tuple[str, ...],
    cpu_quantile: str,
    memory_quantile: str,
    target_utilization: float,
    limit: int,
) -> None:
    """Print the organization's largest right-sizing savings per controller and container."""
    last = parse_day(end_date) if end_date else datetime.now(UTC).date() - timedelta(days=1)
    first = parse_day(start_date) if start_date else last - timedelta(days=days - 1)
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    accounts = [
        a["_id"]
        for a in registry.list_accounts(database, registry.K8S_ACCOUNT_TYPE, organization_id)
    ]
    options = Options(cpu_quantile, memory_quantile, target_utilization)
    with connect(settings.clickhouse_dsn) as client:
        found = find_recommendations(
            client, accounts, day_start_epoch(first), day_start_epoch(last), namespaces, options
        )
    rows = [HEADER, *(_line(row) for row in found[:limit])]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    total = sum(row["monthly_savings"] or 0.0 for row in found)
    click.echo(f"{len(found)} containers, {total:.2f} USD/month in all")
