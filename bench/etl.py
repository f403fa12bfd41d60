"""The tenant-day's PromQL against OpenCost's query set and the floor, on one Prometheus.

    .venv/bin/python bench/etl.py [--pods 200 1000] [--runs 3] [--concurrency 4]
                                  [--scrape-interval 60] [--keep DIR] [--no-pipeline]

For each size: simulate one cluster-day (devtools.simulate, 25 pods per node), backfill it
into a local Prometheus 2.42 started with the default sample limit
(`--query.max-samples=50000000`), then, `--runs` times, one after the other on that
server:
- the floor: every sample of every family our set reads, read once (one
  `sum(count_over_time(<family>[1d]))` per family, sequentially);
- OpenCost's allocation query set (`OPENCOST`, written from the public formats of opencost
  `pkg/costmodel/allocation.go`), its subqueries at 5m and at 1m resolution, sequentially;
- ours (etl/metroculus/extract.py) sequentially (`PROMQL_CONCURRENCY=1`) and with
  `--concurrency` queries in flight (on 2 cores shared with the server, little gain).
Seconds are wall time per set; the table prints every run and the ratios of the best.
Then (unless `--no-pipeline`) the whole tenant-day once in a fresh subprocess, so its peak
RSS is the extract and transform's alone (embedded chdb and montydb loaded), with the
largest per-query peak sample count Prometheus reports (`stats=all`).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script (`python bench/etl.py`), this file's directory leads sys.path, where
# its name would shadow the `etl` package.
sys.path.remove(str(Path(__file__).resolve().parent))

import argparse
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import date

import requests

from devtools.localprom import PrometheusServer, backfill
from devtools.simulate import build_scenario, write_openmetrics
from etl.core.config import Settings
from etl.metroculus import samples
from etl.metroculus.extract import extract, phase_two, run_query
from etl.metroculus.promql import PromQLClient
from etl.metroculus.queries import GAUGE, QUERIES, evaluation_time, tenant_selector
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from etl.worker.pipeline import extract_day, scrape_interval_s, transform_and_load

DAY = date(2026, 6, 2)
PODS_PER_NODE = 25
MAX_SAMPLES = "--query.max-samples=50000000"  # Prometheus' default, stated

_CONTAINER = 'container!="",container!="POD"'
_BY_CONTAINER = "container, pod, namespace, node, cluster_id"
_BY_USAGE = "container_name, container, pod_name, pod, namespace, instance, cluster_id"
_USAGE = 'container!="",container_name!="POD",container!="POD"'
_EGRESS = "kubecost_pod_network_egress_bytes_total"
# OpenCost's allocation queries (pkg/costmodel/allocation.go): (function, metric, matchers,
# by). "avg" is avg(avg_over_time(m[1d])) by (...); "raw" the range function alone;
# "steps" avg/count(m) by (...)[1d:<res>], the subqueries whose resolution is the knob.
# The egress classes use the label spelling of the simulated data (same_zone), so
# that they read what they would read on a real cluster.
OPENCOST: tuple[tuple[str, str, str, str], ...] = (
    ("steps:avg", "kube_pod_container_status_running", "", "pod, namespace, uid, cluster_id"),
    (
        "avg",
        "container_memory_allocation_bytes",
        f'{_CONTAINER},node!=""',
        f"{_BY_CONTAINER}, provider_id",
    ),
    (
        "avg",
        "kube_pod_container_resource_requests",
        f'resource="memory",unit="byte",{_CONTAINER},node!=""',
        _BY_CONTAINER,
    ),
    ("avg", "container_memory_working_set_bytes", _USAGE, _BY_USAGE),
    ("max", "container_memory_working_set_bytes", _USAGE, _BY_USAGE),
    ("avg", "container_cpu_allocation", f'{_CONTAINER},node!=""', _BY_CONTAINER),
    (
        "avg",
        "kube_pod_container_resource_requests",
        f'resource="cpu",unit="core",{_CONTAINER},node!=""',
        _BY_CONTAINER,
    ),
    ("avg:rate", "container_cpu_usage_seconds_total", _USAGE, _BY_USAGE),
    ("max", "kubecost_container_cpu_usage_irate", "", _BY_USAGE),
    (
        "avg",
        "kube_pod_container_resource_requests",
        f'resource="nvidia_com_gpu",{_CONTAINER},node!=""',
        _BY_CONTAINER,
    ),
    ("avg", "container_gpu_allocation", f'{_CONTAINER},node!=""', _BY_CONTAINER),
    ("avg", "node_cpu_hourly_cost", "", "node, cluster_id, instance_type, provider_id"),
    ("avg", "node_ram_hourly_cost", "", "node, cluster_id, instance_type, provider_id"),
    ("avg", "node_gpu_hourly_cost", "", "node, cluster_id, instance_type, provider_id"),
    ("raw:avg_over_time", "kubecost_node_is_spot", "", ""),
    (
        "steps:avg",
        "kube_persistentvolumeclaim_info",
        'volumename!=""',
        "persistentvolumeclaim, storageclass, volumename, namespace, cluster_id",
    ),
    (
        "avg",
        "pod_pvc_allocation",
        "",
        "persistentvolume, persistentvolumeclaim, pod, namespace, cluster_id",
    ),
    (
        "avg",
        "kube_persistentvolumeclaim_resource_requests_storage_bytes",
        "",
        "persistentvolumeclaim, namespace, cluster_id",
    ),
    ("steps:count", "kube_persistentvolume_capacity_bytes", "", "persistentvolume, cluster_id"),
    ("avg", "kube_persistentvolume_capacity_bytes", "", "persistentvolume, cluster_id"),
    ("avg", "pv_hourly_cost", "", "volumename, cluster_id"),
    (
        "sum:increase",
        _EGRESS,
        'internet="false",same_zone="false",same_region="true"',
        "pod_name, namespace, cluster_id",
    ),
    ("avg", "kubecost_network_zone_egress_cost", "", "cluster_id"),
    (
        "sum:increase",
        _EGRESS,
        'internet="false",same_zone="false",same_region="false"',
        "pod_name, namespace, cluster_id",
    ),
    ("avg", "kubecost_network_region_egress_cost", "", "cluster_id"),
    ("sum:increase", _EGRESS, 'internet="true"', "pod_name, namespace, cluster_id"),
    ("avg", "kubecost_network_internet_egress_cost", "", "cluster_id"),
    (
        "sum:increase",
        "container_network_receive_bytes_total",
        'pod!=""',
        "pod_name, pod, namespace, cluster_id",
    ),
    (
        "sum:increase",
        "container_network_transmit_bytes_total",
        'pod!=""',
        "pod_name, pod, namespace, cluster_id",
    ),
    *(
        ("raw:avg_over_time", metric, "", "")
        for metric in (
            "kube_node_labels",
            "kube_namespace_labels",
            "kube_namespace_annotations",
            "kube_pod_labels",
            "kube_pod_annotations",
            "service_selector_labels",
            "deployment_match_labels",
            "statefulSet_match_labels",
        )
    ),
    *(
        ("sum", "kube_pod_owner", f'owner_kind="{kind}"', "pod, owner_name, namespace, cluster_id")
        for kind in ("DaemonSet", "Job", "ReplicaSet")
    ),
    (
        "avg",
        "kube_replicaset_owner",
        'owner_kind="<none>",owner_name="<none>"',
        "replicaset, namespace, cluster_id",
    ),
    (
        "avg",
        "kube_replicaset_owner",
        'owner_kind="Rollout"',
        "replicaset, namespace, owner_kind, owner_name, cluster_id",
    ),
    ("avg", "kubecost_load_balancer_cost", "", "namespace, service_name, cluster_id"),
    ("steps:count", "kubecost_load_balancer_cost", "", "namespace, service_name, cluster_id"),
)


def opencost_queries(tenant: str, resolution: str) -> list[str]:
    """OpenCost's set for one day at `resolution`, scoped to the tenant like ours."""
    found = []
    for function, metric, matchers, by in OPENCOST:
        selector = f'{metric}{{tenant_id="{tenant}"{"," + matchers if matchers else ""}}}'
        kind, _, inner = function.partition(":")
        if kind == "steps":
            found.append(f"{inner}({selector}) by ({by})[1d:{resolution}]")
        elif kind == "raw":
            found.append(f"{inner}({selector}[1d])")
        else:
            over = f"{inner}({selector}[1d])" if inner else f"{kind}_over_time({selector}[1d])"
            found.append(f"{kind}({over}) by ({by})")
    return found


