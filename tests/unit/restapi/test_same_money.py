"""Same input, same money, to the last bit: every reader of money asked the same question
over the same rows answers the same bits (docs/api.md, "Summation: same rows, same bits").

A Float64 sum depends on the order of its additions, and ClickHouse adds in the order
its threads and the table's parts give: the same request answered 318.94918810076365
one time and 318.9491881007636 the next. The world here is written in many INSERTs (so
many parts, read by several threads), with costs of full 53-bit precision, and every
reader is asked the same questions again and again, then after the parts are merged
(OPTIMIZE ... FINAL): the answers must be identical, byte for byte of their JSON.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pandas as pd
import pytest

from api.app import create_app
from api.reportdefs import definition
from api.showback import report_groups
from etl.core.days import day_start_epoch
from etl.storage import budgets as budget_store
from etl.storage import costreads, warehouse
from etl.storage import reports as reports_store
from etl.storage.clickhouse import connect
from etl.storage.nodedays import bill_arguments
from tests import api_data as data
from tests.api_data import Api, day

ORG = "org-1"
PREFIX = f"/restapi/v2/organizations/{ORG}"
DAYS = (1, 2, 3)
PERIOD = {"start_date": day_start_epoch(day(1)), "end_date": day_start_epoch(day(4)) - 1}
WINDOW = f"{day_start_epoch(day(1))},{day_start_epoch(day(4))}"
CLUSTERS = ("acc-1", "acc-2")
BILL_ACCOUNTS = ("aws-1", "aws-2", "aws-3")
NAMESPACES = ("shop", "data", "web", "__idle__")
# Rewrites of each account-day: each restatement is one INSERT (one part), the earlier
# ones cancelled by the later, so a key holds several rows in several parts.
REWRITES = 3
ASKS = 2
TABLES = ("expenses", "k8s_cost_breakdown", "k8s_allocation", "k8s_container_usage")


def _cost(rng: random.Random) -> float:
    """A cost of full precision (no short decimal), as a price times hours gives."""
    return rng.uniform(0.0, 50.0) / 3.0


def _allocation(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for pod in range(12):
        namespace = NAMESPACES[pod % len(NAMESPACES)]
        labels = {"team": "ab"[pod % 2]}
        costs = {"cpu_cost": _cost(rng), "ram_cost": _cost(rng), "pv_cost": _cost(rng) / 7}
        rows.append(data.allocation_row(f"p{pod}", namespace, f"n{pod % 3}", labels, **costs))
    return rows


def _usage(rng: random.Random) -> pd.DataFrame:
    """Container-days; containers 0 and 6, 1 and 7 are one (namespace, controller,
    container) on the same day with their own requests: the current request is a tie."""
    rows = []
    for container in range(8):
        rows.append(
            {
                "resource_id": f"c{container}",
                "namespace": NAMESPACES[container % 3],
                "controller_kind": "Deployment",
                "controller": f"ctl-{container % 3}",
                "container": f"app-{container % 2}",
                "pod": f"pod-{container}",
                "pod_uid": f"uid-{container}",
                "node": "n1",
                "running_hours": 24.0,
                "cpu_request": rng.choice([0.5, 1.0, 2.0]),
                "ram_request": rng.choice([2.0**30, 2.0**31]),
                "cpu_p95": rng.uniform(0.1, 0.9),
                "cpu_max": 1.0,
                "ram_p95": 2.0**29,
                "ram_max": 2.0**30,
                "samples": 1440.0,
                "cpu_usd": _cost(rng),
                "cpu_core_hours": 24.0,
                "ram_usd": _cost(rng),
                "ram_gib_hours": 24.0,
            }
        )
    return pd.DataFrame(rows)


def _bill(rng: random.Random, account: str) -> pd.DataFrame:
    """A bill account-day: its VMs in the three metrics, charged in the days' month."""
    resources = [f"{account}-vm{resource}" for resource in range(8)]
    return pd.DataFrame(
        {
            "resource_id": resources,
            "cost": [_cost(rng) for _ in resources],
            "effective_cost": [_cost(rng) for _ in resources],
            "list_cost": [_cost(rng) for _ in resources],
            "billing_period": [day(1).replace(day=1)] * len(resources),
        }
    )


@pytest.fixture
def world(settings, db) -> dict[str, Any]:
    """Bill accounts and clusters over days 1-3, each day written REWRITES times; budgets,
    an alert and a showback report of the organization."""
    rng = random.Random(20261207)
    for account in BILL_ACCOUNTS:
        data.add_cloud_account(db, ORG, account)
        for resource in range(8):
            data.add_resource(db, ORG, account, f"{account}-vm{resource}")
    for account in CLUSTERS:
        cluster = data.add_cluster(db, ORG, account, list(DAYS))
        for n in DAYS:
            for _ in range(REWRITES):
                rows = _allocation(rng)
                data.write_allocation(settings, account, n, rows)
                parts = {c: sum(r.get(c, 0.0) for r in rows) for c in ("cpu_cost", "ram_cost")}
                data.write_breakdown(settings, account, cluster, n, parts)
                data.write_cost(settings, account, cluster, n, sum(parts.values()))
                with connect(settings.clickhouse_dsn) as client:
                    warehouse.restate_day(
                        client, "k8s_container_usage", account, day(n), _usage(rng)
                    )
    for account in BILL_ACCOUNTS:
        for n in DAYS:
            for _ in range(REWRITES):
                with connect(settings.clickhouse_dsn) as client:
                    warehouse.restate_day(client, "expenses", account, day(n), _bill(rng, account))
    for scope in ("organization", "cloud_account_id:acc-1", "namespace:shop", "label:team=a"):
        budget_store.add_budget(db, ORG, f"b-{scope}", scope, 100.0, None)
    fields = definition("r", [], "namespace", "weekly", {}, "csv", "file:///tmp/r/")
    report = reports_store.add_report(db, ORG, fields)
    return {"report": report}


