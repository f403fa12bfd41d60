"""The newcomer's path: simulate clusters, backfill a local Prometheus, cost, serve.

It uses only the product's own pieces (simulator, PromQL client, pipeline, API),
on the embedded defaults, so what the demo shows is what production runs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from devtools.localprom import PrometheusServer, backfill
from devtools.simulate import simulate_to_dir
from etl.core.config import Settings
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from etl.worker.pipeline import DayResult, promql_client, run_tenant_day

DEMO_SEED = 42


def yesterday() -> date:
    """The last complete UTC day."""
    return datetime.now(UTC).date() - timedelta(days=1)


@contextmanager
def simulated_thanos(
    settings: Settings, clusters: int, days: int, scrape_interval_s: int
) -> Iterator[tuple[str, dict]]:
    """A local Prometheus over a fresh simulated history ending yesterday: (url, scenario)."""
    sim_dir, tsdb_dir = settings.data_dir / "simulation", settings.data_dir / "prometheus"
    for stale in (sim_dir, tsdb_dir):
        shutil.rmtree(stale, ignore_errors=True)
    scenario_path = simulate_to_dir(
        sim_dir, clusters, days, yesterday(), seed=DEMO_SEED, scrape_interval_s=scrape_interval_s
    )
    metrics = scenario_path.with_name("metrics.om")
    backfill(metrics, tsdb_dir)
    metrics.unlink()
    with PrometheusServer(tsdb_dir) as server:
        yield server.url, json.loads(scenario_path.read_text())


def register_clusters(settings: Settings, scenario: dict) -> list[registry.ClusterAccount]:
    """Register each simulated cluster as a kubernetes_cnr account (once)."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    known = {account.id for account in registry.k8s_accounts(database)}
    for cluster in scenario["clusters"]:
        if cluster["tenant_id"] not in known:
            registry.add_account(
                database,
                cluster["organization_id"],
                cluster["name"],
                cluster["tenant_id"],
                {"scrape_interval_seconds": scenario["scrape_interval_s"]},
            )
    return registry.k8s_accounts(database, [c["tenant_id"] for c in scenario["clusters"]])


def cost_history(settings: Settings, scenario: dict, report: Callable[[DayResult], None]) -> None:
    """Run every simulated day for every simulated cluster."""
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    promql = promql_client(settings)
    for account in register_clusters(settings, scenario):
        for day_text in scenario["days"]:
            report(
                run_tenant_day(settings, database, account, date.fromisoformat(day_text), promql)
            )
