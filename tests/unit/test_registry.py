"""The registry on montydb: the typed cluster account, and the cluster's resource document
(its region is a string or absent, never null)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from etl.storage import registry

DAY = date(2026, 6, 1)


def _db(tmp_path: Path):
    return registry.open_database(f"montydb://{tmp_path / 'mongo'}", "k8scost")


def test_a_known_region_is_kept_and_an_unknown_one_leaves_no_key(tmp_path):
    db = _db(tmp_path)
    account = registry.ClusterAccount("acc", "org", "c1")
    document = registry.record_cluster_seen(db, account, DAY, {})
    assert "region" not in db.resources.find_one({"_id": document["_id"]})
    registry.record_cluster_seen(db, account, DAY, {}, region="us-east-1")
    registry.record_cluster_seen(db, account, DAY, {})  # a later day without labels
    assert db.resources.find_one({"_id": document["_id"]})["region"] == "us-east-1"


def test_a_null_region_an_earlier_version_wrote_is_removed(tmp_path):
    db = _db(tmp_path)
    account = registry.ClusterAccount("acc", "org", "c1")
    resource_id = registry.cluster_resource_id("acc")
    db.resources.insert_one({"_id": resource_id, "region": None, "tags": {}})
    registry.record_cluster_seen(db, account, DAY, {})
    assert "region" not in db.resources.find_one({"_id": resource_id})


def test_an_account_reads_back_as_registered(tmp_path):
    db = _db(tmp_path)
    added = registry.add_account(db, "org", "c1", "acc", {"scrape_interval_seconds": 30})
    assert registry.k8s_accounts(db, ["acc"]) == [added]
    assert (added.id, added.organization_id, added.name, added.type) == (
        "acc",
        "org",
        "c1",
        registry.K8S_ACCOUNT_TYPE,
    )
    assert added.scrape_interval_s(60) == 30
    assert registry.add_account(db, "org", "c2", "acc2").scrape_interval_s(60) == 60
    with pytest.raises(TypeError):
        added.config["scrape_interval_seconds"] = 1  # read-only: the stored document is the truth


def test_other_types_deleted_and_unknown_accounts_are_not_processed(tmp_path):
    db = _db(tmp_path)
    registry.add_account(db, "org", "b", "live")
    registry.add_account(db, "org", "a", "gone")
    db.cloud_accounts.update_one({"_id": "gone"}, {"$set": {"deleted_at": 1}})
    db.cloud_accounts.insert_one(
        {"_id": "aws", "organization_id": "org", "name": "aws", "type": "aws_cnr", "deleted_at": 0}
    )
    assert [account.id for account in registry.k8s_accounts(db)] == ["live"]
    with pytest.raises(registry.UnknownAccountError, match="unknown tenant gone, aws"):
        registry.k8s_accounts(db, ["live", "gone", "aws"])
