"""The tenant-day's PromQL against OpenCost's query set and the floor, on one Prometheus.

    .venv/bin/python bench/etl.py [--pods 200 1000] [--runs 3] [--concurrency 4]
                                  [--scrape-interval 60] [--keep DIR] [--no-pipeline]
                                  [--one-block-pods 5000] [--per-query 5]

For each size: simulate one cluster-day (devtools.simulate, 25 pods per node), backfill it
into a local Prometheus 2.42 (one block, or past 5,000 pods 2-hour blocks) started with
the default sample limit (`--query.max-samples=50000000`), then, `--runs` times, one
after the other on that server:
- the floor: every sample of every family our set reads, read once (one
  `sum(count_over_time(<family>[1d]))` per family, sequentially);
- OpenCost's allocation query set (devtools/opencost.py, from the public formats of
  opencost's Prometheus source), its subqueries at 5m and at 1m resolution, sequentially;
- ours (etl/metroculus/extract.py: every query a tenant-day sends, the ledger's sample
  count included, since it comes from round 1's answers) sequentially
  (`PROMQL_CONCURRENCY=1`) and with `--concurrency` queries in flight (on 2 cores shared
  with the server, little gain).
Seconds are wall time per set through the one PromQL client; the table prints every run
and the ratios of the best, the CPU seconds the server process spent on each set in each
run (from /proc: unlike wall time, hardly moved by other work on a shared machine), the
per-run ratios of ours to the floor and to OpenCost's 5m set, then what Prometheus itself
reported evaluating each set and its largest per-query peak of samples (one more pass,
`stats=all`; ours: the very queries one extract sent). With `--per-query N`, each query
of ours and of the floor is sent N more times and the server's CPU seconds per send are
listed, the dearest first: where ours spends more than the floor. Then (unless
`--no-pipeline`) the whole tenant-day once in a fresh subprocess at the default
`PROMQL_CONCURRENCY` through the pipeline's steps (extract and archive, verify, load and
check), so its peak RSS is the tenant-day's alone (embedded chdb and montydb loaded).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script (`python bench/etl.py`), this file's directory leads sys.path, where
# its name would shadow the `etl` package (as `python -m bench.etl` it does not).
if str(Path(__file__).resolve().parent) in sys.path:
    sys.path.remove(str(Path(__file__).resolve().parent))

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import requests

from devtools import opencost
from devtools.localprom import PrometheusServer, backfill
from devtools.simulate import build_scenario, write_openmetrics
from etl.core.config import Settings
from etl.metroculus import samples
from etl.metroculus.extract import extract
from etl.metroculus.promql import PromQLClient, PromQLError, Sample, Series
from etl.metroculus.queries import GAUGE, evaluation_time, tenant_selector
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from etl.worker.pipeline import archive_step, extract_step, load_step

DAY = date(2026, 6, 2)
PODS_PER_NODE = 25
MAX_SAMPLES = "--query.max-samples=50000000"  # Prometheus' default, stated
# promtool holds a whole input file's samples in memory to cut its block (about 260
# bytes a sample: 15 GB at 5,000 pods), so past 5,000 pods the day is backfilled two
# hours at a time, as the 2-hour blocks a Prometheus or a Thanos sidecar cuts.
ONE_BLOCK_PODS = 5000
BLOCK_S = 7200
# No compaction while measuring (a Thanos sidecar's Prometheus runs with min = max = 2h).
SERVER_ARGS = [
    MAX_SAMPLES,
    "--storage.tsdb.min-block-duration=2h",
    "--storage.tsdb.max-block-duration=2h",
]


def opencost_queries(tenant: str, resolution_m: int) -> list[str | tuple[str, str]]:
    """OpenCost's set for one day (devtools/opencost.py) at `resolution_m` minutes."""
    matcher = tenant_selector(tenant).removeprefix("{").removesuffix("}")
    return [
        tuple(opencost.render(q, matcher, resolution_m) for q in query)
        if isinstance(query, tuple)
        else opencost.render(query, matcher, resolution_m)
        for query in opencost.QUERIES
    ]


