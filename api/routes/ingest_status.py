"""`GET /restapi/v2/organizations/<organization_id>/ingest_status`: is each cluster still writing?

A cluster whose Prometheus stops remote-writing costs nothing from then on, which looks
like a cheap day rather than a fault. This lists every live kubernetes_cnr account of
the organization with the time of its newest sample received by the proxy (diproxy),
and flags it `silent` when that is older than `silent_after` seconds or never happened.
The proxy updates these figures at most every 30 s per tenant.
A cluster-scoped token sees its clusters only (api/query/tokenscope.py).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, Nested, String
from apiflask.validators import Range
from flask import Response
from marshmallow import RAISE

from api.catalog.cache import catalogs
from api.context import current_settings, mongodb, token_scope
from etl.storage.ingest_status import read_status

bp = APIBlueprint("ingest_status", __name__, tag="ingest", url_prefix="/restapi/v2")

DEFAULT_SILENT_AFTER_S = 600


class IngestStatusQuery(Schema):
    class Meta:
        unknown = RAISE

    silent_after = Integer(
        load_default=DEFAULT_SILENT_AFTER_S,
        validate=Range(min=1),
        metadata={"description": "Seconds without a new sample after which a cluster is silent"},
    )


class ClusterIngestSchema(Schema):
    cloud_account_id = String(required=True)
    cloud_account_name = String(required=True)
    last_sample_at = Integer(
        required=True, allow_none=True, metadata={"description": "Newest sample, Unix seconds"}
    )
    last_received_at = Integer(
        required=True, allow_none=True, metadata={"description": "Last accepted write, Unix s"}
    )
    silent = Boolean(required=True)


class IngestStatusSchema(Schema):
    checked_at = Integer(required=True, metadata={"description": "Server time, Unix seconds"})
    silent_after = Integer(required=True)
    ingest_status = List(Nested(ClusterIngestSchema), required=True)


def _seconds(value: Any) -> int | None:
    """A stored time as the schema's Integer dumps it (a float truncated; NaN refused)."""
    return None if value is None else int(value)


@bp.get("/organizations/<organization_id>/ingest_status")
@bp.input(IngestStatusQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(IngestStatusSchema)
def get_ingest_status(organization_id: str, query: dict[str, Any]) -> Response:
    """The organization's clusters with their newest ingested sample, silent ones flagged.

    The clusters come from the catalog (api/catalog/), not a montydb scan of the
    organization's accounts per request; the answer is encoded as built, with
    IngestStatusSchema's fields and types (integers, strings, booleans: nothing that
    could be non-finite), not through marshmallow's field-by-field dump. The health
    page sends this beside k8s_import_status, and both scans and the dump were most of
    the two answers' time."""
    database = mongodb()
    scope = token_scope()
    catalog = catalogs().get(current_settings(), organization_id)
    accounts = [a for a in catalog.k8s_accounts_by_name if scope.sees_accounts([a["_id"]])]
    stored = read_status(database, [account["_id"] for account in accounts])
    now = int(time.time())
    clusters = []
    for account in accounts:
        status = stored.get(account["_id"], {})
        last_sample = _seconds(status.get("last_sample_at"))
        clusters.append(
            {
                "cloud_account_id": account["_id"],
                "cloud_account_name": account["name"],
                "last_sample_at": last_sample,
                "last_received_at": _seconds(status.get("last_received_at")),
                "silent": last_sample is None or now - last_sample > query["silent_after"],
            }
        )
    body = {"checked_at": now, "silent_after": query["silent_after"], "ingest_status": clusters}
    return Response(msgspec.json.encode(body), mimetype="application/json")
