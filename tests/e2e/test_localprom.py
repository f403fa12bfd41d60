"""A real Prometheus serving the backfilled simulated history, checked over its HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from devtools import opencost
from devtools.localprom import LocalPrometheusError, PrometheusServer, backfill, free_port
from etl.metroculus.contract import CONTRACT_METRICS
from tests.truth import cluster_of, day_bounds, expected_day_costs, overlap_s

if TYPE_CHECKING:
    from tests.conftest import SimulatedPrometheus

pytestmark = pytest.mark.e2e

EGRESS_SELECTORS = {
    "zone": 'internet="false",same_zone="false",same_region="true"',
    "region": 'internet="false",same_zone="false",same_region="false"',
    "internet": 'internet="true"',
}


def query(url: str, expr: str, at: float) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    response = requests.get(f"{url}/api/v1/query", params={"query": expr, "time": at}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_a_day_of_node_price_samples_counts_as_the_scenario_says(
    simulated_prometheus: SimulatedPrometheus,
) -> None:
    sim = simulated_prometheus
    step = sim.scenario["scrape_interval_s"]
    for tenant in sim.tenant_ids:
        nodes = cluster_of(sim.scenario, tenant)["nodes"]
        nodes_seen = []
        for day in sim.days:
            lo, hi = day_bounds(day)
            result = query(
                sim.url,
                f'count_over_time(node_cpu_hourly_cost{{tenant_id="{tenant}"}}[1d])',
                hi - 0.001,
            )
            counted = {r["metric"]["node"]: int(r["value"][1]) for r in result}
            expected = {
                n["name"]: overlap_s(n, lo, hi) // step for n in nodes if overlap_s(n, lo, hi)
            }
            assert counted == expected
            nodes_seen.append(len(counted))
        assert max(nodes_seen) == 5  # the day a node was replaced


def test_both_tenants_are_present_with_their_cluster_info(
    simulated_prometheus: SimulatedPrometheus,
) -> None:
    sim = simulated_prometheus
    _, end = day_bounds(sim.days[-1])
    result = query(sim.url, "kubecost_cluster_info", end - 0.001)
    assert {r["metric"]["tenant_id"] for r in result} == set(sim.tenant_ids)
    for r in result:
        info = cluster_of(sim.scenario, r["metric"]["tenant_id"])["info"]
        assert info.items() <= r["metric"].items()


def test_every_contract_family_is_stored_for_each_tenant(
    simulated_prometheus: SimulatedPrometheus,
) -> None:
    sim = simulated_prometheus
    _, end = day_bounds(sim.days[0])
    for tenant in sim.tenant_ids:
        result = query(sim.url, f'count by (__name__) ({{tenant_id="{tenant}"}})', end - 0.001)
        assert {r["metric"]["__name__"] for r in result} == CONTRACT_METRICS


def test_the_opencost_reference_set_evaluates_and_falls_back_as_opencost_does(
    simulated_prometheus: SimulatedPrometheus,
) -> None:
    """bench/etl.py's reference (devtools/opencost.py): every query is valid PromQL here,
    and without Kubecost's recording rule the cpu maximum comes from the irate subquery,
    the one OpenCost sends then."""
    sim = simulated_prometheus
    _, end = day_bounds(sim.days[-1])
    matcher = f'tenant_id="{sim.tenant_ids[0]}"'
    for entry in opencost.QUERIES:
        for one in entry if isinstance(entry, tuple) else (entry,):
            query(sim.url, opencost.render(one, matcher, 5), end - 0.001)
    (rule, fallback), *_ = [entry for entry in opencost.QUERIES if isinstance(entry, tuple)]
    assert query(sim.url, opencost.render(rule, matcher, 5), end - 0.001) == []
    assert query(sim.url, opencost.render(fallback, matcher, 5), end - 0.001)


def test_increase_of_the_egress_counters_matches_the_truth(
    simulated_prometheus: SimulatedPrometheus,
) -> None:
    """Stopped pods' unseen last interval stays negligible, as the simulator promises."""
    sim = simulated_prometheus
    for tenant in sim.tenant_ids:
        prices = cluster_of(sim.scenario, tenant)["network_prices"]
        for day in sim.days:
            _, end = day_bounds(day)
            cost = 0.0
            for egress_class, selector in EGRESS_SELECTORS.items():
                expr = (
                    f"sum(increase(kubecost_pod_network_egress_bytes_total"
                    f'{{tenant_id="{tenant}",{selector}}}[1d]))'
                )
                cost += (
                    float(query(sim.url, expr, end)[0]["value"][1]) / 2**30 * prices[egress_class]
                )
            expected = expected_day_costs(sim.scenario, tenant, day)["network_cost"]
            assert cost == pytest.approx(expected, rel=1e-4)


def test_server_reports_its_log_when_it_cannot_start(tmp_path: Path) -> None:
    server = PrometheusServer(tmp_path / "tsdb", extra_args=["--no-such-flag"])
    with pytest.raises(LocalPrometheusError, match="no-such-flag"):
        server.start()
    assert server.log_path.exists()


def test_server_serves_given_scrape_configs_and_stops(tmp_path: Path) -> None:
    port = free_port()
    job = {"job_name": "opencost", "static_configs": [{"targets": ["127.0.0.1:9003"]}]}
    with PrometheusServer(tmp_path / "tsdb", port=port, scrape_configs=[job]) as server:
        assert server.url == f"http://127.0.0.1:{port}"
        config = requests.get(f"{server.url}/api/v1/status/config", timeout=10).json()
        assert "job_name: opencost" in config["data"]["yaml"]
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/-/ready", timeout=2)


def test_backfill_explains_a_missing_promtool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalPrometheusError, match="install Debian's prometheus package"):
        backfill(tmp_path / "metrics.om", tmp_path / "tsdb")


def test_backfill_reports_invalid_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.om"
    bad.write_text('# TYPE x gauge\nx{tenant_id="t"} not-a-number 1\n# EOF\n')
    with pytest.raises(LocalPrometheusError, match="failed"):
        backfill(bad, tmp_path / "tsdb")
