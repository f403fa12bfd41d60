"""A day of a real Kubecost scrape costs what its nodes and PVs cost, the same every run.

The fixture (tests/fixtures/kubecost/gke_scrape.prom) is series copied line for line
from a scrape of Kubecost's own /metrics on GKE (docs/exporters.md [24]): two
e2-standard-2 nodes, eight PVs of which five are claimed by pods that are not among the
running ones here, two containers with allocation series and two running containers
(cart, cart-redis) without any, priced from their requests. Each line is written as a
series sampled every 5 minutes over one day, with the labels a customer's Prometheus adds
(`job`, `instance` where the exporter set none: honor_labels on) and the tenant's.
The expected costs are computed here from the fixture's numbers alone.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from devtools.localprom import PrometheusServer, backfill
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from tests.allocation_checks import run, stored_allocation
from tests.stored import stored_day

pytestmark = pytest.mark.e2e
SCRAPE = Path(__file__).parents[1] / "fixtures" / "kubecost" / "gke_scrape.prom"
DAY = date(2026, 6, 2)
STEP_S = 300
TENANT = "kubecost-gke"
TARGET = {"job": "kubecost", "instance": "kubecost-cost-analyzer.kubecost:9003"}
LINE = re.compile(r"^(\w+)\{(.*)\} (\S+)$")
GIB = 2**30


def _series() -> list[tuple[str, str, float]]:
    """(name, label text, value) of each fixture line."""
    found = []
    for line in SCRAPE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, labels, value = LINE.match(line).groups()
            found.append((name, labels, float(value)))
    return found


def _day_history(path: Path) -> None:
    """Every series sampled every STEP_S over the day (and one step either side)."""
    start = day_start_epoch(DAY)
    ticks = range(start - STEP_S, start + 86400 + STEP_S, STEP_S)
    by_name: dict[str, list[str]] = {}
    for name, labels, value in _series():
        present = set(re.findall(r'(\w+)="', labels))
        added = [f'{key}="{val}"' for key, val in TARGET.items() if key not in present]
        head = f'{name}{{tenant_id="{TENANT}",{",".join([labels, *added])}}} {value!r} '
        by_name.setdefault(name, []).extend(f"{head}{t}\n" for t in ticks)
    with path.open("w") as out:
        for name, lines in by_name.items():
            out.write(f"# TYPE {name} gauge\n")
            out.writelines(lines)
        out.write("# EOF\n")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("kubecost-scrape")
    _day_history(root / "metrics.om")
    backfill(root / "metrics.om", root / "tsdb")
    with PrometheusServer(root / "tsdb") as server:
        settings = Settings.from_env(
            {"K8SCOST_DATA_DIR": str(root / "data"), "THANOS_URL": server.url}
        )
        database = registry.open_database(settings.mongo_uri, settings.mongo_db)
        registry.add_account(database, "org", "gke", TENANT, {"scrape_interval_seconds": STEP_S})
        with connect(settings.clickhouse_dsn) as client:
            warehouse.init_schema(client)
        yield settings


def _values(name: str) -> list[float]:
    return [value for family, _, value in _series() if family == name]


def test_a_real_kubecost_day_costs_its_assets_the_same_every_run(served: Settings) -> None:
    results = [run(served, TENANT, DAY) for _ in range(3)]
    assert {(r.cost, tuple(sorted(r.breakdown.items()))) for r in results} == {
        (results[0].cost, tuple(sorted(results[0].breakdown.items())))
    }
    cpu_price, ram_price = _values("node_cpu_hourly_cost")[0], _values("node_ram_hourly_cost")[0]
    expected = {
        "cpu_cost": sum(_values("kube_node_status_capacity_cpu_cores")) * cpu_price * 24,
        "ram_cost": sum(_values("kube_node_status_capacity_memory_bytes")) / GIB * ram_price * 24,
        "pv_cost": sum(
            capacity / GIB * price * 24
            for capacity, price in zip(
                _values("kube_persistentvolume_capacity_bytes"),
                _values("pv_hourly_cost"),
                strict=True,
            )
        ),
    }
    day = stored_day(served, TENANT, DAY)
    for component, cost in expected.items():
        assert day[component] == pytest.approx(cost, rel=1e-9), component
    assert day["cost"] == pytest.approx(sum(expected.values()), rel=1e-9)
    assert round(expected["cpu_cost"], 6) == 2.093913  # the asset view

    rows = stored_allocation(served, TENANT, DAY).set_index("pod")
    # Containers without allocation series: their requests on their request's node.
    for pod, cores, gib in (
        ("cart-65ddcdb87d-r8527", 0.1, 6.7108864e07 / GIB),
        ("cart-redis-69d757ddbd-qplt2", 0.1, 1.048576e08 / GIB),
    ):
        assert rows.loc[pod, "cpu_cost"] == pytest.approx(cores * cpu_price * 24, rel=1e-9)
        assert rows.loc[pod, "ram_cost"] == pytest.approx(gib * ram_price * 24, rel=1e-9)
        assert rows.loc[pod, "node"] == "gke-kc-demo-stage-pool-2-70aa2479-r5b7"
    # With allocation series: max(allocation, request).
    dns = rows.loc["kube-dns-autoscaler-b5dd874d8-wxp5h"]
    assert dns["cpu_cost"] == pytest.approx(0.02 * cpu_price * 24, rel=1e-9)
    assert dns["ram_cost"] == pytest.approx(1.1528192e07 / GIB * ram_price * 24, rel=1e-9)
    idle = rows[rows["namespace"] == "__idle__"]
    assert (idle[["cpu_cost", "ram_cost"]] >= 0).all().all() and len(idle) == 2
    # The claims' pods did not run here: all of every PV is unmounted.
    unmounted = rows[rows["namespace"] == "__unmounted__"]["pv_cost"].sum()
    assert unmounted == pytest.approx(expected["pv_cost"], rel=1e-9)
