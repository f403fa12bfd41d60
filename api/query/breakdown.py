"""The daily series behind `breakdown_expenses`: a period's cost per day and per key.

The same resources and the same counting as `clean_expenses` (api/query/clean_expenses.py):
the catalog and the filters (`BREAKDOWN_EXPENSES`, the filters of clean_expenses)
decide what may be seen (api/query/scope.py), node VMs of a cluster are left out on
the days the cluster has costs, and with an allocation filter the clusters are costed
from their matching allocation rows. So the buckets of one day add up to what
clean_expenses answers as `total_cost` for that day alone: the dashboard's chart and
its table cannot disagree.

Keys: the cloud account, or a resource attribute read from the catalog (`null` for
a resource without one); with `k8s_component`, a cluster's day splits into its cost
components, idle (what its nodes' `__idle__` allocation rows cost: capacity no pod
used, with their share of the management fee) taken out of each component into one
of its own, and everything that is not a cluster goes under `null`.
One ClickHouse read covers the period and the previous one (same length, ending the
second before `start_date`), split by day here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from api.catalog.cache import CatalogCache
from api.catalog.catalog import Catalog
from api.context import clickhouse
from api.query.filters import BREAKDOWN_EXPENSES, Filters
from api.query.scope import (
    Period,
    accounts_of,
    bill_parameters,
    candidates,
    cost_parameters,
    scope,
)
from etl.core.components import COMPONENTS
from etl.core.config import Settings
from etl.core.exactsum import ExactSum, exact_sum
from etl.core.metrics import DEFAULT_METRIC
from etl.costmodel.allocation import IDLE as IDLE_NAMESPACE
from etl.storage.breakdownreads import cluster_component_rows, expense_key_days
from etl.storage.clickhouse import StringArray
from etl.storage.registry import K8S_ACCOUNT_TYPE

BREAKDOWNS = ("cloud_account_id", "service_name", "resource_type", "region", "k8s_component")
K8S_COMPONENT = "k8s_component"
MISSING_KEY = "null"
IDLE = "idle"
# The keys of k8s_component: each cost column without its `_cost`, then idle.
COMPONENT_KEYS = {column: column.removesuffix("_cost") for column in COMPONENTS}


def previous_period(period: Period) -> Period:
    """The period of the same length that ends the second before `period.start`."""
    length = period.end - period.start + 1
    return Period(max(period.start - length, 0), period.start - 1)


@dataclass
class Breakdown:
    """Cost per day (Unix seconds of its midnight) and key, each key's total over either
    period, and the two periods' totals."""

    days: dict[int, dict[str, float]] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    previous_totals: dict[str, float] = field(default_factory=dict)
    total: float = 0.0
    previous_total: float = 0.0

    def ordered_keys(self) -> list[str]:
        """Every key of either period, the most expensive of the period first."""
        every = self.totals.keys() | self.previous_totals.keys()
        return sorted(every, key=lambda key: (-self.totals.get(key, 0.0), key))


class BreakdownSums:
    """The costs read, added up into a Breakdown by the exact_sum rule (etl/core/exactsum.py).

    Every total is an exact sum of what was read, never a float sum of other totals:
    a key's total of its buckets' costs (a (day, key) bucket of
    breakdown_expenses_costs.sql, a cluster-day or its component), the period's total
    of the buckets of the expense rows and of each cluster-day's `cost` (the rows
    clean_expenses sums for it, of which its components are a float split). So `total`
    is the double clean_expenses answers as `total_cost`: both sum the same rows by
    the same rule, each level exact (docs/api.md, "Summation: same rows, same bits").
    A bucket read once is shown as read; one that several reads fall into (clusters
    of one region) is their exact sum."""

    def __init__(self) -> None:
        self.days: dict[int, dict[str, list[float]]] = {}
        self.totals: dict[str, ExactSum] = {}
        self.previous_totals: dict[str, ExactSum] = {}
        self.total = ExactSum()
        self.previous_total = ExactSum()

    def add(self, day: int, key: str, cost: float, current: bool) -> None:
        """A bucket's cost read, which is also part of the period's total."""
        self.add_bucket(day, key, cost, current)
        self.add_to_total(cost, current)

    def add_bucket(self, day: int, key: str, cost: float, current: bool) -> None:
        """A bucket's cost read, which the caller adds to the total in another form."""
        if current:
            self.days.setdefault(day, {}).setdefault(key, []).append(cost)
            self.totals.setdefault(key, ExactSum()).add(cost)
        else:
            self.previous_totals.setdefault(key, ExactSum()).add(cost)

    def add_to_total(self, cost: float, current: bool) -> None:
        (self.total if current else self.previous_total).add(cost)

    def breakdown(self) -> Breakdown:
        return Breakdown(
            days={
                day: {
                    key: costs[0] if len(costs) == 1 else exact_sum(costs)
                    for key, costs in bucket.items()
                }
                for day, bucket in self.days.items()
            },
            totals={key: total.value for key, total in self.totals.items()},
            previous_totals={key: total.value for key, total in self.previous_totals.items()},
            total=self.total.value,
            previous_total=self.previous_total.value,
        )


