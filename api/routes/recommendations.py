"""`GET /restapi/v2/organizations/<organization_id>/k8s_recommendations`: right-sizing.

Per controller and container of the organization's clusters over the period: the
current requests, the recommended ones and the monthly savings, with what they are
based on (api/query/recommendations.py; docs/allocation.md, "Right-sizing"). Filters
from api/query/filters.py (`K8S_RECOMMENDATIONS`: `cloud_account_id`,
`k8s_namespace` or its older name `namespace`); `cpu_quantile`, `memory_quantile`,
`target_utilization` choose how usage becomes a request; `limit` keeps the largest
savings. Bad values are 400 problems. The answer is encoded as it is, without
marshmallow's dump, as bills does (see `get_k8s_recommendations`).
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Float, Integer, List, Nested, Raw, String
from apiflask.validators import OneOf, Range
from flask import Response
from marshmallow import RAISE

from api.catalog.cache import catalogs
from api.context import clickhouse, current_settings, token_scope
from api.query.filters import K8S_RECOMMENDATIONS, Filters
from api.query.paging import Page
from api.query.period import query_schema
from api.query.recommendations import QUANTILES, Options, find_recommendations
from api.render.finite import finite_response
from etl.core.exactsum import exact_sum

bp = APIBlueprint(
    "k8s_recommendations", __name__, tag="k8s_recommendations", url_prefix="/restapi/v2"
)
_DEFAULTS = Options()

K8sRecommendationsQuery = query_schema(
    "K8sRecommendationsQuery",
    K8S_RECOMMENDATIONS,
    after={
        "cpu_quantile": String(
            load_default=_DEFAULTS.cpu_quantile,
            validate=OneOf(QUANTILES),
            metadata={"description": "the daily cpu usage quantile: p95 (default) | max"},
        ),
        "memory_quantile": String(
            load_default=_DEFAULTS.memory_quantile,
            validate=OneOf(QUANTILES),
            metadata={"description": "the daily memory usage quantile: p95 | max (default)"},
        ),
        "target_utilization": Float(
            load_default=_DEFAULTS.target_utilization,
            validate=Range(min=0, max=1, min_inclusive=False),
            metadata={"description": "usage / request to aim at, in (0, 1]; default 0.7"},
        ),
        "limit": Integer(validate=Range(min=1), metadata={"description": "Keep the top ones"}),
    },
)


class RecommendationSchema(Schema):
    """One controller's container."""

    cloud_account_id = String(required=True)
    namespace = String(required=True)
    controller = String(required=True, metadata={"description": "Kind/name, else the pod"})
    container = String(required=True)
    current = Dict(keys=String(), values=Float(), metadata={"description": "requests now"})
    usage = Dict(
        keys=String(),
        values=Float(allow_none=True),
        metadata={"description": "the window's largest daily quantile; null without data"},
    )
    recommended = Dict(
        keys=String(),
        values=Float(allow_none=True),
        metadata={"description": "usage / target_utilization, floored; null without data"},
    )
    replicas = Float(required=True, metadata={"description": "average running replicas"})
    monthly_savings = Float(
        required=True, allow_none=True, metadata={"description": "USD per 730 h; null w/o data"}
    )
    based_on = Dict(keys=String(), values=Raw(), metadata={"description": "days, samples"})


class RecommendationsSchema(Schema):
    """The response of k8s_recommendations."""

    start_date = Integer(required=True)
    end_date = Integer(required=True)
    total_count = Integer(required=True)
    total_monthly_savings = Float(required=True, metadata={"description": "before limit"})
    recommendations = List(Nested(RecommendationSchema), required=True)
    limit = Integer()


@bp.get("/organizations/<organization_id>/k8s_recommendations")
@bp.input(K8sRecommendationsQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(RecommendationsSchema)
def get_k8s_recommendations(organization_id: str, query: dict[str, Any]) -> Response:
    """Recommended requests per controller and container, largest monthly savings first.

    Encoded as it is, without marshmallow's dump (as bills): the answer is built with
    RecommendationsSchema's fields and types (api/query/recommendations.py;
    tests/unit/restapi/test_api_recommendations.py holds it to the schema's dump, the
    schemathesis test to the schema), and dumping thousands of recommendations field by
    field took a third of the call."""
    scope = token_scope()
    filters = Filters.from_query(query, K8S_RECOMMENDATIONS).within(scope)
    # The cluster accounts from the catalog: montydb scans every account document for them.
    accounts = catalogs().get(current_settings(), organization_id).k8s_accounts(filters.accounts())
    options = Options(query["cpu_quantile"], query["memory_quantile"], query["target_utilization"])
    # Container usage has no labels: a label scope cannot be told apart there, so it sees none.
    namespaces = scope.namespaces_within(filters.get("k8s_namespace"))
    found = []
    if namespaces is not None and not scope.labels:
        with clickhouse() as client:
            found = find_recommendations(
                client, accounts, query["start_date"], query["end_date"], namespaces, options
            )
    body: dict[str, Any] = {
        "start_date": query["start_date"],
        "end_date": query["end_date"],
        "total_count": len(found),
        "total_monthly_savings": exact_sum(r["monthly_savings"] or 0.0 for r in found),
    }
    paging = Page.of_query(query)
    body.update(paging.fields())
    body["recommendations"] = paging.of(found)
    # As the app's JSON writes it (api/render/finite.py): a non-finite number is a 500
    # problem, not `NaN`.
    return finite_response(body)
