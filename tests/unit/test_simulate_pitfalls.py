"""The simulator's opt-in pitfalls: each renders what a real cluster would send."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from devtools.simulate import build_scenario, write_openmetrics
from devtools.simulate.costmodel_series import EGRESS_CLASSES
from devtools.simulate.pitfalls import OUTLIER_PRICE, PITFALLS

DAY = date(2026, 6, 2)
STEP = 900
LINE = re.compile(r"^([a-z_]+)\{(.*)\} (\S+) (\d+)$")

CLASS_OF_SERVICE = {labels[3]: klass for klass, labels in EGRESS_CLASSES.items()}
Samples = dict[tuple[str, tuple], list[tuple[int, float]]]


def scenario_with(*pitfalls: str) -> dict[str, Any]:
    return build_scenario(1, 1, DAY, seed=5, scrape_interval_s=STEP, pitfalls=pitfalls)


def rendered(scenario: dict[str, Any], tmp_path: Path) -> Samples:
    """(name, sorted labels) -> [(timestamp, value)] of every series written."""
    write_openmetrics(scenario, tmp_path / "m.om")
    found: Samples = defaultdict(list)
    for line in (tmp_path / "m.om").read_text().splitlines():
        if not line.startswith("#"):
            name, labels, value, stamp = LINE.match(line).groups()
            pairs = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', labels)))
            found[(name, pairs)].append((int(stamp), float(value)))
    return found


def matching(samples: Samples, name: str, **labels: str) -> Samples:
    return {
        key: points
        for key, points in samples.items()
        if key[0] == name and labels.items() <= dict(key[1]).items()
    }


def test_pitfalls_are_known_names_and_leave_the_default_cast_alone():
    with pytest.raises(ValueError, match="unknown pitfalls"):
        build_scenario(1, 1, DAY, pitfalls=["no_such_pitfall"])
    default = scenario_with()["clusters"][0]
    for pitfall in ("duplicate_emitters", "ha_pair", "scrape_gap", "counter_reset"):
        cluster = scenario_with(pitfall)["clusters"][0]
        assert cluster["pods"] == default["pods"] and cluster["nodes"] == default["nodes"]
    assert scenario_with(*PITFALLS)["pitfalls"] == list(PITFALLS)


def test_duplicate_emitters_write_every_kube_series_twice(tmp_path):
    samples = rendered(scenario_with("duplicate_emitters"), tmp_path)
    jobs = defaultdict(set)
    for name, labels in samples:
        jobs[name].add(dict(labels).get("job"))
    for name, seen in jobs.items():
        assert seen == ({"opencost", "kube-state-metrics"} if name.startswith("kube_") else {None})


def test_an_ha_pair_writes_every_series_twice(tmp_path):
    samples = rendered(scenario_with("ha_pair"), tmp_path)
    replicas = defaultdict(set)
    for name, labels in samples:
        rest = tuple(pair for pair in labels if pair[0] != "prometheus_replica")
        replicas[(name, rest)].add(dict(labels)["prometheus_replica"])
    assert set(map(frozenset, replicas.values())) == {frozenset({"prometheus-0", "prometheus-1"})}


def test_a_network_reset_restarts_the_counters_of_the_pods_on_that_node(tmp_path):
    scenario = scenario_with("counter_reset")
    ((reset),) = scenario["clusters"][0]["network_resets"]
    samples = rendered(scenario, tmp_path)
    pods = {p["name"]: p for p in scenario["clusters"][0]["pods"]}
    reset_seen = 0
    for (_, labels), points in matching(samples, "kubecost_pod_network_egress_bytes_total").items():
        pod = pods[dict(labels)["pod_name"]]
        drops = [t for (_, v0), (t, v) in itertools.pairwise(points) if v < v0]
        if pod["node"] == reset["node"] and pod["start"] < reset["at"] < pod["end"]:
            assert drops == [reset["at"] + STEP]
            klass = CLASS_OF_SERVICE[dict(labels)["service"]]
            after = dict(points)[reset["at"] + STEP]  # the bytes since just after the reset
            assert after == pod["egress_bytes_per_s"][klass] * STEP
            reset_seen += 1
        else:
            assert drops == []
    assert reset_seen >= 3


def test_a_scrape_gap_drops_every_sample_of_the_cluster_and_hides_no_boundary(tmp_path):
    scenario = scenario_with("scrape_gap")
    ((g0, g1),) = scenario["clusters"][0]["gaps"]
    assert g1 - g0 == 900
    stamps = {t for points in rendered(scenario, tmp_path).values() for t, _ in points}
    assert not [t for t in stamps if g0 <= t < g1]
    assert g0 - STEP in stamps and g1 in stamps


def test_a_completed_job_lingers_in_kube_state_metrics_not_running(tmp_path):
    scenario = scenario_with("lingering_job")
    (job,) = [p for p in scenario["clusters"][0]["pods"] if p["owner"]["kind"] == "Job"]
    assert job["deleted"] == job["end"] + 7200
    samples = rendered(scenario, tmp_path)
    (running,) = matching(samples, "kube_pod_container_status_running", uid=job["uid"]).values()
    assert {v for t, v in running if t < job["end"]} == {1}
    assert {v for t, v in running if t >= job["end"]} == {0}
    assert running[-1][0] == job["deleted"] - STEP
    for name in ("kube_pod_container_resource_requests", "kube_pod_labels", "kube_pod_owner"):
        for points in matching(samples, name, uid=job["uid"]).values():
            assert points[-1][0] == job["deleted"] - STEP
    (allocation,) = matching(samples, "container_cpu_allocation", pod=job["name"]).values()
    assert allocation[-1][0] == job["end"] - STEP


def test_a_recreated_pod_reuses_its_name_not_its_uid(tmp_path):
    scenario = scenario_with("name_reuse")
    cluster = scenario["clusters"][0]
    old, new = [p for p in cluster["pods"] if p["name"] == "postgres-0"]
    assert old["uid"] != new["uid"] and old["node"] != new["node"]
    assert new["start"] - old["end"] == 1800
    (volume,) = [pv for pv in cluster["pvs"] if old["uid"] in pv["mounted_by"]]
    assert new["uid"] in volume["mounted_by"]
    samples = rendered(scenario, tmp_path)
    (mounts,) = matching(samples, "pod_pvc_allocation", pod="postgres-0").values()
    stamps = [t for t, _ in mounts]
    assert stamps == sorted(stamps) and old["end"] - STEP in stamps and new["start"] in stamps
    assert not [t for t in stamps if old["end"] <= t < new["start"]]


def test_a_price_outlier_and_an_unpriced_node(tmp_path):
    outlier = scenario_with("price_outlier")["clusters"][0]
    (gpu,) = [n for n in outlier["nodes"] if n["gpu_count"]]
    assert gpu["prices"]["gpu"] == [[gpu["start"], OUTLIER_PRICE]]
    scenario = scenario_with("unpriced_node")
    (node,) = [n for n in scenario["clusters"][0]["nodes"] if not n["priced"]]
    on_it = [p for p in scenario["clusters"][0]["pods"] if p["node"] == node["name"]]
    assert len(on_it) == 3
    samples = rendered(scenario, tmp_path)
    for name in ("node_cpu_hourly_cost", "node_ram_hourly_cost", "node_total_hourly_cost"):
        assert not matching(samples, name, node=node["name"])
    assert matching(samples, "kube_node_status_capacity_cpu_cores", node=node["name"])


def test_per_cpu_usage_splits_each_cpu_counter_into_cores_that_add_up(tmp_path):
    cpu = "container_cpu_usage_seconds_total"
    for name in ("total", "cores"):
        (tmp_path / name).mkdir()
    totals = matching(rendered(scenario_with(), tmp_path / "total"), cpu)
    cores = matching(rendered(scenario_with("per_cpu_usage"), tmp_path / "cores"), cpu)
    assert {dict(labels)["cpu"] for _, labels in totals} == {"total"}
    assert {dict(labels)["cpu"] for _, labels in cores} == {"cpu00", "cpu01", "cpu02"}
    summed: dict[tuple, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for (name, labels), points in cores.items():
        as_total = tuple(sorted({**dict(labels), "cpu": "total"}.items()))
        for at, value in points:
            summed[(name, as_total)][at] += value
    assert {key: sorted(points.items()) for key, points in summed.items()} == totals
