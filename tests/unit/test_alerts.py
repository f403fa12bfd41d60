"""Anomalies and their causes on a simulated cluster with an injected jump, and their
webhooks.

The world: two simulated clusters over six days (tests/alert_fixtures.py); on the last
day the first cluster's `web` namespace doubles its replicas and three nodes of a new
instance type join it. Its allocation is the analytic truth (tests/truth.py) loaded
into ClickHouse; the expected causes are summed here from the same truth rows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest

from devtools.localprom import free_port
from etl.alerts import anomalies, causes, notify, run
from etl.core.components import COMPONENTS
from etl.core.config import Settings
from etl.metroculus.nodetypes import node_instance_types
from etl.metroculus.promql import Sample
from etl.storage import alerting, deliveries, registry
from etl.storage.clickhouse import connect
from tests import alert_fixtures as af
from tests.alert_fixtures import Receiver
from tests.truth import IDLE, UNMOUNTED, expected_allocation

RELATIVE = 1e-4  # the acceptance's 0.01%
NOW = 1_780_000_000.0


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
    types = af.node_types(jumped)
    days = af.days()[2:]  # the first with 2 previous days (too few), then 3, 4 and 5
    raised = {day: run.evaluate(settings, day, node_types=types)["anomalies"] for day in days}
    tenant = base["clusters"][0]["tenant_id"]
    day = af.END_DAY
    assert raised == {
        **{d: [] for d in days[:-1]},
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
    assert all(nodes[name]["instance_type"] == af.NEW_TYPE for name in new)
    line = f"+${new_dollars:,.2f}: 3 new {af.NEW_TYPE} nodes ({', '.join(new)})"
    assert line in cluster["summary"]
    web = alerting.get_alert(db, raised[day][1])
    (controller,) = web["causes"]["controllers"]
    assert controller["name"] == "web/Deployment/web"
    assert controller["change"] == "grown"


def test_the_default_rule_pages_for_the_base_histories_api_scale_up(world):
    settings, base, _, _ = world
    tenant = base["clusters"][0]["tenant_id"]
    result = run.evaluate(settings, af.END_DAY, [tenant], node_types=af.no_node_types)
    assert f"anomaly:{tenant}:namespace:api:{af.END_DAY}" in result["anomalies"]


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


class _Thanos:
    """A PromQL client answering the node-type query as Prometheus would."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def instant(self, query, at, tenant):
        self.asked.append((query, at.isoformat()))
        return [
            Sample({"node": "n1", "instance_type": "m5.large"}, 1.0),
            Sample({"node": "n2", "instance_type": ""}, 1.0),
        ]


def test_node_types_are_one_query_over_the_window():
    thanos = _Thanos()
    types = node_instance_types(thanos, "t-1", date(2026, 6, 1), date(2026, 6, 8))
    assert types == {"n1": "m5.large"}
    ((query, at),) = thanos.asked
    assert query == (
        'max by (node, instance_type) (last_over_time(node_cpu_hourly_cost{tenant_id="t-1"}[8d]))'
    )
    assert at == "2026-06-08T23:59:59.999000+00:00"


# Webhooks against a local HTTP receiver: one delivery per alert and target, the HMAC
# verifies, a receiver down for a run gets the alert on the next, a restated day sends
# nothing twice, a delivery fails for good after the configured tries.


@pytest.fixture
def receiver():
    receiver = Receiver(free_port())
    yield receiver
    receiver.stop()


def _hmac_ok(secret: str, request: dict[str, Any]) -> bool:
    """The receiver's check, written from the documented scheme (docs/alerts.md)."""
    headers = request["headers"]
    signed = headers["X-K8scost-Timestamp"].encode() + b"." + request["body"]
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-K8scost-Signature"])


