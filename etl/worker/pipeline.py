"""One tenant-day end to end: extract -> archive -> load -> check, whoever runs it.

The three steps are the Airflow tasks of `k8s_costs_daily` (through
etl/worker/orchestration.py, one process per task) and, chained in one process,
`k8scost run` and the demo (`run_tenant_day`); `k8scost replay` runs the last two
(`replay_tenant_day`). One code path, so every runner leaves the same archive and the
same ledger record, and a replay gives the totals of the run it replays:

- extract: the PromQL queries (etl/metroculus/queries.py), their answers written as they
  came as a new Parquet extract, with the sample count the repair DAG compares late data
  with (taken from round 1's answers: etl/metroculus/samples.py);
- archive: the extract checked against its manifest (every file there at its size, not
  read), published;
- load: the archived extract, read once and checked by hash -> the transform
  (etl/metroculus/derive.py) -> costs -> ClickHouse and MongoDB; then the check:
  ClickHouse holds what the load wrote (etl/worker/quality.py). Both under one lease of
  the tenant-day, taken once per attempt.

Everything that can fail on bad input (Thanos down, a PromQL error, a day with
no data) fails before ClickHouse is touched, so the previous good data of the
day stays in place; the load itself is one restatement per table.

The day is costed twice from the same answers: the asset view (etl/costmodel/assets.py) and
the allocation down to the pod (etl/allocation). What is loaded is the allocation:
its rows go to `k8s_allocation`, their sums to `k8s_cost_breakdown` and `expenses`,
and the daily reconciliation against the asset view is stored beside (MongoDB). The
asset view's nodes go to `k8s_node_days`, and who carries each PV's cost to
`k8s_pv_days`, for the reconciliation to the bill.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import pandas as pd

from etl.core.answers import Answers
from etl.core.config import Settings
from etl.core.metrics import priced_alike
from etl.costmodel.allocation import Allocation, allocate, reconcile
from etl.costmodel.assets import COMPONENTS, DayCosts, cost_model, day_costs
from etl.costmodel.nodedays import node_days
from etl.costmodel.pricesheet import from_documents
from etl.costmodel.pvdays import pv_days
from etl.costmodel.sheetprices import priced_by_sheet
from etl.metroculus import derive, samples
from etl.metroculus.extract import ROUND_QUERIES, Rounds, extract
from etl.metroculus.promql import PromQLClient
from etl.storage import nodedays, pricesheets, pvdays, reconciliations, registry, warehouse
from etl.storage.clickhouse import Client, connect
from etl.storage.registry import ClusterAccount, Database
from etl.worker import archive, ledger, quality

log = logging.getLogger(__name__)


class NoDataError(RuntimeError):
    """The tenant sent no cost metrics for the day: nothing is loaded, nothing is erased."""


@dataclass
class DayResult:
    """What one tenant-day run loaded."""

    tenant_id: str
    account_name: str
    day: date
    resource_id: str
    cost: float
    breakdown: dict[str, float]
    rows_written: int
    # Every query the tenant-day sent to Thanos.
    promql_queries: int
    issues: list[str] = field(default_factory=list)
    quality_failures: list[str] = field(default_factory=list)


def promql_client(settings: Settings) -> PromQLClient:
    """The PromQL client configured from settings."""
    return PromQLClient(settings.thanos_url, settings.promql_timeout_s, settings.promql_retries)


def scrape_interval_s(settings: Settings, account: ClusterAccount) -> int:
    """The cluster's scrape interval: its account config, else the platform default."""
    return account.scrape_interval_s(settings.default_scrape_interval_s)


def extract_day(
    client: PromQLClient, account: ClusterAccount, day: date, step_s: int, concurrency: int = 1
) -> Rounds:
    """Run the tenant-day's PromQL queries; raises NoDataError when the cluster sent nothing.

    `step_s` is the cluster's scrape interval (`scrape_interval_s`); `concurrency` how many
    independent queries are in flight at once (`PROMQL_CONCURRENCY`).
    """
    rounds = extract(client, account.id, day, step_s, concurrency)
    # The network class prices are the one answer a cluster gets without sending anything.
    if all(not answer for name, answer in rounds.items() if name != "network_class_price"):
        raise NoDataError(
            f"tenant {account.id} ({account.name}) has no cost metrics on {day}: "
            "nothing loaded, previous data kept"
        )
    return rounds


