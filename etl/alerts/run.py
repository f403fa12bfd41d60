"""One evaluation after a day's load: anomalies of the tenants' day, their organizations'
budgets, then every due webhook delivery. What the `k8s_cost_alerts` DAG (on the
Asset that `k8s_costs_daily` emits, with that run's day and tenants) and
`k8scost alerts evaluate` call.

Idempotent by construction: an alert's id is its (kind, scope, day) (or budget,
month and threshold), so re-evaluating a day, after a restatement or a rerun,
updates its alerts: one that a restated day no longer supports becomes `resolved`,
and none is raised twice. A delivery is inserted once per (alert, target), so a
restated day sends no duplicate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from etl.alerts import anomalies, budgets, notify
from etl.core.config import Settings
from etl.core.days import day_start_epoch, parse_day
from etl.metroculus.nodetypes import node_instance_types
from etl.metroculus.promql import PromQLClient, PromQLError
from etl.storage import alerting, costreads, deliveries, nodedays, pricing, registry
from etl.storage import budgets as budget_store
from etl.storage.clickhouse import Client, connect
from etl.storage.registry import Database

log = logging.getLogger(__name__)
KIND = "anomaly"
# node -> instance type of a tenant over [first, last] (names the node causes).
NodeTypes = Callable[[str, date, date], Mapping[str, str]]


def thanos_node_types(settings: Settings) -> NodeTypes:
    """Node types from Thanos; an unreachable or failing Thanos names no type (the alert
    is still raised, its nodes named by node name alone)."""
    client = PromQLClient(settings.thanos_url, settings.promql_timeout_s, settings.promql_retries)

    def types(tenant: str, first: date, last: date) -> Mapping[str, str]:
        try:
            return node_instance_types(client, tenant, first, last)
        except PromQLError as error:
            log.warning("tenant %s: node instance types unknown: %s", tenant, error)
            return {}

    return types


def alert_id(tenant_id: str, anomaly: anomalies.Anomaly, day: date) -> str:
    """`anomaly:<tenant>:cluster:<day>` or `anomaly:<tenant>:namespace:<ns>:<day>`."""
    scope = anomaly.scope if not anomaly.namespace else f"{anomaly.scope}:{anomaly.namespace}"
    return f"{KIND}:{tenant_id}:{scope}:{day.isoformat()}"


def _document(
    account: registry.ClusterAccount,
    day: date,
    anomaly: anomalies.Anomaly,
    rule: dict[str, float],
) -> dict[str, Any]:
    where = account.name if not anomaly.namespace else f"{account.name}/{anomaly.namespace}"
    pct = f" (+{anomaly.change_pct:.0f}%)" if anomaly.change_pct is not None else " (new)"
    return {
        "_id": alert_id(account.id, anomaly, day),
        "kind": KIND,
        "organization_id": account.organization_id,
        "cloud_account_id": account.id,
        "cloud_account_name": account.name,
        "scope": anomaly.scope,
        "namespace": anomaly.namespace,
        "day": day.isoformat(),
        "date": day_start_epoch(day),
        "state": alerting.OPEN,
        "cost_usd": anomaly.cost_usd,
        "baseline_usd": anomaly.baseline_usd,
        "change_usd": anomaly.change_usd,
        "change_pct": anomaly.change_pct,
        "threshold_pct": rule["threshold_pct"],
        "min_usd": rule["min_usd"],
        "baseline_days": [d.isoformat() for d in anomaly.baseline_days],
        "title": f"K8s cost anomaly: {where} on {day.isoformat()}",
        "headline": (
            f"${anomaly.cost_usd:,.2f} against a {len(anomaly.baseline_days)}-day mean of "
            f"${anomaly.baseline_usd:,.2f}: +${anomaly.change_usd:,.2f}{pct}"
        ),
        "summary": anomaly.causes["summary"],
        "causes": {key: value for key, value in anomaly.causes.items() if key != "summary"},
    }


def _raise(db: Database, alert: dict[str, Any], now: float) -> bool:
    """Store an alert and queue it to its organization's webhooks; whether it is new."""
    new = alerting.save_alert(db, alert)
    targets = [target["_id"] for target in alerting.list_targets(db, alert["organization_id"])]
    deliveries.enqueue(db, alert, targets, now)
    return new


