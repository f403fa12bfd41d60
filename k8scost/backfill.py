"""`k8scost run --from D1 --to D2`: cost every tenant-day of a range without Airflow.

Each tenant-day runs `run_tenant_day` (etl/worker/pipeline.py): the DAG's three steps and
its ledger, so a backfill leaves what Airflow would. With `--concurrency N` (N > 1), N
tenant-days run at once, each in its own fresh interpreter (`spawn`): a process that
has used the embedded chdb must not fork, and the embedded stores are shared between
processes the way Airflow's task processes share them (a load waits for the chdb
directory, etl/storage/clickhouse.py). A failed tenant-day is reported at the end and
the others go on; an unreachable Thanos stops the run, since every other tenant-day
would fail the same way. On a terminal a progress bar shows tenant-days done, failures
and the ETA; elsewhere (a log, a pipe) one plain line per tenant-day.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, timedelta

import click

from etl.core.config import Settings
from etl.metroculus.promql import PromQLError, PromQLUnavailableError
from etl.storage import registry
from etl.storage.registry import ClusterAccount
from etl.worker import ledger
from etl.worker.archive import ArchiveError
from etl.worker.lease import LeaseLostError, TenantDayBusyError
from etl.worker.pipeline import DayResult, NoDataError, promql_client, run_tenant_day
from etl.worker.quality import QualityCheckError

# What fails one tenant-day and not the others (the ledger has recorded it): reported in
# one line among the others, never a traceback.
DAY_ERRORS = (
    PromQLError,
    NoDataError,
    ArchiveError,
    QualityCheckError,
    TenantDayBusyError,
    LeaseLostError,
)


@dataclass(frozen=True)
class Outcome:
    """One tenant-day's end: its result, or the error that stopped it."""

    tenant_id: str
    account_name: str
    day: date
    result: DayResult | None = None
    error: str = ""


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    if last < first:
        raise ValueError(f"--from {first} is after --to {last}")
    return ledger.days_between(first, last)


def cost_tenant_day(settings: Settings, tenant_id: str, day: date, run_id: str) -> Outcome:
    """One tenant-day through the DAG's steps; a tenant-day failure becomes an Outcome.

    Top-level and by tenant id, so that a worker process can run it (the account is
    read again there).
    """
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    (account,) = registry.k8s_accounts(database, [tenant_id])
    try:
        result = run_tenant_day(settings, database, account, day, promql_client(settings), run_id)
    except PromQLUnavailableError:
        raise
    except DAY_ERRORS as error:
        return Outcome(account.id, account.name, day, error=str(error))
    return Outcome(account.id, account.name, day, result=result)


def _outcomes(
    settings: Settings, work: list[tuple[str, date]], concurrency: int, run_id: str
) -> Iterator[Outcome]:
    """Outcomes in completion order, at most `concurrency` tenant-days at once."""
    if concurrency <= 1:
        for tenant_id, day in work:
            yield cost_tenant_day(settings, tenant_id, day, run_id)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=concurrency, mp_context=context) as pool:
        pending: set[Future[Outcome]] = set()
        queue = list(reversed(work))
        while queue or pending:
            while queue and len(pending) < concurrency:
                tenant_id, day = queue.pop()
                pending.add(pool.submit(cost_tenant_day, settings, tenant_id, day, run_id))
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


class Progress:
    """Tenant-days done out of the total, failures, ETA: a bar on a terminal, lines otherwise."""

    def __init__(self, total: int, tty: bool, echo: Callable[[str], None]) -> None:
        self.total, self.tty, self.echo = total, tty, echo
        self.done = self.failed = 0
        self.started = time.monotonic()

    def line(self) -> str:
        """`12/30 tenant-days, 1 failed, ETA 0:01:23` (ETA from the mean so far)."""
        elapsed = time.monotonic() - self.started
        left = (self.total - self.done) * elapsed / self.done if self.done else 0.0
        eta = str(timedelta(seconds=round(left)))
        return f"{self.done}/{self.total} tenant-days, {self.failed} failed, ETA {eta}"

    def advance(self, outcome: Outcome) -> None:
        """Count one finished tenant-day and show it."""
        self.done += 1
        self.failed += bool(outcome.error)
        if self.tty:
            width = 30
            filled = width * self.done // self.total
            bar = "#" * filled + "." * (width - filled)
            click.echo(f"\r[{bar}] {self.line()}", nl=self.done == self.total, err=True)
            return
        what = (
            f"failed: {outcome.error}" if outcome.error else f"cost {outcome.result.cost:.6f} USD"
        )
        self.echo(
            f"{outcome.day} {outcome.account_name} ({outcome.tenant_id}): {what} [{self.line()}]"
        )


def run_range(
    settings: Settings,
    accounts: list[ClusterAccount],
    days: list[date],
    concurrency: int,
    run_id: str = "k8scost-run",
    tty: bool | None = None,
) -> list[Outcome]:
    """Cost every (day, tenant) of the range; returns every outcome, failures included."""
    work = [(account.id, day) for day in days for account in accounts]
    tty = sys.stderr.isatty() if tty is None else tty
    progress = Progress(len(work), tty, click.echo)
    outcomes = []
    for outcome in _outcomes(settings, work, concurrency, run_id):
        progress.advance(outcome)
        outcomes.append(outcome)
    return outcomes


def report(outcomes: list[Outcome], seconds: float) -> bool:
    """The end report (failures named, totals); True when every tenant-day loaded."""
    failed = [o for o in outcomes if o.error]
    for outcome in sorted(failed, key=lambda o: (o.day, o.account_name)):
        click.echo(
            f"failed: {outcome.day} {outcome.account_name} ({outcome.tenant_id}): {outcome.error}",
            err=True,
        )
    loaded = [o.result for o in outcomes if o.result is not None]
    cost = sum(result.cost for result in loaded)
    queries = sum(result.promql_queries for result in loaded)
    click.echo(
        f"{len(outcomes)} tenant-days: {len(loaded)} loaded ({cost:.6f} USD, {queries} PromQL "
        f"queries), {len(failed)} failed, in {seconds:.1f} s"
    )
    return not failed