@dataclass
class Stage:
    """The stage a tenant-day's step is at, which a failure is recorded against."""

    name: str


@contextmanager
def ledger_stage(db: Database, account: ClusterAccount, day: date, stage: str) -> Iterator[Stage]:
    """Record a failure of the step in the ledger at its stage (`stage`, or what the step
    moved it to), then let it propagate.

    BaseException, because Airflow's execution timeout is one.
    """
    current = Stage(stage)
    try:
        yield current
    except NoDataError as error:
        ledger.record_no_data(db, account, day, error)
        raise
    except BaseException as error:
        ledger.record_failed(db, account, day, current.name, error)
        raise


def day_totals(costs: DayCosts) -> dict[str, float]:
    """What the ledger records as loaded, and the check confirms: the cost and its parts."""
    return {"cost": costs.total, **costs.breakdown}


def transform_and_load(
    settings: Settings, db: Database, account: ClusterAccount, day: date, answers: Answers
) -> tuple[DayCosts, int, dict[str, Any]]:
    """Cost the answers and restate the day: (costs, rows written, cluster resource).

    The costs returned are what was loaded: the allocation's sums. The cluster's price
    sheet, if any, is its list price from here on (etl/costmodel/sheetprices.py). The
    caller holds the tenant-day's lease (etl/worker/lease.py; a dead holder's attempt is
    recorded abandoned when its lease is taken over): one restatement of a tenant-day at
    a time, whatever runs it, and the ledger written under it, so it always matches
    ClickHouse.
    """
    step_s = scrape_interval_s(settings, account)
    model = cost_model(account.config)
    sheet = from_documents(pricesheets.sheet_rows(db, account.id))
    answers, sheet_issues = priced_by_sheet(answers, sheet, day)
    assets = day_costs(answers, step_s, model)
    allocation = allocate(answers, day, step_s, assets, model)
    check = reconcile.reconcile(assets, allocation.rows)
    nodes, node_issues = node_days(assets.nodes, answers["node_provider_ids"], step_s / 3600, model)
    volumes, volume_issues = pv_days(allocation.volume_parts, answers["pv_provider_ids"])
    costs = replace(
        assets,
        breakdown=allocation.breakdown,
        issues=[
            *sheet_issues,
            *assets.issues,
            *allocation.issues,
            *check.problems(),
            *node_issues,
            *volume_issues,
        ],
        quality_failures=allocation.quality_failures,
    )
    for issue in costs.issues:
        log.warning("tenant %s %s: %s", account.id, day, issue)
    for failure in costs.quality_failures:
        log.error("tenant %s %s: quality failure: %s", account.id, day, failure)
    with connect(settings.clickhouse_dsn) as clickhouse:
        rows_written = load_day(clickhouse, account, day, allocation, nodes, volumes)
    resource = registry.record_cluster_seen(
        db,
        account,
        day,
        costs.cluster_info,
        costs.node_provider_ids,
        costs.region,
        answers["pv_provider_ids"]["provider_id"],
    )
    reconciliations.record(db, account.id, day, check.ok, check.components)
    ledger.record_loaded(
        db, account, day, day_totals(costs), rows_written, costs.issues, costs.quality_failures
    )
    return costs, rows_written, resource


def load_day(
    client: Client,
    account: ClusterAccount,
    day: date,
    allocation: Allocation,
    nodes: pd.DataFrame,
    volumes: pd.DataFrame,
) -> int:
    """Restate the day's allocation rows, the cluster's breakdown and expense row (their
    sums), its node-days (`nodes`, etl/costmodel/nodedays.py) and PV-days (`volumes`,
    etl/costmodel/pvdays.py); returns rows inserted."""
    resource_id = registry.cluster_resource_id(account.id)
    breakdown = pd.DataFrame([{"resource_id": resource_id, **allocation.breakdown}])
    expense = priced_alike(pd.DataFrame([{"resource_id": resource_id, "cost": allocation.total}]))
    written = warehouse.restate_day(client, "k8s_allocation", account.id, day, allocation.rows)
    written += warehouse.restate_day(
        client, "k8s_cost_breakdown", account.id, day, breakdown[["resource_id", *COMPONENTS]]
    )
    written += warehouse.restate_day(client, "expenses", account.id, day, expense)
    # Right-sizing's daily container quantiles (docs/allocation.md, "Right-sizing").
    written += warehouse.restate_day(
        client, "k8s_container_usage", account.id, day, allocation.containers
    )
    # Which node was which VM, at what list price: the reconciliation to the bill
    # (docs/api.md, "Reconciliation").
    written += nodedays.restate(client, account.id, day, nodes)
    written += pvdays.restate(client, account.id, day, volumes)
    return written


