"""Ingest health: the throttled recorder, the API that shows it, and the token command."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from api.app import create_app
from api.auth import issue_token
from diproxy.auth import COLLECTION, authenticate
from etl.core.config import Settings
from etl.core.tokens import digest
from etl.storage import registry, tokens
from etl.storage.ingest_status import IngestRecorder, read_status
from k8scost.cli import cli

URL = "/restapi/v2/organizations/org-1/ingest_status"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path)})


@pytest.fixture
def db(settings):
    return registry.open_database(settings.mongo_uri, settings.mongo_db)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class BrokenCollection:
    def update_one(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("no such table: documents")


class FailingOnce:
    """A database whose first upsert fails, as montydb's can under concurrent creation."""

    def __init__(self, db) -> None:
        self.db = db
        self.failed = False

    def __getitem__(self, name: str):
        if not self.failed:
            self.failed = True
            return BrokenCollection()
        return self.db[name]


def test_a_failed_status_write_is_retried_by_the_next_write_not_throttled(db, caplog):
    clock = Clock(1000.0)
    flaky = FailingOnce(db)
    recorder = IngestRecorder(lambda: flaky, interval_s=30, clock=clock)
    assert recorder.record("t1", 900_000) is False  # failed, logged, not raised
    assert "not recorded" in caplog.text
    assert read_status(db, ["t1"]) == {}
    clock.now = 1001.0
    assert recorder.record("t1", 800_000) is True  # not throttled: retried at once
    assert read_status(db, ["t1"])["t1"] == {
        "_id": "t1",
        "last_sample_at": 900,  # the failed write's newer sample was kept
        "last_received_at": 1001,
    }


def test_recorder_writes_at_most_once_per_interval_and_keeps_the_newest_sample(db):
    clock = Clock(1000.0)
    recorder = IngestRecorder(lambda: db, interval_s=30, clock=clock)
    assert recorder.record("t1", 900_000) is True
    assert read_status(db, ["t1"])["t1"] == {
        "_id": "t1",
        "last_sample_at": 900,
        "last_received_at": 1000,
    }
    clock.now = 1010.0
    assert recorder.record("t1", 990_000) is False
    assert recorder.record("t1", 950_000) is False
    assert recorder.record("t2", None) is True  # tenants are throttled separately
    assert read_status(db, ["t1"])["t1"]["last_sample_at"] == 900
    clock.now = 1030.0
    assert recorder.record("t1", None) is True
    assert read_status(db, ["t1", "t2"]) == {
        "t1": {"_id": "t1", "last_sample_at": 990, "last_received_at": 1030},
        "t2": {"_id": "t2", "last_received_at": 1010},
    }


def test_read_status_finds_exactly_the_asked_tenants_among_many(db):
    """Every third of 300 tenants asked, plus ids that never wrote: exactly the asked
    tenants that wrote come back; the expected map is built here from what was written."""
    written = {
        f"t{n}": {"_id": f"t{n}", "last_sample_at": n, "last_received_at": n + 1}
        for n in range(300)
    }
    db.ingest_status.insert_many([dict(document) for document in written.values()])
    asked = [f"t{n}" for n in range(0, 300, 3)] + ["never-1", "never-2"]

    assert read_status(db, asked) == {tenant: written[tenant] for tenant in asked[:-2]}
    assert read_status(db, []) == {}


def test_api_lists_the_organizations_clusters_and_flags_the_silent_ones(settings, db):
    now = int(time.time())
    for name in ("live", "quiet", "never"):
        registry.add_account(db, "org-1", name, account_id=f"acc-{name}")
    registry.add_account(db, "org-2", "elsewhere", account_id="acc-elsewhere")
    db.ingest_status.insert_one({"_id": "acc-live", "last_sample_at": now, "last_received_at": now})
    db.ingest_status.insert_one(
        {"_id": "acc-quiet", "last_sample_at": now - 3600, "last_received_at": now - 3600}
    )
    client = create_app(settings).test_client()
    assert client.get(URL).status_code == 401  # protected like every organization route
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(db, 'org-1')}"
    body = client.get(URL).get_json()
    assert body["silent_after"] == 600
    assert {c["cloud_account_name"]: c["silent"] for c in body["ingest_status"]} == {
        "live": False,
        "quiet": True,
        "never": True,
    }
    never = next(c for c in body["ingest_status"] if c["cloud_account_id"] == "acc-never")
    assert never["last_sample_at"] is None
    patient = client.get(URL, query_string={"silent_after": 7200}).get_json()
    assert [c["silent"] for c in patient["ingest_status"]] == [False, True, False]
    assert client.get(URL, query_string={"silent_after": 0}).status_code == 400
    assert client.get(URL, query_string={"since": 1}).status_code == 400


def run_cli(settings: Settings, *args: str):
    return CliRunner().invoke(cli, list(args), env={"K8SCOST_DATA_DIR": str(settings.data_dir)})


def test_accounts_token_prints_a_token_that_authenticates_and_rotates(settings, db):
    registry.add_account(db, "org-1", "a", account_id="acc-a")
    first = run_cli(settings, "accounts", "token", "acc-a")
    assert first.exit_code == 0, first.output
    token = first.stdout.strip()
    assert authenticate(db, f"Bearer {token}").id == "acc-a"
    assert [doc["_id"] for doc in db[COLLECTION].find()] == [digest(token)]
    second = run_cli(settings, "accounts", "token", "acc-a")
    assert "revoked 1 previous token(s) of acc-a" in second.stderr
    assert tokens.lookup(db, COLLECTION, token) is None
    assert tokens.lookup(db, COLLECTION, second.stdout.strip())["cloud_account_id"] == "acc-a"


def test_accounts_token_refuses_an_unknown_or_deleted_account(settings, db):
    registry.add_account(db, "org-1", "gone", account_id="acc-gone")
    db.cloud_accounts.update_one({"_id": "acc-gone"}, {"$set": {"deleted_at": 1}})
    for account_id in ("acc-missing", "acc-gone"):
        result = run_cli(settings, "accounts", "token", account_id)
        assert result.exit_code == 1
        assert result.stderr.startswith(f"error: unknown tenant {account_id}")
    assert list(db[COLLECTION].find()) == []
