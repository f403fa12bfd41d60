"""One tenant-day of a 500- and a 5,000-pod cluster against a real Prometheus; prints figures.

    .venv/bin/python bench/etl.py [--pods 500 5000] [--scrape-interval 60] [--keep DIR]

For each size: simulate one cluster-day (devtools.simulate, 25 pods per node), backfill it
into a local Prometheus (promtool), then run `run_tenant_day`'s two halves in a fresh
subprocess, so its peak RSS is the pipeline's alone: the extract (every PromQL query,
answers parsed into frames) and the rest (asset view, allocation, reconciliation, the
ClickHouse restatement into embedded chdb, MongoDB). Printed per size: PromQL queries,
PromQL wall time, rest-of-run wall time and its ratio to the PromQL time, rows
written, peak RSS; then, re-running each query with `stats=all`, the largest
per-query peak sample count Prometheus reports (its limit is 50M per query).
Setup (simulation, backfill) is not measured. The 5,000-pod day is ~57M samples
(~15 GB of OpenMetrics text while it is backfilled, a few minutes).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script (`python bench/etl.py`), this file's directory leads sys.path, where
# its name would shadow the `etl` package.
sys.path.remove(str(Path(__file__).resolve().parent))

import argparse
import json
import resource
import subprocess
import tempfile
import time
from datetime import date

import requests

from devtools.localprom import PrometheusServer, backfill
from devtools.simulate import build_scenario, write_openmetrics
from etl.core.config import Settings
from etl.metroculus import queries
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from etl.worker.pipeline import extract_day, promql_client, scrape_interval_s, transform_and_load

DAY = date(2026, 6, 2)
PODS_PER_NODE = 25


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
    promql = promql_client(settings)
    started = time.perf_counter()
    answers = extract_day(promql, account, DAY, scrape_interval_s(settings, account))
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


def largest_query(url: str, tenant: str, step_s: int) -> tuple[str, int, int]:
    """(query name, peak samples, samples touched) of the query with the largest peak."""
    found = []
    for query in queries.QUERIES:
        at = queries.evaluation_time(DAY, query.evaluated).timestamp()
        body = requests.post(
            f"{url}/api/v1/query",
            data={"query": query.render(tenant, step_s), "time": f"{at:.3f}", "stats": "all"},
            timeout=600,
        ).json()
        samples = body["data"]["stats"]["samples"]
        found.append((query.name, samples["peakSamples"], samples["totalQueryableSamples"]))
    return max(found, key=lambda item: item[1])


def bench(pods: int, step_s: int, root: Path) -> dict[str, float]:
    """Simulate, backfill and serve one cluster-day of `pods` pods; measure it."""
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
    sim.mkdir(parents=True)
    scenario_path = sim / "scenario.json"
    scenario_path.write_text(json.dumps(scenario))
    samples = write_openmetrics(scenario, sim / "metrics.om")
    backfill(sim / "metrics.om", sim / "tsdb")
    (sim / "metrics.om").unlink()
    with PrometheusServer(sim / "tsdb") as server:
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
        )
        figures = json.loads(child.stdout.splitlines()[-1])
        tenant = scenario["clusters"][0]["tenant_id"]
        figures["largest_query"], figures["peak_samples"], figures["touched"] = largest_query(
            server.url, tenant, step_s
        )
    figures["samples"] = samples
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--scrape-interval", type=int, default=60)
    parser.add_argument("--keep", type=Path, help="Work here and keep it (default: a temp dir).")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        url, data_dir, scenario_path = args.measure
        print(json.dumps(measure(url, Path(data_dir), Path(scenario_path))))
        return
    with tempfile.TemporaryDirectory(dir=args.keep) as work:
        print(
            "| pods | samples/day | PromQL queries | PromQL s | rest s | rest/PromQL "
            "| rows written | peak RSS MB | largest query peak samples |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for pods in args.pods:
            f = bench(pods, args.scrape_interval, Path(work))
            print(
                f"| {f['pods']:,} | {f['samples']:,} | {f['queries']} | {f['promql_s']:.2f} "
                f"| {f['rest_s']:.2f} | {f['rest_s'] / f['promql_s']:.2f} | {f['rows_written']:,} "
                f"| {f['peak_rss_mb']:.0f} | {f['peak_samples']:,} ({f['largest_query']}) |",
                flush=True,
            )


if __name__ == "__main__":
    main()
