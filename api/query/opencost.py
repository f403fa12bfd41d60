"""k8s_costs groups as OpenCost allocations: `aggregate`, names, properties and fields.

OpenCost's `aggregate` is one or several of its properties, comma-separated
(opencost.io/docs/integrations/api: `namespace,label:app`); we take those our rows
carry, which are k8s_costs' groupings: `cluster`, `node`, `namespace`, `controller`,
`pod` and `label:<key>`. The groups come from k8s_costs' own query
(api/routes/k8s_costs.py `find_groups`) grouped by the aggregate plus the groupings the
filter reads (api/query/ocfilter.py); this module keeps the groups the filter passes
and adds them up per aggregate key. An allocation is named by its parts joined with
`/` (OpenCost's multi-aggregation names), a reserved name (`__idle__`,
`__unmounted__`) once. Its fields are OpenCost's (`cpuCost`, `ramCost`, `gpuCost`,
`pvCost`, `networkCost`, `loadBalancerCost`, `sharedCost`, `totalCost` and the three
efficiencies); `managementCost` is ours (a cluster's management fee, which OpenCost
does not allocate) and `sharedCost` is what sharing added (idle, shared namespaces
and labels, overhead), so the fields add up to `totalCost`, k8s_costs' `cost`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from api.query.efficiency import USAGE_SUMS, efficiency
from api.query.ocfilter import AllocationFilter
from api.query.ocwindow import Window
from etl.storage.sqlfiles import GROUP_PARTS_SEPARATOR

AGGREGATES = ("cluster", "node", "namespace", "controller", "pod")
LABEL_PART = "label:"
RESERVED = ("__idle__", "__unmounted__")
IDLE = "__idle__"
# OpenCost's field -> our component column (etl/core/components.py).
FIELDS = {
    "cpuCost": "cpu_cost",
    "gpuCost": "gpu_cost",
    "ramCost": "ram_cost",
    "pvCost": "pv_cost",
    "networkCost": "network_cost",
    "loadBalancerCost": "load_balancer_cost",
    "managementCost": "management_cost",
}
PROPERTIES = {"cluster": "cluster", "node": "node", "namespace": "namespace", "pod": "pod"}


class AggregateError(ValueError):
    """An aggregate we do not answer."""


def parse_aggregate(text: str) -> tuple[str, ...]:
    """The groupings of `aggregate` (absent: every pod, OpenCost's finest unit here)."""
    parts = tuple(part.strip() for part in text.split(",")) if text.strip() else ("pod",)
    for part in parts:
        if part not in AGGREGATES and not (part.startswith(LABEL_PART) and part[6:]):
            known = ", ".join([*AGGREGATES, "label:<key>"])
            raise AggregateError(f"aggregate {part!r} is not supported (supported: {known})")
    if len(set(parts)) != len(parts):
        raise AggregateError(f"aggregate {text!r} names a property twice")
    return parts


def groupings(aggregate: tuple[str, ...], wanted: AllocationFilter, include_idle: bool):
    """What the k8s_costs query groups by: the aggregate, then the parts the filter
    reads, then `namespace` when idle must be told apart and nothing else tells it."""
    extra = [part for part in wanted.parts if part not in aggregate]
    if not include_idle and "namespace" not in (*aggregate, *extra):
        extra.append("namespace")
    return (*aggregate, *dict.fromkeys(extra))


def _name(values: Iterable[str]) -> str:
    kept: list[str] = []
    for value in values:
        if value in RESERVED and value in kept:
            continue
        kept.append(value)
    return "/".join(kept)


def _added(total: float | None, value: float | None) -> float | None:
    return value if total is None else total if value is None else total + value


def merge(
    groups: list[dict[str, Any]],
    grouped_by: tuple[str, ...],
    aggregate: tuple[str, ...],
    wanted: AllocationFilter,
    include_idle: bool,
) -> dict[str, dict[str, Any]]:
    """The groups the filter keeps, added up per allocation name (as OpenCost keys them;
    idle left out unless asked)."""
    merged: dict[str, dict[str, Any]] = {}
    for group in groups:
        parts = dict(zip(grouped_by, group["key"].split(GROUP_PARTS_SEPARATOR), strict=True))
        if not wanted.holds(parts) or (not include_idle and IDLE in parts.values()):
            continue
        key = tuple(parts[part] for part in aggregate)
        into = merged.setdefault(
            _name(key), {"key": key, "usage": dict.fromkeys(USAGE_SUMS), "shared": 0.0}
        )
        for column in (*FIELDS.values(), "cost"):
            into[column] = into.get(column, 0.0) + group[column]
        into["shared"] += sum(group.get("shared", {}).values())
        for name in USAGE_SUMS:
            into["usage"][name] = _added(into["usage"][name], group["usage"][name])
    return merged


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _properties(aggregate: tuple[str, ...], key: tuple[str, ...]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for part, value in zip(aggregate, key, strict=True):
        if part.startswith(LABEL_PART):
            if value not in (*RESERVED, "__unallocated__"):
                properties.setdefault("labels", {})[part[len(LABEL_PART) :]] = value
        elif value not in RESERVED:
            properties[PROPERTIES.get(part, part)] = value
    return properties


def allocation_set(
    merged: dict[str, dict[str, Any]], aggregate: tuple[str, ...], step: Window
) -> dict[str, dict[str, Any]]:
    """One step's set: allocations by name (a JSON object: its keys come out sorted)."""
    answer: dict[str, dict[str, Any]] = {}
    for name, sums in merged.items():
        window = {"start": _iso(step.start), "end": _iso(step.end)}
        costs = {field: sums[column] for field, column in FIELDS.items()}
        ratios = efficiency(sums["usage"], sums["cpu_cost"], sums["ram_cost"])
        answer[name] = {
            "name": name,
            "properties": _properties(aggregate, sums["key"]),
            "window": window,
            **window,
            "minutes": (step.end - step.start) / 60,
            **costs,
            "sharedCost": sums["shared"],
            "totalCost": sums["cost"],
            "cpuEfficiency": ratios["cpu_efficiency"],
            "ramEfficiency": ratios["ram_efficiency"],
            "totalEfficiency": ratios["total_efficiency"],
        }
    return answer
