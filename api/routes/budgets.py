"""`/restapi/v2/organizations/<organization_id>/budgets[/<budget_id>]`: monthly budgets.

POST creates, GET lists (or reads one), PUT changes some fields, DELETE removes. A
budget has a scope (`organization`, `cloud_account_id:<id>` of the organization,
`namespace:<name>` or `label:<key>=<value>` over its clusters), a monthly amount in
USD and thresholds in percent (default 50, 80, 100). Every budget is answered with
its month after `as_of` (default: the last complete UTC day): the month-to-date spend,
the forecast (month-to-date + the mean of the 7 days up to `as_of` x the days left;
docs/alerts.md) and which thresholds are crossed or forecast to be. A budget of
another organization is a 404 here (and the path of another organization a 403).
A scoped token (api/query/tokenscope.py) sees and writes only the budgets its scope
covers: another is a 404, writing a scope outside its own a 403; writing needs an
editor (api/auth.py).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Boolean, Date, Float, Integer, List, Nested, String
from apiflask.validators import Length, Range
from marshmallow import RAISE, ValidationError, validates

from api.catalog.cache import catalogs
from api.context import clickhouse, current_settings, mongodb, token_scope
from api.openapi import portable_pattern
from api.query.metric import METRIC_FIELDS
from api.render.schemas import cost_metric_field
from etl.alerts import budgets
from etl.core.days import DAY_RANGE_TEXT, FIRST_DAY, LAST_DAY
from etl.core.money import BOUND_TEXT, MAX_USD
from etl.storage import budgets as store
from etl.storage.registry import list_accounts

bp = APIBlueprint("budgets", __name__, tag="budgets", url_prefix="/restapi/v2")
PATH = "/organizations/<organization_id>/budgets"
SCOPE_PATTERN = portable_pattern(budgets.SCOPE.pattern)
STATUS_FIELDS = [field.name for field in fields(budgets.BudgetMonth)]


class BudgetIn(Schema):
    """A budget's fields as a client sends them (PUT: any of them)."""

    class Meta:
        unknown = RAISE

    name = String(required=True, validate=Length(min=1, max=200))
    scope = String(
        required=True,
        # The rule parse_scope applies, stated in the document.
        metadata={"description": budgets.SCOPE_DESCRIPTION, "pattern": SCOPE_PATTERN},
    )
    amount_usd = Float(
        required=True,
        validate=Range(
            min=0, max=MAX_USD, min_inclusive=False, error=f"must be > 0 and <= {BOUND_TEXT}"
        ),
        metadata={"description": f"USD, > 0 and at most {BOUND_TEXT}", "example": 1000},
    )
    thresholds = List(
        Float(validate=Range(min=0, max=budgets.MAX_THRESHOLD_PCT, min_inclusive=False)),
        validate=Length(min=1, max=20),
        metadata={"description": "percent of the amount; default 50, 80, 100"},
    )

    @validates("scope")
    def _a_scope(self, value: str, **_: Any) -> None:
        try:
            budgets.parse_scope(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class AsOfQuery(Schema):
    """The day a budget's figures are taken after, and the cost metric of its spend."""

    class Meta:
        unknown = RAISE

    as_of = Date(
        validate=Range(
            min=FIRST_DAY, max=LAST_DAY, error=f"must be a day from {DAY_RANGE_TEXT} (UTC)"
        ),
        metadata={"description": "YYYY-MM-DD; default: the last complete UTC day"},
    )
    cost_metric = METRIC_FIELDS["cost_metric"]


class ThresholdSchema(Schema):
    pct = Float(required=True)
    amount_usd = Float(required=True)
    crossed = Boolean(required=True, metadata={"description": "month-to-date >= it"})
    forecast = Boolean(required=True, metadata={"description": "the forecast >= it"})


class BudgetMonthSchema(Schema):
    month = String(required=True, metadata={"description": "YYYY-MM"})
    as_of = Date(required=True)
    month_to_date_usd = Float(required=True)
    trend_daily_usd = Float(required=True, metadata={"description": "mean of the 7 days"})
    days_left = Integer(required=True, metadata={"description": "days of the month after as_of"})
    forecast_usd = Float(required=True)
    thresholds = List(Nested(ThresholdSchema), required=True)
    cost_metric = cost_metric_field()


class BudgetSchema(Schema):
    """A budget and its month."""

    id = String(required=True)
    organization_id = String(required=True)
    name = String(required=True)
    scope = String(required=True)
    amount_usd = Float(required=True)
    thresholds = List(Float(), required=True)
    created_at = Integer(required=True)
    updated_at = Integer(required=True)
    status = Nested(BudgetMonthSchema, required=True)


class BudgetsSchema(Schema):
    total_count = Integer(required=True)
    budgets = List(Nested(BudgetSchema), required=True)


def _as_of(query: dict[str, Any]) -> date:
    return query.get("as_of") or (datetime.now(UTC) - timedelta(days=1)).date()


def _answers(
    db: Any, found: list[dict[str, Any]], as_of: date, metric: str | None = None
) -> list[dict[str, Any]]:
    """The budgets with their months in `metric` (None: each organization's default; one
    organization-wide `expenses` read for all)."""
    answers = []
    settings = current_settings()
    with clickhouse() as client:
        # The catalog the expenses answers fold with and the allocation reads' clusters:
        # no document read per request.
        reader = budgets.SpendReader(
            client,
            db,
            metric,
            lambda organization: catalogs().get(settings, organization).folding,
            lambda organization: catalogs().get(settings, organization).k8s_account_ids,
        )
        for budget in found:
            month = budgets.budget_month(reader, budget, as_of)
            # Not asdict(): it would deep-copy `by_account` (an organization's thousand
            # accounts) only to drop it; the answer does not show it.
            status = {name: getattr(month, name) for name in STATUS_FIELDS if name != "by_account"}
            answers.append({"id": budget["_id"], **budget, "status": status})
    return answers


def _answer(db: Any, budget: dict[str, Any], as_of: date) -> dict[str, Any]:
    return _answers(db, [budget], as_of)[0]


def _owned(db: Any, organization_id: str, budget_id: str) -> dict[str, Any]:
    """The budget, when the organization has it and the token's scope covers it (else a
    404, as for a budget that does not exist: a scoped token learns nothing of others)."""
    budget = store.get_budget(db, budget_id)
    if (
        budget is None
        or budget["organization_id"] != organization_id
        or not token_scope().covers_budget(budget["scope"])
    ):
        raise HTTPError(404, detail=f"organization {organization_id} has no budget {budget_id}")
    return budget


def _within_scope(scope: str | None) -> None:
    """A budget written by a scoped token stays within its scope (else a 403)."""
    token = token_scope()
    if scope is not None and not token.covers_budget(scope):
        allowed = ", ".join(token.texts())
        detail = f"budget scope {scope!r} is outside the token's scope ({allowed})"
        raise HTTPError(403, detail=detail, extra_data={"errors": {"scope": [detail]}})


def _check_account(db: Any, organization_id: str, scope: str | None) -> None:
    """A cloud-account scope names an account of the organization."""
    account = budgets.parse_scope(scope).get("account") if scope else None
    if account and account not in {a["_id"] for a in list_accounts(db, None, organization_id)}:
        raise HTTPError(
            400,
            detail=f"cloud account {account} is not an account of organization {organization_id}",
            extra_data={"errors": {"scope": [f"unknown cloud account {account}"]}},
        )


@bp.post(PATH)
@bp.input(BudgetIn, arg_name="body")
@bp.output(BudgetSchema, status_code=201)
def create_budget(organization_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create a budget; answers it with its month so far."""
    db = mongodb()
    _within_scope(body["scope"])
    _check_account(db, organization_id, body["scope"])
    budget = store.add_budget(
        db, organization_id, body["name"], body["scope"], body["amount_usd"], body.get("thresholds")
    )
    return _answer(db, budget, _as_of({}))


@bp.get(PATH)
@bp.input(AsOfQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(BudgetsSchema)
def list_budgets(organization_id: str, query: dict[str, Any]) -> dict[str, Any]:
    """The organization's budgets, each with its month-to-date, forecast and thresholds."""
    db = mongodb()
    scope = token_scope()
    visible = [
        b for b in store.list_budgets(db, organization_id) if scope.covers_budget(b["scope"])
    ]
    found = _answers(db, visible, _as_of(query), query.get("cost_metric"))
    return {"total_count": len(found), "budgets": found}


@bp.get(f"{PATH}/<budget_id>")
@bp.doc(responses={404: "No such budget in the organization"})
@bp.input(AsOfQuery, location="query", arg_name="query", unknown=RAISE)
@bp.output(BudgetSchema)
def get_budget(organization_id: str, budget_id: str, query: dict[str, Any]) -> dict[str, Any]:
    """One budget with its month."""
    db = mongodb()
    budget = _owned(db, organization_id, budget_id)
    return _answers(db, [budget], _as_of(query), query.get("cost_metric"))[0]


@bp.put(f"{PATH}/<budget_id>")
@bp.doc(responses={404: "No such budget in the organization"})
@bp.input(BudgetIn(partial=True), arg_name="body")
@bp.output(BudgetSchema)
def update_budget(organization_id: str, budget_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Change some of a budget's name, scope, amount and thresholds."""
    db = mongodb()
    _owned(db, organization_id, budget_id)
    _within_scope(body.get("scope"))
    _check_account(db, organization_id, body.get("scope"))
    return _answer(db, store.update_budget(db, budget_id, body), _as_of({}))


@bp.delete(f"{PATH}/<budget_id>")
@bp.doc(responses={404: "No such budget in the organization"})
@bp.output({}, status_code=204)
def delete_budget(organization_id: str, budget_id: str) -> tuple[str, int]:
    """Remove a budget (its alerts stay)."""
    db = mongodb()
    _owned(db, organization_id, budget_id)
    store.delete_budget(db, budget_id)
    return "", 204