def test_webhooks_deliver_once_retry_a_down_receiver_and_a_restated_day_sends_nothing_twice(
    world, receiver
):
    settings, base, jumped, db = world
    organization = base["clusters"][0]["organization_id"]
    alerting.set_alert_settings(db, organization, 30, 1.5)
    signed = alerting.add_target(db, organization, "json", receiver.url)
    slack = alerting.add_target(db, organization, "slack", receiver.url + "/slack")
    alerting.add_target(db, "another-org", "json", receiver.url + "/other")

    # Run 1: the receiver is down (nothing listens): both alerts wait, nothing is lost.
    first = run.evaluate(settings, af.END_DAY, now=NOW, node_types=af.no_node_types)
    assert len(first["anomalies"]) == 2
    assert first["deliveries"] == {"sent": 0, "retry": 4, "failed": 0}
    pending = deliveries.find(db)
    assert {(d["state"], d["attempts"]) for d in pending} == {(deliveries.PENDING, 1)}
    assert all(d["next_attempt_at"] == NOW + settings.webhook_backoff_s for d in pending)

    # Run 2, before the backoff is over: nothing is attempted.
    receiver.start()
    assert (
        run.evaluate(settings, af.END_DAY, now=NOW + 1, node_types=af.no_node_types)["deliveries"][
            "sent"
        ]
        == 0
    )
    assert receiver.requests == []

    # Run 3: the receiver is up, each alert reaches each target once.
    assert (
        run.evaluate(settings, af.END_DAY, now=NOW + 61, node_types=af.no_node_types)["deliveries"][
            "sent"
        ]
        == 4
    )
    by_path = {}
    for request in receiver.requests:
        by_path.setdefault(request["headers"].get("X-K8scost-Signature") is None, []).append(
            request
        )
    signed_requests, slack_requests = by_path[False], by_path[True]
    assert len(signed_requests) == len(slack_requests) == 2
    assert all(_hmac_ok(signed["secret"], r) for r in signed_requests)
    assert not _hmac_ok("not-the-secret", signed_requests[0])
    bodies = [json.loads(r["body"]) for r in signed_requests]
    assert sorted(b["id"] for b in bodies) == sorted(first["anomalies"])
    assert all(b["causes"]["components"] and b["summary"] for b in bodies)
    for request in slack_requests:
        message = json.loads(request["body"])
        assert message["text"].startswith("K8s cost anomaly: sim-cluster-1")
        assert [block["type"] for block in message["blocks"]] == ["header", "section", "section"]
    assert {d["state"] for d in deliveries.find(db)} == {deliveries.SENT}
    assert slack["_id"] in {d["target_id"] for d in deliveries.find(db)}

    # The day restated without the jump: its alerts are resolved, nothing is sent; then
    # restated with it again: the same alerts reopen, nothing is raised or sent twice.
    states = {}
    for world in (base, jumped):
        with connect(settings.clickhouse_dsn) as client:
            af.load(client, world, [af.END_DAY])
        again = run.evaluate(settings, af.END_DAY, now=NOW + 3600, node_types=af.no_node_types)
        assert again["deliveries"] == {"sent": 0, "retry": 0, "failed": 0}
        alerts = alerting.find_alerts(db, organization, 0, 2**31)
        states[world is jumped] = (again["anomalies"], {a["_id"]: a["state"] for a in alerts})
    assert states[False] == ([], dict.fromkeys(first["anomalies"], alerting.RESOLVED))
    assert states[True] == (first["anomalies"], dict.fromkeys(first["anomalies"], alerting.OPEN))
    assert len(receiver.requests) == 4
    assert len(deliveries.find(db)) == 4


def test_a_delivery_fails_for_good_after_the_configured_tries(tmp_path):
    settings = Settings.from_env(
        {"K8SCOST_DATA_DIR": str(tmp_path), "K8SCOST_WEBHOOK_MAX_ATTEMPTS": "3"}
    )
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    target = alerting.add_target(db, "org", "slack", f"http://127.0.0.1:{free_port()}/down")
    alert = notify.test_message("org", NOW) | {"_id": "anomaly:t:cluster:2026-06-01"}
    alerting.save_alert(db, alert)
    deliveries.enqueue(db, alert, [target["_id"]], NOW)
    deliveries.enqueue(db, alert, [target["_id"]], NOW)  # inserted once
    now, states = NOW, []
    for _ in range(4):
        notify.deliver_due(settings, db, ["org"], now)
        (delivery,) = deliveries.find(db)
        states.append((delivery["state"], delivery["attempts"]))
        now = delivery["next_attempt_at"]
    assert states == [("pending", 1), ("pending", 2), ("failed", 3), ("failed", 3)]
    assert delivery["next_attempt_at"] - delivery["last_attempt_at"] == 4 * 60  # 60, 120, 240


def test_a_claim_whose_sender_died_expires_and_the_delivery_is_sent_again(tmp_path, receiver):
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path)})
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    target = alerting.add_target(db, "org", "json", receiver.url)
    alert = notify.test_message("org", NOW) | {"_id": "anomaly:t:cluster:2026-06-01"}
    alerting.save_alert(db, alert)
    deliveries.enqueue(db, alert, [target["_id"]], NOW)
    (delivery,) = deliveries.find(db)
    # A sender claims it until NOW + 30, then dies before recording anything.
    assert deliveries.claim(db, delivery["_id"], "dead-sender", NOW, NOW + 30) is not None
    assert deliveries.claim(db, delivery["_id"], "another", NOW + 1, NOW + 31) is None
    receiver.start()
    assert notify.deliver_due(settings, db, ["org"], NOW + 29)["sent"] == 0
    assert receiver.requests == []
    assert notify.deliver_due(settings, db, ["org"], NOW + 31)["sent"] == 1
    (request,) = receiver.requests
    assert request["headers"]["X-K8scost-Delivery"] == f"{alert['_id']}|{target['_id']}"
    (delivery,) = deliveries.find(db)
    assert (delivery["state"], delivery["attempts"]) == (deliveries.SENT, 2)  # the lost one too
    # The dead sender's late outcome, if it ever came, would not overwrite the new one.
    assert not deliveries.finish(db, delivery["_id"], "dead-sender", {"state": "pending"})
