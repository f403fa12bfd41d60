"""`k8scost pricing metric --organization-id ORG [billed|effective|list]`: the default metric.

Which FOCUS cost an organization's answers are in when a request does not say
(etl/storage/pricing.py; docs/api.md, "Cost metrics"). With a metric, stores it;
without, prints the stored one. Either way the line printed is the metric now in force.
"""

from __future__ import annotations

import click

from etl.core.config import Settings
from etl.core.metrics import METRICS
from etl.storage import registry
from etl.storage.pricing import default_metric, set_default_metric


@click.group("pricing")
def pricing_command() -> None:
    """Per-organization pricing: the cost metric answers default to."""


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
