"""The cluster's resource document on montydb: its region is a string or absent, never null."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from etl.storage import registry

DAY = date(2026, 6, 1)


def _db(tmp_path: Path):
    return registry.open_database(f"montydb://{tmp_path / 'mongo'}", "k8scost")


def test_a_known_region_is_kept_and_an_unknown_one_leaves_no_key(tmp_path):
    db = _db(tmp_path)
    account = {"_id": "acc", "organization_id": "org", "name": "c1"}
    document = registry.record_cluster_seen(db, account, DAY, {})
    assert "region" not in db.resources.find_one({"_id": document["_id"]})
    registry.record_cluster_seen(db, account, DAY, {}, region="us-east-1")
    registry.record_cluster_seen(db, account, DAY, {})  # a later day without labels
    assert db.resources.find_one({"_id": document["_id"]})["region"] == "us-east-1"


def test_a_null_region_an_earlier_version_wrote_is_removed(tmp_path):
    db = _db(tmp_path)
    account = {"_id": "acc", "organization_id": "org", "name": "c1"}
    resource_id = registry.cluster_resource_id("acc")
    db.resources.insert_one({"_id": resource_id, "region": None, "tags": {}})
    registry.record_cluster_seen(db, account, DAY, {})
    assert "region" not in db.resources.find_one({"_id": resource_id})
