"""Alert evaluations that run at once (the `k8s_cost_alerts` DAG beside a manual
`k8scost alerts evaluate`) send each (alert, webhook) once.

Four `k8scost alerts evaluate --date D` processes start together over the jumped world of
tests/alert_fixtures.py, whose last day raises two anomalies; the organization has two
signed webhooks on a receiver that takes 1 s to answer, so every evaluation lists the
same pending deliveries while another is still sending them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from devtools.localprom import free_port
from etl.storage import alerting, deliveries, registry
from tests import alert_fixtures as af
from tests.alert_fixtures import Receiver

pytestmark = pytest.mark.e2e

# The console script installed beside this interpreter, whatever PATH says.
K8SCOST = Path(sys.executable).with_name("k8scost")
EVALUATIONS = 4
RECEIVER_DELAY_S = 1.0


@pytest.fixture
def slow_receiver():
    receiver = Receiver(free_port(), delay_s=RECEIVER_DELAY_S)
    receiver.start()
    yield receiver
    receiver.stop()


def test_concurrent_evaluations_deliver_each_alert_once(tmp_path, slow_receiver):
    template, base, _ = af.stores_template(tmp_path / "template")
    settings = af.fresh_settings(template, tmp_path / "data")
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    organization = base["clusters"][0]["organization_id"]
    alerting.set_alert_settings(db, organization, 30, 1.5)  # the jump alone (test_alerts.py)
    targets = [
        alerting.add_target(db, organization, "json", f"{slow_receiver.url}/{name}")
        for name in ("a", "b")
    ]
    env = {
        **os.environ,
        "K8SCOST_DATA_DIR": str(tmp_path / "data"),
        "CLICKHOUSE_DSN": settings.clickhouse_dsn,
        # Node instance types are not what this is about: a refused Thanos names none.
        "THANOS_URL": f"http://127.0.0.1:{free_port()}",
        "PROMQL_RETRIES": "0",
    }
    command = [str(K8SCOST), "alerts", "evaluate", "--date", "2026-06-06"]
    evaluations = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(EVALUATIONS)
    ]
    outputs = [evaluation.communicate(timeout=300) for evaluation in evaluations]
    assert [evaluation.returncode for evaluation in evaluations] == [0] * EVALUATIONS, outputs

    alerts = alerting.find_alerts(db, organization, 0, 2**31)
    assert len(alerts) == 2  # the injected jump: its cluster and its namespace
    expected = {
        (f"/hook/{name}", alert["_id"]): deliveries.delivery_id(alert["_id"], target["_id"])
        for alert in alerts
        for name, target in zip(("a", "b"), targets, strict=True)
    }
    received = Counter(
        (request["path"], json.loads(request["body"])["id"]) for request in slow_receiver.requests
    )
    assert received == dict.fromkeys(expected, 1)
    for request in slow_receiver.requests:
        key = (request["path"], json.loads(request["body"])["id"])
        assert request["headers"]["X-K8scost-Delivery"] == expected[key]
    stored = deliveries.find(db)
    assert sorted(delivery["_id"] for delivery in stored) == sorted(expected.values())
    assert {(delivery["state"], delivery["attempts"]) for delivery in stored} == {
        (deliveries.SENT, 1)
    }
    # What the evaluations say they sent adds up to one send per delivery.
    sent = [
        json.loads(out.split("deliveries ")[1].split("\n")[0].replace("'", '"'))
        for out, _ in outputs
    ]
    assert sum(counts["sent"] for counts in sent) == len(expected)
