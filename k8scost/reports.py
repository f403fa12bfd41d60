"""`k8scost reports add|list|rm`: an organization's scheduled showback reports.

A definition (api/showback.py says what each field means) is stored in MongoDB
(etl/storage/reports.py); the DAG `k8s_showback_reports` writes each report once its
period has closed and its days are complete, and again, as a new version, when a day of
the period is restated (docs/reports.md). A definition that cannot be read is
`error: ...`, exit 1, and nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

import click

from api.reportdefs import FORMATS, PERIODS, ReportError, definition
from etl.core.config import Settings
from etl.core.metrics import METRICS
from etl.core.sharing import given_options
from etl.storage import registry
from etl.storage import reports as store
from k8scost.sharing import sharing_options


@click.group("reports")
def reports_command() -> None:
    """Scheduled showback reports (CSV or Parquet to s3:// or file://)."""


@reports_command.command("add")
@click.option("--organization-id", required=True)
@click.option("--name", required=True, help="The report's name (its files' folder and name).")
@click.option(
    "--scope", "scopes", multiple=True, help="cluster:<id> | namespace:<n> | label:<k>=<v>."
)
@click.option(
    "--group-by",
    default="namespace",
    show_default=True,
    help="One or two, e.g. namespace,label:team.",
)
@click.option("--period", type=click.Choice(PERIODS), required=True)
@click.option(
    "--format", "file_format", type=click.Choice(FORMATS), default="csv", show_default=True
)
@click.option("--destination", required=True, help="s3://bucket/prefix/ or file:///path/")
@click.option(
    "--cost-metric", type=click.Choice(METRICS), help="Default: the organization's, when written."
)
@sharing_options
@click.pass_obj
def reports_add(
    settings: Settings,
    organization_id: str,
    name: str,
    scopes: tuple[str, ...],
    group_by: str,
    period: str,
    file_format: str,
    destination: str,
    cost_metric: str | None,
    **sharing: Any,
) -> None:
    """Store a report definition; prints its id."""
    try:
        fields = definition(
            name,
            list(scopes),
            group_by,
            period,
            given_options(sharing),
            file_format,
            destination,
            cost_metric,
        )
    except ReportError as error:
        raise click.ClickException(str(error)) from None
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    click.echo(store.add_report(database, organization_id, fields)["_id"])


@reports_command.command("list")
@click.option("--organization-id", required=True)
@click.pass_obj
def reports_list(settings: Settings, organization_id: str) -> None:
    """One JSON line per report definition of the organization."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    for report in store.list_reports(database, organization_id):
        click.echo(json.dumps({"id": report.pop("_id"), **report}, sort_keys=True))


@reports_command.command("rm")
@click.option("--organization-id", required=True)
@click.option("--id", "report_id", required=True)
@click.pass_obj
def reports_rm(settings: Settings, organization_id: str, report_id: str) -> None:
    """Remove a report definition (the files written stay)."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    if not store.remove_report(database, organization_id, report_id):
        raise click.ClickException(f"organization {organization_id} has no report {report_id}")
    click.echo(f"removed {report_id}")
