"""What caused a change: signed dollars against the baseline, by component, controller
and node, each dimension adding up to the change.

Why this shape: a person paged for a jump wants the few things that moved, not a
table to dig through. The change of a group (a namespace, a controller, a node) is
its cost on the day minus its mean over the baseline days (0 where it had no rows),
so over any partition of the rows the groups' changes add up to the total change
exactly (a mean is linear). Each dimension keeps its MAX_CONTRIBUTORS largest moves
and folds the rest into one `other` entry, so the sum still holds.

Input frames are sql/queries/alerts_allocation_groups.sql's: one row per (day,
namespace, controller, node) with every component and `cost`. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd

from etl.core.components import COMPONENTS

IDLE = "__idle__"
UNMOUNTED = "__unmounted__"
NO_NODE = "__no_node__"
OTHER = "other"
MAX_CONTRIBUTORS = 10
# Below this a group did not exist on a side (float noise of collapsed sums).
EPSILON_USD = 1e-9
# The component names an alert uses: the columns without `_cost`, plus idle.
COMPONENT_NAMES = (*(column.removesuffix("_cost") for column in COMPONENTS), "idle")


def _sides(frame: pd.DataFrame, day: date, baseline_days: Sequence[date]) -> pd.DataFrame:
    """Each row's weight on the day (1 or 0) and in the baseline mean (1/n or 0)."""
    on_day = (frame["day"] == day).to_numpy(dtype=float)
    before = frame["day"].isin(list(baseline_days)).to_numpy(dtype=float) / len(baseline_days)
    return pd.DataFrame({"on_day": on_day, "before": before}, index=frame.index)


def day_and_baseline(
    frame: pd.DataFrame, column: str, day: date, baseline_days: Sequence[date]
) -> pd.DataFrame:
    """Per value of `column`: `today` (its cost on `day`) and `baseline` (its mean cost
    over `baseline_days`, absent days counting 0), and `change` = today - baseline."""
    sides = _sides(frame, day, baseline_days)
    parts = pd.DataFrame(
        {
            column: frame[column].to_numpy(),
            "today": frame["cost"].to_numpy() * sides["on_day"].to_numpy(),
            "baseline": frame["cost"].to_numpy() * sides["before"].to_numpy(),
        }
    )
    groups = parts.groupby(column, sort=True)[["today", "baseline"]].sum()
    groups["change"] = groups["today"] - groups["baseline"]
    return groups


def _movement(today: float, baseline: float) -> str:
    if baseline <= EPSILON_USD < today:
        return "new"
    if today <= EPSILON_USD < baseline:
        return "gone"
    return "grown" if today >= baseline else "shrunk"


