"""The live exporter shows, at each instant, exactly what the backfilled history holds then."""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from datetime import date

import pytest
import requests

from devtools.simexporter import CONTENT_TYPE, LiveCluster, make_server, render
from devtools.simulate import build_scenario, write_openmetrics
from etl.core.days import day_start_epoch

DAY = date(2026, 6, 1)
SEED = 3
EVERY_15_MIN = 15


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """The OpenMetrics backfill of one simulated cluster-day, as {second: set of samples}."""
    scenario = build_scenario(1, 1, DAY, seed=SEED)
    path = tmp_path_factory.mktemp("om") / "metrics.om"
    write_openmetrics(scenario, path)
    tenant = re.escape(f'tenant_id="{scenario["clusters"][0]["tenant_id"]}"')
    # Drop the tenant label the backfill carries (the proxy adds it on the live path).
    untenant = re.compile(rf"\{{{tenant},?(.*?)\}} ")
    samples = defaultdict(set)
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        text, timestamp = line.rsplit(" ", 1)
        samples[int(timestamp)].add(untenant.sub(lambda m: f"{{{m[1]}}} " if m[1] else " ", text))
    return scenario, samples


def _samples(exposition: str) -> set[str]:
    return {line for line in exposition.splitlines() if not line.startswith("#")}


def test_every_quarter_hour_matches_the_backfilled_history(history):
    scenario, samples = history
    live = LiveCluster(1, SEED)
    ticks = sorted(samples)[::EVERY_15_MIN]
    assert len(ticks) == 96
    for tick in ticks:
        cluster = live.at(tick)
        assert cluster == scenario["clusters"][0]
        assert _samples(render(cluster, tick)) == samples[tick], tick


def test_the_exposition_is_openmetrics_without_tenant_labels(history):
    scenario, _ = history
    exposition = render(scenario["clusters"][0], day_start_epoch(DAY) + 3600)
    assert exposition.endswith("\n# EOF\n")
    assert "tenant_id" not in exposition
    assert "\nkubecost_cluster_management_cost{" in exposition
    assert "\nkubecost_network_zone_egress_cost 0.01\n" in exposition
    assert "\nkubecost_pod_network_egress_bytes_total{" in exposition


def test_the_scenario_follows_the_utc_day():
    live = LiveCluster(2, SEED)
    noon = day_start_epoch(DAY) + 43200
    assert live.at(noon) is live.at(noon + 3600)
    tomorrow = live.at(noon + 86400)
    assert tomorrow == build_scenario(2, 1, date(2026, 6, 2), seed=SEED)["clusters"][1]
    assert tomorrow != live.at(noon - 86400)


def test_the_server_answers_metrics_and_nothing_else():
    server = make_server(LiveCluster(1, SEED), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        metrics = requests.get(f"{base}/metrics", timeout=10)
        assert metrics.status_code == 200
        assert metrics.headers["Content-Type"] == CONTENT_TYPE
        assert metrics.text.endswith("# EOF\n")
        assert "node_total_hourly_cost{" in metrics.text
        assert requests.get(f"{base}/", timeout=10).status_code == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
