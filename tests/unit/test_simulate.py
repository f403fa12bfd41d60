"""The simulator's scenario, its OpenMetrics rendering, and the truth calculator."""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from devtools.simulate import build_scenario, simulate_to_dir, write_openmetrics
from etl.metroculus.contract import CONTRACT_METRICS
from tests.truth import day_bounds, expected_day_costs

END_DAY = date(2026, 6, 2)
DAY1, DAY2 = date(2026, 6, 1), END_DAY
W0, _ = day_bounds(DAY1)
_, W1 = day_bounds(DAY2)
HOUR = 3600
SAMPLE = re.compile(r"^([a-z_]+)\{(.*)\} (\S+) (\d+)$")


def read_samples(path: Path) -> list[tuple[str, dict[str, str], float, int]]:
    """(name, labels, value, timestamp) of every sample line."""
    samples = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        name, labels, value, ts = SAMPLE.match(line).groups()
        samples.append((name, dict(re.findall(r'(\w+)="([^"]*)"', labels)), float(value), int(ts)))
    return samples


def series_of(samples: list, name: str, **match: str) -> list[tuple[int, float]]:
    """(timestamp, value) of the samples of `name` whose labels include `match`."""
    return [
        (ts, value)
        for n, labels, value, ts in samples
        if n == name and match.items() <= labels.items()
    ]


@pytest.fixture(scope="module")
def scenario() -> dict[str, Any]:
    """The default cast at a 15 min scrape: every case, few samples."""
    return build_scenario(2, 2, END_DAY, seed=7, scrape_interval_s=900)


