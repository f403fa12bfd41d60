"""k8s_recommendations is encoded without marshmallow's dump (api/routes/recommendations.py):
its answer is, value for value and type for type, what RecommendationsSchema's dump gives
for the same recommendations, and a number that is not finite is a 500 problem."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from api.query.recommendations import Options, find_recommendations
from api.routes import recommendations as recommendations_route
from api.routes.recommendations import RecommendationSchema, RecommendationsSchema
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import warehouse
from etl.storage.clickhouse import connect
from tests import api_data as data
from tests.api_data import Api, assert_problem, day

ORG = "org-1"
URL = f"/restapi/v2/organizations/{ORG}/k8s_recommendations"
PERIOD = {"start_date": day_start_epoch(day(1)), "end_date": day_start_epoch(day(3)) - 1}
CLUSTERS = ("acc-1", "acc-2")


def _usage(account: str, n: int) -> pd.DataFrame:
    """Container-days of full-precision figures: with usage (some requesting too much,
    some too little), a container without usage series (null quantiles and samples:
    no recommendation), one that ran on day 1 only, one recommended at the floors (an
    int in memory: 32 MiB)."""
    rows = []
    for container in range(6):
        measured = container != 4
        floored = 1e-3 if container == 3 else 1.0
        rows.append(
            {
                "resource_id": f"{account}-c{container}",
                "namespace": ("shop", "data", "web")[container % 3],
                "controller_kind": "Deployment" if container % 2 else "",
                "controller": f"ctl-{container % 3}" if container % 2 else "",
                "container": f"app-{container}",
                "pod": f"pod-{container}",
                "pod_uid": f"uid-{container}",
                "node": "n1",
                "running_hours": 24.0 / (container + 1),
                "cpu_request": (2.0, 0.25, 1.0, 0.1, 3.0, 0.5)[container],
                "ram_request": 2.0**30 * (container + 1) if container != 1 else 2.0**27,
                "cpu_p95": (0.1 + container / 7 + n / 13) * floored if measured else None,
                "cpu_max": (0.3 + container / 3 + n / 11) * floored if measured else None,
                "ram_p95": (2.0**28 * (container + 1) / 3 + n) * floored if measured else None,
                "ram_max": (2.0**29 * (container + 1) / 3 + n) * floored if measured else None,
                "samples": 1440.0 if measured else None,
                "cpu_usd": (container + 1) / 3.0,
                "cpu_core_hours": 24.0,
                "ram_usd": (container + 2) / 7.0,
                "ram_gib_hours": 48.0,
            }
        )
    if n == 2:
        rows.pop(5)
    return pd.DataFrame(rows)


@pytest.fixture
def usage(settings: Settings, db: Any) -> None:
    for account in CLUSTERS:
        data.add_cluster(db, ORG, account, [1, 2])
        for n in (1, 2):
            with connect(settings.clickhouse_dsn) as client:
                warehouse.restate_day(
                    client, "k8s_container_usage", account, day(n), _usage(account, n)
                )


def _encoded(document: Any) -> str:
    """As JSON, keys sorted: an int where a float belongs reads `1`, not `1.0`."""
    return json.dumps(document, sort_keys=True, allow_nan=False)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"limit": 3},
        {"limit": 100},
        {"cpu_quantile": "max", "memory_quantile": "p95", "target_utilization": 0.5},
        {"cpu_quantile": "max", "target_utilization": 1, "limit": 2},
    ],
)
def test_the_answer_is_the_schema_s_dump_of_the_recommendations(
    api: Api, settings: Settings, usage: None, query: dict[str, Any]
) -> None:
    response = api.get(ORG, {**PERIOD, **query}, URL)

    assert response.status_code == 200, response.get_json()
    document = response.get_json()
    # The recommendations found, dumped by the schema as the route did before it encoded
    # them itself: the same fields, values, nulls and order.
    options = Options(
        query.get("cpu_quantile", "p95"),
        query.get("memory_quantile", "max"),
        query.get("target_utilization", 0.7),
    )
    with connect(settings.clickhouse_dsn) as client:
        found = find_recommendations(
            client, CLUSTERS, PERIOD["start_date"], PERIOD["end_date"], (), options
        )
    assert len(found) == 2 * 6 and document["total_count"] == len(found)
    assert [r["monthly_savings"] is None for r in found].count(True) == 2
    assert any(r["monthly_savings"] < 0 for r in found if r["monthly_savings"] is not None)
    assert {"cpu_cores": 0.01, "memory_bytes": 32 * 2**20} in [r["recommended"] for r in found]
    shown = found[: query["limit"]] if "limit" in query else found
    expected = RecommendationSchema(many=True).dump(shown)
    assert _encoded(document["recommendations"]) == _encoded(expected)
    # The whole document: what the schema's dump of it gives, no field more (`limit`
    # echoed only when asked), none of another type.
    assert ("limit" in document) == ("limit" in query)
    assert _encoded(RecommendationsSchema().dump(document)) == _encoded(document)
    for unmeasured in (r for r in document["recommendations"] if r["monthly_savings"] is None):
        assert unmeasured["usage"] == unmeasured["recommended"]
        assert unmeasured["usage"] == {"cpu_cores": None, "memory_bytes": None}


def test_a_recommendation_not_finite_is_a_500_problem(api: Api, db: Any, monkeypatch) -> None:
    """Encoded without marshmallow's dump, through the app's JSON rule all the same: a
    saving that is no finite number is a problem, never `Infinity` nor null."""
    found = {
        "cloud_account_id": "acc-1",
        "namespace": "shop",
        "controller": "Deployment/web",
        "container": "web",
        "current": {"cpu_cores": 1.0, "memory_bytes": 2.0**30},
        "usage": {"cpu_cores": 0.5, "memory_bytes": 2.0**29},
        "recommended": {"cpu_cores": 0.7, "memory_bytes": 2.0**29 / 0.7},
        "replicas": 1.0,
        "monthly_savings": float("inf"),
        "based_on": {"days": 1, "days_with_usage": 1, "samples": 1440},
    }
    data.add_cluster(db, ORG, "acc-1", [1])
    monkeypatch.setattr(recommendations_route, "find_recommendations", lambda *_: [found])

    response = api.get(ORG, PERIOD, URL)

    problem = assert_problem(response, 500)
    json.loads(response.get_data(as_text=True), parse_constant=pytest.fail)
    assert "not a finite number" in problem["detail"]
