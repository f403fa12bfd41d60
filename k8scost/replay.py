"""`k8scost replay --date D [--tenant ID]...`: re-cost a day from the raw archive, not Thanos.

For a formula fix, a rebuilt ClickHouse, or a day Thanos no longer holds: each
tenant-day's current archived extract goes through the same load and quality
check as an Airflow run (under the tenant-day lease, recorded in the ledger).
"""

from __future__ import annotations

import sys

import click

from etl.core.config import Settings
from etl.core.days import parse_day
from etl.storage import registry
from etl.worker import orchestration
from etl.worker.archive import ArchiveError
from etl.worker.lease import LeaseLostError, TenantDayBusyError
from etl.worker.quality import QualityCheckError


@click.command("replay")
@click.option("--date", "day_text", required=True, help="UTC day to re-cost, YYYY-MM-DD.")
@click.option("--tenant", "tenants", multiple=True, help="Only this tenant (repeatable).")
@click.pass_obj
def replay_command(settings: Settings, day_text: str, tenants: tuple[str, ...]) -> None:
    """Re-cost one UTC day for every cluster (or the named tenants) from the raw archive."""
    day = parse_day(day_text)
    targets = orchestration.tenants_for_run(settings, list(tenants) or None)
    if not targets:
        raise registry.UnknownAccountError("no kubernetes_cnr account is registered")
    failed = False
    for tenant in targets:
        try:
            extract_url, totals = orchestration.replay(settings, tenant["tenant_id"], day)
        except (ArchiveError, QualityCheckError, TenantDayBusyError, LeaseLostError) as error:
            click.echo(f"error: {error}", err=True)
            failed = True
            continue
        click.echo(
            f"{day} {tenant['name']} ({tenant['tenant_id']}): cost {totals['cost']:.6f} USD"
            f" replayed from {extract_url}"
        )
    if failed:
        sys.exit(1)
