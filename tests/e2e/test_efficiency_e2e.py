"""Efficiency and right-sizing end to end: against the simulator's usage profiles.

On the shared two-cluster day (tests/e2e/conftest.py `loaded`), the stored requested
and used hours of every pod, the efficiencies of every namespace and the
recommendations of every controller whose pods all ran through the profile's burst
are compared with tests/truth_usage.py within 0.01%; a container without cAdvisor
series (the GPU trainer) is null everywhere, never 0.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from api.app import create_app
from k8scost.cli import cli
from tests.allocation_checks import PITFALL_DAY
from tests.stored import stored_usage
from tests.truth_usage import expected_recommendations, expected_usage

pytestmark = pytest.mark.e2e

REL = 1e-4


def _usage_truth(loaded: dict[str, Any]) -> dict[str, dict]:
    return {
        uid: row
        for tenant in loaded["tenants"]
        for uid, row in expected_usage(loaded["scenario"], tenant, PITFALL_DAY).items()
    }


def test_each_pod_requested_and_used_as_its_usage_profile(loaded):
    """The stored rows' core- and byte-hours, requested and used, against the profile."""
    truth = _usage_truth(loaded)
    rows = [
        row
        for tenant in loaded["tenants"]
        for row in stored_usage(loaded["settings"], tenant, PITFALL_DAY)
    ]
    pods = {row["pod_uid"]: row for row in rows if row["pod_uid"]}
    assert set(pods) == set(truth)
    missing = 0
    for uid, expected in truth.items():
        for column in ("cpu_request_core_hours", "ram_request_byte_hours"):
            assert pods[uid][column] == pytest.approx(expected[column], rel=REL), (uid, column)
        for column in ("cpu_used_core_hours", "ram_used_byte_hours"):
            if expected[column] is None:
                assert pods[uid][column] is None, (uid, column)
                missing += 1
            else:
                assert pods[uid][column] == pytest.approx(expected[column], rel=REL), (uid, column)
    assert missing == 2 * len(loaded["tenants"])  # the trainer pod of each cluster
    assert all(row["cpu_used_core_hours"] is None for row in rows if not row["pod_uid"])


def test_efficiency_per_group_is_used_over_requested_and_null_without_usage(loaded):
    truth = _usage_truth(loaded)
    pods = {
        uid: row
        for tenant, rows in loaded["truth"]
        for row in rows
        for uid in [row["pod"]]
        if uid in truth
    }
    body = loaded["get"]("k8s_costs", group_by="namespace")
    for group in body["groups"]:
        members = [uid for uid, row in pods.items() if row["namespace"] == group["key"]]
        measured = [uid for uid in members if truth[uid]["cpu_used_core_hours"] is not None]
        if not measured:
            assert group["cpu_efficiency"] is None and group["total_efficiency"] is None, group
            continue
        expected = {}
        for r, unit in (("cpu", "core"), ("ram", "byte")):
            used = sum(truth[uid][f"{r}_used_{unit}_hours"] for uid in measured)
            asked = sum(truth[uid][f"{r}_request_{unit}_hours"] for uid in measured)
            expected[r] = used / asked
            assert group[f"{r}_efficiency"] == pytest.approx(expected[r], rel=REL), group["key"]
        weight = group["cpu_cost"] + group["ram_cost"]
        total = (expected["cpu"] * group["cpu_cost"] + expected["ram"] * group["ram_cost"]) / weight
        assert group["total_efficiency"] == pytest.approx(total, rel=REL), group["key"]
    keys = {g["key"]: g for g in body["groups"]}
    assert keys["ml"]["cpu_efficiency"] is None  # the trainer has no cAdvisor series
    assert keys["__idle__"]["ram_efficiency"] is None
    assert keys["web"]["cpu_efficiency"] > 0 and keys["web"]["cpu_efficiency"] != 1