def evaluate_tenant(
    client: Client,
    db: Database,
    account: registry.ClusterAccount,
    day: date,
    now: float,
    node_types: NodeTypes,
) -> list[str]:
    """The tenant-day's anomalies, stored (and queued); returns their alert ids."""
    rule = alerting.alert_settings(db, account.organization_id)
    first, last = anomalies.window(day)
    # The organization's metric: its nodes and PVs priced from the bill as its answers are.
    bill = nodedays.organization_bill(
        db, account.organization_id, pricing.default_metric(db, account.organization_id)
    )
    frame = costreads.allocation_groups(client, account.id, first, last, bill)
    types = _LazyTypes(node_types, account.id, first, last)
    found = anomalies.detect(frame, day, rule["threshold_pct"], rule["min_usd"], types)
    ids = []
    for anomaly in found:
        alert = _document(account, day, anomaly, rule)
        _raise(db, alert, now)
        ids.append(alert["_id"])
    resolved = alerting.resolve_other_alerts(db, KIND, account.id, day_start_epoch(day), ids)
    alerting.record_evaluation(db, account.id, day.isoformat(), ids, now)
    if resolved:
        log.info("tenant %s %s: no longer anomalous: %s", account.id, day, ", ".join(resolved))
    return ids


class _LazyTypes(Mapping[str, str]):
    """Node types fetched on first use: a day without anomaly asks Thanos nothing."""

    def __init__(self, fetch: NodeTypes, tenant: str, first: date, last: date) -> None:
        self._fetch, self._args, self._types = fetch, (tenant, first, last), None

    def _loaded(self) -> Mapping[str, str]:
        if self._types is None:
            self._types = dict(self._fetch(*self._args))
        return self._types

    def __getitem__(self, node: str) -> str:
        return self._loaded()[node]

    def __iter__(self):
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def evaluate_budgets(
    client: Client, db: Database, organization_id: str, day: date, now: float
) -> list[str]:
    """The organization's budgets after `day`: the thresholds crossed, raised once each."""
    ids = []
    reader = budgets.SpendReader(client, db)
    for budget in budget_store.list_budgets(db, organization_id):
        figures = budgets.budget_month(reader, budget, day)
        for alert in budgets.threshold_alerts(budget, figures):
            if alerting.get_alert(db, alert["_id"]) is None:
                _raise(db, alert, now)
            ids.append(alert["_id"])
    return ids


def evaluate(
    settings: Settings,
    day: date,
    tenant_ids: list[str] | None = None,
    now: float | None = None,
    node_types: NodeTypes | None = None,
) -> dict[str, Any]:
    """Evaluate a loaded day for the tenants (all when None), then deliver what is due.

    `node_types` names the nodes' instance types (default: Thanos, `thanos_node_types`).
    Returns {date, tenants, anomalies: [ids], budget_alerts: [ids], deliveries: counts}.
    """
    now = time.time() if now is None else now
    node_types = node_types or thanos_node_types(settings)
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    accounts = registry.k8s_accounts(db, tenant_ids)
    organizations = sorted({account.organization_id for account in accounts})
    found: list[str] = []
    budget_alerts: list[str] = []
    with connect(settings.clickhouse_dsn) as client:
        for account in accounts:
            found += evaluate_tenant(client, db, account, day, now, node_types)
        for organization in organizations:
            budget_alerts += evaluate_budgets(client, db, organization, day, now)
    deliveries = notify.deliver_due(settings, db, organizations, now)
    return {
        "date": day.isoformat(),
        "tenants": [account.id for account in accounts],
        "anomalies": found,
        "budget_alerts": budget_alerts,
        "deliveries": deliveries,
    }


def days_to_evaluate(
    date_param: str | None,
    tenants_param: list[str] | None,
    events: Iterable[Mapping[str, Any]],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """What a `k8s_cost_alerts` run evaluates: [{date, tenants}], one entry per day.

    1. The `date` param (and `tenants`) of a manual run.
    2. Else the extras of the `k8s_costs_daily` Asset events that triggered the run
       ({date, tenants}, what each daily run just loaded); events that queued up
       while no run started are merged per day, so each tenant-day is evaluated once.
    3. Else (a manual run without `date`) the last complete UTC day, for `tenants`.
    """
    if date_param:
        return [{"date": parse_day(date_param, now).isoformat(), "tenants": tenants_param or []}]
    by_day: dict[str, set[str]] = {}
    for extra in events:
        if extra.get("date"):
            by_day.setdefault(extra["date"], set()).update(extra.get("tenants") or [])
    if by_day:
        return [{"date": day, "tenants": sorted(by_day[day])} for day in sorted(by_day)]
    last = ((now or datetime.now(UTC)) - timedelta(days=1)).date()
    return [{"date": last.isoformat(), "tenants": tenants_param or []}]