def floor_queries(tenant: str) -> list[str]:
    """Every sample our set reads, once: one count_over_time per family."""
    selector = tenant_selector(tenant).removeprefix("{").removesuffix("}")
    return [f"sum(count_over_time({m}{{{selector}}}[1d]))" for m in samples.source_metrics()]


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run_set(client: PromQLClient, queries: list[str | tuple[str, str]], tenant: str) -> None:
    """Each query in turn; a subquery at the top (`...[1d:5m]`) answers a matrix; of a
    (query, fallback) pair, the fallback is sent when the query answers nothing."""
    at = evaluation_time(DAY, GAUGE)
    for entry in queries:
        for query in entry if isinstance(entry, tuple) else (entry,):
            matrix = query.endswith("]") and ":" in query.rsplit("[", 1)[1]
            if (client.matrix if matrix else client.instant)(query, at, tenant):
                break


SETS = ("floor", "opencost_5m", "opencost_1m", "ours", "ours_concurrent")


@dataclass
class Compared:
    """Per set and run: wall seconds (or why the set failed) and the CPU seconds the server
    spent meanwhile; and the machine's 1-minute load average as each run began."""

    seconds: dict[str, list[float | str]]
    server_cpu: dict[str, list[float]]
    load: list[float] = field(default_factory=list)


def compare(
    server: PrometheusServer,
    tenant: str,
    step_s: int,
    runs: int,
    concurrency: int,
    names: list[str],
) -> Compared:
    """Every set in `names`, `runs` times (sequential, one set after the other)."""
    client = PromQLClient(server.url, 600)
    sets: dict[str, Callable[[], object]] = {
        "floor": lambda: run_set(client, floor_queries(tenant), tenant),
        "opencost_5m": lambda: run_set(client, opencost_queries(tenant, 5), tenant),
        "opencost_1m": lambda: run_set(client, opencost_queries(tenant, 1), tenant),
        "ours": lambda: extract(client, tenant, DAY, step_s, 1),
        "ours_concurrent": lambda: extract(client, tenant, DAY, step_s, concurrency),
    }
    extract(client, tenant, DAY, step_s)  # warm the page cache once
    # Runs outer, sets inner: a load from elsewhere on the machine falls on every set alike;
    # each run starts one set later, so that no set always follows the same one (the 1m
    # set leaves the server's heap large), and Python's garbage is collected before each.
    # The server's CPU seconds are what the set cost it, whatever else ran on the cores
    # (wall time on a shared machine also measures the others' load).
    found = Compared({name: [] for name in names}, {name: [] for name in names})
    for run in range(runs):
        found.load.append(os.getloadavg()[0])
        for name in names[run % len(names) :] + names[: run % len(names)]:
            gc.collect()
            cpu = server.cpu_seconds()
            try:
                found.seconds[name].append(timed(sets[name]))
            except PromQLError as error:  # a set over the server's limits: say so
                found.seconds[name].append(f"failed: {str(error).rsplit(': ', 1)[-1][:80]}")
            found.server_cpu[name].append(server.cpu_seconds() - cpu)
    return found


def measure(url: str, data_dir: Path, scenario_path: Path) -> dict[str, float]:
    """Run one tenant-day through the pipeline's steps (in this process); its figures."""
    scenario = json.loads(scenario_path.read_text())
    (cluster,) = scenario["clusters"]
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(data_dir), "THANOS_URL": url})
    # At the default PROMQL_CONCURRENCY (4): the answers of a round are in memory at once.
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    config = {"scrape_interval_seconds": scenario["scrape_interval_s"]}
    account = registry.add_account(
        database, cluster["organization_id"], cluster["name"], cluster["tenant_id"], config
    )
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
    promql = PromQLClient(url, 600)
    started = time.perf_counter()
    extract_url = extract_step(settings, database, account, DAY, "bench", promql)
    extracted = time.perf_counter()
    archive_step(settings, database, account, DAY, extract_url)
    _, rows_written, _ = load_step(settings, database, account, DAY, extract_url)
    done = time.perf_counter()
    return {
        "queries": promql.counter.queries,
        "promql_s": extracted - started,
        "rest_s": done - extracted,
        "rows_written": rows_written,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pods": sum(1 for pod in cluster["pods"] if pod["end"] > scenario["start"]),
    }