@pytest.fixture(scope="module")
def written(scenario: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("om") / "metrics.om"
    write_openmetrics(scenario, path)
    return path


@pytest.fixture(scope="module")
def samples(written: Path) -> list[tuple[str, dict[str, str], float, int]]:
    return read_samples(written)


def tiny(**entities: Any) -> dict[str, Any]:
    """A hand-made one-cluster scenario over DAY1..DAY2 at a 1 h scrape."""
    cluster = {
        "tenant_id": "t-1",
        "name": "c",
        "organization_id": "o",
        "info": {"id": "c", "name": "c", "provider": "AWS", "provisioner": "EKS", "region": "r"},
        "start": W0 - 86400,
        "end": W1 + 86400,
        "management_fee_per_hour": 0.1,
        "network_prices": {"zone": 0.01, "region": 0.02, "internet": 0.09},
        "namespaces": [],
        "nodes": [],
        "replicasets": [],
        "pods": [],
        "pvs": [],
        "load_balancers": [],
    }
    cluster.update(entities)
    return {
        "scrape_interval_s": HOUR,
        "days": [DAY1.isoformat(), DAY2.isoformat()],
        "start": W0,
        "end": W1,
        "clusters": [cluster],
    }


def node(start: int, end: int, cpu: list[list[float]], cores: int = 2) -> dict[str, Any]:
    return {
        "name": "n1",
        "uid": "u1",
        "provider_id": "p",
        "instance_type": "m5",
        "region": "r",
        "zone": "z",
        "arch": "amd64",
        "cpu_cores": cores,
        "ram_bytes": 4 * 2**30,
        "gpu_count": 0,
        "spot": False,
        "prices": {"cpu": cpu, "ram": [[start, 0.01]], "gpu": [[start, 0.0]]},
        "start": start,
        "end": end,
    }


def pod(start: int, end: int, egress: dict[str, int]) -> dict[str, Any]:
    return {
        "namespace": "ns",
        "name": "p1",
        "uid": "pu",
        "node": "n1",
        "owner": {"kind": "Job", "name": "j"},
        "workload": {"kind": "Job", "name": "j"},
        "labels": {},
        "containers": [],
        "start": start,
        "end": end,
        "egress_bytes_per_s": egress,
    }


def test_scenario_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    first = build_scenario(2, 2, END_DAY, seed=7)
    assert first == build_scenario(2, 2, END_DAY, seed=7)
    other = build_scenario(2, 2, END_DAY, seed=8)
    assert [c["tenant_id"] for c in first["clusters"]] != [
        c["tenant_id"] for c in other["clusters"]
    ]
    small = build_scenario(1, 1, END_DAY, seed=3, scrape_interval_s=HOUR)
    write_openmetrics(small, tmp_path / "a.om")
    write_openmetrics(
        build_scenario(1, 1, END_DAY, seed=3, scrape_interval_s=HOUR), tmp_path / "b.om"
    )
    assert (tmp_path / "a.om").read_bytes() == (tmp_path / "b.om").read_bytes()


def test_scenario_is_json_and_has_every_case(scenario: dict[str, Any]) -> None:
    assert json.loads(json.dumps(scenario)) == scenario
    assert scenario["days"] == ["2026-06-01", "2026-06-02"]
    assert (scenario["start"], scenario["end"]) == (W0, W1)
    assert [c["name"] for c in scenario["clusters"]] == ["sim-cluster-1", "sim-cluster-2"]
    assert {c["info"]["provisioner"] for c in scenario["clusters"]} == {"EKS", "GKE"}
    inside = range(W0 + 1, W1)
    for cluster in scenario["clusters"]:
        nodes = {n["name"]: n for n in cluster["nodes"]}
        assert len(nodes) == 5 and len(cluster["pods"]) == 24
        assert any(n["gpu_count"] for n in nodes.values())
        assert any(n["spot"] and len(n["prices"]["cpu"]) == 2 for n in nodes.values())
        assert any(n["end"] in inside for n in nodes.values())  # replaced ...
        assert any(n["start"] in inside for n in nodes.values())  # ... by another node
        assert any(p["owner"]["kind"] == "Job" and p["end"] in inside for p in cluster["pods"])
        assert {p["owner"]["kind"] for p in cluster["pods"]} == {
            "ReplicaSet",
            "DaemonSet",
            "StatefulSet",
            "Job",
        }
        assert any(not pv["mounted_by"] for pv in cluster["pvs"])
        assert any(len(pv["mounted_by"]) > 1 for pv in cluster["pvs"])
        assert any(lb["start"] in inside for lb in cluster["load_balancers"])
        for p in cluster["pods"]:
            host = nodes[p["node"]]
            assert host["start"] <= p["start"] < p["end"] <= host["end"]


def test_every_instant_is_aligned_to_the_scrape_interval(scenario: dict[str, Any]) -> None:
    def instants(value: Any) -> list[int]:
        if isinstance(value, dict):
            found = [v for k, v in value.items() if k in ("start", "end")]
            return found + [i for v in value.values() for i in instants(v)]
        if isinstance(value, list):
            pieces = [p[0] for p in value if isinstance(p, list) and len(p) == 2]
            return pieces + [i for v in value for i in instants(v)]
        return []

    found = instants(scenario)
    assert len(found) > 100
    assert all(instant % 900 == 0 for instant in found)


def test_pods_that_stop_inside_the_history_egress_under_one_percent(
    scenario: dict[str, Any],
) -> None:
    for cluster in scenario["clusters"]:
        stopping = running = 0
        for p in cluster["pods"]:
            alive = min(p["end"], W1) - max(p["start"], W0)
            total = sum(p["egress_bytes_per_s"].values()) * alive
            if p["end"] < W1:
                stopping += total
            else:
                running += total
        assert 0 < stopping <= 0.01 * running


def test_every_series_carries_its_tenant(scenario: dict[str, Any], samples: list) -> None:
    tenants = {c["tenant_id"] for c in scenario["clusters"]}
    assert {labels.get("tenant_id") for _, labels, _, _ in samples} == tenants


def test_families_are_grouped_typed_and_complete(written: Path) -> None:
    lines = written.read_text().splitlines()
    assert lines[-1] == "# EOF"
    families: list[str] = []
    for line in lines[:-1]:
        if line.startswith("# TYPE "):
            families.append(line.split()[2])
        else:
            name = line.split("{", 1)[0]
            assert name in (families[-1], f"{families[-1]}_total")
    assert len(families) == len(set(families))
    names = {line.split("{", 1)[0] for line in lines if not line.startswith("#")}
    assert names == CONTRACT_METRICS


def test_samples_are_in_time_order_and_cover_exactly_the_life(
    scenario: dict[str, Any],
    samples: list,
) -> None:
    by_series: dict[tuple, list[int]] = defaultdict(list)
    for name, labels, _, ts in samples:
        by_series[(name, tuple(sorted(labels.items())))].append(ts)
    for stamps in by_series.values():
        assert stamps == sorted(set(stamps))
    cluster = scenario["clusters"][0]
    for n in cluster["nodes"]:
        stamps = [ts for ts, _ in series_of(samples, "node_cpu_hourly_cost", node=n["name"])]
        assert stamps == list(range(max(n["start"], W0), min(n["end"], W1), 900))


def test_sampling_at_the_window_and_price_boundaries(tmp_path: Path) -> None:
    change = W0 + 30 * HOUR
    scenario = tiny(
        nodes=[node(W0 - 5 * HOUR, W0 + 40 * HOUR, [[W0 - 5 * HOUR, 0.5], [change, 0.7]])]
    )
    assert write_openmetrics(scenario, tmp_path / "m.om") > 0
    samples = read_samples(tmp_path / "m.om")
    cpu = series_of(samples, "node_cpu_hourly_cost")
    assert cpu[0] == (W0, 0.5)  # created before the window: first sample at its start
    assert cpu[-1] == (W0 + 39 * HOUR, 0.7)  # alive over [start, end): no sample at end
    assert dict(cpu)[change - HOUR] == 0.5 and dict(cpu)[change] == 0.7
    total = dict(series_of(samples, "node_total_hourly_cost"))
    assert total[change] == pytest.approx(2 * 0.7 + 4 * 0.01)
    write_openmetrics(tiny(nodes=[node(W1, W1 + 5 * HOUR, [[W1, 0.5]])]), tmp_path / "o.om")
    assert not series_of(read_samples(tmp_path / "o.om"), "node_cpu_hourly_cost")  # after it


def test_egress_counter_starts_at_zero_and_grows(tmp_path: Path) -> None:
    start = W0 + 7 * HOUR
    write_openmetrics(
        tiny(pods=[pod(start, W1 + HOUR, {"zone": 0, "region": 0, "internet": 5})]),
        tmp_path / "m.om",
    )
    samples = read_samples(tmp_path / "m.om")
    counter = series_of(
        samples,
        "kubecost_pod_network_egress_bytes_total",
        pod_name="p1",
        internet="true",
        same_zone="false",
        same_region="false",
    )
    assert counter[0] == (start, 0)
    assert all(value == 5 * (ts - start) for ts, value in counter)
    assert [v for _, v in counter] == sorted({v for _, v in counter})
    assert len(series_of(samples, "kubecost_pod_network_egress_bytes_total")) == len(counter)

    write_openmetrics(
        tiny(pods=[pod(W0 - HOUR, W1, {"zone": 3, "region": 0, "internet": 0})]),
        tmp_path / "early.om",
    )
    zone = series_of(
        read_samples(tmp_path / "early.om"),
        "kubecost_pod_network_egress_bytes_total",
        same_region="true",
    )
    assert zone[0] == (W0, 3 * HOUR)  # started before the window: the count so far


def test_truth_hand_made_node_cpu_is_exact() -> None:
    n = node(W0 + 6 * HOUR, W0 + 18 * HOUR, [[W0 + 6 * HOUR, 0.5]])
    costs = expected_day_costs(tiny(nodes=[n]), "t-1", DAY1)
    assert costs["cpu_cost"] == 12.0
    assert costs["ram_cost"] == pytest.approx(4 * 0.01 * 12)
    assert costs["management_cost"] == pytest.approx(2.4)
    assert expected_day_costs(tiny(nodes=[n]), "t-1", DAY2)["cpu_cost"] == 0.0


def test_truth_integrates_piecewise_prices_and_partial_lives() -> None:
    n = node(W0 - HOUR, W1 + HOUR, [[W0 - HOUR, 1.0], [W0 + 12 * HOUR, 2.0]], cores=1)
    pv = {
        "name": "v",
        "capacity_bytes": 10 * 2**30,
        "price_per_gib_hour": 0.5,
        "start": W0 + 20 * HOUR,
        "end": W0 + 30 * HOUR,
        "mounted_by": [],
    }
    lb = {"rate_per_hour": 0.25, "start": W0 + 23 * HOUR, "end": W1 + HOUR}
    p = pod(W0 + 18 * HOUR, W0 + 36 * HOUR, {"zone": 2**30 // 3600, "region": 0, "internet": 0})
    scenario = tiny(nodes=[n], pvs=[pv], load_balancers=[lb], pods=[p])
    scenario["clusters"][0]["start"] = W0 + 12 * HOUR
    day1 = expected_day_costs(scenario, "t-1", DAY1)
    assert day1["cpu_cost"] == 12 * 1.0 + 12 * 2.0
    assert day1["pv_cost"] == pytest.approx(10 * 0.5 * 4)
    assert day1["load_balancer_cost"] == pytest.approx(0.25)
    assert day1["network_cost"] == pytest.approx(6 * (2**30 // 3600) * 3600 / 2**30 * 0.01)
    assert day1["management_cost"] == pytest.approx(1.2)
    day2 = expected_day_costs(scenario, "t-1", DAY2)
    assert day2["cpu_cost"] == 48.0 and day2["pv_cost"] == pytest.approx(30.0)
    with pytest.raises(ValueError, match="outside"):
        expected_day_costs(scenario, "t-1", date(2026, 6, 3))


def test_truth_agrees_with_the_written_samples(scenario: dict[str, Any], samples: list) -> None:
    """Sum of price samples x capacity x R/3600 per day is the analytic node cost."""
    got: dict[tuple[str, date, str], float] = defaultdict(float)
    capacity = {
        (c["tenant_id"], n["name"], resource): n[key] / scale
        for c in scenario["clusters"]
        for n in c["nodes"]
        for resource, key, scale in [
            ("cpu", "cpu_cores", 1),
            ("ram", "ram_bytes", 2**30),
            ("gpu", "gpu_count", 1),
        ]
    }
    for name, labels, price, ts in samples:
        resource = name.removeprefix("node_").removesuffix("_hourly_cost")
        if name.endswith("_hourly_cost") and resource in ("cpu", "ram", "gpu"):
            day = DAY1 if ts < W0 + 86400 else DAY2
            amount = price * capacity[(labels["tenant_id"], labels["node"], resource)]
            got[(labels["tenant_id"], day, resource)] += amount * 900 / HOUR
    for cluster in scenario["clusters"]:
        for day in (DAY1, DAY2):
            expected = expected_day_costs(scenario, cluster["tenant_id"], day)
            for resource in ("cpu", "ram", "gpu"):
                assert got[(cluster["tenant_id"], day, resource)] == pytest.approx(
                    expected[f"{resource}_cost"], rel=1e-12
                )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scrape_interval_s": 7}, "divide a day"),
        ({"nodes": 3}, "nodes"),
        ({"pods": 15}, "nodes \\+ 12"),
        ({"days": 0}, "at least 1"),
    ],
)
def test_build_scenario_refuses_bad_arguments(kwargs: dict[str, int], message: str) -> None:
    args = {"clusters": 1, "days": 1, "end_day": END_DAY, **kwargs}
    with pytest.raises(ValueError, match=message):
        build_scenario(**args)


def test_simulate_to_dir_writes_metrics_and_scenario(tmp_path: Path) -> None:
    path = simulate_to_dir(tmp_path / "out", 1, 1, END_DAY, seed=5, scrape_interval_s=HOUR)
    assert path == tmp_path / "out" / "scenario.json"
    assert json.loads(path.read_text()) == build_scenario(
        1, 1, END_DAY, seed=5, scrape_interval_s=HOUR
    )
    assert (tmp_path / "out" / "metrics.om").read_text().endswith("# EOF\n")


def test_windows_of_a_scenario_add_up_to_the_whole(
    scenario: dict[str, Any], written: Path, tmp_path: Path
) -> None:
    """bench/etl.py backfills a large day a few hours at a time: the windows' samples
    are the whole file's, each once, counters included (they restart nowhere)."""
    cuts = [scenario["start"], W0 + 5 * HOUR + 17, W0 + 30 * HOUR, scenario["end"]]
    lines, count = [], 0
    for i, (lo, hi) in enumerate(itertools.pairwise(cuts)):
        count += write_openmetrics(scenario, tmp_path / f"{i}.om", (lo, hi))
        lines += [x for x in (tmp_path / f"{i}.om").read_text().splitlines() if x[0] != "#"]
    whole = [x for x in written.read_text().splitlines() if x[0] != "#"]
    assert count == len(whole) == len(lines)
    assert sorted(lines) == sorted(whole)
