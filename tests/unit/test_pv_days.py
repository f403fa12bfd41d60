"""The PV-days stored at load (sql/schema/011_k8s_pv_days.sql): which disk each PV was
(pv_hourly_cost's provider_id, read from the raw series), who carries which part of its
cost (the allocation's PV split), restated exactly. Expected figures are the PVs'
sizes and prices, computed here."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.core.config import Settings
from etl.metroculus.nodes import Day, small_answers
from etl.metroculus.promql import Series
from etl.storage import registry
from etl.storage.clickhouse import connect
from etl.worker.pipeline import transform_and_load
from tests.allocation_cluster import DAY, GIB, LO, MODEL, STEP, Cluster
from tests.schema import with_schema

CONFIG = {"scrape_interval_seconds": STEP, "cost_model": dict(MODEL)}
# PV: (GiB, $/GiB-h, provider ids of the day, pod claiming it and the GiB claimed)
PVS = {
    "pv-a": (100, 0.0002, ["vol-0aaa"], ("a1", 40)),
    "pv-b": (50, 0.0003, ["vol-0bbb", "vol-0ccc"], None),
}


def test_the_raw_series_give_each_pv_its_provider_ids():
    """One row per (PV, provider id) with samples in the day; a series outside it, none."""
    hours = [LO + h * STEP for h in range(24)]

    def series(pv: str, provider_id: str, times: list[int]) -> Series:
        labels = {"__name__": "pv_hourly_cost", "persistentvolume": pv, "provider_id": provider_id}
        return Series(labels, times, [0.0002] * len(times))

    raw = [
        series("pv-a", "vol-0aaa", hours),
        series("pv-b", "vol-0bbb", hours[:12]),
        series("pv-b", "vol-0ccc", hours[12:]),
        series("pv-c", "vol-0old", [LO - 3 * 86400]),
    ]
    answer = small_answers(raw, Day(LO, STEP))["pv_provider_ids"]
    assert sorted(zip(answer["persistentvolume"], answer["provider_id"], strict=True)) == [
        ("pv-a", "vol-0aaa"),
        ("pv-b", "vol-0bbb"),
        ("pv-b", "vol-0ccc"),
    ]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = with_schema(Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path / "data")}))
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    registry.add_account(db, "org", "sim", "tenant", CONFIG)
    return settings


def cluster(claimed_gib: float) -> Cluster:
    built = Cluster()
    built.node("n1", 24, cores=4, ram_gib=16, prices={"cpu": 0.025, "ram": 0.003})
    built.pod("a1", "n1", 0, 24, namespace="team-a")
    for name, (gib, price, provider_ids, claim) in PVS.items():
        built.add("pv_bytes", gib * GIB, persistentvolume=name)
        built.add("pv_price_samples", price * 24, persistentvolume=name)
        built.change("pv_price_changes", 0, price, persistentvolume=name)
        for provider_id in provider_ids:
            built.add("pv_provider_ids", 1.0, persistentvolume=name, provider_id=provider_id)
        if claim:
            names = {"namespace": "team-a", "pod": "pod-a1", "persistentvolume": name}
            built.add("claim_bytes", claimed_gib * GIB, **names)
            built.add("claim_first_seen", LO, **names)
            built.add("claim_last_seen", LO + 23 * STEP, **names)
    return built


def load(settings: Settings, built: Cluster) -> list[str]:
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    account = registry.ClusterAccount.from_document(registry.account_document(db, "tenant"))
    costs, _, _ = transform_and_load(settings, db, account, DAY, built.answers())
    return costs.issues


def stored(settings: Settings) -> dict[tuple[str, str], tuple[str, str, float]]:
    """(PV, holder's namespace) -> (provider id, instance key, list_usd), live rows only."""
    with connect(settings.clickhouse_dsn) as client:
        rows = client.query(
            "SELECT d.resource_id, a.namespace, d.provider_id, d.instance_key, d.list_usd"
            " FROM (SELECT resource_id, provider_id, holder, any(instance_key) AS instance_key,"
            "       sum(list_usd * sign) AS list_usd FROM k8s_pv_days"
            "       GROUP BY cloud_account_id, date, resource_id, provider_id, holder"
            "       HAVING sum(sign) > 0) AS d"
            " INNER JOIN (SELECT resource_id, any(namespace) AS namespace FROM k8s_allocation"
            "       GROUP BY resource_id HAVING sum(sign) > 0) AS a"
            " ON a.resource_id = d.holder"
        ).result_rows
    return {(pv, namespace): (pid, key, usd) for pv, namespace, pid, key, usd in rows}


def expected(claimed_gib: float) -> dict[tuple[str, str], tuple[str, str, float]]:
    a_list = 100 * 0.0002 * 24
    mounted = claimed_gib * 0.0002 * 24
    return {
        ("pv-a", "team-a"): ("vol-0aaa", "vol-0aaa", pytest.approx(mounted, abs=1e-12)),
        ("pv-a", "__unmounted__"): ("vol-0aaa", "vol-0aaa", pytest.approx(a_list - mounted)),
        # Two disks in one day: no provider id, never matched.
        ("pv-b", "__unmounted__"): ("", "", pytest.approx(50 * 0.0003 * 24, abs=1e-12)),
    }


def test_each_pv_day_is_stored_with_its_disk_and_holders_and_restated(settings):
    issues = load(settings, cluster(40))
    assert stored(settings) == expected(40)
    assert any("persistentvolume pv-b was 2 disks" in issue for issue in issues)
    # A rerun with another claim restates the day: the old parts are cancelled.
    load(settings, cluster(10))
    assert stored(settings) == expected(10)
