"""`k8scost`: the command line of the pipeline (click, as Flask already ships it).

Expected failures (bad input, an unreachable or erroring Thanos, a day with no
data) print one line `error: ...` and exit non-zero; a traceback means a bug.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import date
from pathlib import Path

import click

from api.app import serve
from api.auth import issue_token
from devtools import demo
from devtools.localprom import LocalPrometheusError
from devtools.simulate import simulate_to_dir
from etl.core.config import Settings
from etl.core.days import day_start_epoch, parse_day
from etl.core.serve import DEFAULT_THREADS, DEFAULT_WORKERS
from etl.metroculus.promql import PromQLError, PromQLUnavailableError
from etl.storage import registry, warehouse
from etl.storage.clickhouse import ClickHouseBusyError, connect
from etl.worker.pipeline import DayResult, NoDataError, promql_client, run_tenant_day
from k8scost import backfill
from k8scost.alerts import alerts_command, budgets_command
from k8scost.cloud import cloud_command
from k8scost.pricing import pricing_command
from k8scost.proxy import diproxy_command, token_command
from k8scost.recommendations import recommendations_command
from k8scost.replay import replay_command, reprice_command
from k8scost.reports import reports_command
from k8scost.schema import db
from k8scost.sharing import sharing_command
from k8scost.simulation import exporter_option, simulate_serve
from k8scost.tokens import tokens_command
from k8scost.ui import dashboard_url, ui_group

EXPECTED_ERRORS = (
    PromQLError,
    NoDataError,
    registry.UnknownAccountError,
    ClickHouseBusyError,
    LocalPrometheusError,
    ValueError,
)


class _Cli(click.Group):
    """A group that turns expected errors into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except EXPECTED_ERRORS as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)


@click.group(cls=_Cli)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Kubernetes cost pipeline: Thanos (PromQL) -> ClickHouse/MongoDB -> API."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The retry notices of urllib3 would bury the one-line error that follows them.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    ctx.obj = Settings.from_env()


def _database(settings: Settings):
    return registry.open_database(settings.mongo_uri, settings.mongo_db)


@cli.group()
def accounts() -> None:
    """Cloud accounts (a kubernetes_cnr account is one cluster tenant)."""


@accounts.command("add")
@click.option("--organization-id", required=True)
@click.option("--name", required=True)
@click.option("--id", "account_id", help="Account id = Thanos tenant (default: a new uuid).")
@click.option(
    "--scrape-interval",
    type=click.IntRange(min=1),
    default=None,
    help="The cluster's Prometheus scrape interval in seconds (default 60).",
)
@click.pass_obj
def accounts_add(
    settings: Settings,
    organization_id: str,
    name: str,
    account_id: str | None,
    scrape_interval: int | None,
) -> None:
    """Register a kubernetes_cnr cloud account and print its id."""
    config = {"scrape_interval_seconds": scrape_interval} if scrape_interval else {}
    account = registry.add_account(_database(settings), organization_id, name, account_id, config)
    click.echo(account.id)


@accounts.command("list")
@click.pass_obj
def accounts_list(settings: Settings) -> None:
    """List live cloud accounts."""
    for account in registry.list_accounts(_database(settings)):
        click.echo(
            f"{account['_id']}\t{account['type']}\t{account['organization_id']}\t{account['name']}"
        )


@cli.command()
@click.option("--date", "day_text", help="UTC day to cost, YYYY-MM-DD.")
@click.option("--from", "from_text", help="First UTC day of a range (with --to).")
@click.option("--to", "to_text", help="Last UTC day of a range, included.")
@click.option("--tenant", "tenants", multiple=True, help="Only this tenant (repeatable).")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Tenant-days of a range costed at once (each in its own process).",
)
@click.pass_obj
def run(
    settings: Settings,
    day_text: str | None,
    from_text: str | None,
    to_text: str | None,
    tenants: tuple[str, ...],
    concurrency: int,
) -> None:
    """Cost one UTC day (--date), or every day of --from..--to, for every kubernetes_cnr
    account (or the named tenants) and load it.

    Each tenant-day goes through the Airflow DAG's steps (extract, archive, load,
    check) and its ledger; a tenant-day that fails is reported and the others still
    run (a range: named at the end, exit 1), but an unreachable Thanos stops the run
    (every other tenant would fail the same way).
    """
    if bool(day_text) == bool(from_text or to_text) or bool(from_text) != bool(to_text):
        raise click.UsageError("give either --date, or both --from and --to")
    days = (
        [parse_day(day_text)]
        if day_text
        else backfill.days_between(parse_day(from_text), parse_day(to_text))
    )
    database = _database(settings)
    targets = registry.k8s_accounts(database, list(tenants))
    if not targets:
        raise registry.UnknownAccountError("no kubernetes_cnr account is registered")
    with connect(settings.clickhouse_dsn) as client:
        warehouse.ensure_schema(client)
    if from_text:
        started = time.monotonic()
        outcomes = backfill.run_range(settings, targets, days, concurrency)
        if not backfill.report(outcomes, time.monotonic() - started):
            sys.exit(1)
        return
    promql = promql_client(settings)
    failures = []
    for account in targets:
        try:
            result = run_tenant_day(settings, database, account, days[0], promql)
        except PromQLUnavailableError:
            raise
        except backfill.DAY_ERRORS as error:
            failures.append(error)
            click.echo(f"error: {error}", err=True)
            continue
        _echo_result(result)
    if failures:
        sys.exit(1)