SHARING = {"share_idle": "weighted", "share_namespaces": "data", "shared_overhead_hourly": 0.3}
# Under each cost metric the expense readers sum another column; the allocation readers
# sum the same rows under each (no bill VM is folded into these clusters), so once.
QUESTIONS: list[tuple[str, dict[str, Any]]] = [
    *(
        (path, {**PERIOD, "cost_metric": metric, **extra})
        for metric in ("billed", "effective", "list")
        for path, extra in (
            ("/clean_expenses", {}),
            ("/breakdown_expenses", {"breakdown_by": "k8s_component"}),
        )
    ),
    ("/clean_expenses", {**PERIOD, "format": "csv"}),
    ("/clean_expenses", {**PERIOD, "k8s_namespace": ["shop", "web"], **SHARING}),
    ("/breakdown_expenses", {**PERIOD, "breakdown_by": "k8s_component", "k8s_label": "team:a"}),
    ("/breakdown_expenses", {**PERIOD, "breakdown_by": "cloud_account_id"}),
    ("/k8s_costs", {**PERIOD, "group_by": "namespace"}),
    ("/k8s_costs", {**PERIOD, "group_by": "label:team", **SHARING}),
    ("/k8s_costs", {**PERIOD, "group_by": "cluster", "share_idle": "even"}),
    ("/bills", PERIOD),
    ("/k8s_recommendations", PERIOD),
    ("/k8s_alerts", PERIOD),
    ("/budgets", {"as_of": day(3).isoformat()}),
    ("/allocation", {"window": WINDOW, "aggregate": "pod", "shareIdle": "true"}),
    ("/allocation/compute", {"window": WINDOW, "aggregate": "namespace", "step": "1d"}),
]


def _answers(api: Api, app: Any, settings: Any, report: dict[str, Any]) -> list[str]:
    """Every question's answer, as text (JSON re-dumped with floats at full precision)."""
    answers = []
    for path, query in QUESTIONS:
        url = path if path.startswith("/allocation") else PREFIX + path
        response = api.client.get(url, query_string=query, headers=api.headers(ORG))
        assert response.status_code == 200, (path, query, response.get_data(as_text=True))
        body = response.get_json() if response.is_json else response.get_data(as_text=True)
        answers.append(json.dumps([path, query, body], sort_keys=True))
        if path == "/clean_expenses" and "format" not in query:
            assert body["clean_expenses"], (path, query)  # the world has money to sum
        if path == "/bills":
            assert body["bills"], (path, query)
    groups, _, _ = report_groups(app, report, day(1), day(3))
    answers.append(json.dumps(groups, sort_keys=True))
    with connect(settings.clickhouse_dsn) as client:
        for account in CLUSTERS:
            frame = costreads.allocation_groups(
                client, account, day(1), day(3), bill_arguments(([], []), "billed")
            )
            answers.append(frame.to_json(double_precision=15, orient="split"))
            answers.append(json.dumps(list(map(float, frame["cost"]))))
    return answers


def _get(api: Api, path: str, query: dict[str, Any]) -> Any:
    response = api.client.get(PREFIX + path, query_string=query, headers=api.headers(ORG))
    assert response.status_code == 200, (path, query)
    return response.get_json()


def _assert_breakdown_totals_are_clean_expenses_totals(api: Api) -> None:
    """breakdown_expenses' `total` and `previous_total` are clean_expenses' `total_cost`
    for the same filters and periods, to the last bit: each sums the same rows exactly
    (before, adding the buckets as floats missed by up to 2e-12 on this world)."""
    recent = {"start_date": PERIOD["start_date"] + 86400, "end_date": PERIOD["end_date"]}
    previous = {"start_date": PERIOD["start_date"], "end_date": PERIOD["start_date"] + 86399}
    for metric in ("billed", "effective", "list"):
        for extra in (
            {},
            {"k8s_label": "team:a"},
            {"k8s_namespace": ["shop", "__idle__"]},
            {"cloud_account_id": ["acc-1", "aws-2"]},
        ):
            asked = {"cost_metric": metric, **extra}
            totals = [
                _get(api, "/clean_expenses", {**period, **asked})["total_cost"]
                for period in (recent, previous)
            ]
            for by in ("cloud_account_id", "region", "k8s_component"):
                body = _get(api, "/breakdown_expenses", {**recent, **asked, "breakdown_by": by})
                assert [body["total"], body["previous_total"]] == totals, (metric, extra, by)


def test_every_money_reader_answers_the_same_bits_every_time_and_after_a_merge(
    api: Api, settings: Any, world: dict[str, Any]
) -> None:
    app = create_app(settings)
    first = _answers(api, app, settings, world["report"])
    _assert_breakdown_totals_are_clean_expenses_totals(api)
    for _ in range(ASKS):
        assert _answers(api, app, settings, world["report"]) == first
    with connect(settings.clickhouse_dsn) as client:
        for table in TABLES:
            client.command(f"OPTIMIZE TABLE {table} FINAL")
    assert _answers(api, app, settings, world["report"]) == first