def _stats(url: str, query: str, at: float) -> dict:
    body = requests.post(
        f"{url}/api/v1/query", data={"query": query, "time": f"{at:.3f}", "stats": "all"}
    ).json()
    if body.get("status") != "success":
        raise PromQLError(body.get("error", "error"))
    return body["data"]


class RecordingClient(PromQLClient):
    """A client that keeps every query it sent, with its evaluation time."""

    def __init__(self, url: str) -> None:
        super().__init__(url, 600)
        self.sent: list[tuple[str, float]] = []

    def instant(self, query: str, at: datetime, tenant: str) -> list[Sample]:
        self.sent.append((query, at.timestamp()))
        return super().instant(query, at, tenant)

    def matrix(self, query: str, at: datetime, tenant: str) -> list[Series]:
        self.sent.append((query, at.timestamp()))
        return super().matrix(query, at, tenant)


def evaluation(url: str, tenant: str, step_s: int, names: list[str]) -> dict[str, list]:
    """Per set: [seconds Prometheus spent evaluating it (`execTotalTime` summed over its
    queries: the load on a shared Thanos, without transfer and parsing), the largest
    per-query peak of samples, that query's name], from one more pass with `stats=all`."""
    recorder = RecordingClient(url)
    extract(recorder, tenant, DAY, step_s)
    at = evaluation_time(DAY, GAUGE).timestamp()

    def opencost_set(resolution_m: int) -> list[list[tuple[str, str, float]]]:
        entries = opencost_queries(tenant, resolution_m)
        return [[(q, q, at) for q in (e if isinstance(e, tuple) else (e,))] for e in entries]

    # Each entry: its query, then the fallbacks sent when it answers nothing.
    sets = {
        "floor": [[(q, q, at)] for q in floor_queries(tenant)],
        "opencost_5m": opencost_set(5),
        "opencost_1m": opencost_set(1),
        "ours": [[(query, query, when)] for query, when in recorder.sent],
    }
    found: dict[str, list] = {}
    for name in [n for n in names if n in sets]:
        total, peak = 0.0, (0, "")
        try:
            for entry in sets[name]:
                for label, query, when in entry:
                    data = _stats(url, query, when)
                    total += data["stats"]["timings"]["execTotalTime"]
                    peak = max(peak, (data["stats"]["samples"]["peakSamples"], label[:60]))
                    if data["result"]:
                        break
        except PromQLError as error:
            found[name] = [f"failed: {str(error)[:60]}", 0, ""]
            continue
        found[name] = [total, *peak]
    return found


def per_query(server: PrometheusServer, tenant: str, step_s: int, sends: int) -> None:
    """Print the server's CPU seconds per send of each query of ours and of the floor,
    dearest first, each query sent `sends` times in a row."""
    recorder = RecordingClient(server.url)
    extract(recorder, tenant, DAY, step_s)
    at = evaluation_time(DAY, GAUGE).timestamp()
    session = requests.Session()
    for name, queries in (
        ("ours", recorder.sent),
        ("floor", [(query, at) for query in floor_queries(tenant)]),
    ):
        costs = []
        for query, when in queries:
            cpu = server.cpu_seconds()
            for _ in range(sends):
                session.post(
                    f"{server.url}/api/v1/query", data={"query": query, "time": f"{when:.3f}"}
                ).raise_for_status()
            costs.append(((server.cpu_seconds() - cpu) / sends, query))
        print(f"{name}: server CPU s per send, {sum(c for c, _ in costs):.3f} in all")
        for cost, query in sorted(costs, reverse=True):
            print(f"  {cost:.3f}  {query[:110]}")


