"""Tokens, probes and the OpenAPI document of the API."""

from __future__ import annotations

from typing import Any

import pytest

from api import auth
from api.app import create_app
from api.query.filters import CLEAN_EXPENSES
from etl.core.config import Settings
from tests.api_data import (
    URL,
    Api,
    add_cluster,
    assert_problem,
    write_cost,
)

ORG_ROUTES = [URL, "/restapi/v2/organizations/{org}/ingest_status"]
VALID = {"start_date": 0, "end_date": 86400}


BAD_AUTHORIZATIONS = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "Bearer k8c_not-a-token",
    "k8c_x",
]


@pytest.mark.parametrize("path", ORG_ROUTES)
def test_no_valid_token_is_a_401_problem_with_a_challenge(api: Api, path: str) -> None:
    for authorization in BAD_AUTHORIZATIONS:
        headers = {} if authorization is None else {"Authorization": authorization}
        response = api.client.get(path.format(org="org-1"), query_string=VALID, headers=headers)
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), authorization


def test_a_revoked_token_is_a_401(api: Api, db: Any) -> None:
    headers = api.headers("org-1")
    assert (
        api.client.get(URL.format(org="org-1"), query_string=VALID, headers=headers).status_code
        == 200
    )
    assert auth.revoke_organization_tokens(db, "org-1") == 1
    response = api.client.get(URL.format(org="org-1"), query_string=VALID, headers=headers)
    assert_problem(response, 401)


def test_revoking_one_token_keeps_the_others(api: Api, db: Any) -> None:
    first, second = auth.issue_token(db, "org-1"), auth.issue_token(db, "org-1")
    assert auth.revoke_token(db, first) is True
    assert auth.revoke_token(db, first) is False
    for token, status in ((first, 401), (second, 200)):
        response = api.client.get(
            URL.format(org="org-1"),
            query_string=VALID,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == status


@pytest.mark.parametrize("path", ORG_ROUTES)
def test_another_organizations_token_is_a_403_and_leaks_nothing(
    settings: Settings, db: Any, api: Api, path: str
) -> None:
    theirs = add_cluster(db, "org-2", "acc-theirs", [1])
    write_cost(settings, "acc-theirs", theirs, 1, 100.0)

    response = api.client.get(
        path.format(org="org-2"), query_string=VALID, headers=api.headers("org-1")
    )

    body = assert_problem(response, 403)
    assert "acc-theirs" not in response.get_data(as_text=True)
    assert "org-2" in body["detail"]


def test_probes_and_docs_are_open(api: Api) -> None:
    for path in ("/livez", "/readyz", "/openapi.json", "/docs"):
        assert api.client.get(path).status_code == 200, path


def test_livez(api: Api) -> None:
    response = api.client.get("/livez")
    assert response.status_code == 200
    assert response.get_json() == {"alive": True}


def test_readyz_when_both_stores_answer(api: Api) -> None:
    response = api.client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "ready": True,
        "checks": {"clickhouse": "ok", "mongodb": "ok"},
    }


@pytest.mark.parametrize(
    ("overrides", "failing"),
    [
        ({"clickhouse_dsn": "http://127.0.0.1:9/default"}, ["clickhouse"]),
        ({"mongo_uri": "montydb:///dev/null/mongo"}, ["mongodb"]),
        (
            {"clickhouse_dsn": "http://127.0.0.1:9/default", "mongo_uri": "montydb:///dev/null/m"},
            ["clickhouse", "mongodb"],
        ),
    ],
)
def test_readyz_names_the_failing_store(
    settings: Settings, overrides: dict[str, str], failing: list[str]
) -> None:
    app = create_app(settings.with_overrides(**overrides))
    body = assert_problem(app.test_client().get("/readyz"), 503)
    assert sorted(body["errors"]) == failing
    for part in failing:
        assert part in body["detail"]


def test_openapi_documents_clean_expenses(api: Api) -> None:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    operation = spec["paths"]["/restapi/v2/organizations/{organization_id}/clean_expenses"]["get"]
    parameters = {(p["in"], p["name"]): p for p in operation["parameters"]}
    assert parameters[("query", "start_date")]["required"] is True
    assert parameters[("query", "end_date")]["schema"]["type"] == "integer"
    for declared in CLEAN_EXPENSES.filters:
        assert parameters[("query", declared.name)]["schema"]["type"] == "array", declared.name
    assert parameters[("query", "limit")]["schema"]["minimum"] == 1
    assert parameters[("query", "format")]["schema"]["enum"] == ["advanced_json", "json", "csv"]
    assert parameters[("query", "cost_metric")]["schema"]["enum"] == ["billed", "effective", "list"]
    assert parameters[("query", "billing_period")]["schema"]["type"] == "array"
    assert ("path", "organization_id") in parameters

    schemas = spec["components"]["schemas"]
    ok = operation["responses"]["200"]["content"]
    assert "text/csv" in ok
    response_schema = schemas[ok["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert set(response_schema["properties"]) == {
        "start_date",
        "end_date",
        "cost_metric",
        "total_count",
        "total_cost",
        "clean_expenses",
        "limit",
        "offset",
        "sharing",
    }
    item_ref = response_schema["properties"]["clean_expenses"]["items"]["$ref"]
    item = schemas[item_ref.rsplit("/", 1)[-1]]["properties"]
    assert item["cost"]["type"] == "number"
    assert item["tags"]["type"] == "object"
    assert item["first_seen"]["type"] == "integer"
    assert {"k8s_costs", "billed_nodes", "k8s_cluster_id"} <= set(item)
    for status in ("400", "401", "403"):
        ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert set(schemas[ref.rsplit("/", 1)[-1]]["required"]) == {"status", "title", "detail"}
    assert spec["security"] == [{auth.SCHEME_NAME: []}]
    assert spec["components"]["securitySchemes"][auth.SCHEME_NAME]["scheme"] == "bearer"
    assert spec["paths"]["/livez"]["get"]["security"] == []
    page = api.client.get("/docs").get_data(as_text=True)
    assert "openapi.json" in page and "//cdn" not in page and "https://" not in page
