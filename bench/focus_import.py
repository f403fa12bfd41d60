"""Import a generated 1M-row FOCUS export and print rows/s and the peak RSS.

`python -m bench.focus_import [--rows N] [--format csv.gz|csv|parquet] [--files F]`
writes, in a temporary directory, an hourly export of N rows spread over F files
(1,000 resources of 4 providers, one month; 1 row in 50 without a ResourceId,
1 in 200 a credit), imports it into a fresh embedded ClickHouse and montydb
there, and prints the import's time, rows/s and peak RSS. The import runs in a
child process, so that the peak RSS (`getrusage(RUSAGE_CHILDREN)`) is its own,
not the generator's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from etl.bills import import_bill
from etl.core.config import Settings

PROVIDERS = np.array(["AWS", "Microsoft", "Google Cloud", "Oracle"])
RESOURCES = 1_000
HOURS = 30 * 24
MONTH = np.datetime64("2024-09-01T00:00:00", "s")


def _part(rows: int, seed: int) -> pa.Table:
    """`rows` hourly charges of random resources in September 2024."""
    rng = np.random.default_rng(seed)
    resource = rng.integers(0, RESOURCES, rows)
    provider = PROVIDERS[resource % len(PROVIDERS)]
    hour = rng.integers(0, HOURS, rows)
    start = MONTH + hour * np.timedelta64(3600, "s")
    cost = np.round(rng.uniform(0.001, 2.0, rows), 6)
    credit = rng.random(rows) < 0.005
    cost[credit] = -cost[credit]
    resource_ids = np.char.add("res-", resource.astype(str)).astype(object)
    resource_ids[rng.random(rows) < 0.02] = None
    iso = np.datetime_as_string(start, unit="s").astype(object) + "Z"
    return pa.table(
        {
            "BilledCost": pa.array(cost.astype(str)),
            "BillingAccountId": pa.array(np.char.add("ba-", (resource % 4).astype(str))),
            "BillingCurrency": pa.array(np.full(rows, "USD")),
            "BillingPeriodStart": pa.array(np.full(rows, "2024-09-01T00:00:00Z")),
            "BillingPeriodEnd": pa.array(np.full(rows, "2024-10-01T00:00:00Z")),
            "ChargeCategory": pa.array(np.where(credit, "Credit", "Usage")),
            "ChargePeriodStart": pa.array(iso),
            "ProviderName": pa.array(provider),
            "RegionId": pa.array(np.where(resource % 3 == 0, "NULL", "eu-west-1")),
            "ResourceId": pa.array(resource_ids),
            "ResourceName": pa.array(np.char.add("name-", resource.astype(str))),
            "ServiceName": pa.array(np.where(resource % 2 == 0, "Compute", "Storage")),
            "SubAccountId": pa.array(np.char.add("sub-", (resource % 20).astype(str))),
            "Tags": pa.array(np.where(resource % 5 == 0, '{"team": "a"}', "NULL")),
            "x_Extra": pa.array(np.full(rows, "ignored")),
        }
    )


def write_export(root: Path, rows: int, files: int, kind: str) -> Path:
    """The generated export under `root`, `files` parts of about rows / files each."""
    for number in range(files):
        part = _part(rows // files + (number < rows % files), seed=number)
        path = root / f"BILLING_PERIOD=2024-09/focus-{number:05d}.{kind}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "parquet":
            pq.write_table(part, path)
        else:
            options = pa_csv.WriteOptions(quoting_style="needed")
            with (
                pa.CompressedOutputStream(str(path), "gzip")
                if kind == "csv.gz"
                else pa.OSFile(str(path), "wb") as out
            ):
                pa_csv.write_csv(part, out, options)
    return root


def _import(root: str, data_dir: str) -> None:
    """The measured part, run in a child process so that its peak RSS is the import's own."""
    settings = Settings.from_env({"K8SCOST_DATA_DIR": data_dir})
    started = time.perf_counter()
    summary = import_bill(settings, "bench-org", root)
    elapsed = time.perf_counter() - started
    print(json.dumps({**asdict(summary), "seconds": elapsed}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--format", choices=["csv.gz", "csv", "parquet"], default="csv.gz")
    parser.add_argument(
        "--import-only", nargs=2, metavar=("EXPORT", "DATA_DIR"), help=argparse.SUPPRESS
    )
    options = parser.parse_args()
    if options.import_only:
        _import(*options.import_only)
        return
    with tempfile.TemporaryDirectory() as work:
        root = write_export(Path(work) / "export", options.rows, options.files, options.format)
        size = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.focus_import",
                "--import-only",
                str(root),
                f"{work}/data",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    summary = json.loads(child.stdout.splitlines()[-1])
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{summary['rows']:,} rows, {options.files} {options.format} file(s),"
        f" {size / 2**20:.0f} MiB:"
        f" {summary['seconds']:.1f} s, {summary['rows'] / summary['seconds']:,.0f} rows/s;"
        f" {summary['resources']:,} resources, {summary['account_days']:,} account-days;"
        f" peak RSS of the import {peak_mib:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
