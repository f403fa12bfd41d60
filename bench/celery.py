"""The daily DAG's backfill on 1 and on 2 Celery workers beside `k8scost run --concurrency N`.

    .venv/bin/python -m bench.celery [--clusters 8] [--days 2] [--concurrency 1 2]

On the same simulated history (tests/celery_costing.py: `--clusters` tenants x `--days`
days, 5 min scrape, a local Prometheus, the embedded stores):
1. for 1 and then 2 workers, a fresh Celery stack (PostgreSQL, Redis, scheduler, DAG
   processor, API server, workers of 2 slots each; the `k8scost_promql` pool's 4 slots)
   runs `airflow backfill create` of k8s_costs_daily over the days; timed from the command
   to the last run's end;
2. `k8scost run --from --to --concurrency N` over the same tenant-days into a data
   directory of its own, for each N.
It prints tenant-days per hour of each, the machine's load average before and after,
and where the backfill's time went, from Airflow's task instances in PostgreSQL: per
step, the summed time tasks waited queued (scheduled to started) and ran (started to
ended), extract being the PromQL step and load the ClickHouse one.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg2

from tests.celery_costing import DAILY, celery_costing
from tests.celery_stack import WORKERS

STEPS = (
    "list_tenants",
    "tenant_day.extract",
    "tenant_day.archive",
    "tenant_day.load",
    "publish",
)


def _step_seconds(postgres_url: str) -> dict[str, dict[str, float]]:
    """Per task id: summed queued and running seconds over every try (current and past)."""
    columns = "task_id, queued_dttm, start_date, end_date"
    query = " UNION ALL ".join(
        f"SELECT {columns} FROM {table} WHERE dag_id = %s AND start_date IS NOT NULL"
        for table in ("task_instance", "task_instance_history")
    )
    sums: dict[str, dict[str, float]] = {}
    with (
        psycopg2.connect(postgres_url.replace("+psycopg2", "")) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(query, (DAILY, DAILY))
        for task_id, queued, started, ended in cursor.fetchall():
            step = sums.setdefault(task_id, {"queued": 0.0, "running": 0.0, "tries": 0})
            step["queued"] += (started - queued).total_seconds() if queued else 0.0
            step["running"] += (ended - started).total_seconds() if ended else 0.0
            step["tries"] += 1
    return sums


def backfill_on(
    root: Path, clusters: int, days: int, workers: int, concurrencies: list[int]
) -> dict[str, Any]:
    """One backfill on `workers` Celery workers: seconds, states, the steps' times, and the
    seconds of `k8scost run --concurrency N` on the same history for each N given."""
    with celery_costing(root, clusters, days, WORKERS[:workers]) as costing:
        started = time.monotonic()
        runs = costing.backfill()
        states = costing.airflow.wait(DAILY, runs, timeout_s=3600)
        seconds = time.monotonic() - started
        steps = _step_seconds(costing.airflow.postgres.url)
        truths = {n: costing.truth(n)[1] for n in concurrencies}
    return {"seconds": seconds, "states": states, "steps": steps, "truths": truths}


def _per_hour(tenant_days: int, seconds: float) -> str:
    return f"{tenant_days * 3600 / seconds:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=8)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    tenant_days = args.clusters * args.days
    print(f"load average before: {os.getloadavg()}", flush=True)
    results = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory(prefix=f"bench-celery-{workers}-") as root:
            concurrencies = args.concurrency if workers == 1 else []  # once is enough
            results[workers] = backfill_on(
                Path(root), args.clusters, args.days, workers, concurrencies
            )
        print(f"{workers} worker(s) done: {results[workers]['states']}", flush=True)
    print(f"load average after: {os.getloadavg()}\n")
    print(f"{tenant_days} tenant-days ({args.clusters} tenants x {args.days} days, 5 min scrape)\n")
    print("| runner | wall s | tenant-days per hour |")
    print("|---|---|---|")
    for workers, result in results.items():
        print(
            f"| backfill, {workers} Celery worker(s) x 2 slots | {result['seconds']:.0f} | "
            f"{_per_hour(tenant_days, result['seconds'])} |"
        )
    for n, seconds in results[1]["truths"].items():
        print(
            f"| `k8scost run --concurrency {n}` | {seconds:.0f} | "
            f"{_per_hour(tenant_days, seconds)} |"
        )
    for workers, result in results.items():
        print(f"\nwhere the backfill's time went, {workers} worker(s) (summed over tasks, s):\n")
        print("| step | tries | queued | running |")
        print("|---|---|---|---|")
        for step in STEPS:
            if step in result["steps"]:
                found = result["steps"][step]
                print(
                    f"| {step} | {found['tries']} | {found['queued']:.0f} | "
                    f"{found['running']:.0f} |"
                )


if __name__ == "__main__":
    main()