def backfill_blocks(scenario: dict, sim: Path, width_s: int) -> tuple[int, int]:
    """Backfill the scenario into `sim/tsdb` as consecutive blocks of `width_s` seconds
    (one file each, written and removed in turn); returns (samples, blocks)."""
    written, blocks = 0, 0
    for lo in range(scenario["start"], scenario["end"], width_s):
        written += write_openmetrics(scenario, sim / "metrics.om", (lo, lo + width_s))
        backfill(sim / "metrics.om", sim / "tsdb")
        (sim / "metrics.om").unlink()
        blocks += 1
    return written, blocks


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
        span = scenario["end"] - scenario["start"]
        written = backfill_blocks(scenario, sim, span if pods <= args.one_block_pods else BLOCK_S)
        (sim / "samples").write_text(json.dumps(written))
    tenant = scenario["clusters"][0]["tenant_id"]
    samples_written = json.loads((sim / "samples").read_text())
    figures: dict = {"pods": pods, "samples": samples_written[0], "blocks": samples_written[1]}
    with PrometheusServer(sim / "tsdb", extra_args=SERVER_ARGS) as server:
        compared = compare(server, tenant, step_s, args.runs, args.concurrency, args.sets)
        figures.update(runs=compared.seconds, server_cpu=compared.server_cpu, load=compared.load)
        figures["evaluation"] = evaluation(server.url, tenant, step_s, args.sets)
        report(figures)
        if args.per_query:
            per_query(server, tenant, step_s, args.per_query)
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
            )
            figures.update(json.loads(child.stdout.splitlines()[-1]))
            report(figures)
    return figures


def report(f: dict) -> None:
    """One size: the runs of every set and the ratios of the best runs; or, once the
    tenant-day has run, its figures."""
    if "queries" in f:
        print(
            f"pipeline: {f['queries']} queries, PromQL {f['promql_s']:.2f} s, "
            f"rest {f['rest_s']:.2f} s, "
            f"{f['rows_written']:,} rows, peak RSS {f['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        return
    best = {
        name: min((t for t in times if isinstance(t, float)), default=float("nan"))
        for name, times in f["runs"].items()
    }
    best.setdefault("ours", float("nan"))
    print(f"\n{f['pods']:,} pods, {f['samples']:,} samples/day in {f['blocks']} block(s)")
    print(f"1-minute load average as each run began: {_figures(f['load'], 1)}")
    print(
        "| query set | seconds per run | best | best / ours | server CPU s per run "
        "| evaluation s | peak samples |"
    )
    print("|---|---|---:|---:|---|---:|---|")
    for name, times in f["runs"].items():
        evaluated, peak, where = f["evaluation"].get(name, ["", 0, ""])
        evaluated = evaluated if isinstance(evaluated, str) else f"{evaluated:.2f}"
        print(
            f"| {name} | {_figures(times)} | {best[name]:.2f} | {best[name] / best['ours']:.2f} "
            f"| {_figures(f['server_cpu'][name])} | {evaluated} | {peak:,} ({where}) |"
        )
    for other in ("floor", "opencost_5m"):
        if {"ours", other} <= set(f["runs"]):
            print(
                f"ours / {other} per run: wall {_ratios(f['runs'], other)}; "
                f"server CPU {_ratios(f['server_cpu'], other)}"
            )
    if set(SETS) <= set(best):
        print(
            f"ours vs floor: {best['ours'] / best['floor']:.2f}x; OpenCost 5m vs ours: "
            f"{best['opencost_5m'] / best['ours']:.2f}x; "
            f"1m vs ours: {best['opencost_1m'] / best['ours']:.2f}x",
            flush=True,
        )


def _figures(values: list, digits: int = 2) -> str:
    return ", ".join(v if isinstance(v, str) else f"{v:.{digits}f}" for v in values)


def _ratios(runs: dict[str, list], other: str) -> str:
    """Ours over `other`, run by run (the runs of one invocation met the same load)."""
    pairs = zip(runs["ours"], runs[other], strict=True)
    return ", ".join(
        f"{o / t:.2f}" if isinstance(o, float) and isinstance(t, float) else "-" for o, t in pairs
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--scrape-interval", type=int, default=60)
    parser.add_argument("--keep", type=Path, help="Work here and keep it (and reuse its TSDBs).")
    parser.add_argument(
        "--one-block-pods",
        type=int,
        default=ONE_BLOCK_PODS,
        help="Largest size backfilled in one block; larger ones in 2-hour blocks.",
    )
    parser.add_argument("--no-pipeline", action="store_true", help="Skip the RSS measurement.")
    parser.add_argument(
        "--per-query",
        type=int,
        default=0,
        metavar="N",
        help="Also list the server's CPU per query of ours and the floor (N sends each).",
    )
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
