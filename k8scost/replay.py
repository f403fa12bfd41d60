"""`k8scost replay` and `k8scost reprice`: re-cost days from the raw archive, not Thanos.

- `replay --date D [--tenant ID]...`: for a formula fix, a rebuilt ClickHouse, or a day
  Thanos no longer holds;
- `reprice --from D --to D [--tenant ID]...`: every day of a range, for a price sheet
  set or changed after the days were costed (`k8scost pricing set`, docs/pricing.md).
Each tenant-day's current archived extract goes through the same load and quality
check as an Airflow run (under the tenant-day lease, recorded in the ledger): a day
re-costed twice is restated, never counted twice. A tenant-day that fails is named and
the others are still done; the exit code is then 1.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta

import click

from etl.core.config import Settings
from etl.core.days import parse_day
from etl.storage import registry
from etl.worker import orchestration
from etl.worker.archive import ArchiveError
from etl.worker.lease import LeaseLostError, TenantDayBusyError
from etl.worker.quality import QualityCheckError

TENANT_OPTION = click.option(
    "--tenant", "tenants", multiple=True, help="Only this tenant (repeatable)."
)


def replay_days(settings: Settings, days: list[date], tenants: tuple[str, ...]) -> list[date]:
    """Replay each tenant-day of `days`; returns the days on which one failed."""
    targets = orchestration.tenants_for_run(settings, list(tenants) or None)
    if not targets:
        raise registry.UnknownAccountError("no kubernetes_cnr account is registered")
    failed: list[date] = []
    for day in days:
        for tenant in targets:
            try:
                extract_url, totals = orchestration.replay(settings, tenant["tenant_id"], day)
            except (ArchiveError, QualityCheckError, TenantDayBusyError, LeaseLostError) as error:
                click.echo(f"error: {error}", err=True)
                if day not in failed:
                    failed.append(day)
                continue
            click.echo(
                f"{day} {tenant['name']} ({tenant['tenant_id']}): cost {totals['cost']:.6f} USD"
                f" replayed from {extract_url}"
            )
    return failed


@click.command("replay")
@click.option("--date", "day_text", required=True, help="UTC day to re-cost, YYYY-MM-DD.")
@TENANT_OPTION
@click.pass_obj
def replay_command(settings: Settings, day_text: str, tenants: tuple[str, ...]) -> None:
    """Re-cost one UTC day for every cluster (or the named tenants) from the raw archive."""
    if replay_days(settings, [parse_day(day_text)], tenants):
        sys.exit(1)


@click.command("reprice")
@click.option("--from", "first_text", required=True, help="First UTC day, YYYY-MM-DD.")
@click.option("--to", "last_text", required=True, help="Last UTC day, YYYY-MM-DD (included).")
@TENANT_OPTION
@click.pass_obj
def reprice_command(
    settings: Settings, first_text: str, last_text: str, tenants: tuple[str, ...]
) -> None:
    """Re-cost a range of past days from the raw archive at today's price sheets."""
    first, last = parse_day(first_text), parse_day(last_text)
    if last < first:
        raise click.BadParameter(f"--to {last} is before --from {first}")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    failed = replay_days(settings, days, tenants)
    if failed:
        click.echo(
            f"reprice failed on {len(failed)} of {len(days)} days: "
            f"{', '.join(day.isoformat() for day in failed)}",
            err=True,
        )
        sys.exit(1)
