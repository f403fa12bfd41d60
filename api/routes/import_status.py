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

import msgspec
from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Float, Integer, List, Nested, String
from apiflask.validators import OneOf
from flask import Response
from marshmallow import RAISE, ValidationError, validates_schema

from api.catalog.cache import catalogs
from api.context import current_settings, mongodb, token_scope
from api.query.period import END_DESCRIPTION, PeriodQuery, unix_seconds
from api.render.finite import finite
from etl.costmodel.assets import COMPONENTS
from etl.worker import ledger

bp = APIBlueprint("import_status", __name__, tag="k8s import status", url_prefix="/restapi/v2")

MAX_DAYS = 366
MISSING = "missing"
STATUSES = (*ledger.STATUSES, MISSING)
# The fields of a record an item shows as they are (its last error, its run, its times).
COPIED_FIELDS = (
    "last_error",
    "last_error_at",
    "run_id",
    "started_at",
    "extracted_at",
    "loaded_at",
    "checked_at",
    "updated_at",
)


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


# What an item of a day without a record says besides its cluster and day.
_MISSING_FIELDS = {
    "status": MISSING,
    "stage": None,
    "attempts": 0,
    "rows": None,
    "cost": None,
    "k8s_costs": None,
    "source_samples": None,
    "source_series": {},
    "issues": [],
    "quality_failures": [],
    **dict.fromkeys(COPIED_FIELDS),
}


def _recorded(record: dict[str, Any], k8s_only: bool) -> dict[str, Any]:
    """What an item of a day with a ledger record says besides its cluster and day
    (`k8s_only`: a namespace or label scope, which does not see the cluster's cost)."""
    totals = {} if k8s_only else record.get("totals") or {}
    source = record.get("source") or {}
    fields = {
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
        **{key: record.get(key) for key in COPIED_FIELDS},
    }
    for name, value in [("cost", fields["cost"]), *(fields["k8s_costs"] or {}).items()]:
        if isinstance(value, float):
            finite(value, name)  # msgspec would write null
    return fields


# The JSON of an item's fields after its day: `",` closes the day's string.
MISSING_TAIL = b'",' + msgspec.json.encode(_MISSING_FIELDS)[1:]


class EncodedItems:
    """The items, one per day and account (in that order; those in `statuses` when
    given), as the JSON array's elements, and how many there are of each status.

    An item is encoded from bytes: its account's fields (once per account), its day,
    then its other fields, the same bytes for every day without a record. The health
    page asks for a thousand clusters' month, mostly days without a record, and
    building and encoding a dict per item took most of the answer's time; a day
    without any record is laid out in one comprehension, not item by item.
    """

    def __init__(
        self,
        accounts: list[dict[str, Any]],
        days: list[date],
        records: dict[tuple[str, str], dict[str, Any]],
        statuses: list[str] | None,
        k8s_only: bool,
    ) -> None:
        heads = [
            msgspec.json.encode(
                {"cloud_account_id": account["_id"], "cloud_account_name": account["name"]}
            )[:-1]
            + b',"date":"'
            for account in accounts
        ]
        by_day: dict[str, dict[str, dict[str, Any]]] = {}
        for (account_id, iso), record in records.items():
            by_day.setdefault(iso, {})[account_id] = record
        keep_missing = not statuses or MISSING in statuses
        self.elements: list[bytes] = []
        self.status_counts: Counter[str] = Counter()
        for day in days:
            iso = day.isoformat()
            missing = iso.encode() + MISSING_TAIL  # the day and the fields of no record
            recorded = by_day.get(iso)
            if not recorded:  # most days of a large organization: one comprehension
                if keep_missing:
                    self.elements += [head + missing for head in heads]
                    self.status_counts[MISSING] += len(heads)
                continue
            for account, head in zip(accounts, heads, strict=True):
                record = recorded.get(account["_id"])
                if record is None:
                    status, tail = MISSING, missing
                else:
                    fields = _recorded(record, k8s_only)
                    status = fields["status"]
                    tail = iso.encode() + b'",' + msgspec.json.encode(fields)[1:]
                if statuses and status not in statuses:
                    continue
                self.status_counts[status] += 1
                self.elements.append(head + tail)

    def json_body(self, fields: dict[str, Any]) -> bytes:
        """`fields`, the total and the status counts, then the items as `k8s_import_status`."""
        head = msgspec.json.encode(
            {
                **fields,
                "total_count": len(self.elements),
                "status_counts": dict(self.status_counts),
            }
        )[:-1]
        return b"".join((head, b',"k8s_import_status":[', b",".join(self.elements), b"]}"))


@bp.get("/organizations/<organization_id>/k8s_import_status")
@bp.input(ImportStatusQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(ImportStatusSchema)
def get_k8s_import_status(organization_id: str, query: dict[str, Any]) -> Response:
    """Per cluster and day of the period: is its cost loaded and checked, and if not, why."""
    db = mongodb()
    scope = token_scope()
    # The clusters from the catalog (api/catalog/): a montydb scan of the organization's
    # account documents per request was most of the answer's time.
    catalog = catalogs().get(current_settings(), organization_id)
    accounts = [a for a in catalog.k8s_accounts_by_name if scope.sees_accounts([a["_id"]])]
    if query.get("cloud_account_id"):
        accounts = [a for a in accounts if a["_id"] in query["cloud_account_id"]]
    days = _days(query["start_date"], query["end_date"])
    records = (
        ledger.find_records(db, [a["_id"] for a in accounts], days[0], days[-1], organization_id)
        if days and accounts
        else {}
    )
    items = EncodedItems(accounts, days, records, query.get("status"), scope.k8s_only)
    # The items are encoded with ClusterDaySchema's fields and types (EncodedItems), not
    # through marshmallow's field-by-field dump (the schemathesis test checks every
    # answer against the schema).
    body = items.json_body({"start_date": query["start_date"], "end_date": query["end_date"]})
    return Response(body, mimetype="application/json")