def floor_queries(tenant: str) -> list[str]:
    """Every sample our set reads, once: one count_over_time per family."""
    selector = tenant_selector(tenant).removeprefix("{").removesuffix("}")
    return [f"sum(count_over_time({m}{{{selector}}}[1d]))" for m in samples.source_metrics()]


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run_set(client: PromQLClient, queries: list[str], tenant: str) -> None:
    """Each query in turn; a subquery at the top (`...[1d:5m]`) answers a matrix."""
    at = evaluation_time(DAY, GAUGE)
    for query in queries:
        matrix = query.endswith("]") and ":" in query.rsplit("[", 1)[1]
        (client.matrix if matrix else client.instant)(query, at, tenant)


SETS = ("floor", "opencost_5m", "opencost_1m", "ours", "ours_concurrent")


def compare(
    url: str, tenant: str, step_s: int, runs: int, concurrency: int, names: list[str]
) -> dict[str, list]:
    """Seconds of each set in `names`, per run (sequential, one set after the other)."""
    client = PromQLClient(url, 600)
    sets: dict[str, Callable[[], object]] = {
        "floor": lambda: run_set(client, floor_queries(tenant), tenant),
        "opencost_5m": lambda: run_set(client, opencost_queries(tenant, "5m"), tenant),
        "opencost_1m": lambda: run_set(client, opencost_queries(tenant, "1m"), tenant),
        "ours": lambda: extract(client, tenant, DAY, step_s, 1),
        "ours_concurrent": lambda: extract(client, tenant, DAY, step_s, concurrency),
    }
    extract(client, tenant, DAY, step_s)  # warm the page cache once
    # Runs outer, sets inner: a load from elsewhere on the machine falls on every set alike.
    times: dict[str, list] = {name: [] for name in names}
    for _ in range(runs):
        for name in names:
            times[name].append(timed(sets[name]))
    return times


