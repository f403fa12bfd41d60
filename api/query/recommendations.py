"""Right-sizing: what each controller's containers should request, and what that saves.

From the daily container records (`k8s_container_usage`, written once per tenant-day
by the pipeline), per cluster, namespace, controller and container over a window
(sql/queries/k8s_recommendations.sql):

- usage = the largest of the window's daily quantiles (conservative: the maximum of
  the daily p95s, not a p95 of the window), cpu p95 and memory max by default
  (`cpu_quantile`, `memory_quantile`: p95 | max);
- recommended request = usage / `target_utilization` (default 0.7), never below the
  floor (10 m cpu, 32 MiB);
- monthly savings = ((current - recommended cores) x the USD per core-hour it paid +
  (current - recommended GiB) x the USD per GiB-hour it paid) x 730 h x its average
  replicas (running hours / 24 per day of the window); negative when it should
  request more;
- a container without usage data has no recommendation (null), never 0.

One function for the API (k8s_recommendations) and the CLI (`k8scost recommendations`),
each handing it a ClickHouse client. A recommendation has RecommendationSchema's fields
and types (api/routes/recommendations.py): the API encodes it as it is, without
marshmallow's dump, so its numbers are made floats (or None) here: the requests and
usage read, and a recommendation at its floor (the memory floor is an int).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from etl.storage.clickhouse import Client
from etl.storage.usagereads import recommendation_rows

GIB = 2**30
HOURS_PER_MONTH = 730
QUANTILES = ("p95", "max")
CPU_FLOOR_CORES = 0.010
MEMORY_FLOOR_BYTES = 32 * 2**20


@dataclass(frozen=True)
class Options:
    """How usage becomes a request (defaults: Kubecost-like)."""

    cpu_quantile: str = "p95"
    memory_quantile: str = "max"
    target_utilization: float = 0.7


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _recommend(usage: float | None, floor: float, target: float) -> float | None:
    return None if usage is None else float(max(usage / target, floor))


def _price(cost: float, amount_hours: float) -> float:
    return cost / amount_hours if amount_hours else 0.0


def recommendation(row: dict[str, Any], options: Options) -> dict[str, Any]:
    """One answer row of the SQL as a recommendation."""
    target = options.target_utilization
    cpu = _recommend(row["cpu_usage"], CPU_FLOOR_CORES, target)
    memory = _recommend(row["ram_usage"], MEMORY_FLOOR_BYTES, target)
    replicas = row["running_hours"] / (24 * row["days"]) if row["days"] else 0.0
    savings = None
    if cpu is not None and memory is not None:
        hourly = (row["cpu_request"] - cpu) * _price(row["cpu_usd"], row["cpu_core_hours"]) + (
            (row["ram_request"] - memory) / GIB * _price(row["ram_usd"], row["ram_gib_hours"])
        )
        savings = hourly * HOURS_PER_MONTH * replicas
    return {
        "cloud_account_id": row["cloud_account_id"],
        "namespace": row["namespace"],
        "controller": row["controller_key"],
        "container": row["container"],
        "current": {
            "cpu_cores": _float(row["cpu_request"]),
            "memory_bytes": _float(row["ram_request"]),
        },
        "usage": {"cpu_cores": _float(row["cpu_usage"]), "memory_bytes": _float(row["ram_usage"])},
        "recommended": {"cpu_cores": cpu, "memory_bytes": memory},
        "replicas": replicas,
        "monthly_savings": savings,
        "based_on": {
            "days": row["days"],
            "days_with_usage": row["measured_days"],
            "samples": int(row["samples"] or 0),
        },
    }


def find_recommendations(
    client: Client,
    account_ids: Sequence[str],
    start: int,
    end: int,
    namespaces: Sequence[str] = (),
    options: Options = Options(),
) -> list[dict[str, Any]]:
    """The recommendations of these accounts over [start, end], largest savings first
    (those without usage data last)."""
    if not account_ids:
        return []
    rows = recommendation_rows(
        client,
        account_ids,
        start,
        end,
        namespaces,
        options.cpu_quantile,
        options.memory_quantile,
    )
    found = [recommendation(row, options) for row in rows]
    found.sort(
        key=lambda r: (
            r["monthly_savings"] is None,
            -(r["monthly_savings"] or 0.0),
            r["cloud_account_id"],
            r["namespace"],
            r["controller"],
            r["container"],
        )
    )
    return found
