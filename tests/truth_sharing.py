"""Expected shared costs, from the truth's allocation rows (tests/truth.py) alone.

The beside-the-pipeline restatement of docs/allocation.md's "Sharing" rules, written
per group and per cluster-day (the pipeline computes per row, in SQL, with windows):
nothing here reads ClickHouse or imports pipeline code.

Per cluster-day, the recipient groups are those of the rows that are neither
`__idle__` nor `__unmounted__` nor shared (a namespace of `share_namespaces`, or a
pod or namespace label of `share_labels`):
- idle, per scope (the cluster-day, or each node with `idle_by=node`): `weighted`
  gives a group idle_r x its r cost / the recipients' r cost for r in cpu, ram, gpu,
  and the rest of idle's cost (its management) by cpu + ram + gpu cost; `even` gives
  every recipient group of the scope idle / their number. An idle the scope's
  recipients cannot take (no cost of that resource, nobody) stays in `__idle__`;
- shared rows' cost, and the overhead (hourly x 24), per cluster-day: `weighted` by
  the groups' own cost, `even` the same to each; with no recipient it stays (the
  overhead as `__overhead__`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from tests.truth import COST_KEYS, IDLE, RESOURCES, UNMOUNTED

OVERHEAD = "__overhead__"
PARTS = ("idle", "namespaces", "overhead")


def _label(row: dict[str, Any], pods: dict[str, dict], namespaces: dict, key: str) -> str | None:
    """The row's pod label `key`, else its namespace's (rows of no pod: none)."""
    pod = pods.get(row["pod"])
    if pod is not None and key in pod["labels"]:
        return pod["labels"][key]
    return namespaces.get(row["namespace"], {}).get(key)


def group_of(row: dict[str, Any], group_by: str) -> str:
    """The group of a truth row under `group_by` (namespace, controller or node)."""
    if group_by == "node":
        return row["node"] or row["namespace"]
    return row[group_by]


def _new_group() -> dict[str, Any]:
    return dict.fromkeys(COST_KEYS, 0.0) | {"shared": dict.fromkeys(PARTS, 0.0)}


def expected_shared_groups(
    scenario: dict[str, Any],
    cluster_days: Iterable[tuple[str, Sequence[dict[str, Any]]]],
    group_by: str,
    share_idle: str = "none",
    idle_by: str = "cluster",
    share_namespaces: Sequence[str] = (),
    share_labels: Sequence[str] = (),
    share_split: str = "weighted",
    overhead_hourly: float = 0.0,
) -> dict[str, dict[str, Any]]:
    """Per group: its kept components, `shared` {idle, namespaces, overhead} and `cost`.

    `cluster_days` are (tenant, truth rows of one day of it) pairs.
    """
    groups: dict[str, dict[str, Any]] = defaultdict(_new_group)
    labels = [text.split(":", 1) for text in share_labels]
    for tenant, rows in cluster_days:
        cluster = next(c for c in scenario["clusters"] if c["tenant_id"] == tenant)
        pods = {pod["uid"]: pod for pod in cluster["pods"]}
        namespaces = {ns["name"]: ns["labels"] for ns in cluster["namespaces"]}

        def shared(row: dict[str, Any], pods=pods, namespaces=namespaces) -> bool:
            return row["namespace"] != IDLE and (
                row["namespace"] in share_namespaces
                or any(_label(row, pods, namespaces, k) == v for k, v in labels)
            )

        idle_rows = [r for r in rows if r["namespace"] == IDLE and share_idle != "none"]
        pooled = [r for r in rows if shared(r)]
        recipients = [r for r in rows if r["namespace"] not in (IDLE, UNMOUNTED) and not shared(r)]
        for row in rows:
            if row in idle_rows or row in pooled:
                continue
            for key in COST_KEYS:
                groups[group_of(row, group_by)][key] += row[key]
        scopes = {"": (idle_rows, recipients)}
        if idle_by == "node":
            scopes = {
                node: (
                    [r for r in idle_rows if r["node"] == node],
                    [r for r in recipients if r["node"] == node],
                )
                for node in {r["node"] for r in idle_rows}
            }
        for idle, takers in scopes.values():
            _share_idle(groups, idle, takers, group_by, share_idle)
        pool = sum(sum(r[k] for k in COST_KEYS) for r in pooled)
        overhead = overhead_hourly * 24
        by_group: dict[str, float] = defaultdict(float)
        for r in recipients:
            by_group[group_of(r, group_by)] += sum(r[k] for k in COST_KEYS)
        total = sum(by_group.values())
        can = bool(by_group) if share_split == "even" else total != 0
        if not can:
            for r in pooled:
                for key in COST_KEYS:
                    groups[group_of(r, group_by)][key] += r[key]
            if overhead:
                groups[OVERHEAD]["shared"]["overhead"] += overhead
            continue
        for group, own in by_group.items():
            part = own / total if share_split == "weighted" else 1 / len(by_group)
            groups[group]["shared"]["namespaces"] += pool * part
            groups[group]["shared"]["overhead"] += overhead * part
    for group in groups.values():
        group["cost"] = sum(group[k] for k in COST_KEYS) + sum(group["shared"].values())
    return dict(groups)


def _share_idle(
    groups: dict[str, dict[str, Any]],
    idle: list[dict[str, Any]],
    takers: list[dict[str, Any]],
    group_by: str,
    how: str,
) -> None:
    """Spread the scope's idle rows over its recipient rows' groups (or keep it)."""

    def keep(key: str) -> None:
        for r in idle:
            groups[group_of(r, group_by)][key] += r[key]

    if how == "even":
        names = sorted({group_of(r, group_by) for r in takers})
        if not names:
            for key in COST_KEYS:
                keep(key)
            return
        dollars = sum(r[k] for r in idle for k in COST_KEYS)
        for name in names:
            groups[name]["shared"]["idle"] += dollars / len(names)
        return
    compute = [f"{r}_cost" for r in RESOURCES]
    for key in COST_KEYS:
        weight_keys = [key] if key in compute else compute
        weights = defaultdict(float)
        for r in takers:
            weights[group_of(r, group_by)] += sum(r[k] for k in weight_keys)
        total = sum(weights.values())
        dollars = sum(r[key] for r in idle)
        if total == 0:
            keep(key)
            continue
        for name, weight in weights.items():
            groups[name]["shared"]["idle"] += dollars * weight / total
