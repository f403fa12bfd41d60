"""Allocation rows for bench/api.py's organization, and k8s_costs timed on them (not part
of the suite).

bench/api.py loaded no `k8s_allocation` row when this was written (it now restates 100
clusters' June through the pipeline's writer), so on its data the allocation readers
(k8s_costs, the alerts' and budgets' allocation reads) timed only the reconciliation's
bill side. (Since bench/api.py's `loaded` restates its own allocation first, the insert
below finds rows and adds none: this then times k8s_costs on bench/api.py's allocation.)
This adds, once per data directory holding no allocation row, the period's allocation of its 1,000
clusters: per cluster-day, PODS pods spread over the cluster's five nodes (the
node-days bench/api.py loads, so the bill prices them under billed and effective) in
ten namespaces, twenty controllers and four `team` labels, and one `__idle__` row per
node. Rows inserted by hand, not restated: they must be in place before the period is
first read (etl/storage/allocationrollup.py), so use a fresh copy of a data directory.

Then prints k8s_costs' in-process times (Flask test client, after a warm-up that builds
the catalog: a first call, which computes what the period's rollup misses, and the
median of --requests more) for the allocation page's two
calls and a per-pod grouping.

    .venv/bin/python -m bench.allocation --data-dir DIR [--requests N]   (from the repository root)
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from api.app import create_app
from api.auth import issue_token
from api.server import tune_gc
from bench.api import CLUSTERS, NODES, ORG, PERIOD, loaded
from etl.core.config import Settings
from etl.storage.clickhouse import connect

PODS = 40
NODES_PER_CLUSTER = NODES // CLUSTERS
ROWS_PER_CLUSTER_DAY = PODS + NODES_PER_CLUSTER
# Row r of cluster c on day d: a pod (r < PODS) on node r % 5 of the cluster, else the
# idle row of node r - PODS; node j of cluster c is bench/api.py's node c + 1000 j.
LOAD_ALLOCATION = """
INSERT INTO k8s_allocation (cloud_account_id, date, namespace, controller_kind, controller,
    pod, resource_id, pod_uid, node, labels, namespace_labels, price_flag, running_hours,
    cpu_core_hours, ram_gib_hours, gpu_hours, cpu_request_core_hours, ram_request_byte_hours,
    cpu_used_core_hours, ram_used_byte_hours, cpu_cost, ram_cost, gpu_cost, pv_cost,
    load_balancer_cost, network_cost, management_cost, cost, sign)
SELECT concat('k8s-', toString(c)), toDateTime({first_day}, 'UTC') + toIntervalDay(d),
       if(pod, concat('ns-', toString(r % 10)), '__idle__'),
       if(pod, 'Deployment', ''), if(pod, concat('app-', toString(r % 20)), ''),
       if(pod, concat('pod-', toString(c), '-', toString(r)), ''),
       concat(toString(c), '/', toString(r)),
       if(pod, concat('uid-', toString(c), '-', toString(r)), ''),
       concat('node-', toString(c + {clusters} * node_index)),
       if(pod, map('team', concat('team-', toString(r % 4))), map()), map(), '', 24,
       1, 2, 0, 1, 2e9, if(pod, 0.5, NULL), if(pod, 1e9, NULL),
       cpu, ram, 0, 0, 0, 0, 0, cpu + ram, 1
FROM (SELECT number % {clusters} AS c, intDiv(number, {clusters}) % {days} AS d,
             intDiv(number, {clusters} * {days}) AS r, r < {pods} AS pod,
             if(pod, r % {per_cluster}, r - {pods}) AS node_index,
             if(pod, 0.03 * (1 + r % 3), 0.2) AS cpu, if(pod, 0.01 * (1 + r % 5), 0.1) AS ram
      FROM numbers({clusters} * {days} * {rows}))
"""


def load_allocation(settings: Settings) -> int:
    """Insert the period's allocation unless the directory holds some; returns its rows."""
    with connect(settings.clickhouse_dsn) as client:
        if not client.query("SELECT count() FROM k8s_allocation").result_rows[0][0]:
            client.command(
                LOAD_ALLOCATION.format(
                    first_day=PERIOD[0],
                    days=(PERIOD[1] - PERIOD[0]) // 86400 + 1,
                    clusters=CLUSTERS,
                    pods=PODS,
                    per_cluster=NODES_PER_CLUSTER,
                    rows=ROWS_PER_CLUSTER_DAY,
                )
            )
        return client.query("SELECT count() FROM k8s_allocation").result_rows[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=5)
    arguments = parser.parse_args()
    settings, db = loaded(arguments.data_dir)
    print(f"k8s_allocation: {load_allocation(settings):,} rows")
    tune_gc()  # what the serving process does (api/server.py)
    client = create_app(settings).test_client()
    headers = {"Authorization": f"Bearer {issue_token(db, ORG)}"}
    url = f"/restapi/v2/organizations/{ORG}/k8s_costs"
    period = {"start_date": PERIOD[0], "end_date": PERIOD[1]}
    started = time.perf_counter()  # the catalog, built once per API process
    warm_up = {"start_date": PERIOD[0] - 366 * 86400, "end_date": PERIOD[0] - 366 * 86400}
    assert client.get(url, query_string=warm_up, headers=headers).status_code == 200
    print(f"API warm-up (catalog build, a day without rows): {time.perf_counter() - started:.1f} s")
    cases = {
        "group_by=namespace (the page's table)": {"group_by": "namespace"},
        "group_by=namespace step=day limit=10 (its chart)": {
            "group_by": "namespace",
            "step": "day",
            "limit": 10,
        },
        "group_by=pod": {"group_by": "pod"},
    }
    print(f"{'k8s_costs call':50s} {'first':>9s} {'median':>9s} {'groups':>7s}  total cost")
    for name, extra in cases.items():
        query = {**period, **extra}
        started = time.perf_counter()
        answer = client.get(url, query_string=query, headers=headers)
        first = time.perf_counter() - started
        assert answer.status_code == 200, answer.get_json()
        times = []
        for _ in range(arguments.requests):
            started = time.perf_counter()
            client.get(url, query_string=query, headers=headers)
            times.append(time.perf_counter() - started)
        body = answer.get_json()
        print(
            f"{name:50s} {first * 1000:7.0f} ms {statistics.median(times) * 1000:6.0f} ms "
            f"{len(body['groups']):7d}  {body['totals']['cost']:.6f}"
        )


if __name__ == "__main__":
    main()