def _echo_result(result: DayResult) -> None:
    parts = " ".join(
        f"{name.removesuffix('_cost')}={value:.6f}" for name, value in result.breakdown.items()
    )
    click.echo(
        f"{result.day} {result.account_name} ({result.tenant_id}): cost {result.cost:.6f}"
        f" USD [{parts}] rows={result.rows_written} queries={result.promql_queries}"
    )
    # The day loaded; what looked wrong in its data goes to stderr.
    for issue in result.issues:
        click.echo(f"warning: {result.account_name} {result.day}: {issue}", err=True)
    for failure in result.quality_failures:
        click.echo(
            f"warning: quality failure: {result.account_name} {result.day}: {failure}", err=True
        )


@cli.command()
@click.option("--clusters", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--end-date", "end_text", help="Last simulated UTC day (default: yesterday).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--scrape-interval", type=click.IntRange(min=1), default=60, show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for metrics.om and scenario.json.",
)
@exporter_option
def simulate(
    clusters: int,
    days: int,
    end_text: str | None,
    seed: int,
    scrape_interval: int,
    out_dir: Path,
    exporter: str,
) -> None:
    """Write OpenMetrics history of simulated clusters (for promtool create-blocks-from)."""
    end_day = parse_day(end_text) if end_text else demo.yesterday()
    scenario_path = simulate_to_dir(
        out_dir, clusters, days, end_day, seed, scrape_interval, exporter=exporter
    )
    click.echo(f"wrote {scenario_path.with_name('metrics.om')} and {scenario_path}")
    click.echo(
        f"next: promtool tsdb create-blocks-from openmetrics "
        f"{scenario_path.with_name('metrics.om')} <prometheus data dir>"
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=DEFAULT_WORKERS, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=DEFAULT_THREADS, show_default=True)
@click.pass_obj
def api(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the REST API (clean_expenses) under gunicorn, logging every request."""
    serve(settings, host, port, workers, threads)


@cli.command("demo")
@click.option("--clusters", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=3, show_default=True)
@click.option(
    "--scrape-interval",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="Simulated scrape interval; 5 min keeps the demo's history small.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Stop after loading instead of serving the API.")
@click.pass_obj
def demo_command(
    settings: Settings,
    clusters: int,
    days: int,
    scrape_interval: int,
    host: str,
    port: int,
    no_serve: bool,
) -> None:
    """Simulate clusters into a local Prometheus, cost their days, and serve the API."""
    click.echo(f"simulating {clusters} clusters x {days} days into {settings.data_dir} ...")
    with demo.simulated_thanos(settings, clusters, days, scrape_interval) as (url, scenario):
        click.echo(f"local Prometheus (standing in for Thanos Query) at {url}")
        local = settings.with_overrides(thanos_url=url)
        demo.cost_history(local, scenario, _echo_result)
        if no_serve:
            return
        organization = scenario["clusters"][0]["organization_id"]
        first, last = (
            day_start_epoch(date.fromisoformat(day))
            for day in (scenario["days"][0], scenario["days"][-1])
        )
        token = issue_token(_database(local), organization)
        click.echo(
            f"\ntry:\n  curl -s -H 'Authorization: Bearer {token}' 'http://{host}:{port}"
            f"/restapi/v2/organizations/{organization}/clean_expenses"
            f"?start_date={first}&end_date={last}'\n"
        )
        days = [date.fromisoformat(day) for day in (scenario["days"][0], scenario["days"][-1])]
        click.echo(
            f"dashboard: {dashboard_url(host, port, *days)}\n"
            f"  sign in with organization {organization} and the token {token}\n"
        )
        serve(local, host, port)


cli.add_command(diproxy_command)
accounts.add_command(token_command)
cli.add_command(db)
cli.add_command(simulate_serve)
cli.add_command(cloud_command)
cli.add_command(tokens_command)
cli.add_command(replay_command)
cli.add_command(reprice_command)
cli.add_command(sharing_command)
cli.add_command(pricing_command)
cli.add_command(reports_command)
cli.add_command(recommendations_command)
cli.add_command(alerts_command)
cli.add_command(budgets_command)
cli.add_command(ui_group)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="k8scost")


if __name__ == "__main__":
    main()
