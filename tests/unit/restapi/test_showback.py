"""Showback report definitions, their periods, a weekly Parquet report to file:// and the
`k8scost reports` commands (the Airflow run on S3 is tests/dags/test_showback_reports.py)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pyarrow.parquet as pq
import pytest

from api import auth
from api.query.tokenscope import TokenScope
from api.reportdefs import ReportError, definition
from api.showback import last_closed_period, run_due
from etl.core.days import day_start_epoch
from etl.storage import ledger as ledger_store
from etl.storage import reports as store
from etl.worker import ledger
from tests.api_data import add_cluster, allocation_row, day, write_allocation
from tests.cli_runner import k8scost_in

GOOD = (
    "teams",
    ["namespace:shop"],
    "namespace,label:team",
    "weekly",
    {},
    "parquet",
    "file:///tmp/r",
)


@pytest.mark.parametrize(
    ("position", "value"),
    [
        (0, "../escape"),
        (1, ["team:a"]),
        (2, "namespace,label:team,node"),
        (2, "namespace,namespace"),
        (2, "container"),
        (3, "daily"),
        (4, {"share_idle": "always"}),
        (5, "xlsx"),
        (6, "http://example.com/"),
        (6, "/tmp/no-scheme/"),
    ],
)
def test_a_definition_that_cannot_be_written_is_refused(position, value):
    arguments = list(GOOD)
    arguments[position] = value
    with pytest.raises(ReportError):
        definition(*arguments)


def test_a_definition_is_stored_as_given_with_its_destination_a_folder():
    fields = definition(*GOOD)
    assert fields["destination"] == "file:///tmp/r/"
    assert fields["scopes"] == ["namespace:shop"] and fields["group_by"] == "namespace,label:team"
    assert fields["cost_metric"] is None  # the organization's default, when written


def test_a_report_keeps_its_cost_metric_and_refuses_an_unknown_one():
    assert definition(*GOOD, "effective")["cost_metric"] == "effective"
    with pytest.raises(ReportError, match="cost_metric"):
        definition(*GOOD, "amortized")


@pytest.mark.parametrize(
    ("period", "today", "first", "last"),
    [
        ("weekly", date(2024, 3, 13), date(2024, 3, 4), date(2024, 3, 10)),  # a Wednesday
        ("weekly", date(2024, 3, 11), date(2024, 3, 4), date(2024, 3, 10)),  # a Monday
        ("monthly", date(2024, 3, 1), date(2024, 2, 1), date(2024, 2, 29)),
        ("monthly", date(2024, 1, 31), date(2023, 12, 1), date(2023, 12, 31)),
    ],
)
def test_the_last_closed_period(period, today, first, last):
    assert last_closed_period(period, today) == (first, last)


WEEK = range(4, 11)  # March 4 (Monday) to 10: api_data's day(n) is March n, 2024


def _rows(n: int) -> list[dict[str, Any]]:
    def pod(rid: str, namespace: str, labels: dict, **costs: float) -> dict[str, Any]:
        return allocation_row(rid, namespace, "n1", labels, **costs)

    return [
        pod("w", "shop", {"team": "a"}, cpu_cost=1.0 * n, ram_cost=0.5),
        pod("x", "shop", {}, cpu_cost=0.25),
        pod("y", "data", {"team": "b"}, cpu_cost=3.0),
        pod("i", "__idle__", {}, cpu_cost=2.0, ram_cost=1.0),
    ]


def test_a_weekly_report_writes_the_api_answer_once_its_days_are_settled(
    settings, db, api, tmp_path
):
    add_cluster(db, "org-1", "acc-1", list(WEEK))
    for n in WEEK:
        write_allocation(settings, "acc-1", n, _rows(n))
    fields = definition(
        "shop",
        ["namespace:shop"],
        "namespace,label:team",
        "weekly",
        {"share_idle": "weighted"},
        "parquet",
        f"file://{tmp_path}/out",
    )
    report = store.add_report(db, "org-1", fields)
    today = date(2024, 3, 13)
    assert run_due(settings, today) == []  # no day settled yet
    for n in WEEK:
        db[ledger_store.COLLECTION].insert_one(
            {"_id": ledger.record_id("acc-1", day(n)), "cloud_account_id": "acc-1",
             "date": day(n).isoformat(), "status": ledger.SUCCEEDED, "run_id": "r"}
        )  # fmt: skip
    (manifest,) = run_due(settings, today)
    assert run_due(settings, today) == []  # written once for this ledger state
    folder = tmp_path / "out" / "shop" / "2024-03-04" / "v1"
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    table = pq.read_table(folder / "shop_2024-03-04_2024-03-10.parquet").to_pylist()
    # The API's answers for the same week, scope and options, with a token of that scope:
    # k8s_costs' total (one grouping), OpenCost's allocation per (namespace, team).
    headers = {
        "Authorization": "Bearer "
        + auth.issue_token(db, "org-1", TokenScope.parse(["namespace:shop"], "viewer"))
    }
    period = {"start_date": day_start_epoch(day(4)), "end_date": day_start_epoch(day(10))}
    costs = api.client.get(
        "/restapi/v2/organizations/org-1/k8s_costs",
        query_string={**period, "group_by": "namespace", "share_idle": "weighted"},
        headers=headers,
    ).get_json()
    assert round(manifest["totals"]["cost"], 2) == round(costs["total_cost"], 2)
    assert manifest["totals"]["cost"] == pytest.approx(costs["total_cost"], rel=1e-12)
    window = f"{period['start_date']},{day_start_epoch(day(11))}"
    (allocations,) = api.client.get(
        "/allocation",
        query_string={"window": window, "aggregate": "namespace,label:team", "shareIdle": "true"},
        headers=headers,
    ).get_json()["data"]
    assert {f"{r['namespace']}/{r['label:team']}": r["cost"] for r in table} == pytest.approx(
        {name: a["totalCost"] for name, a in allocations.items()}, rel=1e-12
    )
    assert {(r["namespace"], r["label:team"]) for r in table} == {
        ("shop", "a"),
        ("shop", "__unallocated__"),
    }
    assert all(r["shared_idle"] > 0 for r in table)  # the week's idle, shared by cost
    assert manifest["source_days"][0] == {
        "cloud_account_id": "acc-1", "date": "2024-03-04", "status": "succeeded",
        "run_id": "r", "updated_at": None,
    }  # fmt: skip
    assert store.latest_version(db, report["_id"], "2024-03-04")["version"] == 1


def test_reports_add_list_rm(tmp_path, monkeypatch):
    call = k8scost_in(tmp_path, monkeypatch)
    report_id = call(
        "reports", "add", "--organization-id", "o", "--name", "teams", "--scope", "label:team=a",
        "--group-by", "namespace,label:app", "--period", "monthly", "--format", "parquet",
        "--destination", "s3://bucket/showback", "--share-idle", "weighted",
    ).strip()  # fmt: skip
    (listed,) = [
        json.loads(line) for line in call("reports", "list", "--organization-id", "o").splitlines()
    ]
    assert listed["id"] == report_id and listed["destination"] == "s3://bucket/showback/"
    assert listed["sharing"] == {"share_idle": "weighted"} and listed["scopes"] == ["label:team=a"]
    refused = call(
        "reports", "add", "--organization-id", "o", "--name", "bad", "--period", "daily",
        "--destination", "s3://bucket/", ok=False,
    )  # fmt: skip
    assert "daily" in refused
    bad_group = call(
        "reports", "add", "--organization-id", "o", "--name", "bad", "--period", "weekly",
        "--group-by", "pod,node,namespace", "--destination", "s3://bucket/", ok=False,
    )  # fmt: skip
    assert "group_by" in bad_group
    assert (
        call("reports", "rm", "--organization-id", "o", "--id", report_id).strip()
        == f"removed {report_id}"
    )
    assert call("reports", "list", "--organization-id", "o") == ""
    call("reports", "rm", "--organization-id", "o", "--id", report_id, ok=False)
