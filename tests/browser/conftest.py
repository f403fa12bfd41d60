"""One costed organization, one `k8scost api` and one headless Chromium for the dashboard tests.

The data is the session's simulated history (tests/conftest.py: 2 clusters x 2
days), one day of each cluster costed by the real pipeline (`costed_days`), plus a
small FOCUS bill on the same days in two cloud accounts (one of its VMs a cluster's
node), all in the simulator's organization, and alerts (`raise_alerts`); the API is
`python -m api` (what `k8scost api` serves, gunicorn); the browser is Debian's
chromium (devtools/browser.py). Built once for the whole
directory: the tests only read.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest

from api import auth
from devtools import browser
from etl.alerts import anomalies, run
from etl.bills import import_bill
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import alerting, costreads, nodedays, pricing, registry, warehouse
from etl.storage import budgets as budget_store
from etl.storage.clickhouse import connect
from etl.worker.pipeline import promql_client, run_tenant_day
from tests.conftest import SimulatedPrometheus

DAY = 86400


def bill_rows(days: list[date], node: tuple[str, date] | None = None) -> list[dict[str, str]]:
    """Two AWS accounts' VMs and a bucket on the costed days (FOCUS 1.0 columns), and
    `node` (an instance id, a day) billed in the first account: a cluster's node VM."""
    rows = []
    if node is not None:
        rows.append(
            {
                "ProviderName": "AWS",
                "SubAccountId": "111",
                "ChargePeriodStart": f"{node[1].isoformat()}T00:00:00Z",
                "BilledCost": "2.125",
                "ResourceId": node[0],
                "ServiceName": "AmazonEC2",
                "RegionId": "eu-west-1",
            }
        )
    for n, day in enumerate(days):
        for account, resource, service, cost in (
            ("111", "i-web", "AmazonEC2", 3.25 + n),
            ("111", "bucket-logs", "AmazonS3", 0.75),
            ("222", "i-batch", "AmazonEC2", 5.5 * (n + 1)),
        ):
            rows.append(
                {
                    "ProviderName": "AWS",
                    "SubAccountId": account,
                    "ChargePeriodStart": f"{day.isoformat()}T00:00:00Z",
                    "BilledCost": str(cost),
                    "ResourceId": resource,
                    "ServiceName": service,
                    "RegionId": "eu-west-1",
                }
            )
    return rows


def costed_days(accounts: list[Any], days: list[date]) -> list[tuple[Any, date]]:
    """One day per cluster, each a different one: every day has costs, and the ledger
    shows the other cluster-days missing (2 pipeline runs rather than 4, ~5 s each)."""
    return [(account, days[n % len(days)]) for n, account in enumerate(accounts)]


def first_node(db: Any, account: registry.ClusterAccount, day: date) -> tuple[str, date]:
    """The instance id of one of the cluster's nodes (its provider id's last part), and the day."""
    cluster = db.resources.find_one(
        {"cloud_account_id": account.id, "meta.node_provider_ids": {"$exists": True}}
    )
    return min(cluster["meta"]["node_provider_ids"]).rsplit("/", 1)[-1], day


