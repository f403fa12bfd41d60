"""`/restapi/v2/organizations/<organization_id>/showback_reports[/<report_id>]`.

The organization's scheduled showback reports (docs/reports.md): GET lists them with
the versions written, POST adds one (the fields of `k8scost reports add`, checked by
api/reportdefs.py: a bad one is a 400), DELETE removes one (its files stay). Managing
reports is an admin's (api/query/tokenscope.py `needs_role`); a scoped token sees and
manages only the reports whose scope lies within its own (another is a 404, adding one
outside it a 403). POST is declared before GET so that /openapi.json registers the
report's schema once (apiflask names it at its first response).
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Dict, Float, Integer, List, Nested, String
from apiflask.validators import OneOf
from marshmallow import RAISE

from api import reportdefs
from api.context import mongodb, token_scope
from api.openapi import portable_pattern
from api.query.tokenscope import TokenScope, needs_role
from api.reportdefs import FORMATS, PERIODS, ReportError, definition
from etl.core.metrics import METRICS
from etl.storage import reports as store

bp = APIBlueprint("showback_reports", __name__, tag="showback reports", url_prefix="/restapi/v2")
PATH = "/organizations/<organization_id>/showback_reports"


class ShowbackReportIn(Schema):
    class Meta:
        unknown = RAISE

    name = String(required=True, metadata={"pattern": portable_pattern(reportdefs.NAME.pattern)})
    scopes = List(String(), load_default=list, metadata={"description": "as a token's scopes"})
    group_by = String(load_default="namespace", metadata={"description": "one or two groupings"})
    period = String(required=True, validate=OneOf(PERIODS))
    sharing = Dict(load_default=dict, metadata={"description": "k8s_costs' sharing options"})
    format = String(load_default="csv", validate=OneOf(FORMATS))
    cost_metric = String(
        load_default=None,
        allow_none=True,
        validate=OneOf(METRICS),
        metadata={"description": "billed, effective or list (default: the organization's)"},
    )
    destination = String(
        required=True,
        metadata={
            "description": "s3://bucket/prefix/ or file:///path/",
            "pattern": portable_pattern(reportdefs.DESTINATION.pattern),
        },
    )


def _required(field: Any, *names: str) -> dict[str, Any]:
    return {name: field(required=True) for name in names}


ReportVersionSchema = Schema.from_dict(
    {
        **_required(String, "period_start", "file"),
        **_required(Integer, "version", "written_at"),
        "total": Float(required=True),
    },
    name="ReportVersionSchema",
)
ShowbackReportSchema = Schema.from_dict(
    {
        **_required(
            String, "id", "organization_id", "name", "group_by", "period", "format", "destination"
        ),
        "scopes": List(String(), required=True),
        "sharing": Dict(required=True),
        "cost_metric": String(
            allow_none=True, metadata={"description": "null: the organization's default"}
        ),
        "created_at": Integer(required=True),
        "versions": List(Nested(ReportVersionSchema), required=True),
    },
    name="ShowbackReportSchema",
)


class ShowbackReportsSchema(Schema):
    total_count = Integer(required=True)
    showback_reports = List(Nested(ShowbackReportSchema), required=True)


def _visible(report: dict[str, Any]) -> bool:
    return token_scope().covers(TokenScope.parse(report["scopes"]))


def _answer(db: Any, report: dict[str, Any]) -> dict[str, Any]:
    versions = store.list_versions(db, report["_id"])
    return {"id": report["_id"], **report, "versions": versions}


@bp.post(PATH)
@bp.input(ShowbackReportIn, arg_name="body")
@bp.output(ShowbackReportSchema, status_code=201)
@needs_role("admin")
def create_report(organization_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Add a showback report (an admin's, within its scope)."""
    try:
        fields = definition(
            body["name"],
            body["scopes"],
            body["group_by"],
            body["period"],
            body["sharing"],
            body["format"],
            body["destination"],
            body["cost_metric"],
        )
    except ReportError as error:
        raise HTTPError(
            400, detail=str(error), extra_data={"errors": {"body": [str(error)]}}
        ) from None
    if not _visible(fields):
        detail = (
            f"report scopes {fields['scopes']} are outside the token's ({token_scope().texts()})"
        )
        raise HTTPError(403, detail=detail, extra_data={"errors": {"scopes": [detail]}})
    db = mongodb()
    return _answer(db, store.add_report(db, organization_id, fields))


@bp.get(PATH)
@bp.output(ShowbackReportsSchema)
def list_reports(organization_id: str) -> dict[str, Any]:
    """The organization's showback reports within the token's scope, with their versions."""
    db = mongodb()
    found = [_answer(db, r) for r in store.list_reports(db, organization_id) if _visible(r)]
    return {"total_count": len(found), "showback_reports": found}


@bp.delete(f"{PATH}/<report_id>")
@bp.doc(responses={404: "No such report in the organization"})
@bp.output({}, status_code=204)
@needs_role("admin")
def delete_report(organization_id: str, report_id: str) -> tuple[str, int]:
    """Remove a showback report (its files stay)."""
    db = mongodb()
    report = store.get_report(db, organization_id, report_id)
    if report is None or not _visible(report):
        raise HTTPError(404, detail=f"organization {organization_id} has no report {report_id}")
    store.remove_report(db, organization_id, report_id)
    return "", 204
