"""A budget's month: spend to date, the month-end forecast, the thresholds crossed.

The rule (docs/alerts.md), for a budget looked at after day A (the last complete day):
- month-to-date = the scope's spend from the 1st of A's month through A;
- forecast = month-to-date + (the mean daily spend over the 7 days A-6..A, a day
  without spend counting $0) x the days of the month after A;
- a threshold of p% is `crossed` when month-to-date >= p% of the amount, and
  `forecast` to be when the forecast is.

The spend is ClickHouse's: `expenses` for the organization (every account it has, a
billed node VM counted once, in its cluster: docs/api.md) and a `cloud_account_id`
(its bill, whole); `k8s_allocation` of the organization's clusters for a
namespace or a `label:<key>=<value>` (the pod's label, else its namespace's).
The spend is in a cost metric (docs/api.md, "Cost metrics"): the reader's when it is
given one (a request's `cost_metric`), else the budget's organization's default
(`k8scost pricing metric`, billed unless set); a namespace or label budget reads the
allocation with its nodes and PVs priced from the bill in that metric (docs/api.md,
"Reconciliation: nodes priced from the bill").
Each crossed threshold is one alert per month (its id names budget, month and
threshold), so it is raised once however many days stay above it. Its causes are
the month-to-date spend per account, which adds up to the month-to-date.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from etl.core.days import FIRST_DAY, day_start_epoch
from etl.core.metrics import DEFAULT_METRIC
from etl.storage import costreads, nodedays, nodes, pricing, registry
from etl.storage.clickhouse import Client
from etl.storage.registry import Database

TREND_DAYS = 7
# A threshold is a percent of the amount, so at most 10x the money bound.
MAX_THRESHOLD_PCT = 1000.0
SCOPE = re.compile(
    r"^(?:organization|cloud_account_id:(?P<account>.+)|namespace:(?P<namespace>[^\s]+)"
    r"|label:(?P<key>[^=\s]+)=(?P<value>.*))$"
)
SCOPE_DESCRIPTION = (
    "`organization`, `cloud_account_id:<id>`, `namespace:<name>` or `label:<key>=<value>`"
)


def parse_scope(scope: str) -> dict[str, str]:
    """The parts of a scope string; ValueError for one that is not a scope."""
    match = SCOPE.match(scope)
    if match is None:
        raise ValueError(f"invalid budget scope {scope!r}: expected {SCOPE_DESCRIPTION}")
    return {key: value for key, value in match.groupdict().items() if value is not None}


@dataclass(frozen=True)
class BudgetMonth:
    """A budget's figures after `as_of`."""

    month: str  # YYYY-MM
    as_of: date
    month_to_date_usd: float
    trend_daily_usd: float
    days_left: int
    forecast_usd: float
    by_account: dict[str, float]  # month-to-date per cloud account
    thresholds: list[dict[str, Any]]
    cost_metric: str = DEFAULT_METRIC  # the cost the spend sums (etl/core/metrics.py)


class SpendReader:
    """Reads budget scopes' daily spend, sharing the organization-wide `expenses` reads
    between the budgets of one request or run (an organization budget reads it with its
    billed nodes folded into their clusters, an account budget filters it unfolded; a
    namespace or label budget reads `k8s_allocation` itself).

    `folding` gives an organization's accounts and folded nodes: by default read from
    its documents (all its resources, seconds at 100k), and `clusters` its live
    kubernetes_cnr accounts (by default a scan of its account documents); the API passes
    its catalog's, which it keeps per process (api/catalog/), so a request reads no
    document."""

    def __init__(
        self,
        client: Client,
        db: Database,
        metric: str | None = None,
        folding: Callable[[str], nodes.Folding] | None = None,
        clusters: Callable[[str], list[str]] | None = None,
    ) -> None:
        self._client, self._db, self._metric = client, db, metric
        self._read_folding = folding or (lambda organization: nodes.read_folding(db, organization))
        self._clusters = clusters or (
            lambda organization: [
                account["_id"]
                for account in registry.list_accounts(db, registry.K8S_ACCOUNT_TYPE, organization)
            ]
        )
        self._foldings: dict[str, nodes.Folding] = {}
        self._expenses: dict[tuple[str, date, date, bool, str], costreads.Daily] = {}

    def folding(self, organization: str) -> nodes.Folding:
        """The organization's accounts, folded nodes and bill keys, read once per reader."""
        if organization not in self._foldings:
            self._foldings[organization] = self._read_folding(organization)
        return self._foldings[organization]

    def metric(self, budget: dict[str, Any]) -> str:
        """The cost metric the budget's spend is read in."""
        return self._metric or pricing.default_metric(self._db, budget["organization_id"])

    def _organization(
        self, organization: str, first: date, last: date, fold: bool, metric: str
    ) -> costreads.Daily:
        key = (organization, first, last, fold, metric)
        if key not in self._expenses:
            found = self.folding(organization)
            self._expenses[key] = costreads.expense_days(
                self._client,
                found.account_ids,
                first,
                last,
                found.node_clusters if fold else {},
                found.cluster_account_ids if fold else [],
                metric,
                # A cluster's nodes are priced from the bill whether or not the VMs are
                # folded, as clean_expenses prices them whatever its filters.
                (found.k8s_account_ids, found.node_vms),
            )
        return self._expenses[key]

    def daily(self, budget: dict[str, Any], first: date, last: date) -> costreads.Daily:
        """The budget scope's spend per (account, day) over [first, last]. The organization's
        counts a billed node once, in its cluster; an account's is its own bill, whole."""
        parts = parse_scope(budget["scope"])
        organization = budget["organization_id"]
        if "namespace" in parts or "key" in parts:
            return costreads.allocation_days(
                self._client,
                self._clusters(organization),
                first,
                last,
                nodedays.bill_arguments(self.folding(organization).node_vms, self.metric(budget)),
                parts.get("namespace", ""),
                (parts.get("key", ""), parts.get("value", "")),
            )
        metric = self.metric(budget)
        if "account" in parts:
            spend = self._organization(organization, first, last, False, metric)
            return {key: cost for key, cost in spend.items() if key[0] == parts["account"]}
        return self._organization(organization, first, last, True, metric)


