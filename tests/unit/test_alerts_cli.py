"""`k8scost alerts ...` and `k8scost budgets ...` (click, in process)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from devtools.localprom import free_port
from etl.core.config import Settings
from etl.storage import alerting, registry
from k8scost.cli import cli
from tests.alert_fixtures import Receiver


@pytest.fixture
def k8scost(tmp_path, monkeypatch):
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    def call(*args: str, ok: bool = True):
        result = runner.invoke(cli, list(args))
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path)})
    call("db", "init")
    return call, registry.open_database(settings.mongo_uri, settings.mongo_db)


def test_budgets_add_list_rm(k8scost):
    call, _ = k8scost
    budget_id = call(
        "budgets", "add", "--organization-id", "o", "--name", "team",
        "--scope", "namespace:web", "--amount-usd", "100", "--threshold", "90",
    ).strip()  # fmt: skip
    listed = call("budgets", "list", "--organization-id", "o", "--as-of", "2026-06-10")
    assert listed.split("\t")[:4] == [budget_id, "team", "namespace:web", "100.00"]
    assert "mtd=0.00" in listed and "90%" in listed
    assert "invalid budget scope" in call(
        "budgets", "add", "--organization-id", "o", "--name", "x", "--scope", "team=a",
        "--amount-usd", "5", ok=False,
    )  # fmt: skip
    assert call("budgets", "rm", budget_id) == f"removed {budget_id}\n"
    assert call("budgets", "list") == ""


def test_webhooks_test_and_alerts_list(k8scost):
    call, db = k8scost
    receiver = Receiver(free_port())
    receiver.start()
    try:
        out = call("alerts", "add-webhook", "--organization-id", "o", "--kind", "json",
                   "--url", receiver.url)  # fmt: skip
        target_id, secret = out.strip().split("\tsecret=")
        assert call("alerts", "test-webhook", target_id).startswith("sent a test alert")
    finally:
        receiver.stop()
    (request,) = receiver.requests
    assert json.loads(request["body"])["kind"] == "test"
    assert request["headers"]["X-K8scost-Signature"].startswith("sha256=")
    assert "failed" in call("alerts", "test-webhook", target_id, ok=False)  # receiver down
    assert target_id in call("alerts", "webhooks", "--organization-id", "o")
    alerting.save_alert(
        db,
        {"_id": "anomaly:t:cluster:2026-06-05", "organization_id": "o", "state": "open",
         "date": 1780617600, "change_usd": 12.5, "summary": ["+$12.50: component cpu grown"]},
    )  # fmt: skip
    listed = call("alerts", "list", "--organization-id", "o", "--start-date", "2026-06-01",
                  "--end-date", "2026-06-30")  # fmt: skip
    assert (
        listed
        == "anomaly:t:cluster:2026-06-05\topen\t+12.50 USD\n    +$12.50: component cpu grown\n"
    )
    assert call("alerts", "configure", "--organization-id", "o", "--min-usd", "5") == (
        "threshold_pct=30 min_usd=5\n"
    )
    assert secret
    evaluated = call("alerts", "evaluate", "--date", "2026-06-05")
    assert evaluated.startswith("2026-06-05: 0 anomalies, 0 budget alerts, deliveries {'sent': 0")