def raise_alerts(
    settings: Settings,
    db: Any,
    organization_id: str,
    costed: list[tuple[registry.ClusterAccount, date]],
) -> None:
    """Alerts as the evaluator makes them: an anomaly of the first costed cluster-day (the
    detector over its real allocation, with three baseline days at half its cost), its
    namespaces' anomalies resolved, and a $1 budget's thresholds crossed on the last day."""
    account, day = costed[0]
    rule = {"threshold_pct": 30.0, "min_usd": 0.0}
    with connect(settings.clickhouse_dsn) as client:
        # The organization's default metric, as the evaluator reads it (etl/alerts/run.py).
        bill = nodedays.organization_bill(
            db, account.organization_id, pricing.default_metric(db, account.organization_id)
        )
        frame = costreads.allocation_groups(client, account.id, day - timedelta(days=7), day, bill)
        numbers = frame.select_dtypes("number").columns
        before = []
        for back in (1, 2, 3):
            earlier = frame.copy()
            earlier["day"] = day - timedelta(days=back)
            earlier[numbers] = earlier[numbers] * 0.5
            before.append(earlier)
        found = anomalies.detect(pd.concat([frame, *before]), day, **rule)
        documents = [run._document(account, day, anomaly, rule) for anomaly in found]
        for document in documents:
            alerting.save_alert(db, document)
        cluster_alert = [d["_id"] for d in documents if not d["namespace"]]
        alerting.resolve_other_alerts(db, run.KIND, account.id, day_start_epoch(day), cluster_alert)
        budget_store.add_budget(db, organization_id, "tight", "organization", 1.0)
        run.evaluate_budgets(client, db, organization_id, max(d for _, d in costed), time.time())


@dataclass(frozen=True)
class Site:
    """The served dashboard: its URL, organization, a live token, and the period's bounds."""

    url: str
    organization_id: str
    token: str
    settings: Settings
    days: list[date]
    tenant_ids: list[str]
    bill: tuple[dict[str, str], ...] = ()  # the imported FOCUS rows

    @property
    def start(self) -> int:
        return day_start_epoch(self.days[0])

    @property
    def end(self) -> int:
        return day_start_epoch(self.days[-1]) + DAY - 1

    @property
    def hash_period(self) -> str:
        return f"from={self.days[0].isoformat()}&to={self.days[-1].isoformat()}"


def api_answer(site: Site, endpoint: str, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The API's JSON answer to GET `endpoint` of the site's organization with `pairs`."""
    url = (
        f"{site.url}/restapi/v2/organizations/{site.organization_id}/{endpoint}?"
        f"{urllib.parse.urlencode(pairs)}"
    )
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {site.token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="session")
def site(
    tmp_path_factory: pytest.TempPathFactory, simulated_prometheus: SimulatedPrometheus
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("dashboard")
    settings = Settings.from_env(
        {"K8SCOST_DATA_DIR": str(root / "data"), "THANOS_URL": simulated_prometheus.url}
    )
    scenario = simulated_prometheus.scenario
    organization_id = scenario["clusters"][0]["organization_id"]
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
    for cluster in scenario["clusters"]:
        registry.add_account(
            db,
            cluster["organization_id"],
            cluster["name"],
            cluster["tenant_id"],
            {"scrape_interval_seconds": scenario["scrape_interval_s"]},
        )
    promql = promql_client(settings)
    accounts = registry.k8s_accounts(db, simulated_prometheus.tenant_ids)
    for account, day in costed_days(accounts, simulated_prometheus.days):
        run_tenant_day(settings, db, account, day, promql)
    bill = root / "bill.csv"
    node = first_node(db, *costed_days(accounts, simulated_prometheus.days)[0])
    rows = bill_rows(simulated_prometheus.days, node)
    pd.DataFrame(rows).to_csv(bill, index=False)
    import_bill(settings, organization_id, bill)
    raise_alerts(settings, db, organization_id, costed_days(accounts, simulated_prometheus.days))
    token = auth.issue_token(db, organization_id)

    with browser.api_server(settings, root / "api.log") as url:
        yield Site(
            url,
            organization_id,
            token,
            settings,
            simulated_prometheus.days,
            simulated_prometheus.tenant_ids,
            tuple(rows),
        )


@pytest.fixture(scope="session")
def chromium() -> Iterator[browser.webdriver.Chrome]:
    with browser.chromium() as driver:
        yield driver


@pytest.fixture(scope="session")
def signed_in(site: Site, chromium: browser.webdriver.Chrome) -> browser.webdriver.Chrome:
    """The browser, signed in to the site's organization with its token."""
    browser.sign_in(chromium, site.url, site.organization_id, site.token)
    browser.wait_loaded(chromium, "overview")
    return chromium
