"""Alert webhooks against a local HTTP receiver: one delivery per alert and target, the
HMAC verifies, a receiver down for a run gets the alert on the next, a restated day
sends nothing twice, and a delivery fails for good after the configured tries."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from devtools.localprom import free_port
from etl.alerts import notify, run
from etl.core.config import Settings
from etl.storage import alerting, registry
from etl.storage.clickhouse import connect
from tests import alert_fixtures as af
from tests.alert_fixtures import Receiver

NOW = 1_780_000_000.0


@pytest.fixture(scope="module")
def alert_template(tmp_path_factory):
    return af.stores_template(tmp_path_factory.mktemp("webhooks") / "data")


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


def test_webhooks_deliver_once_retry_a_down_receiver_and_skip_restated_days(
    alert_template, tmp_path, receiver
):
    template, base, jumped = alert_template
    settings = af.fresh_settings(template, tmp_path / "data")
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    organization = base["clusters"][0]["organization_id"]
    alerting.set_alert_settings(db, organization, 30, 1.5)
    signed = alerting.add_target(db, organization, "json", receiver.url)
    slack = alerting.add_target(db, organization, "slack", receiver.url + "/slack")
    alerting.add_target(db, "another-org", "json", receiver.url + "/other")

    # Run 1: the receiver is down (nothing listens): both alerts wait, nothing is lost.
    first = run.evaluate(settings, af.END_DAY, now=NOW)
    assert len(first["anomalies"]) == 2
    assert first["deliveries"] == {"sent": 0, "retry": 4, "failed": 0}
    pending = alerting.find_deliveries(db)
    assert {(d["state"], d["attempts"]) for d in pending} == {(alerting.PENDING, 1)}
    assert all(d["next_attempt_at"] == NOW + settings.webhook_backoff_s for d in pending)

    # Run 2, before the backoff is over: nothing is attempted.
    receiver.start()
    assert run.evaluate(settings, af.END_DAY, now=NOW + 1)["deliveries"]["sent"] == 0
    assert receiver.requests == []

    # Run 3: the receiver is up, each alert reaches each target once.
    assert run.evaluate(settings, af.END_DAY, now=NOW + 61)["deliveries"]["sent"] == 4
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
    assert {d["state"] for d in alerting.find_deliveries(db)} == {alerting.SENT}
    assert slack["_id"] in {d["target_id"] for d in alerting.find_deliveries(db)}

    # The day restated (same figures) and re-evaluated: nothing is sent again.
    with connect(settings.clickhouse_dsn) as client:
        af.load(client, jumped, [af.END_DAY])
    again = run.evaluate(settings, af.END_DAY, now=NOW + 3600)
    assert again["anomalies"] == first["anomalies"]
    assert again["deliveries"] == {"sent": 0, "retry": 0, "failed": 0}
    assert len(receiver.requests) == 4
    assert len(alerting.find_deliveries(db)) == 4


def test_a_delivery_fails_for_good_after_the_configured_tries(tmp_path):
    settings = Settings.from_env(
        {"K8SCOST_DATA_DIR": str(tmp_path), "K8SCOST_WEBHOOK_MAX_ATTEMPTS": "3"}
    )
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    target = alerting.add_target(db, "org", "slack", f"http://127.0.0.1:{free_port()}/down")
    alert = notify.test_message("org", NOW) | {"_id": "anomaly:t:cluster:2026-06-01"}
    alerting.save_alert(db, alert)
    alerting.enqueue_deliveries(db, alert, [target["_id"]], NOW)
    alerting.enqueue_deliveries(db, alert, [target["_id"]], NOW)  # inserted once
    now, states = NOW, []
    for _ in range(4):
        notify.deliver_due(settings, db, ["org"], now)
        (delivery,) = alerting.find_deliveries(db)
        states.append((delivery["state"], delivery["attempts"]))
        now = delivery["next_attempt_at"]
    assert states == [("pending", 1), ("pending", 2), ("failed", 3), ("failed", 3)]
    assert delivery["next_attempt_at"] - delivery["last_attempt_at"] == 4 * 60  # 60, 120, 240