def extract_step(
    settings: Settings,
    db: Database,
    account: ClusterAccount,
    day: date,
    run_id: str,
    client: PromQLClient,
) -> str:
    """Start an attempt, query Thanos for the tenant-day, write a new extract; returns its URI.

    The raw sample count goes into the manifest: the repair DAG compares it with what
    Thanos holds later to spot late remote writes.
    """
    ledger.start_attempt(db, account, day, run_id)
    with ledger_stage(db, account, day, "extract"):
        step_s = scrape_interval_s(settings, account)
        rounds = extract_day(client, account, day, step_s, settings.promql_concurrency)
        by_metric = samples.source_samples(rounds, day)
        source = {
            "samples": sum(by_metric.values()),
            "samples_by_metric": by_metric,
            "measure": samples.MEASURE,
        }
        return archive.write_extract(settings, account.id, day, rounds, source, run_id)


def archive_step(
    settings: Settings, db: Database, account: ClusterAccount, day: date, extract_url: str
) -> None:
    """Check the extract against its manifest and publish it as the day's current one."""
    with ledger_stage(db, account, day, "archive"):
        manifest = archive.verify_extract(settings, extract_url, ROUND_QUERIES)
        archive.publish(settings, extract_url)
        ledger.record_archived(db, account, day, extract_url, manifest)


def load_step(
    settings: Settings, db: Database, account: ClusterAccount, day: date, extract_url: str
) -> tuple[DayCosts, int, dict[str, Any]]:
    """Cost the archived extract, restate the day and check it, under one lease of the
    tenant-day: (costs, rows written, cluster resource).

    It reads the archive even when the extract was just written in this process, so
    what is loaded is always what a replay would load, and it derives the answers from
    the raw ones there (etl/metroculus/derive.py), so a replay applies today's transform.
    """
    with ledger_stage(db, account, day, "load") as stage, ledger.leased(db, account, day):
        rounds = archive.read_extract(settings, extract_url)
        answers = derive.answers(rounds, day, scrape_interval_s(settings, account))
        loaded = transform_and_load(settings, db, account, day, answers)
        stage.name = "check"
        quality.check_day(settings, db, account, day)
    return loaded


def run_tenant_day(
    settings: Settings,
    db: Database,
    account: ClusterAccount,
    day: date,
    client: PromQLClient | None = None,
    run_id: str = "k8scost-run",
) -> DayResult:
    """The three steps of the DAG's tenant-day in one process; idempotent (a rerun replaces
    the day exactly). Raises what the failed step raised, after the ledger recorded it."""
    client = client or promql_client(settings)
    queries_before = client.counter.queries
    extract_url = extract_step(settings, db, account, day, run_id, client)
    archive_step(settings, db, account, day, extract_url)
    costs, rows_written, resource = load_step(settings, db, account, day, extract_url)
    return DayResult(
        tenant_id=account.id,
        account_name=account.name,
        day=day,
        resource_id=resource["_id"],
        cost=costs.total,
        breakdown=costs.breakdown,
        rows_written=rows_written,
        promql_queries=client.counter.queries - queries_before,
        issues=costs.issues,
        quality_failures=costs.quality_failures,
    )


def replay_tenant_day(
    settings: Settings, db: Database, account: ClusterAccount, day: date
) -> tuple[str, dict[str, float]]:
    """Re-cost a tenant-day from its current archived extract, without Thanos: the steps
    after extract. Returns (extract URI, totals); ArchiveError when it was never archived."""
    extract_url = archive.current_extract(settings, account.id, day)
    ledger.start_attempt(db, account, day, "replay")
    archive_step(settings, db, account, day, extract_url)
    costs, _, _ = load_step(settings, db, account, day, extract_url)
    return extract_url, day_totals(costs)