def month_figures(
    budget: dict[str, Any],
    spend: dict[tuple[str, date], float],
    as_of: date,
    metric: str = DEFAULT_METRIC,
):
    """BudgetMonth of a budget from its daily spend in `metric` (no I/O: the rule itself)."""
    month_start = as_of.replace(day=1)
    trend_start = as_of - timedelta(days=TREND_DAYS - 1)
    by_account: dict[str, float] = {}
    trend = 0.0
    for (account, day), cost in spend.items():
        if month_start <= day <= as_of:
            by_account[account] = by_account.get(account, 0.0) + cost
        if trend_start <= day <= as_of:
            trend += cost
    month_to_date = sum(by_account.values())
    days_left = calendar.monthrange(as_of.year, as_of.month)[1] - as_of.day
    daily = trend / TREND_DAYS
    forecast = month_to_date + daily * days_left
    amount = budget["amount_usd"]
    return BudgetMonth(
        month=f"{as_of:%Y-%m}",
        as_of=as_of,
        month_to_date_usd=month_to_date,
        trend_daily_usd=daily,
        days_left=days_left,
        forecast_usd=forecast,
        by_account=dict(sorted(by_account.items(), key=lambda item: -item[1])),
        thresholds=[
            {
                "pct": pct,
                "amount_usd": amount * pct / 100,
                "crossed": month_to_date >= amount * pct / 100,
                "forecast": forecast >= amount * pct / 100,
            }
            for pct in budget["thresholds"]
        ],
        cost_metric=metric,
    )


def budget_month(reader: SpendReader, budget: dict[str, Any], as_of: date) -> BudgetMonth:
    """A budget's month after `as_of`, from ClickHouse."""
    # No store holds a day before FIRST_DAY: a trend reaching back past it counts them $0.
    first = max(FIRST_DAY, min(as_of.replace(day=1), as_of - timedelta(days=TREND_DAYS - 1)))
    return month_figures(budget, reader.daily(budget, first, as_of), as_of, reader.metric(budget))


def threshold_alerts(budget: dict[str, Any], figures: BudgetMonth) -> list[dict[str, Any]]:
    """One alert document per crossed threshold of the month (etl/storage/alerting.py)."""
    alerts = []
    for threshold in figures.thresholds:
        if not threshold["crossed"]:
            continue
        pct = threshold["pct"]
        mtd = figures.month_to_date_usd
        causes = [
            {"name": account, "change": "spend", "amount_usd": cost}
            for account, cost in figures.by_account.items()
        ]
        alerts.append(
            {
                "_id": f"budget:{budget['_id']}:{figures.month}:{pct:g}",
                "kind": "budget",
                "organization_id": budget["organization_id"],
                "cloud_account_id": "",
                "budget_id": budget["_id"],
                "budget_name": budget["name"],
                "scope": budget["scope"],
                "namespace": "",
                "threshold_pct": pct,
                "day": figures.as_of.isoformat(),
                "date": day_start_epoch(figures.as_of),
                "state": "open",
                "cost_usd": mtd,
                "cost_metric": figures.cost_metric,
                "baseline_usd": budget["amount_usd"],
                "change_usd": mtd,
                "change_pct": mtd / budget["amount_usd"] * 100 if budget["amount_usd"] else None,
                "title": f"Budget {budget['name']} passed {pct:g}%",
                "headline": (
                    f"{figures.month} spend to date ${mtd:,.2f} of ${budget['amount_usd']:,.2f} "
                    f"({budget['scope']}); forecast ${figures.forecast_usd:,.2f}"
                ),
                "summary": [f"+${c['amount_usd']:,.2f}: account {c['name']}" for c in causes[:5]],
                "causes": {"accounts": causes},
            }
        )
    return alerts
