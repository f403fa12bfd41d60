"""`GET /restapi/v2/organizations/<organization_id>/k8s_import_status`: the ledger, per cluster-day.

One item per live kubernetes_cnr account of the organization and per day of the
period, from the completeness ledger (etl/worker/ledger.py): whether the day is loaded
and checked, failed (and why, and how many attempts), had no data, or is
`missing` (no run ever recorded it), with what was loaded and from how many
source samples. Days follow clean_expenses: a day counts when its midnight UTC
lies in [start_date, end_date]. The query schema rejects unknown parameters.
A cluster-scoped token sees its clusters; a namespace or label scope sees every cluster's
status without the clusters' costs (api/query/tokenscope.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Float, Integer, List, Nested, String
from apiflask.validators import OneOf
from flask import Response, jsonify
from marshmallow import RAISE, ValidationError, validates_schema

from api.context import mongodb, token_scope
from api.query.period import END_DESCRIPTION, PeriodQuery, unix_seconds
from etl.costmodel.assets import COMPONENTS
from etl.storage.registry import K8S_ACCOUNT_TYPE, list_accounts
from etl.worker import ledger

bp = APIBlueprint("import_status", __name__, tag="k8s import status", url_prefix="/restapi/v2")

MAX_DAYS = 366
MISSING = "missing"
STATUSES = (*ledger.STATUSES, MISSING)


class ImportStatusQuery(PeriodQuery):
    """Query string of k8s_import_status: a period of at most MAX_DAYS days."""

    end_date = unix_seconds(f"{END_DESCRIPTION} (at most {MAX_DAYS} days)")
    cloud_account_id = List(
        String(), metadata={"description": "Only these cloud accounts (repeatable)"}
    )
    status = List(
        String(validate=OneOf(STATUSES)),
        metadata={"description": "Only days in these statuses (repeatable)"},
    )

    @validates_schema
    def _a_bounded_period(self, data: dict[str, Any], **_: Any) -> None:
        if data["end_date"] - data["start_date"] > MAX_DAYS * 86400:
            raise ValidationError(f"the period may span at most {MAX_DAYS} days", "end_date")


class ClusterDaySchema(Schema):
    """One cluster-day of the ledger."""

    cloud_account_id = String(required=True)
    cloud_account_name = String(required=True)
    date = String(required=True, metadata={"description": "UTC day, YYYY-MM-DD"})
    status = String(required=True, metadata={"description": f"one of {', '.join(STATUSES)}"})
    stage = String(
        allow_none=True, metadata={"description": "last step reached: extract/archive/load/check"}
    )
    attempts = Integer(metadata={"description": "runs that worked on the day"})
    rows = Integer(allow_none=True, metadata={"description": "rows the last load inserted"})
    cost = Float(allow_none=True, metadata={"description": "cost the last load stored"})
    k8s_costs = Dict(keys=String(), values=Float(), allow_none=True)
    source_samples = Integer(
        allow_none=True, metadata={"description": "raw samples Thanos held for the day"}
    )
    source_series = Dict(
        keys=String(), values=Integer(), metadata={"description": "rows per PromQL query"}
    )
    issues = List(
        String(), metadata={"description": "what looked wrong in the data but was costed anyway"}
    )
    quality_failures = List(
        String(),
        metadata={
            "description": "what loaded but cannot be right, e.g. containers ran and were "
            "allocated $0 (their series could not be joined)"
        },
    )
    last_error = String(allow_none=True)
    last_error_at = Integer(allow_none=True)
    run_id = String(allow_none=True, metadata={"description": "the Airflow run (or replay)"})
    started_at = Integer(allow_none=True)
    extracted_at = Integer(allow_none=True)
    loaded_at = Integer(allow_none=True)
    checked_at = Integer(allow_none=True)
    updated_at = Integer(allow_none=True)


class ImportStatusSchema(Schema):
    """The response of k8s_import_status."""

    start_date = Integer(required=True)
    end_date = Integer(required=True)
    total_count = Integer(required=True)
    status_counts = Dict(keys=String(), values=Integer(), required=True)
    k8s_import_status = List(Nested(ClusterDaySchema), required=True)


def _days(start: int, end: int) -> list[date]:
    """The days whose midnight UTC lies in [start, end]."""
    first = datetime.fromtimestamp(start, UTC)
    first_day = first.date() + timedelta(days=0 if first.time() == datetime.min.time() else 1)
    last_day = datetime.fromtimestamp(end, UTC).date()
    return ledger.days_between(first_day, last_day) if first_day <= last_day else []


def _item(account: dict[str, Any], day: date, record: dict[str, Any] | None) -> dict[str, Any]:
    record = record or {"status": MISSING}
    totals = record.get("totals") or {}
    source = record.get("source") or {}
    return {
        "cloud_account_id": account["_id"],
        "cloud_account_name": account["name"],
        "date": day.isoformat(),
        "status": record["status"],
        "stage": record.get("stage"),
        "attempts": record.get("attempts", 0),
        "rows": record.get("rows"),
        "cost": totals.get("cost"),
        "k8s_costs": {c: totals[c] for c in COMPONENTS if c in totals} or None,
        "source_samples": source.get("samples"),
        "source_series": source.get("series", {}),
        "issues": record.get("issues", []),
        "quality_failures": record.get("quality_failures", []),
        **{
            key: record.get(key)
            for key in (
                "last_error",
                "last_error_at",
                "run_id",
                "started_at",
                "extracted_at",
                "loaded_at",
                "checked_at",
                "updated_at",
            )
        },
    }


@bp.get("/organizations/<organization_id>/k8s_import_status")
@bp.input(ImportStatusQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(ImportStatusSchema)
def get_k8s_import_status(organization_id: str, query: dict[str, Any]) -> Response:
    """Per cluster and day of the period: is its cost loaded and checked, and if not, why."""
    db = mongodb()
    scope = token_scope()
    accounts = [
        a
        for a in list_accounts(db, K8S_ACCOUNT_TYPE, organization_id)
        if scope.sees_accounts([a["_id"]])
    ]
    if query.get("cloud_account_id"):
        accounts = [a for a in accounts if a["_id"] in query["cloud_account_id"]]
    days = _days(query["start_date"], query["end_date"])
    records = (
        ledger.find_records(db, [a["_id"] for a in accounts], days[0], days[-1])
        if days and accounts
        else {}
    )
    items = [
        _item(account, day, records.get((account["_id"], day.isoformat())))
        for day in days
        for account in accounts
    ]
    if query.get("status"):
        items = [item for item in items if item["status"] in query["status"]]
    if scope.k8s_only:  # a cluster's whole cost is outside a namespace or label scope
        items = [{**item, "cost": None, "k8s_costs": None} for item in items]
    # The items are built with ClusterDaySchema's fields and types (_item), so they are
    # encoded as they are: marshmallow's field-by-field dump of 30,000 cluster-days (1,000
    # clusters over a month) took most of the answer's time (the schemathesis test
    # checks every answer against the schema).
    return jsonify(
        {
            "start_date": query["start_date"],
            "end_date": query["end_date"],
            "total_count": len(items),
            "status_counts": dict(Counter(item["status"] for item in items)),
            "k8s_import_status": items,
        }
    )
