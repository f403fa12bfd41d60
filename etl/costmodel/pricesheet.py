"""A cluster's price sheet: its own prices, for nodes and PVs that no bill prices.

On-prem clusters and unsupported providers have no bill to reconcile with, and their
exporter's prices are OpenCost's defaults or 0. A sheet (`k8scost pricing set`, a CSV,
docs/pricing.md) says what a core-, GiB- and GPU-hour cost on which nodes from which
day, and the cost model uses it as the list price (etl/costmodel/sheetprices.py).

The rules live here and only here:
- a row selects nodes by `node:NAME`, `label:KEY=VALUE`, `instance_type:TYPE`, or `*`
  (every node and PV of the cluster); on a node, the most specific selector in force
  wins: node name > label > instance type > `*`; between two label rows that both
  match, the one written first in the file;
- a row is in force from its `valid_from` day (UTC) until the day of a later row of the
  same selector;
- PVs are not on a node: they are priced by the `*` row in force, the only kind of row
  that has a `pv_gib_hour` (required there, refused elsewhere).
A malformed file is refused whole, naming its line and column: half a sheet would
price some nodes from the sheet and others not, silently.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from etl.core.days import parse_stored_day
from etl.costmodel.assets import PRICE_CEILINGS

PRICE_COLUMNS = {"cpu_core_hour": "cpu", "ram_gib_hour": "ram", "gpu_hour": "gpu"}
PV_COLUMN = "pv_gib_hour"
COLUMNS = ("selector", "valid_from", *PRICE_COLUMNS, PV_COLUMN)
EVERY_NODE = "*"
# Selector kinds, the most specific first: on a node, the first kind that matches wins.
KINDS = ("node", "label", "instance_type", EVERY_NODE)


class PriceSheetError(ValueError):
    """A sheet that cannot be stored: where (file, line, column) and why."""

    def __init__(self, source: str, line: int, column: int, reason: str) -> None:
        super().__init__(f"{source}, line {line}, column {column}: {reason}")


@dataclass(frozen=True)
class Selector:
    """Which nodes a row prices: `kind` (one of KINDS), and its name or label pair."""

    kind: str
    name: str = ""
    value: str = ""

    @classmethod
    def parse(cls, text: str) -> Selector:
        """`node:NAME`, `label:KEY=VALUE`, `instance_type:TYPE` or `*` (ValueError otherwise)."""
        if text == EVERY_NODE:
            return cls(EVERY_NODE)
        kind, colon, rest = text.partition(":")
        if not colon or kind not in KINDS:
            raise ValueError(
                f"selector {text!r} is none of node:NAME, label:KEY=VALUE, instance_type:TYPE, *"
            )
        if kind != "label":
            if not rest:
                raise ValueError(f"selector {text!r} names no {kind}")
            return cls(kind, rest)
        key, equals, value = rest.partition("=")
        if not (key and equals and value):
            raise ValueError(f"selector {text!r}: a label selector is label:KEY=VALUE")
        return cls(kind, key, value)

    def text(self) -> str:
        """The selector as written in a sheet."""
        if self.kind == EVERY_NODE:
            return EVERY_NODE
        return (
            f"label:{self.name}={self.value}"
            if self.kind == "label"
            else f"{self.kind}:{self.name}"
        )


@dataclass(frozen=True)
class SheetRow:
    """One row of a sheet: its selector, first day, and prices ($ per unit-hour)."""

    selector: Selector
    valid_from: date
    prices: Mapping[str, float]  # resource (cpu, ram, gpu) -> $ per core-, GiB-, GPU-hour
    pv_gib_hour: float | None
    line: int  # in the file it was read from: the order label rows are tried in

    def document(self) -> dict[str, Any]:
        """The row as stored (etl/storage/pricesheets.py): plain text and numbers."""
        return {
            "selector": self.selector.text(),
            "valid_from": self.valid_from.isoformat(),
            **{column: self.prices[r] for column, r in PRICE_COLUMNS.items()},
            PV_COLUMN: self.pv_gib_hour,
            "line": self.line,
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> SheetRow:
        """The row a stored document holds (the inverse of `document`)."""
        return cls(
            Selector.parse(document["selector"]),
            date.fromisoformat(document["valid_from"]),
            {r: float(document[column]) for column, r in PRICE_COLUMNS.items()},
            None if document[PV_COLUMN] is None else float(document[PV_COLUMN]),
            int(document["line"]),
        )


def _price(text: str, column: str) -> float:
    """A price cell: a finite, non-negative number under the cost model's ceiling."""
    try:
        price = float(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a number") from None
    if not math.isfinite(price) or price < 0:
        raise ValueError(f"{column} {text!r} is not a finite, non-negative price")
    ceiling = PRICE_CEILINGS.get(PRICE_COLUMNS.get(column, ""))
    if ceiling is not None and price > ceiling:
        # The cost model would take it for an exporter's error (etl/costmodel/assets.py).
        raise ValueError(f"{column} {price:g} is over the plausible ceiling of {ceiling:g} $/h")
    return price


def _header(header: list[str], source: str) -> dict[str, int]:
    """Column name -> its index; every column of COLUMNS, once, and no other."""
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        name = name.strip()
        if name not in COLUMNS:
            raise PriceSheetError(
                source, 1, position + 1, f"unknown column {name!r}: expected {', '.join(COLUMNS)}"
            )
        if name in index:
            raise PriceSheetError(source, 1, position + 1, f"column {name!r} appears twice")
        index[name] = position
    missing = [name for name in COLUMNS if name not in index]
    if missing:
        raise PriceSheetError(
            source, 1, len(header) + 1, f"the header lacks the columns {', '.join(missing)}"
        )
    return index


def _row(cells: list[str], index: dict[str, int], line: int, source: str) -> SheetRow:
    if len(cells) != len(COLUMNS):
        raise PriceSheetError(
            source,
            line,
            min(len(cells), len(COLUMNS)) + 1,
            f"{len(cells)} fields where the header has {len(COLUMNS)}",
        )
    cell = {name: cells[position].strip() for name, position in index.items()}

    def parsed(column: str, parse: Any) -> Any:
        try:
            return parse(cell[column])
        except ValueError as error:
            raise PriceSheetError(source, line, index[column] + 1, str(error)) from None

    selector = parsed("selector", Selector.parse)
    valid_from = parsed("valid_from", parse_stored_day)
    prices = {
        r: parsed(column, partial(_price, column=column)) for column, r in PRICE_COLUMNS.items()
    }
    pv_text = cell[PV_COLUMN]
    if selector.kind == EVERY_NODE and not pv_text:
        raise PriceSheetError(
            source, line, index[PV_COLUMN] + 1, f"a '*' row needs a {PV_COLUMN}: it prices the PVs"
        )
    if selector.kind != EVERY_NODE and pv_text:
        raise PriceSheetError(
            source,
            line,
            index[PV_COLUMN] + 1,
            f"only a '*' row has a {PV_COLUMN}: PVs are on no node, the '*' row prices them",
        )
    pv_price = parsed(PV_COLUMN, partial(_price, column=PV_COLUMN)) if pv_text else None
    return SheetRow(selector, valid_from, prices, pv_price, line)


def parse_sheet(text: str, source: str) -> list[SheetRow]:
    """The rows of a sheet's CSV text; PriceSheetError naming `source`, line and column."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[SheetRow] = []
    seen: dict[tuple[Selector, date], int] = {}
    try:
        header = next(reader, None)
        if not header:
            raise PriceSheetError(source, 1, 1, f"no header: expected {', '.join(COLUMNS)}")
        index = _header(header, source)
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # a blank line
            row = _row(cells, index, reader.line_num, source)
            earlier = seen.setdefault((row.selector, row.valid_from), row.line)
            if earlier != row.line:
                raise PriceSheetError(
                    source,
                    row.line,
                    index["selector"] + 1,
                    f"{row.selector.text()} from {row.valid_from} is already on line {earlier}",
                )
            rows.append(row)
    except csv.Error as error:
        raise PriceSheetError(source, reader.line_num, 1, f"not CSV: {error}") from None
    if not rows:
        raise PriceSheetError(source, reader.line_num + 1, 1, "no price rows after the header")
    return rows


def in_force(rows: Iterable[SheetRow], day: date) -> list[SheetRow]:
    """Per selector, the row in force on `day` (its latest `valid_from` not after it),
    in file order."""
    latest: dict[Selector, SheetRow] = {}
    for row in rows:
        current = latest.get(row.selector)
        if row.valid_from <= day and (current is None or row.valid_from > current.valid_from):
            latest[row.selector] = row
    return sorted(latest.values(), key=lambda row: row.line)


def sanitized(label: str) -> str:
    """A Kubernetes label key as kube-state-metrics names it (`label_` left off): every
    character that cannot be in a Prometheus label name becomes `_`."""
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in label)


INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")


def node_row(rows: list[SheetRow], node: str, labels: Mapping[str, str]) -> SheetRow | None:
    """The row that prices `node` (whose kube_node_labels are `labels`, sanitized keys)
    among the rows in force: the most specific match (module docstring), or None."""
    types = {labels[sanitized(k)] for k in INSTANCE_TYPE_LABELS if sanitized(k) in labels}

    def matches(selector: Selector) -> bool:
        if selector.kind == "node":
            return selector.name == node
        if selector.kind == "label":
            return labels.get(sanitized(selector.name)) == selector.value
        if selector.kind == "instance_type":
            return selector.name in types
        return True

    for kind in KINDS:
        for row in rows:
            if row.selector.kind == kind and matches(row.selector):
                return row
    return None


def documents(rows: Iterable[SheetRow]) -> list[dict[str, Any]]:
    """The rows as stored."""
    return [row.document() for row in rows]


def from_documents(stored: Iterable[Mapping[str, Any]]) -> list[SheetRow]:
    """The rows of a stored sheet."""
    return [SheetRow.from_document(document) for document in stored]
