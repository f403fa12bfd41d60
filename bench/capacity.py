"""Measure the figures of the capacity table in docs/production.md; prints them as Markdown.

    .venv/bin/python -m bench.capacity [--clusters 3] [--days 2] [--nodes 4] [--pods 24]
    (from the repository root: as `python bench/capacity.py`, bench/etl.py would be `etl`)

What it does, with the project's own pieces only:
1. simulates clusters (devtools.simulate) and counts their series and samples per tenant-day;
2. backfills them into a local Prometheus (promtool) and measures the TSDB bytes per
   sample of the resulting blocks, the block format Thanos Receive also uploads;
3. runs `run_tenant_day` (etl.worker.pipeline) for every tenant-day, one after the other in
   one process, i.e. one worker, against that Prometheus, embedded ClickHouse (chdb)
   and montydb, twice (first load, then a rerun), timing each and counting the rows,
   then writes each tenant-day's extract to the raw archive (etl.worker.archive) and sizes it;
4. counts each table's rows per tenant-day before and after merging, with the
   compressed bytes per merged row (small parts: an upper bound), and bulk-loads a
   year of synthetic expense and breakdown rows for 2,000 accounts, shaped like the
   pipeline's, to read their bytes per row at scale from system.parts.

The PromQL engine is Prometheus 2 standing in for Thanos Query, the stores are the
embedded ones: on the real servers network hops add to the time per tenant-day.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from devtools import demo
from devtools.localprom import PrometheusServer, backfill
from devtools.simulate import build_scenario, write_openmetrics
from etl.core.config import Settings
from etl.costmodel.assets import COMPONENTS
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from etl.worker.pipeline import promql_client, run_tenant_day

END_DAY = date(2026, 6, 2)
SEED = 11
SYNTHETIC_ACCOUNTS = 2000
SYNTHETIC_DAYS = 365


def _directory_bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def _series_per_cluster(metrics: Path) -> float:
    """Distinct series in the OpenMetrics file (its label sets), per cluster."""
    series = set()
    with metrics.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.startswith("#"):
                series.add(line.rsplit(" ", 2)[0])
    return len(series)


def simulate(root: Path, args: argparse.Namespace) -> tuple[dict, dict[str, float]]:
    """Scenario, OpenMetrics and TSDB blocks; returns the scenario and size figures."""
    scenario = build_scenario(
        args.clusters,
        args.days,
        END_DAY,
        seed=SEED,
        scrape_interval_s=60,
        nodes=args.nodes,
        pods=args.pods,
    )
    metrics = root / "metrics.om"
    samples = write_openmetrics(scenario, metrics)
    series = _series_per_cluster(metrics) / args.clusters
    started = time.perf_counter()
    backfill(metrics, root / "tsdb")
    backfill_s = time.perf_counter() - started
    metrics.unlink()
    blocks = _directory_bytes(root / "tsdb")
    tenant_days = args.clusters * args.days
    return scenario, {
        "series per cluster": series,
        "samples per tenant-day": samples / tenant_days,
        "TSDB bytes per sample": blocks / samples,
        "TSDB MiB per tenant-day": blocks / tenant_days / 2**20,
        "backfill s per tenant-day": backfill_s / tenant_days,
    }


def run_pipeline(root: Path, url: str, scenario: dict) -> dict[str, float]:
    """Every tenant-day twice through run_tenant_day: timings and rows."""
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(root / "data"), "THANOS_URL": url})
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    accounts = demo.register_clusters(settings, scenario)
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
    days = [date.fromisoformat(day) for day in scenario["days"]]
    timings: dict[str, list[float]] = {"first": [], "rerun": [], "promql": []}
    rows: dict[str, list[int]] = {"first": [], "rerun": []}
    queries = []
    for attempt in ("first", "rerun"):
        for account in accounts:
            for day in days:
                promql = promql_client(settings)
                started = time.perf_counter()
                result = run_tenant_day(settings, database, account, day, promql)
                timings[attempt].append(time.perf_counter() - started)
                timings["promql"].append(promql.counter.seconds)
                rows[attempt].append(result.rows_written)
                queries.append(result.promql_queries)
    tenant_days = len(days) * len(accounts)
    per_table = {}
    with connect(settings.clickhouse_dsn) as client:
        for (table,) in client.query("SHOW TABLES").result_rows:
            before = client.query(f"SELECT count() FROM {table}").result_rows[0][0]
            client.command(f"OPTIMIZE TABLE {table} FINAL")
            merged, compressed = client.query(
                "SELECT sum(rows), sum(data_compressed_bytes) FROM system.parts "
                "WHERE active AND database = currentDatabase() AND table = {table:String}",
                parameters={"table": table},
            ).result_rows[0]
            per_table[f"{table}: rows per tenant-day after a rerun, before merges"] = (
                before / tenant_days
            )
            per_table[f"{table}: rows per tenant-day, merged"] = merged / tenant_days
            per_table[f"{table}: compressed bytes per merged row"] = compressed / max(merged, 1)
    # run_tenant_day archived every tenant-day's extract (both runs' versions).
    archived = _directory_bytes(Path(urlparse(settings.raw_archive_url).path))
    everything = timings["first"] + timings["rerun"]
    return {
        "tenant-days run": len(everything),
        "PromQL queries per tenant-day": statistics.mean(queries),
        "s per tenant-day (median)": statistics.median(everything),
        "s per tenant-day (max)": max(everything),
        "PromQL s per tenant-day (median)": statistics.median(timings["promql"]),
        "tenant-days per hour per worker": 3600 / statistics.median(everything),
        "rows inserted per tenant-day (first load)": statistics.mean(rows["first"]),
        "rows inserted per tenant-day (rerun)": statistics.mean(rows["rerun"]),
        "raw archive KiB per tenant-day (Parquet)": archived / tenant_days / 1024,
        **per_table,
    }


def _synthetic(accounts: list[str], days: int, value_columns: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    first = pd.Timestamp(END_DAY - timedelta(days=days - 1), tz="UTC")
    frame = pd.DataFrame(
        {
            "cloud_account_id": np.repeat(accounts, days),
            "resource_id": np.repeat(
                [str(uuid.uuid5(uuid.NAMESPACE_URL, a)) for a in accounts], days
            ),
            "date": np.tile(pd.date_range(first, periods=days, freq="D"), len(accounts)),
        }
    )
    for column in value_columns:
        frame[column] = rng.gamma(2.0, 40.0, len(frame))
    frame["sign"] = np.int8(1)
    return frame


def clickhouse_bytes_per_row(root: Path) -> dict[str, float]:
    """Bytes on disk per merged row of each table, from a year of synthetic accounts."""
    accounts = [
        str(uuid.uuid5(uuid.NAMESPACE_DNS, f"account-{n}")) for n in range(SYNTHETIC_ACCOUNTS)
    ]
    figures = {}
    with connect(f"chdb://{root / 'synthetic'}") as client:
        warehouse.init_schema(client)
        for table, columns in (("expenses", ["cost"]), ("k8s_cost_breakdown", list(COMPONENTS))):
            client.insert_df(table, _synthetic(accounts, SYNTHETIC_DAYS, columns))
            client.command(f"OPTIMIZE TABLE {table} FINAL")
            rows, size = client.query(
                "SELECT sum(rows), sum(bytes_on_disk) FROM system.parts "
                "WHERE active AND database = currentDatabase() AND table = {table:String}",
                parameters={"table": table},
            ).result_rows[0]
            figures[f"ClickHouse bytes per {table} row"] = size / rows
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--pods", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="k8scost-bench-") as tmp:
        root = Path(tmp)
        scenario, figures = simulate(root, args)
        with PrometheusServer(root / "tsdb") as server:
            figures |= run_pipeline(root, server.url, scenario)
        figures |= clickhouse_bytes_per_row(root)
    print(f"clusters={args.clusters} days={args.days} nodes={args.nodes} pods={args.pods}")
    print(json.dumps(figures, indent=1))
    print("\n| figure | value |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:,.3f} |")


if __name__ == "__main__":
    main()