def test_recommendations_follow_the_usage_profiles(loaded):
    """p95 cpu and max memory over 0.7, floored, priced at the nodes' prices; a container
    without usage series has none (null), not 0."""
    body = loaded["get"]("k8s_recommendations")
    got = {
        (r["cloud_account_id"], r["namespace"], r["controller"], r["container"]): r
        for r in body["recommendations"]
    }
    checked = 0
    for tenant in loaded["tenants"]:
        truth = expected_recommendations(loaded["scenario"], tenant, PITFALL_DAY)
        for (namespace, controller, container), expected in truth.items():
            r = got[(tenant, namespace, controller, container)]
            assert r["current"] == pytest.approx(
                {"cpu_cores": expected["cpu_request"], "memory_bytes": expected["ram_request"]}
            )
            assert r["usage"]["cpu_cores"] == pytest.approx(expected["cpu_usage"], rel=REL)
            assert r["usage"]["memory_bytes"] == pytest.approx(expected["ram_usage"], rel=REL)
            assert r["recommended"]["cpu_cores"] == pytest.approx(
                expected["cpu_recommended"], rel=REL
            )
            assert r["recommended"]["memory_bytes"] == pytest.approx(
                expected["ram_recommended"], rel=REL
            )
            assert r["replicas"] == pytest.approx(expected["replicas"], rel=REL)
            assert r["monthly_savings"] == pytest.approx(expected["monthly_savings"], rel=REL)
            assert r["based_on"]["days"] == 1 and r["based_on"]["samples"] > 0
            checked += 1
        trainer = got[(tenant, "ml", "Deployment/trainer", "trainer")]
        assert trainer["recommended"] == {"cpu_cores": None, "memory_bytes": None}
        assert trainer["monthly_savings"] is None and trainer["based_on"]["days_with_usage"] == 0
    assert checked >= 4  # controllers whose every pod ran through the burst
    savings = [r["monthly_savings"] for r in body["recommendations"] if r["monthly_savings"]]
    assert savings == sorted(savings, reverse=True)
    assert body["total_monthly_savings"] == pytest.approx(sum(savings))
    maxed = loaded["get"]("k8s_recommendations", cpu_quantile="max", target_utilization=1)
    web = next(r for r in maxed["recommendations"] if r["container"] == "nginx")
    assert web["recommended"]["cpu_cores"] == pytest.approx(web["usage"]["cpu_cores"])
    only = loaded["get"]("k8s_recommendations", namespace="web", limit=1)
    assert only["total_count"] == 2 * len(loaded["tenants"]) and [
        r["namespace"] for r in only["recommendations"]
    ] == ["web"]
    for bad in ({"cpu_quantile": "p50"}, {"target_utilization": 0}, {"target_utilization": 2}):
        loaded["get"]("k8s_recommendations", status=400, **bad)


def test_k8scost_recommendations_prints_the_top_savings(loaded):
    day = PITFALL_DAY.isoformat()
    result = CliRunner().invoke(
        cli,
        [
            "recommendations",
            "--organization-id",
            loaded["organization"],
            "--start-date",
            day,
            "--end-date",
            day,
            "--limit",
            "3",
        ],
        env={"K8SCOST_DATA_DIR": loaded["settings"].data_dir.as_posix()},
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split()[:3] == ["savings/mo", "cluster", "namespace"]
    assert len(lines) == 5 and lines[-1].endswith("USD/month in all")
    top = loaded["get"]("k8s_recommendations", limit=1)["recommendations"][0]
    assert lines[1].split()[0] == f"{top['monthly_savings']:.2f}"


def test_openapi_documents_the_efficiency_fields_and_the_recommendations(loaded):
    spec = create_app(loaded["settings"]).test_client().get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    group = schemas["K8sCostGroupSchema"]["properties"]
    for name in ("cpu_efficiency", "ram_efficiency", "total_efficiency"):
        assert group[name]["description"], name
    operation = spec["paths"]["/restapi/v2/organizations/{organization_id}/k8s_recommendations"]
    parameters = {p["name"]: p for p in operation["get"]["parameters"] if p["in"] == "query"}
    assert {"start_date", "end_date", "cloud_account_id", "k8s_namespace", "namespace"} <= set(
        parameters
    )
    assert parameters["cpu_quantile"]["schema"]["enum"] == ["p95", "max"]
    assert parameters["target_utilization"]["schema"]["type"] == "number"
    item = schemas["RecommendationSchema"]["properties"]
    assert {"current", "recommended", "monthly_savings", "based_on"} <= set(item)