def measure(url: str, data_dir: Path, scenario_path: Path) -> dict[str, float]:
    """Run one tenant-day (in this process) and return its figures."""
    scenario = json.loads(scenario_path.read_text())
    (cluster,) = scenario["clusters"]
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(data_dir), "THANOS_URL": url})
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    config = {"scrape_interval_seconds": scenario["scrape_interval_s"]}
    account = registry.add_account(
        database, cluster["organization_id"], cluster["name"], cluster["tenant_id"], config
    )
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
    promql = PromQLClient(url, 600)
    started = time.perf_counter()
    step_s = scrape_interval_s(settings, account)
    answers = extract_day(promql, account, DAY, step_s, settings.promql_concurrency)
    extracted = time.perf_counter()
    _, rows_written, _ = transform_and_load(settings, database, account, DAY, answers)
    done = time.perf_counter()
    return {
        "queries": promql.counter.queries,
        "promql_s": extracted - started,
        "rest_s": done - extracted,
        "rows_written": rows_written,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pods": sum(1 for pod in cluster["pods"] if pod["end"] > scenario["start"]),
    }


def largest_query(url: str, tenant: str, step_s: int) -> tuple[str, int]:
    """(query name, peak samples) of our query with the largest peak."""
    client = PromQLClient(url, 600)
    first = {q.name: run_query(client, q, tenant, DAY, step_s) for q in QUERIES}
    found = []
    for query in [*QUERIES, *phase_two(first, DAY, step_s)[0]]:
        at = evaluation_time(DAY, query.evaluated).timestamp()
        body = requests.post(
            f"{url}/api/v1/query",
            data={"query": query.render(tenant, step_s), "time": f"{at:.3f}", "stats": "all"},
            timeout=600,
        ).json()
        found.append((query.name, body["data"]["stats"]["samples"]["peakSamples"]))
    return max(found, key=lambda item: item[1])