def _largest(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The MAX_CONTRIBUTORS largest moves, the rest folded into one `other` entry."""
    entries = sorted(entries, key=lambda entry: (-abs(entry["amount_usd"]), entry["name"]))
    kept, rest = entries[:MAX_CONTRIBUTORS], entries[MAX_CONTRIBUTORS:]
    if rest:
        kept.append(
            {
                "name": OTHER,
                "change": f"{len(rest)} more",
                "amount_usd": sum(entry["amount_usd"] for entry in rest),
                "today_usd": sum(entry["today_usd"] for entry in rest),
                "baseline_usd": sum(entry["baseline_usd"] for entry in rest),
            }
        )
    return kept


def by_group(
    frame: pd.DataFrame, column: str, day: date, baseline_days: Sequence[date]
) -> list[dict[str, Any]]:
    """Every value of `column` that moved: name, new|gone|grown|shrunk, signed dollars."""
    groups = day_and_baseline(frame, column, day, baseline_days)
    return _largest(
        [
            {
                "name": str(name),
                "change": _movement(row.today, row.baseline),
                "amount_usd": float(row.change),
                "today_usd": float(row.today),
                "baseline_usd": float(row.baseline),
            }
            for name, row in zip(groups.index, groups.itertuples(index=False), strict=True)
            if abs(row.change) > EPSILON_USD
        ]
    )


def by_component(
    frame: pd.DataFrame, day: date, baseline_days: Sequence[date]
) -> list[dict[str, Any]]:
    """The change per component; a node's idle capacity (its `__idle__` row, whatever
    its components) is the component `idle`, so the components add up to the change."""
    idle = (frame["namespace"] == IDLE).to_numpy()
    sides = _sides(frame, day, baseline_days)
    values = {
        name: frame[column].to_numpy() * ~idle
        for name, column in zip(COMPONENT_NAMES, COMPONENTS, strict=False)
    }
    values["idle"] = frame["cost"].to_numpy() * idle
    entries = []
    for name in COMPONENT_NAMES:
        today = float((values[name] * sides["on_day"].to_numpy()).sum())
        baseline = float((values[name] * sides["before"].to_numpy()).sum())
        if abs(today - baseline) > EPSILON_USD:
            entries.append(
                {
                    "name": name,
                    "change": _movement(today, baseline),
                    "amount_usd": today - baseline,
                    "today_usd": today,
                    "baseline_usd": baseline,
                }
            )
    return _largest(entries)


def _dollars(amount: float) -> str:
    return f"{'+' if amount >= 0 else '-'}${abs(amount):,.2f}"


def _node_lines(nodes: list[dict[str, Any]]) -> list[tuple[float, str]]:
    """New and gone nodes in one line per instance type ("+$41.20: 3 new c5.4xlarge nodes
    (a, b, c)"; without a known type "3 new nodes"), other moves one line per node."""
    lines = []
    for movement in ("new", "gone"):
        moved: dict[str, list[dict[str, Any]]] = {}
        for node in nodes:
            if node["change"] == movement and node["name"] != OTHER:
                moved.setdefault(node.get("instance_type") or "", []).append(node)
        for instance_type, group in sorted(moved.items()):
            amount = sum(node["amount_usd"] for node in group)
            names = ", ".join(node["name"] for node in group)
            noun = " ".join(filter(None, (instance_type, "node" if len(group) == 1 else "nodes")))
            what = f"new {noun}" if movement == "new" else f"{noun} gone"
            lines.append((amount, f"{_dollars(amount)}: {len(group)} {what} ({names})"))
    lines += [
        (
            node["amount_usd"],
            f"{_dollars(node['amount_usd'])}: node {node['name']} {node['change']}",
        )
        for node in nodes
        if node["change"] in ("grown", "shrunk")
    ]
    return lines


def summary(causes: dict[str, list[dict[str, Any]]], lines: int = 3) -> list[str]:
    """A few sentences naming the largest causes: components, controllers, nodes."""
    out = []
    for dimension, noun in (("components", "component"), ("controllers", "controller")):
        for entry in causes[dimension][:lines]:
            if entry["name"] != OTHER:
                out.append(
                    f"{_dollars(entry['amount_usd'])}: {noun} {entry['name']} {entry['change']}"
                )
    node_lines = sorted(_node_lines(causes["nodes"]), key=lambda line: -abs(line[0]))
    out += [text for _, text in node_lines[:lines]]
    return out


def contributors(
    frame: pd.DataFrame,
    day: date,
    baseline_days: Sequence[date],
    node_types: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The causes of the change of `frame`'s total on `day` against `baseline_days`;
    `node_types` (node -> instance type, where known) names the nodes' types."""
    frame = frame.assign(node=frame["node"].where(frame["node"] != "", NO_NODE))
    nodes = by_group(frame, "node", day, baseline_days)
    types = node_types or {}
    for node in nodes:
        if types.get(node["name"]):
            node["instance_type"] = types[node["name"]]
    causes: dict[str, Any] = {
        "components": by_component(frame, day, baseline_days),
        "controllers": by_group(
            frame.assign(controller=_qualified(frame)), "controller", day, baseline_days
        ),
        "nodes": nodes,
    }
    causes["summary"] = summary(causes)
    return causes


def _qualified(frame: pd.DataFrame) -> pd.Series:
    """A controller named within its namespace (`ns/Kind/name`); the idle and unmounted
    rows keep their own names."""
    pseudo = frame["namespace"].isin([IDLE, UNMOUNTED])
    return frame["controller"].where(pseudo, frame["namespace"] + "/" + frame["controller"])