@dataclass(frozen=True)
class KeyMap:
    """Resource -> its `by` value, as the parameters of breakdown_expenses_costs.sql.

    ClickHouse parses an array parameter at every query, id by id, so an account
    whose documents all carry the same value is mapped once (`account_ids` ->
    `account_values`), and only the resources of the other accounts, and the known
    orphans (costs without a document: `null`), one by one (`ids` -> `values`).
    """

    ids: StringArray
    values: StringArray
    account_ids: StringArray
    account_values: StringArray

    @classmethod
    def none(cls) -> KeyMap:
        empty = StringArray(())
        return cls(empty, empty, empty, empty)

    @classmethod
    def of(cls, catalog: Catalog, by: str) -> KeyMap:
        """The map of `by` for the catalog, built once per catalog."""

        def build() -> KeyMap:
            by_account: dict[str, dict[str, str]] = defaultdict(dict)
            for resource_id, document in catalog.resources.items():
                value = document.get(by)
                value = MISSING_KEY if value in (None, "") else str(value)
                by_account[document["cloud_account_id"]][resource_id] = value
            uniform: dict[str, str] = {}
            single: dict[str, str] = dict.fromkeys(catalog.orphans, MISSING_KEY)
            for account, values in by_account.items():
                distinct = set(values.values())
                if len(distinct) == 1:
                    uniform[account] = distinct.pop()
                else:
                    single.update(values)
            return cls(
                StringArray(single),
                StringArray(single.values()),
                StringArray(uniform),
                StringArray(uniform.values()),
            )

        return catalog.derived(("breakdown keys", by, frozenset(catalog.orphans)), build)

    def parameters(self) -> dict[str, StringArray]:
        return {
            "key_ids": self.ids,
            "key_values": self.values,
            "key_account_ids": self.account_ids,
            "key_account_values": self.account_values,
        }


def _cluster_accounts(catalog: Catalog, accounts: list[str], filters: Filters) -> dict[str, str]:
    """The kubernetes_cnr accounts whose cluster the request sees -> that cluster's id."""
    chosen = candidates(catalog, accounts, filters)
    wanted = set(accounts)
    return {
        cluster["cloud_account_id"]: cluster_id
        for cluster_id, cluster in catalog.clusters.items()
        if cluster["cloud_account_id"] in wanted and (chosen is None or cluster_id in chosen)
    }


def _cluster_key(catalog: Catalog, by: str, account: str, cluster_id: str) -> str:
    if by == "cloud_account_id":
        return account
    value = catalog.resources[cluster_id].get(by)
    return MISSING_KEY if value in (None, "") else str(value)


@dataclass(frozen=True)
class ClusterDay:
    """A cluster-day of breakdown_k8s_components.sql: its cost per component key, idle
    apart, and its cost as clean_expenses sums it (the rows of `cost`)."""

    components: dict[str, float]
    cost: float


def _component_days(
    rows: list[dict[str, Any]], from_allocation: bool
) -> dict[tuple[int, str], ClusterDay]:
    """(day, account) -> its ClusterDay (breakdown_k8s_components.sql's parts): its cost
    that of the matching allocation rows `from_allocation`, else of its expense rows
    (part `cost`; none live that day: 0, as clean_expenses counts it)."""
    parts: dict[tuple[int, str], dict[str, dict[str, float]]] = defaultdict(dict)
    for row in rows:
        day = row["day"]  # Unix seconds of the day's midnight (toUInt32 in the SQL)
        parts[(day, row["cloud_account_id"])][row["part"]] = row
    split: dict[tuple[int, str], ClusterDay] = {}
    for day_account, found in parts.items():
        whole = found.get("breakdown")
        idle = found.get("idle")
        if whole is None:
            continue
        costs = {COMPONENT_KEYS[c]: whole[c] - (idle[c] if idle else 0.0) for c in COMPONENTS}
        costs[IDLE] = exact_sum(idle[c] for c in COMPONENTS) if idle else 0.0
        expense_rows = found.get("cost")
        cost = whole["cost"] if from_allocation else expense_rows["cost"] if expense_rows else 0.0
        split[day_account] = ClusterDay(costs, cost)
    return split


