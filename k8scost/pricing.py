"""`k8scost pricing`: an organization's cost metric, its bill reconciliation, price sheets.

- `metric --organization-id ORG [billed|effective|list]`: which FOCUS cost answers are
  in when a request does not say (etl/storage/pricing.py; docs/api.md, "Cost
  metrics"). With a metric, stores it; without, prints the stored one. Either way the
  line printed is the metric now in force.
- `reconciliation --organization-id ORG --start-date D --end-date D [--metric M]`: each
  node-day whose VM is in an imported bill, its exporter (list) cost beside the bill's
  under the metric, and the factor bill / list (docs/api.md, "Reconciliation: nodes
  priced from the bill"): what pricing nodes from the bill will change, before the
  answers apply it.
- `set --cluster ID --file prices.csv`, `sheets`, `show --cluster ID [--date D]`,
  `unset --cluster ID`: a cluster's price sheet (docs/pricing.md), for clusters no bill
  prices. Runs apply it to new days; `k8scost reprice` to past ones.
"""

from __future__ import annotations

import click

from etl.core.config import Settings
from etl.core.days import parse_stored_day
from etl.core.metrics import METRICS
from etl.storage import nodedays, nodes, registry
from etl.storage.clickhouse import connect
from etl.storage.pricing import default_metric, set_default_metric
from k8scost import sheets


@click.group("pricing")
def pricing_command() -> None:
    """Per-organization pricing: the default cost metric, the bill reconciliation."""


@pricing_command.command("metric")
@click.option("--organization-id", required=True)
@click.argument("metric", required=False, type=click.Choice(METRICS))
@click.pass_obj
def pricing_metric(settings: Settings, organization_id: str, metric: str | None) -> None:
    """Set (or, without METRIC, show) the organization's default cost metric."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    if metric is not None:
        set_default_metric(database, organization_id, metric)
    click.echo(default_metric(database, organization_id))


@pricing_command.command("reconciliation")
@click.option("--organization-id", required=True)
@click.option("--start-date", required=True, help="First UTC day, YYYY-MM-DD.")
@click.option("--end-date", required=True, help="Last UTC day, YYYY-MM-DD (included).")
@click.option("--metric", type=click.Choice(METRICS), help="Default: the organization's.")
@click.pass_obj
def pricing_reconciliation(
    settings: Settings, organization_id: str, start_date: str, end_date: str, metric: str | None
) -> None:
    """Each node-day priced by a bill line: list (the exporter's) and bill cost, factor."""
    try:
        first, last = parse_stored_day(start_date), parse_stored_day(end_date)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    metric = metric or default_metric(database, organization_id)
    accounts, resources = registry.organization_documents(
        database, organization_id, nodes.ACCOUNT_FIELDS, nodes.RESOURCE_FIELDS
    )
    clusters = [
        a["_id"]
        for a in registry.list_accounts(database, registry.K8S_ACCOUNT_TYPE, organization_id)
    ]
    with connect(settings.clickhouse_dsn) as client:
        found = nodedays.bill_factors(client, clusters, first, last, accounts, resources, metric)
    click.echo(
        f"{'cluster':<38} {'date':<10} {'node':<40} {'list USD':>12} {metric + ' USD':>14} factor"
    )
    for row in found.to_dict("records"):
        click.echo(
            f"{row['cloud_account_id']:<38} {row['date']} {row['node']:<40} "
            f"{row['list_usd']:>12.6f} {row['bill_usd']:>14.6f} {row['factor']:.6f}"
        )
    # An empty answer may come without its columns (no VM folded, no bill imported).
    listed, billed = (
        (0.0, 0.0)
        if found.empty
        else (float(found["list_usd"].sum()), float(found["bill_usd"].sum()))
    )
    click.echo(
        f"{len(found)} node-days priced by a bill: list {listed:.6f} USD, {metric} {billed:.6f} "
        f"USD, adjustment {billed - listed:+.6f} USD"
    )


pricing_command.add_command(sheets.set_sheet_command)
pricing_command.add_command(sheets.sheets_command)
pricing_command.add_command(sheets.show_sheet_command)
pricing_command.add_command(sheets.unset_sheet_command)
