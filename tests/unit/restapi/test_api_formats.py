"""clean_expenses as CSV and JSON, a catalog that follows imports, and 4xx/5xx problems."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from apiflask import APIFlask

from api.app import create_app
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import registry
from tests.api_data import (
    CATALOG,
    URL,
    Api,
    add_cloud_account,
    add_cluster,
    add_resource,
    assert_problem,
    day,
    ids,
    write_cost,
    write_costs,
)


def test_csv_export_has_the_same_rows_and_totals(
    api: Api, catalog_org: dict[str, float], db: Any, settings: Settings
) -> None:
    add_resource(db, "org-1", "aws-1", "evil", name="=HYPERLINK(1)", tags={"k": "+v"})
    write_costs(
        settings,
        "aws-1",
        1,
        {**{rid: cost for rid, (_, cost) in CATALOG.items()}, "evil": -0.5},
    )
    query = {"start_date": 0, "end_date": day_start_epoch(day(1)), "limit": 3}
    body = api.expenses("org-1", 0, day_start_epoch(day(1)), limit=3)

    response = api.get("org-1", {**query, "format": "csv"})

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert int(response.headers["X-Total-Count"]) == body["total_count"] == 6
    assert float(response.headers["X-Total-Cost"]) == pytest.approx(body["total_cost"])
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["resource_id"] for row in rows] == ids(body)
    for row, item in zip(rows, body["clean_expenses"], strict=True):
        assert float(row["cost"]) == pytest.approx(item["cost"])
        assert row["cloud_account_id"] == item["cloud_account_id"]
    cluster_row = rows[0]
    assert float(cluster_row["cpu_cost"]) == 0.0 and cluster_row["billed_nodes_cost"] == "0"

    everything = api.get("org-1", {**query, "limit": 10, "format": "csv"}).get_data(as_text=True)
    evil = next(r for r in csv.DictReader(io.StringIO(everything)) if r["resource_id"] == "evil")
    assert evil["resource_name"] == "'=HYPERLINK(1)"
    assert evil["tags"] == '{"k": "+v"}'
    assert float(evil["cost"]) == -0.5


def test_json_format_is_the_document(api: Api, catalog_org: dict[str, float]) -> None:
    query = {"start_date": 0, "end_date": day_start_epoch(day(1))}
    assert (
        api.get("org-1", {**query, "format": "json"}).get_json()
        == api.get("org-1", query).get_json()
    )
    assert_problem(api.get("org-1", {**query, "format": "xlsx"}), 400)


def test_a_new_resource_appears_without_waiting_for_the_catalog_ttl(
    settings: Settings, db: Any, api: Api, app: APIFlask
) -> None:
    add_cloud_account(db, "org-1", "aws-1")
    add_resource(db, "org-1", "aws-1", "old")
    write_cost(settings, "aws-1", "old", 1, 1.0)
    period = (0, day_start_epoch(day(2)))
    assert ids(api.expenses("org-1", *period)) == ["old"]

    add_resource(db, "org-1", "aws-1", "new", name="fresh")
    write_cost(settings, "aws-1", "new", 2, 5.0)
    body = api.expenses("org-1", *period)

    assert ids(body) == ["new", "old"]
    assert body["clean_expenses"][0]["name"] == "fresh"
    cache = app.extensions["k8scost_catalogs"]
    builds = cache.builds
    # An expense row without a document (an orphan) is listed once per rebuild, not rebuilt for.
    write_cost(settings, "aws-1", "orphan", 3, 2.0)
    for _ in range(3):
        body = api.expenses("org-1", 0, day_start_epoch(day(3)))
        assert ids(body) == ["new", "orphan", "old"]
    assert cache.builds == builds + 1
    orphan = body["clean_expenses"][1]
    assert orphan["cloud_account_id"] == "aws-1" and orphan["cost"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"end_date": 86400}, "start_date"),
        ({"start_date": 0}, "end_date"),
        ({"start_date": "yesterday", "end_date": 86400}, "start_date"),
        ({"start_date": "1.5", "end_date": 86400}, "start_date"),
        ({"start_date": -1, "end_date": 86400}, "start_date"),
        ({"start_date": 86400, "end_date": 0}, "end_date"),
        ({"start_date": 0, "end_date": 86400, "owner_id": "x"}, "owner_id"),
        ({"start_date": 0, "end_date": 86400, "limit": 0}, "limit"),
        ({"start_date": 0, "end_date": 86400, "limit": "ten"}, "limit"),
        ({"start_date": 0, "end_date": 86400, "format": "xml"}, "format"),
    ],
)
def test_bad_parameters_are_a_400_problem_naming_the_field(
    api: Api, query: dict[str, Any], field: str
) -> None:
    body = assert_problem(api.get("org-1", query), 400)
    assert body["title"] == "Bad Request"
    assert list(body["errors"]) == [field]
    assert all(isinstance(message, str) for message in body["errors"][field])
    assert field in body["detail"]


def test_unknown_route_and_wrong_method_are_json_problems(api: Api) -> None:
    assert_problem(api.client.get("/restapi/v2/nothing-here"), 404)
    not_allowed = assert_problem(api.client.post(URL.format(org="org-1")), 405)
    assert not_allowed["title"] == "Method Not Allowed"


def test_server_error_is_a_json_problem(bare_settings: Settings) -> None:
    """A warehouse without its tables makes the cost query fail inside the handler."""
    db = registry.open_database(bare_settings.mongo_uri, bare_settings.mongo_db)
    add_cluster(db, "org-1", "acc-1", [1])
    app = create_app(bare_settings)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = Api(app.test_client(), db).get("org-1", {"start_date": 0, "end_date": 86400})
    body = assert_problem(response, 500)
    assert body["title"] == "Internal Server Error"
