"""Anomalies and their causes on a simulated cluster with an injected jump.

The world: two simulated clusters over six days (tests/alert_fixtures.py); on the last
day the first cluster's `web` namespace doubles its replicas and three nodes of a new
instance type join it. Its allocation is the analytic truth (tests/truth.py) loaded
into ClickHouse; the expected causes are summed here from the same truth rows.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from etl.alerts import anomalies, causes, run
from etl.core.components import COMPONENTS
from etl.storage import alerting, registry
from etl.storage.clickhouse import connect
from tests import alert_fixtures as af
from tests.truth import IDLE, UNMOUNTED, expected_allocation

RELATIVE = 1e-4  # the acceptance's 0.01%


@pytest.fixture(scope="module")
def alert_template(tmp_path_factory):
    """The jumped world's stores, built once: (dir, base, jumped)."""
    return af.stores_template(tmp_path_factory.mktemp("alerts") / "data")


@pytest.fixture
def world(alert_template, tmp_path):
    """Settings over a copy of the jumped world's stores; (settings, base, jumped, db)."""
    template, base, jumped = alert_template
    settings = af.fresh_settings(template, tmp_path / "data")
    return settings, base, jumped, registry.open_database(settings.mongo_uri, settings.mongo_db)


def _truth_changes(world_by_day, tenant, day, baseline, namespace=None):
    """Expected change per component, controller and node, from tests/truth.py rows."""

    def groups(d):
        rows = expected_allocation(world_by_day(d), tenant, d)
        if namespace is not None:
            rows = [r for r in rows if r["namespace"] == namespace]
        out: dict[str, dict[str, float]] = {"components": {}, "controllers": {}, "nodes": {}}
        for r in rows:
            cost = sum(r[c] for c in COMPONENTS)
            if r["namespace"] == IDLE:
                out["components"]["idle"] = out["components"].get("idle", 0) + cost
            else:
                for c in COMPONENTS:
                    name = c.removesuffix("_cost")
                    out["components"][name] = out["components"].get(name, 0) + r[c]
            pseudo = r["namespace"] in (IDLE, UNMOUNTED)
            controller = r["namespace"] if pseudo else f"{r['namespace']}/{r['controller']}"
            node = r["node"] or causes.NO_NODE
            for dim, key in (("controllers", controller), ("nodes", node)):
                out[dim][key] = out[dim].get(key, 0) + cost
        return out

    today, before = groups(day), [groups(d) for d in baseline]
    change = {}
    for dim in today:
        keys = set(today[dim]).union(*(b[dim] for b in before))
        change[dim] = {
            k: today[dim].get(k, 0) - sum(b[dim].get(k, 0) for b in before) / len(before)
            for k in keys
        }
    return change


def _assert_causes_match(alert, truth):
    for dim, expected in truth.items():
        entries = alert["causes"][dim]
        assert sum(e["amount_usd"] for e in entries) == pytest.approx(alert["change_usd"], 1e-9)
        named = [e for e in entries if e["name"] != causes.OTHER]
        for entry in named:
            assert entry["amount_usd"] == pytest.approx(expected[entry["name"]], rel=RELATIVE)
        rest = sum(v for k, v in expected.items() if k not in {e["name"] for e in named})
        other = sum(e["amount_usd"] for e in entries if e["name"] == causes.OTHER)
        assert other == pytest.approx(rest, rel=RELATIVE, abs=1e-9)
    assert sum(sum(v.values()) for v in truth.values()) / 3 == pytest.approx(
        alert["change_usd"], rel=RELATIVE
    )