class BreakdownQuery:
    """One request: the organization's catalog, the filters, the breakdown field."""

    def __init__(
        self,
        catalog: Catalog,
        period: Period,
        filters: Filters,
        breakdown_by: str,
        metric: str = DEFAULT_METRIC,
    ) -> None:
        self.catalog = catalog
        self.metric = metric
        self.period = period
        self.filters = filters
        self.by = breakdown_by
        self.read_from = previous_period(period).start
        self.sums = BreakdownSums()

    def _add(self, day: int, key: str, cost: float) -> None:
        self.sums.add(day, key, cost, day >= self.period.start)

    def _clusters(self, accounts: dict[str, str]) -> None:
        """Add the clusters' days (breakdown_k8s_components.sql), by component or whole,
        their nodes priced from the bill in the metric."""
        request_scope = self.catalog.memo(self.filters, lambda: scope(self.catalog, self.filters))
        assert request_scope is not None  # the caller found clusters, so accounts
        from_allocation = self.filters.narrows_allocation
        parameters = {
            "cloud_account_ids": sorted(accounts),
            "start_date": self.read_from,
            "end_date": self.period.end,
            "from_allocation": from_allocation,
            **self.filters.sql_parameters(BREAKDOWN_EXPENSES),
            **bill_parameters(request_scope, Period(self.read_from, self.period.end), self.metric),
        }
        if not from_allocation:  # only the idle rows are read (breakdown_k8s_components.sql)
            parameters["namespaces"] = [IDLE_NAMESPACE]
        with clickhouse() as client:
            rows = cluster_component_rows(client, parameters)
        for (day, account), cluster_day in _component_days(rows, from_allocation).items():
            current = day >= self.period.start
            if self.by == K8S_COMPONENT:
                for key, cost in cluster_day.components.items():
                    self.sums.add_bucket(day, key, cost, current)
            else:
                key = _cluster_key(self.catalog, self.by, account, accounts[account])
                self.sums.add_bucket(day, key, cluster_day.cost, current)
            self.sums.add_to_total(cluster_day.cost, current)

    def _expenses(self, skip_accounts: list[str]) -> None:
        request_scope = self.catalog.memo(self.filters, lambda: scope(self.catalog, self.filters))
        if request_scope is None:
            return
        by_account = self.by == "cloud_account_id"
        keys = (
            KeyMap.none()
            if by_account or self.by == K8S_COMPONENT
            else KeyMap.of(self.catalog, self.by)
        )
        parameters = {
            **cost_parameters(
                request_scope,
                Period(self.read_from, self.period.end),
                None,
                metric=self.metric,
            ),
            "skip_account_ids": skip_accounts,
            "by_account": by_account,
            **keys.parameters(),
        }
        with clickhouse() as client:
            rows = expense_key_days(client, parameters)
        for day, key, cost in rows:
            self._add(day, key, cost)

    def run(self) -> Breakdown:
        accounts = accounts_of(self.catalog, self.filters)
        if not accounts:
            return self.sums.breakdown()
        clusters = _cluster_accounts(self.catalog, accounts, self.filters)
        if self.filters.narrows_allocation:
            # As clean_expenses: only the clusters, costed from the matching rows.
            if clusters:
                self._clusters(clusters)
            return self.sums.breakdown()
        if self.by == K8S_COMPONENT:
            k8s = [a for a in accounts if self.catalog.accounts[a].get("type") == K8S_ACCOUNT_TYPE]
            # The expense rows are read per account of the scope minus these skipped ones:
            # with only clusters in scope (the cluster page) none is left to read, so
            # neither that query nor its rollup's refresh is run.
            if len(k8s) < len(accounts):
                self._expenses(k8s)
            if clusters:
                self._clusters(clusters)
        else:
            self._expenses([])
        return self.sums.breakdown()


def find_breakdown(
    settings: Settings,
    cache: CatalogCache,
    organization_id: str,
    period: Period,
    filters: Filters,
    breakdown_by: str,
    metric: str = DEFAULT_METRIC,
) -> tuple[Breakdown, Catalog]:
    """The organization's daily costs per `breakdown_by` key in the cost `metric`, and the
    catalog read."""
    catalog = cache.get(settings, organization_id)
    return BreakdownQuery(catalog, period, filters, breakdown_by, metric).run(), catalog
