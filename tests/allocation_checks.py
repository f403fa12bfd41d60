"""What the allocation's end-to-end tests share: running a tenant-day on a real Prometheus,
reading back what it stored, and checking it against the analytic truth (tests/truth.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from api import auth
from api.app import create_app
from devtools.localprom import PrometheusServer, backfill
from devtools.simulate import write_openmetrics
from etl.core.config import Settings
from etl.storage import registry
from etl.storage.clickhouse import connect
from etl.worker.pipeline import DayResult, run_tenant_day
from tests.schema import with_schema
from tests.truth import (
    COST_KEYS,
    allocation_by,
    day_bounds,
    expected_allocation,
)

# The acceptance bound: every component of every group within 0.01% of the truth
# (and a billionth of a dollar where the truth is zero).
REL = 1e-4
ABS = 1e-9
PITFALL_DAY = date(2026, 6, 2)
PITFALL_STEP_S = 300
IDLE, UNMOUNTED = "__idle__", "__unmounted__"


def stored_allocation(settings: Settings, tenant: str, day: date) -> pd.DataFrame:
    """The live allocation rows of a tenant-day, collapsed the way every reader must."""
    sums = ", ".join(f"sum({column} * sign) AS {column}" for column in [*COST_KEYS, "cost"])
    with connect(settings.clickhouse_dsn) as client:
        rows = client.query_df(
            "SELECT resource_id, any(namespace) AS namespace, "
            "any(controller_kind) AS controller_kind, any(controller) AS controller, "
            "any(pod) AS pod, any(pod_uid) AS pod_uid, any(node) AS node, "
            "any(price_flag) AS price_flag, sum(running_hours * sign) AS running_hours, "
            f"any(labels) AS labels, any(services) AS services, {sums}, "
            "sum(sign) AS live_rows FROM k8s_allocation "
            "WHERE cloud_account_id = {tenant:String} AND toDate(date) = {day:Date} "
            "GROUP BY cloud_account_id, date, resource_id HAVING sum(sign) > 0",
            parameters={"tenant": tenant, "day": day},
        )
    rows["controller_key"] = [
        f"{kind}/{name}" if kind else name
        for kind, name in zip(rows["controller_kind"], rows["controller"], strict=True)
    ]
    return rows


def assert_matches_truth(rows: pd.DataFrame, scenario: dict, tenant: str, day: date) -> None:
    """Every component of every namespace, controller and node within REL of the truth,
    and the Services of every pod and load balancer row exactly.

    Except network per node: egress counters have no uid, so a name two pods used in
    the day is split by running hours (the pods' namespace and controller are one).
    """
    truth = expected_allocation(scenario, tenant, day)
    pods = rows[rows["pod_uid"] != ""]
    assert dict(zip(pods["pod_uid"], map(list, pods["services"]), strict=True)) == {
        row["pod"]: row["services"] for row in truth if row["namespace"] not in (IDLE, UNMOUNTED)
    }
    unmounted = rows[rows["namespace"] == UNMOUNTED]
    assert sorted(map(list, unmounted["services"])) == sorted(
        row["services"] for row in truth if row["namespace"] == UNMOUNTED
    )
    for ours, theirs in (
        ("namespace", "namespace"),
        ("controller_key", "controller"),
        ("node", "node"),
    ):
        got = rows.groupby(ours)[list(COST_KEYS)].sum().to_dict("index")
        expected = allocation_by(truth, theirs)
        assert set(got) == set(expected), (ours, set(got) ^ set(expected))
        for group, components in expected.items():
            for component, value in components.items():
                if ours == "node" and component == "network_cost":
                    continue
                assert got[group][component] == pytest.approx(value, rel=REL, abs=ABS), (
                    ours,
                    group,
                    component,
                )


def register(settings: Settings, scenario: dict) -> None:
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    for cluster in scenario["clusters"]:
        registry.add_account(
            database,
            cluster["organization_id"],
            cluster["name"],
            cluster["tenant_id"],
            {
                "scrape_interval_seconds": scenario["scrape_interval_s"],
                "cost_model": cluster["cost_model"],
            },
        )
    with_schema(settings)


def run(settings: Settings, tenant: str, day: date) -> DayResult:
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    (account,) = registry.k8s_accounts(database, [tenant])
    return run_tenant_day(settings, database, account, day)


def merged_history(
    root: Path, scenarios: dict[str, dict[str, Any]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One Prometheus over several one-cluster scenarios of the same window: (url, scenario).

    Clusters rendered in one exporter shape are written together; each shape is its
    own backfill into the same TSDB.
    """
    first = next(iter(scenarios.values()))
    clusters = [{**s["clusters"][0], "name": name} for name, s in scenarios.items()]
    scenario = {**first, "pitfalls": sorted({p for s in scenarios.values() for p in s["pitfalls"]})}
    scenario["clusters"] = clusters
    shapes = {s["exporter"] for s in scenarios.values()}
    for shape in sorted(shapes):
        written = {
            **scenario,
            "exporter": shape,
            "clusters": [
                c
                for c, s in zip(clusters, scenarios.values(), strict=True)
                if s["exporter"] == shape
            ],
        }
        write_openmetrics(written, root / "metrics.om")
        backfill(root / "metrics.om", root / "tsdb")
        (root / "metrics.om").unlink()
    with PrometheusServer(root / "tsdb") as server:
        yield server.url, scenario


@contextlib.contextmanager
def registered_history(
    root: Path, scenarios: dict[str, dict[str, Any]]
) -> Iterator[tuple[Settings, dict[str, Any]]]:
    """`merged_history` served, its clusters registered in embedded stores under `root`:
    (settings, merged scenario)."""
    with contextlib.closing(merged_history(root, scenarios)) as served:
        url, scenario = next(served)
        settings = Settings.from_env({"K8SCOST_DATA_DIR": str(root / "data"), "THANOS_URL": url})
        register(settings, scenario)
        yield settings, scenario


def assert_groups_add_up(rows: pd.DataFrame, result: DayResult) -> None:
    """Namespaces and controllers each sum to the cluster-day's stored cost, and pods ran
    with a cost of their own (not everything in __idle__)."""
    for key in ("namespace", "controller_key"):
        assert rows.groupby(key)["cost"].sum().sum() == pytest.approx(result.cost, rel=1e-12)
    pods = rows[~rows["namespace"].isin([IDLE, UNMOUNTED])]
    assert pods["cpu_cost"].sum() > 0 and pods["ram_cost"].sum() > 0
    assert result.quality_failures == []


def run_every_day(settings: Settings, sim: Any) -> dict[tuple[str, date], DayResult]:
    """Run every tenant-day of the history: (tenant, day) -> its result."""
    return {
        (tenant, day): run(settings, tenant, day) for tenant in sim.tenant_ids for day in sim.days
    }


def api_over_every_day(settings: Settings, sim: Any) -> Callable[..., dict[str, Any]]:
    """Run every tenant-day of the history; then `get(route, status=200, **query)` is the
    JSON answer of the organization's `route` over the whole history."""
    run_every_day(settings, sim)
    return api_over_history(settings, sim)


def api_over_history(settings: Settings, sim: Any) -> Callable[..., dict[str, Any]]:
    """`get(route, status=200, **query)`: the JSON answer of the organization's `route`
    over the whole history, as the tenant-days already run stored it."""
    organization = sim.scenario["clusters"][0]["organization_id"]
    start, end = day_bounds(sim.days[0])[0], day_bounds(sim.days[-1])[0]
    client = create_app(settings).test_client()
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    bearer = {"Authorization": f"Bearer {auth.issue_token(database, organization)}"}

    def get(route: str, status: int = 200, **query: Any) -> dict[str, Any]:
        response = client.get(
            f"/restapi/v2/organizations/{organization}/{route}",
            query_string={"start_date": start, "end_date": end, **query},
            headers=bearer,
        )
        assert response.status_code == status, response.get_json()
        return response.get_json()

    return get
