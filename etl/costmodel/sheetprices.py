"""A price sheet applied to a tenant-day's answers: the sheet's prices become the list price.

The sheet (etl/costmodel/pricesheet.py) is applied to the answers, before anything is
costed, by rewriting the price answers of the nodes and PVs it prices as if the exporter
had sent the sheet's price all day: `*_price_samples` = price x the entity's life in
steps, `*_price_changes` = one change to that price at 00:00. Everything downstream
(the asset view, the allocation, right-sizing's prices paid, the node-days the bill
reconciliation reads) then prices alike without knowing there was a sheet. A node the
exporter left unpriced, or priced at 0, is costed at the sheet's price all the same: its
life comes from its capacity series, not its price series.

A sheet's prices are per day (its rows start on UTC days), so one constant price a day
is exact.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from etl.core.answers import ANSWER, Answers
from etl.core.days import day_start_epoch
from etl.costmodel.allocation.pods import label_maps, merged_labels
from etl.costmodel.assets import RESOURCES
from etl.costmodel.pricesheet import EVERY_NODE, SheetRow, in_force, node_row


def _repriced(
    answers: Answers, prefix: str, key: str, lives: pd.DataFrame, prices: dict[str, float], at: int
) -> Answers:
    """`{prefix}_price_samples` and `{prefix}_price_changes` with the entities of
    `prices` (key value -> $ per unit-hour) at that price over their `lives` (steps)."""
    priced = lives[lives[key].isin(prices)]
    samples_name, changes_name = f"{prefix}_price_samples", f"{prefix}_price_changes"
    samples = ANSWER[samples_name].frame(
        [
            [entity, prices[entity] * steps]
            for entity, steps in zip(priced[key], priced["value"], strict=True)
        ]
    )
    changes = ANSWER[changes_name].frame(
        [[entity, repr(prices[entity]), str(at), 1.0] for entity in priced[key]]
    )
    kept = {
        name: answers[name][~answers[name][key].isin(priced[key])]
        for name in (samples_name, changes_name)
    }
    return {
        samples_name: pd.concat([kept[samples_name], samples], ignore_index=True),
        changes_name: pd.concat([kept[changes_name], changes], ignore_index=True),
    }


def node_rows(answers: Answers, rows: list[SheetRow]) -> dict[str, SheetRow]:
    """node -> the sheet row in force that prices it (nodes no row matches left out)."""
    labelled = answers["node_labels"]
    labels = merged_labels(labelled["node"], label_maps(labelled))
    found = {}
    for node in answers["node_life_steps"]["node"]:
        row = node_row(rows, node, labels.get(node, {}))
        if row is not None:
            found[node] = row
    return found


def _issues(answers: Answers, rows: list[SheetRow]) -> list[str]:
    """What the rows in force could not price, for the day's issues."""
    issues = []
    by_labels = [r.selector.text() for r in rows if r.selector.kind in ("label", "instance_type")]
    if by_labels and answers["node_labels"].empty:
        issues.append(
            "price sheet: no kube_node_labels series on the day, so its rows "
            f"{', '.join(by_labels)} matched no node (docs/pricing.md)"
        )
    if any(r.selector.kind == EVERY_NODE for r in rows):
        volumes = set(answers["pv_bytes"]["persistentvolume"])
        unknown = sorted(volumes - set(answers["pv_life_steps"]["persistentvolume"]))
        if unknown:
            issues.append(
                f"price sheet: PVs {', '.join(unknown)} have no life on the day (no step of "
                "their capacity series): kept at the exporter's price"
            )
    return issues


def priced_by_sheet(
    answers: Answers, sheet: list[SheetRow], day: date
) -> tuple[Answers, list[str]]:
    """The answers with the sheet's prices in force on `day` in place of the exporter's,
    and the issues of rows that could not apply. Without a sheet, the answers as they are."""
    rows = in_force(sheet, day)
    if not rows:
        return answers, []
    at = day_start_epoch(day)
    by_node = node_rows(answers, rows)
    repriced = dict(answers)
    for r in RESOURCES:
        prices = {node: row.prices[r] for node, row in by_node.items()}
        repriced |= _repriced(repriced, f"node_{r}", "node", answers["node_life_steps"], prices, at)
    cluster_wide = next((row for row in rows if row.selector.kind == EVERY_NODE), None)
    lives = answers["pv_life_steps"]
    if cluster_wide is not None and cluster_wide.pv_gib_hour is not None:
        prices = dict.fromkeys(lives["persistentvolume"], cluster_wide.pv_gib_hour)
        repriced |= _repriced(repriced, "pv", "persistentvolume", lives, prices, at)
    return repriced, _issues(answers, rows)
