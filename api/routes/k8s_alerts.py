"""`GET /restapi/v2/organizations/<organization_id>/k8s_alerts`: the organization's alerts,
each with what caused it.

Anomalies (a cluster or a namespace far above its recent days) and budget thresholds
crossed (etl/alerts/, docs/alerts.md), dated by their day: an alert counts when its
day's midnight UTC lies in [start_date, end_date], as clean_expenses counts days.
`state` keeps only `open` or `resolved` ones (a restated day no longer anomalous
resolves its alert). Every alert carries its causes: signed dollars against the
baseline per component, controller and node (an anomaly), or the month-to-date per
account (a budget); each list adds up to the alert's `change_usd`. A scoped token sees
the alerts its scope covers (api/query/tokenscope.py `covers_alert`).
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Float, Integer, List, Nested, String
from apiflask.validators import OneOf
from marshmallow import RAISE

from api.context import mongodb, token_scope
from api.query.period import PeriodQuery
from etl.alerts.notify import public_alert
from etl.storage import alerting
from etl.storage import budgets as budget_store

bp = APIBlueprint("k8s_alerts", __name__, tag="k8s alerts", url_prefix="/restapi/v2")


class AlertsQuery(PeriodQuery):
    """Query string of k8s_alerts: a period, and optionally a state."""

    state = String(
        validate=OneOf((alerting.OPEN, alerting.RESOLVED)),
        metadata={"description": "Only alerts in this state"},
    )


class ContributorSchema(Schema):
    """One cause: a component, controller, node (or account) and its signed dollars."""

    name = String(required=True, metadata={"description": "e.g. cpu, web/Deployment/web, a node"})
    change = String(
        required=True, metadata={"description": "new, gone, grown, shrunk (or `N more`, spend)"}
    )
    amount_usd = Float(required=True, metadata={"description": "signed dollars of the change"})
    today_usd = Float(metadata={"description": "its cost on the alert's day"})
    baseline_usd = Float(metadata={"description": "its mean cost over the baseline days"})
    instance_type = String(metadata={"description": "a node's instance type, where known"})


class AlertSchema(Schema):
    """One alert."""

    id = String(required=True, metadata={"description": "kind, scope and day: unique"})
    kind = String(required=True, metadata={"description": "anomaly or budget"})
    organization_id = String(required=True)
    cloud_account_id = String(allow_none=True)
    cloud_account_name = String(allow_none=True)
    scope = String(
        required=True,
        metadata={"description": "cluster or namespace (anomaly); the budget's scope (budget)"},
    )
    namespace = String(allow_none=True)
    budget_id = String(allow_none=True)
    budget_name = String(allow_none=True)
    threshold_pct = Float(allow_none=True)
    day = String(required=True, metadata={"description": "UTC day, YYYY-MM-DD"})
    date = Integer(required=True, metadata={"description": "the day's midnight UTC, Unix seconds"})
    state = String(required=True, metadata={"description": "open or resolved"})
    title = String(allow_none=True, metadata={"description": "one line: what and where"})
    headline = String(allow_none=True, metadata={"description": "the figures, in words"})
    cost_usd = Float(required=True, metadata={"description": "the day's cost (budget: to date)"})
    cost_metric = String(
        metadata={
            "description": "budget: the cost metric of its spend (billed, effective or list); "
            "an anomaly's allocation is the same in every metric"
        }
    )
    baseline_usd = Float(
        required=True, metadata={"description": "the baseline mean (budget: the amount)"}
    )
    change_usd = Float(required=True, metadata={"description": "what the causes add up to"})
    change_pct = Float(allow_none=True, metadata={"description": "None: baseline of $0"})
    summary = List(String(), required=True, metadata={"description": "the causes, in words"})
    causes = Dict(
        keys=String(),
        values=List(Nested(ContributorSchema)),
        required=True,
        metadata={"description": "components, controllers, nodes (anomaly); accounts (budget)"},
    )


class AlertsSchema(Schema):
    """The response of k8s_alerts."""

    start_date = Integer(required=True)
    end_date = Integer(required=True)
    total_count = Integer(required=True)
    k8s_alerts = List(Nested(AlertSchema), required=True)


@bp.get("/organizations/<organization_id>/k8s_alerts")
@bp.input(AlertsQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(AlertsSchema)
def get_k8s_alerts(organization_id: str, query: dict[str, Any]) -> dict[str, Any]:
    """The organization's anomalies and budget alerts of the period, with their causes."""
    db = mongodb()
    alerts = alerting.find_alerts(
        db, organization_id, query["start_date"], query["end_date"], query.get("state")
    )
    scope = token_scope()
    if not scope.whole_organization:
        budget_scopes = {
            b["_id"]: b["scope"] for b in budget_store.list_budgets(db, organization_id)
        }
        alerts = [alert for alert in alerts if scope.covers_alert(alert, budget_scopes)]
    return {
        "start_date": query["start_date"],
        "end_date": query["end_date"],
        "total_count": len(alerts),
        "k8s_alerts": [public_alert(alert) for alert in alerts],
    }
