"""`k8s_alerts`: the organization's alerts of a period with their causes; and the
OpenAPI document of alerts and budgets."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from api import auth
from api.app import create_app
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import alerting, registry

URL = "/restapi/v2/organizations/{org}/k8s_alerts"
D1, D2 = date(2026, 6, 1), date(2026, 6, 2)


def _alert(org: str, day: date, scope: str, state: str = alerting.OPEN) -> dict[str, Any]:
    causes = [{"name": "cpu", "change": "grown", "amount_usd": 2.5, "today_usd": 5.0,
               "baseline_usd": 2.5}]  # fmt: skip
    return {
        "_id": f"anomaly:t1:{scope}:{day}",
        "kind": "anomaly",
        "organization_id": org,
        "cloud_account_id": "t1",
        "cloud_account_name": "c1",
        "scope": scope.split(":")[0],
        "namespace": scope.partition(":")[2],
        "day": day.isoformat(),
        "date": day_start_epoch(day),
        "state": state,
        "cost_usd": 5.0,
        "baseline_usd": 2.5,
        "change_usd": 2.5,
        "change_pct": 100.0,
        "summary": ["+$2.50: component cpu grown"],
        "causes": {"components": causes, "controllers": causes, "nodes": causes},
    }


@pytest.fixture
def get(tmp_path):
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path)})
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    alerting.save_alert(db, _alert("org-1", D1, "cluster"))
    alerting.save_alert(db, _alert("org-1", D2, "namespace:web", alerting.RESOLVED))
    alerting.save_alert(db, _alert("org-2", D1, "cluster") | {"_id": "anomaly:t2:cluster:x"})
    client = create_app(settings).test_client()

    def call(org: str, token_org: str | None = None, **query: Any):
        headers = {"Authorization": f"Bearer {auth.issue_token(db, token_org or org)}"}
        return client.get(URL.format(org=org), query_string=query, headers=headers)

    return call, client


def test_alerts_of_the_period_with_their_causes_and_state(get):
    call, _ = get
    period = {"start_date": day_start_epoch(D1), "end_date": day_start_epoch(D2)}
    body = call("org-1", **period).get_json()
    assert [a["id"] for a in body["k8s_alerts"]] == [
        "anomaly:t1:namespace:web:2026-06-02",
        "anomaly:t1:cluster:2026-06-01",
    ]
    assert body["k8s_alerts"][1]["causes"]["nodes"][0]["amount_usd"] == 2.5
    only_open = call("org-1", state="open", **period).get_json()
    assert [a["id"] for a in only_open["k8s_alerts"]] == ["anomaly:t1:cluster:2026-06-01"]
    first_day = call("org-1", start_date=period["start_date"], end_date=period["start_date"])
    assert first_day.get_json()["total_count"] == 1


@pytest.mark.parametrize(
    "query",
    [{"start_date": 10}, {"start_date": 10, "end_date": 5}, {"start_date": 1, "end_date": 2,
     "state": "closed"}, {"start_date": 1, "end_date": 2, "extra": 1}],
)  # fmt: skip
def test_bad_queries_get_400_and_other_organizations_403(get, query):
    call, _ = get
    answer = call("org-1", **query)
    assert answer.status_code == 400 and answer.get_json()["detail"]
    assert call("org-2", token_org="org-1", start_date=1, end_date=2).status_code == 403


def test_openapi_documents_alerts_and_budgets(get):
    _, client = get
    spec = client.get("/openapi.json").get_json()
    alerts = spec["paths"]["/restapi/v2/organizations/{organization_id}/k8s_alerts"]
    assert {"start_date", "end_date", "state"} <= {p["name"] for p in alerts["get"]["parameters"]}
    budgets = spec["paths"]["/restapi/v2/organizations/{organization_id}/budgets"]
    one = spec["paths"]["/restapi/v2/organizations/{organization_id}/budgets/{budget_id}"]
    assert set(budgets) >= {"get", "post"} and set(one) >= {"get", "put", "delete"}
    assert "400" in budgets["post"]["responses"]
    schemas = spec["components"]["schemas"]
    assert {"AlertSchema", "ContributorSchema", "BudgetSchema", "BudgetIn"} <= set(schemas)
