"""The newcomer's path: simulate clusters, backfill a local Prometheus, cost, serve.

It uses only the product's own pieces (simulator, PromQL client, pipeline, API),
on the embedded defaults, so what the demo shows is what production runs.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from devtools.localprom import PrometheusServer, backfill
from devtools.simulate import simulate_to_dir
from etl.alerts import budgets
from etl.alerts import run as alerts_run
from etl.core.config import Settings
from etl.storage import budgets as budget_store
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from etl.worker.pipeline import DayResult, promql_client, run_tenant_day

DEMO_SEED = 42
DEMO_BUDGET = "demo organization"
DEMO_BILL_COLUMNS = (
    "ProviderName", "SubAccountId", "ChargePeriodStart", "ResourceId", "ServiceName", "RegionId",
)  # fmt: skip


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


def node_bill(settings: Settings, scenario: dict, path: Path) -> Path:
    """A FOCUS bill of the demo clusters' node VMs and a bucket, every simulated day, in
    one AWS account, written to `path`: the nodes are folded into their clusters, and
    billed, effective and list costs differ as under a discount (the bills page)."""
    organization = scenario["clusters"][0]["organization_id"]
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    _, resources = registry.organization_documents(db, organization, ["_id"], ["meta"])
    vms = sorted(
        {
            provider_id.rsplit("/", 1)[-1]
            for resource in resources.values()
            for provider_id in (resource.get("meta") or {}).get("node_provider_ids", [])
        }
    )
    prices = {"BilledCost": "1.90", "EffectiveCost": "2.10", "ListCost": "2.40"}
    lines = [(vm, "AmazonEC2", prices) for vm in vms]
    lines.append(("demo-logs", "AmazonS3", dict.fromkeys(prices, "0.75")))
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, [*DEMO_BILL_COLUMNS, *prices])
        writer.writeheader()
        for day_text in scenario["days"]:
            for resource, service, cost in lines:
                writer.writerow(
                    {
                        "ProviderName": "AWS",
                        "SubAccountId": "demo-payer",
                        "ChargePeriodStart": f"{day_text}T00:00:00Z",
                        "ResourceId": resource,
                        "ServiceName": service,
                        "RegionId": "us-east-1",
                        **cost,
                    }
                )
    return path


def budget_and_alerts(settings: Settings, scenario: dict) -> None:
    """A budget of the demo organization 85% spent on the last day, and the alerts the
    evaluator raises for that day (the budget's crossed thresholds, any anomaly)."""
    organization = scenario["clusters"][0]["organization_id"]
    last = date.fromisoformat(scenario["days"][-1])
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    known = [b for b in budget_store.list_budgets(db, organization) if b["name"] == DEMO_BUDGET]
    budget = (
        known[0]
        if known
        else budget_store.add_budget(db, organization, DEMO_BUDGET, "organization", 1.0)
    )
    with connect(settings.clickhouse_dsn) as client:
        spent = budgets.budget_month(budgets.SpendReader(client, db), budget, last)
    budget_store.update_budget(
        db, budget["_id"], {"amount_usd": max(spent.month_to_date_usd / 0.85, 1.0)}
    )
    alerts_run.evaluate(settings, last)