def test_an_injected_jump_raises_its_cluster_and_namespace_only_with_true_causes(world):
    settings, base, jumped, db = world
    organization = base["clusters"][0]["organization_id"]
    # The base history has its own api scale-up (two more replicas, +$1.1 a day), an
    # anomaly by the default rule; this organization pages from $1.50 only.
    alerting.set_alert_settings(db, organization, threshold_pct=30, min_usd=1.5)
    raised = {day: run.evaluate(settings, day)["anomalies"] for day in af.days()}
    tenant = base["clusters"][0]["tenant_id"]
    day = af.END_DAY
    assert raised == {
        **{d: [] for d in af.days()[:-1]},
        day: [
            f"anomaly:{tenant}:cluster:{day}",
            f"anomaly:{tenant}:namespace:{af.JUMP_NAMESPACE}:{day}",
        ],
    }
    baseline = af.days()[:-1]  # every previous day of the window has data (5 of 7)

    def world_by_day(d):
        return jumped if d == day else base

    for alert_id, namespace in zip(raised[day], (None, af.JUMP_NAMESPACE), strict=True):
        alert = alerting.get_alert(db, alert_id)
        assert alert["baseline_days"] == [d.isoformat() for d in baseline]
        truth = _truth_changes(world_by_day, tenant, day, baseline, namespace)
        _assert_causes_match(alert, truth)
        assert alert["change_usd"] > 1.5
    cluster = alerting.get_alert(db, raised[day][0])
    nodes = {e["name"]: e for e in cluster["causes"]["nodes"]}
    new = [f"ip-10-9-0-{n}.ec2.internal" for n in range(1, af.NEW_NODES + 1)]
    assert all(nodes[name]["change"] == "new" for name in new)
    new_dollars = sum(nodes[name]["amount_usd"] for name in new)
    assert f"+${new_dollars:,.2f}: 3 new nodes ({', '.join(new)})" in cluster["summary"]
    web = alerting.get_alert(db, raised[day][1])
    (controller,) = web["causes"]["controllers"]
    assert controller["name"] == "web/Deployment/web"
    assert controller["change"] == "grown"


def test_the_default_rule_pages_for_the_base_histories_api_scale_up(world):
    settings, base, _, _ = world
    tenant = base["clusters"][0]["tenant_id"]
    result = run.evaluate(settings, af.END_DAY, [tenant])
    assert f"anomaly:{tenant}:namespace:api:{af.END_DAY}" in result["anomalies"]


def test_a_restated_day_recomputes_its_alerts_and_raises_nothing_twice(world):
    settings, base, jumped, db = world
    organization = base["clusters"][0]["organization_id"]
    alerting.set_alert_settings(db, organization, threshold_pct=30, min_usd=1.5)
    first = run.evaluate(settings, af.END_DAY)["anomalies"]
    with connect(settings.clickhouse_dsn) as client:
        af.load(client, base, [af.END_DAY])  # the day restated without the jump
    assert run.evaluate(settings, af.END_DAY)["anomalies"] == []
    states = {a["_id"]: a["state"] for a in alerting.find_alerts(db, organization, 0, 2**31)}
    assert states == dict.fromkeys(first, alerting.RESOLVED)
    with connect(settings.clickhouse_dsn) as client:
        af.load(client, jumped, [af.END_DAY])
    assert run.evaluate(settings, af.END_DAY)["anomalies"] == first
    states = {a["_id"]: a["state"] for a in alerting.find_alerts(db, organization, 0, 2**31)}
    assert states == dict.fromkeys(first, alerting.OPEN)


def _frame(costs: dict[date, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"day": d, "namespace": "ns", "controller": "Deployment/x", "node": "n1"}
            | dict.fromkeys(COMPONENTS, 0.0)
            | {"cpu_cost": cost, "cost": cost}
            for d, cost in costs.items()
        ]
    )


DAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("history", "today", "raised"),
    [
        ([10.0, 10.0], 100.0, False),  # 2 previous days: too few, whatever the jump
        ([10.0, 10.0, 10.0], 100.0, True),
        ([10.0, 10.0, 10.0], 13.5, True),  # +35% and +$3.50
        ([10.0, 10.0, 10.0], 12.9, False),  # +29%: under threshold_pct
        ([1.0, 1.0, 1.0], 1.9, False),  # +90% but only +$0.90: under min_usd
    ],
)
def test_the_rule_needs_three_days_the_percentage_and_the_dollars(history, today, raised):
    days = {DAY - timedelta(days=len(history) - n): cost for n, cost in enumerate(history)}
    found = anomalies.detect(_frame({**days, DAY: today}), DAY, 30.0, 1.0)
    assert [a.scope for a in found] == (["cluster", "namespace"] if raised else [])
    if raised:
        assert found[0].change_usd == pytest.approx(today - 10.0)
        assert found[0].causes["components"][0]["name"] == "cpu"
