"""The node-days stored at load (sql/schema/008_k8s_node_days.sql): which VM each node
was and its list cost of the day, as the asset view computes it, restated exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.core.config import Settings
from etl.costmodel.assets import day_costs
from etl.storage import registry
from etl.storage.clickhouse import connect
from etl.worker.pipeline import transform_and_load
from tests.allocation_cluster import DAY, MODEL, STEP, Cluster
from tests.schema import with_schema

CONFIG = {"scrape_interval_seconds": STEP, "cost_model": dict(MODEL)}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return with_schema(Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data")}))


def cluster(first_vm: str = "aws:///us-east-1a/i-0aaa") -> Cluster:
    """n1 priced and on one VM; n2 priced, half a day, seen on two VMs; n3 unpriced."""
    built = Cluster()
    built.node("n1", 24, cores=4, ram_gib=16, prices={"cpu": 0.025, "ram": 0.003})
    built.node("n2", 12, cores=2, ram_gib=8, prices={"cpu": 0.04, "ram": 0.005})
    built.node("n3", 24, cores=2, ram_gib=4, prices=None)
    for node, provider_id in (
        ("n1", first_vm),
        ("n2", "aws:///us-east-1a/i-0bbb"),
        ("n2", "aws:///us-east-1b/i-0ccc"),
        ("n3", ""),
    ):
        built.add("node_provider_ids", 1.0, node=node, provider_id=provider_id, region="")
    return built


def stored(settings: Settings) -> dict[str, dict]:
    with connect(settings.clickhouse_dsn) as client:
        rows = client.query(
            "SELECT resource_id, provider_id, any(instance_key), sum(cpu_list_usd * sign),"
            " sum(ram_list_usd * sign), sum(gpu_list_usd * sign), sum(hours * sign),"
            " sum(cpu_model_share * sign), sum(ram_model_share * sign),"
            " sum(gpu_model_share * sign), toDate(date)"
            " FROM k8s_node_days GROUP BY cloud_account_id, date, resource_id, provider_id"
            " HAVING sum(sign) > 0"
        ).result_rows
    names = ("provider_id", "instance_key", "cpu", "ram", "gpu", "hours", "cpu_share")
    names += ("ram_share", "gpu_share", "day")
    return {row[0]: dict(zip(names, row[1:], strict=True)) for row in rows}


def load(settings: Settings, built: Cluster) -> list[str]:
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    account = registry.account_document(db, "tenant-a")
    if account is None:
        registry.add_account(db, "org", "cluster-a", "tenant-a", CONFIG)
        account = registry.account_document(db, "tenant-a")
    costs, _, _ = transform_and_load(
        settings, db, registry.ClusterAccount.from_document(account), DAY, built.answers()
    )
    return costs.issues


def test_each_node_day_holds_its_vm_and_the_asset_views_list_cost(settings):
    issues = load(settings, cluster())

    rows = stored(settings)
    # Truth by hand: cores x $/core-h x hours, GiB x $/GiB-h x hours; n3 at the model's.
    assert rows["n1"]["provider_id"] == "aws:///us-east-1a/i-0aaa"
    assert rows["n1"]["instance_key"] == "i-0aaa"
    assert rows["n1"]["cpu"] == pytest.approx(4 * 0.025 * 24)
    assert rows["n1"]["ram"] == pytest.approx(16 * 0.003 * 24)
    assert rows["n1"]["hours"] == 24
    assert rows["n2"]["cpu"] == pytest.approx(2 * 0.04 * 12)
    assert rows["n2"]["ram"] == pytest.approx(8 * 0.005 * 12)
    assert rows["n2"]["hours"] == 12
    assert rows["n3"]["cpu"] == pytest.approx(2 * 0.02 * 24)
    assert rows["n3"]["ram"] == pytest.approx(4 * 0.002 * 24)
    assert {row["gpu"] for row in rows.values()} == {0}
    assert {str(row["day"]) for row in rows.values()} == {DAY.isoformat()}
    # And exactly the asset view's figures.
    assets = day_costs(cluster().answers(), STEP, MODEL).nodes.set_index("node")
    for node, row in rows.items():
        for r in ("cpu", "ram", "gpu"):
            assert row[r] == assets.loc[node, f"{r}_cost"]
    # A node seen on two VMs is matched to neither (flagged); one without an id to none.
    assert rows["n2"]["provider_id"] == rows["n3"]["provider_id"] == ""
    assert rows["n2"]["instance_key"] == ""
    assert any("node n2 was 2 VMs" in issue for issue in issues)
    # The model shares: what the cost model charges for the capacity, summing to 1.
    n1_model = {"cpu": 4 * 0.02, "ram": 16 * 0.002}
    assert rows["n1"]["cpu_share"] == pytest.approx(n1_model["cpu"] / sum(n1_model.values()))
    assert rows["n1"]["ram_share"] == pytest.approx(n1_model["ram"] / sum(n1_model.values()))
    assert rows["n1"]["gpu_share"] == 0


def test_a_rerun_restates_the_node_days_exactly(settings):
    load(settings, cluster())
    load(settings, cluster())
    assert stored(settings)["n1"]["hours"] == 24

    # The VM under a name changed: the old pair is cancelled, not left beside.
    load(settings, cluster(first_vm="aws:///us-east-1a/i-0new"))
    rows = stored(settings)
    assert rows["n1"]["instance_key"] == "i-0new"
    assert rows["n1"]["cpu"] == pytest.approx(4 * 0.025 * 24)
    assert sorted(rows) == ["n1", "n2", "n3"]
