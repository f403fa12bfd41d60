"""clean_expenses as CSV: the same rows as the JSON answer, one line per item.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula, and
resource names and tags come from customers' clouds, so such text cells get a
leading apostrophe (numbers are written as numbers, negative credits included).
The totals before `limit` travel in the X-Total-Count and X-Total-Cost headers.
A cluster's `reconciliation` (what pricing it from the bill changed) is flattened into
`reconciliation_<field>` columns, empty on other items.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Response

from api.render.clusterparts import ADJUSTMENT, RECONCILED_COLUMNS
from api.render.finite import finite
from etl.costmodel.assets import COMPONENTS

COLUMNS = (
    "resource_id",
    "cloud_resource_id",
    "resource_name",
    "resource_type",
    "service_name",
    "region",
    "cloud_account_id",
    "cloud_account_name",
    "cloud_account_type",
    "k8s_cluster_id",
    "cost",
    *COMPONENTS,
    "billed_nodes_cost",
    *(f"reconciliation_{name}" for name in (*RECONCILED_COLUMNS.values(), ADJUSTMENT)),
    "tags",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return finite(value, "a cost of the answer")  # csv would write inf or nan
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True) if value else ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _row(item: dict[str, Any]) -> list[Any]:
    breakdown = item.get("k8s_costs") or {}
    billed = item.get("billed_nodes")
    values = {
        **item,
        **breakdown,
        "billed_nodes_cost": sum(node["cost"] for node in billed) if billed is not None else None,
        **{
            f"reconciliation_{name}": value
            for name, value in item.get("reconciliation", {}).items()
        },
    }
    return [_cell(values.get(column)) for column in COLUMNS]


def csv_response(body: dict[str, Any], filename: str) -> Response:
    """The items of a clean_expenses answer as a CSV attachment."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_row(item) for item in body["clean_expenses"])
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Total-Count": str(body["total_count"]),
            "X-Total-Cost": repr(finite(body["total_cost"], "total_cost")),
        },
    )