def bench(pods: int, args: argparse.Namespace, root: Path) -> dict:
    """Simulate, backfill and serve one cluster-day of `pods` pods; measure it."""
    step_s = args.scrape_interval
    scenario = build_scenario(
        1,
        1,
        DAY,
        seed=pods,
        scrape_interval_s=step_s,
        nodes=max(4, pods // PODS_PER_NODE),
        pods=pods,
    )
    sim = root / f"pods-{pods}"
    scenario_path = sim / "scenario.json"
    if not (sim / "tsdb").exists():
        sim.mkdir(parents=True, exist_ok=True)
        scenario_path.write_text(json.dumps(scenario))
        (sim / "samples").write_text(str(write_openmetrics(scenario, sim / "metrics.om")))
        backfill(sim / "metrics.om", sim / "tsdb")
        (sim / "metrics.om").unlink()
    tenant = scenario["clusters"][0]["tenant_id"]
    figures: dict = {"samples": int((sim / "samples").read_text()), "pods": pods}
    with PrometheusServer(sim / "tsdb", extra_args=[MAX_SAMPLES]) as server:
        figures["runs"] = compare(
            server.url, tenant, step_s, args.runs, args.concurrency, args.sets
        )
        report(figures)
        if not args.no_pipeline:
            shutil.rmtree(sim / "data", ignore_errors=True)  # a fresh tenant-day each time
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure",
                    server.url,
                    str(sim / "data"),
                    str(scenario_path),
                ],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "PROMQL_CONCURRENCY": "1"},
            )
            figures.update(json.loads(child.stdout.splitlines()[-1]))
            figures["largest_query"], figures["peak_samples"] = largest_query(
                server.url, tenant, step_s
            )
            report(figures)
    return figures


def report(f: dict) -> None:
    """One size: the runs of every set and the ratios of the best runs; or, once the
    tenant-day has run, its figures."""
    if "queries" in f:
        print(
            f"pipeline: {f['queries']} queries, PromQL {f['promql_s']:.2f} s, "
            f"rest {f['rest_s']:.2f} s, "
            f"{f['rows_written']:,} rows, peak RSS {f['peak_rss_mb']:.0f} MB, largest query peak "
            f"{f['peak_samples']:,} samples ({f['largest_query']})",
            flush=True,
        )
        return
    best = {name: min(times) for name, times in f["runs"].items()}
    best.setdefault("ours", float("nan"))
    print(f"\n{f['pods']:,} pods, {f['samples']:,} samples/day")
    print("| query set | seconds per run | best | best / ours |")
    print("|---|---|---:|---:|")
    for name, times in f["runs"].items():
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {name} | {runs} | {best[name]:.2f} | {best[name] / best['ours']:.2f} |")
    if set(SETS) <= set(best):
        print(
            f"ours vs floor: {best['ours'] / best['floor']:.2f}x; OpenCost 5m vs ours: "
            f"{best['opencost_5m'] / best['ours']:.2f}x; "
            f"1m vs ours: {best['opencost_1m'] / best['ours']:.2f}x",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--scrape-interval", type=int, default=60)
    parser.add_argument("--keep", type=Path, help="Work here and keep it (and reuse its TSDBs).")
    parser.add_argument("--no-pipeline", action="store_true", help="Skip the RSS measurement.")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        url, data_dir, scenario_path = args.measure
        print(json.dumps(measure(url, Path(data_dir), Path(scenario_path))))
        return
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        for pods in args.pods:
            bench(pods, args, args.keep)
        return
    with tempfile.TemporaryDirectory() as work:
        for pods in args.pods:
            bench(pods, args, Path(work))


if __name__ == "__main__":
    main()
