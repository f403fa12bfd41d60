"""The filters of `clean_expenses` and `k8s_costs`, each declared once.

A `Filter` names its query parameter (one dialect: `k8s_namespace`, `k8s_node`...,
with `k8s_costs`'s older names as aliases), its kind, the field it reads and how it
applies. Everything else comes from this table: the query schemas (api/query/period.py),
the catalog's fields and candidate search (api/catalog/, api/query/clean_expenses.py)
and the SQL parameters of the allocation queries. So adding a filter is one line
here (plus, for an allocation filter, its parameter in the SQL file), and
tests/unit/test_filters.py fails for a declared filter that does not narrow.

Kinds and how they apply:

- `account`: only these cloud accounts (an id of another organization matches none);
- `attribute`: the resource document's `field` is one of the values (catalog);
- `tag`: the document's `field` (a dict) holds one of the keys; `excludes`: none;
- `allocation`: rows of `k8s_allocation`, in SQL: the values go to the array
  parameter `parameter` (`key:value` pairs split into `parameter` and
  `value_parameter`); an empty array filters nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError

from etl.core.sharing import SharingError, label_pair

if TYPE_CHECKING:
    from api.catalog.catalog import Catalog
    from api.query.tokenscope import TokenScope


class Kind(Enum):
    ACCOUNT = "account"
    ATTRIBUTE = "attribute"
    TAG = "tag"
    ALLOCATION = "allocation"


# What split_pair reads, as the OpenAPI document states it: a key before the first colon.
PAIR_PATTERN = "^[^:]+:"


def split_pair(text: str) -> tuple[str, str]:
    """`key:value` as (key, value); a ValidationError (400) without a key or colon."""
    try:
        return label_pair(text, "label filter")
    except SharingError as error:
        raise ValidationError(str(error)) from None


@dataclass(frozen=True)
class Filter:
    """One repeatable filter: values of one filter combine with OR (`pairs`: AND)."""

    name: str
    kind: Kind
    field: str  # the resource document's field, or the k8s_allocation column read
    description: str
    parameter: str = ""  # allocation: the SQL array parameter
    value_parameter: str = ""  # allocation, key:value values: the values' array
    alias: str = ""  # k8s_costs's older name, still accepted there
    excludes: bool = False  # tag: resources carrying one of the keys are left out

    @property
    def pairs(self) -> bool:
        """Whether the values are `key:value` pairs (all must match)."""
        return bool(self.value_parameter)

    def check(self, values: Iterable[str]) -> None:
        """Raise a ValidationError for a value the filter cannot read."""
        if self.pairs:
            for text in values:
                split_pair(text)

    def narrow(self, catalog: Catalog, ids: set[str], values: Iterable[str]) -> set[str]:
        """Attribute and tag filters: `ids` with (or, `excludes`, without) the matches."""
        matching = catalog.ids_where(self.field, values)
        return ids - matching if self.excludes else ids & matching

    def sql_parameters(self, values: tuple[str, ...]) -> dict[str, list[str]]:
        """Allocation filters: the SQL parameters for `values` (empty: no filter)."""
        if not self.pairs:
            return {self.parameter: list(values)}
        pairs = [split_pair(text) for text in values]
        return {
            self.parameter: [key for key, _ in pairs],
            self.value_parameter: [value for _, value in pairs],
        }


FILTERS = (
    Filter("cloud_account_id", Kind.ACCOUNT, "cloud_account_id", "Only these cloud accounts"),
    Filter("region", Kind.ATTRIBUTE, "region", "Only resources in these regions"),
    Filter(
        "service_name",
        Kind.ATTRIBUTE,
        "service_name",
        "Only resources of these services (e.g. AmazonEC2, Kubernetes)",
    ),
    Filter(
        "resource_type",
        Kind.ATTRIBUTE,
        "resource_type",
        "Only resources of these types (e.g. Instance, K8s Cluster)",
    ),
    Filter(
        "k8s_namespace",
        Kind.ALLOCATION,
        "namespace",
        "Only these namespaces",
        parameter="namespaces",
        alias="namespace",
    ),
    Filter(
        "k8s_node",
        Kind.ALLOCATION,
        "node",
        "Only these nodes (by name)",
        parameter="nodes",
        alias="node",
    ),
    Filter(
        "k8s_controller",
        Kind.ALLOCATION,
        "controller",
        "Only these controllers (Kind/name)",
        parameter="controllers",
        alias="controller",
    ),
    Filter(
        "k8s_service",
        Kind.ALLOCATION,
        "services",
        "Only the pods these Services (by name) select",
        parameter="services",
        alias="service",
    ),
    Filter(
        "k8s_label",
        Kind.ALLOCATION,
        "labels",
        "Only pods with these labels (key:value, the pod's else its namespace's; all must match)",
        parameter="label_keys",
        value_parameter="label_values",
        alias="label",
    ),
    Filter("tag", Kind.TAG, "tags", "Only resources that carry at least one of these tag keys"),
    Filter(
        "without_tag",
        Kind.TAG,
        "tags",
        "Only resources that carry none of these tag keys",
        excludes=True,
    ),
)
# A token's scopes (api/query/tokenscope.py) as filters no endpoint declares, so no
# query parameter can set or widen them: `Filters.within` adds them, and every query
# reading allocation filters binds their parameters (empty: the token is not narrowed).
# A scope label matches when one of the pairs does (scopes of one kind are a union).
SCOPE_FILTERS = (
    Filter("scope_cluster", Kind.ACCOUNT, "cloud_account_id", "The token's clusters"),
    Filter(
        "scope_namespace",
        Kind.ALLOCATION,
        "namespace",
        "The token's namespaces",
        parameter="scope_namespaces",
    ),
    Filter(
        "scope_label",
        Kind.ALLOCATION,
        "labels",
        "The token's labels (key:value, one of them)",
        parameter="scope_label_keys",
        value_parameter="scope_label_values",
    ),
)
SCOPE_ALLOCATION = tuple(f for f in SCOPE_FILTERS if f.kind is Kind.ALLOCATION)
# Built once, at import: by name, the catalog's filters and the fields they read.
BY_NAME = {f.name: f for f in (*FILTERS, *SCOPE_FILTERS)}
_KINDS = {f.name: f.kind for f in BY_NAME.values()}
_RESOURCE_KINDS = frozenset((Kind.ATTRIBUTE, Kind.TAG))
CATALOG_FILTERS = tuple(f for f in FILTERS if f.kind in _RESOURCE_KINDS)
DOCUMENT_FIELDS = tuple(dict.fromkeys(f.field for f in CATALOG_FILTERS))


@dataclass(frozen=True)
class FilterSet:
    """The filters one endpoint takes, in the order its document lists them."""

    endpoint: str
    filters: tuple[Filter, ...]
    aliases: bool = False  # the filters' older names are accepted too
    allocation_note: str = ""  # appended to the allocation filters' descriptions
    allocation: tuple[Filter, ...] = dataclasses.field(init=False)  # those that go to SQL

    def __post_init__(self) -> None:
        object.__setattr__(self, "allocation", self.of_kind(Kind.ALLOCATION))

    @classmethod
    def of(cls, endpoint: str, names: Iterable[str], **options: Any) -> FilterSet:
        return cls(endpoint, tuple(BY_NAME[name] for name in names), **options)

    def of_kind(self, *kinds: Kind) -> tuple[Filter, ...]:
        return tuple(f for f in self.filters if f.kind in kinds)

    def alias_names(self) -> dict[str, str]:
        """Older name -> name, for the filters that have one (when aliases are on)."""
        return {f.alias: f.name for f in self.filters if self.aliases and f.alias}


CLEAN_EXPENSES = FilterSet.of(
    "clean_expenses",
    (
        "cloud_account_id",
        "region",
        "service_name",
        "resource_type",
        "k8s_namespace",
        "k8s_node",
        "k8s_controller",
        "k8s_service",
        "k8s_label",
        "tag",
        "without_tag",
    ),
    allocation_note=": clusters costed from their allocation",
)
# breakdown_expenses takes exactly the filters of clean_expenses: its daily buckets add
# up to clean_expenses' totals for the same request (api/query/breakdown.py).
BREAKDOWN_EXPENSES = FilterSet.of(
    "breakdown_expenses",
    tuple(f.name for f in CLEAN_EXPENSES.filters),
    allocation_note=CLEAN_EXPENSES.allocation_note,
)
K8S_COSTS = FilterSet.of(
    "k8s_costs",
    ("cloud_account_id", "k8s_namespace", "k8s_node", "k8s_controller", "k8s_service", "k8s_label"),
    aliases=True,
)

# The bills: an invoice is an account's, so the account is its one filter.
BILLS = FilterSet.of("bills", ("cloud_account_id",))
K8S_RECOMMENDATIONS = FilterSet.of(
    "k8s_recommendations", ("cloud_account_id", "k8s_namespace"), aliases=True
)


class Filters:
    """A request's filter values by name (only the given ones); hashable, a memo key.

    `Filters(region=("eu-west-1",), tag=("team",))`; an empty value filters nothing.
    """

    __slots__ = ("_hash", "_key", "_kinds", "_values")

    def __init__(self, **values: Iterable[str]) -> None:
        unknown = values.keys() - BY_NAME.keys()
        if unknown:
            raise TypeError(f"unknown filters: {', '.join(sorted(unknown))}")
        self._values = {name: tuple(given) for name, given in values.items() if given}
        self._key = tuple(sorted(self._values.items()))
        self._hash = hash(self._key)
        self._kinds = frozenset(_KINDS[name] for name in self._values)

    @classmethod
    def from_query(cls, query: Mapping[str, Any], filter_set: FilterSet) -> Filters:
        """The values of `filter_set`'s filters in a validated query."""
        return cls(**{f.name: query[f.name] for f in filter_set.filters if f.name in query})

    def get(self, name: str) -> tuple[str, ...]:
        return self._values.get(name, ())

    def given(self, *kinds: Kind) -> bool:
        """Whether a filter of one of these kinds has values."""
        return not self._kinds.isdisjoint(kinds)

    @property
    def narrows_resources(self) -> bool:
        """Whether a filter on resource attributes is given (accounts aside)."""
        return not self._kinds.isdisjoint(_RESOURCE_KINDS)

    @property
    def narrows_allocation(self) -> bool:
        """Whether a filter only the allocation rows can answer is given."""
        return Kind.ALLOCATION in self._kinds

    def accounts(self) -> set[str] | None:
        """The accounts the account filters allow (None: every account)."""
        chosen: set[str] | None = None
        for name, values in self._values.items():
            if _KINDS[name] is Kind.ACCOUNT:
                chosen = set(values) if chosen is None else chosen & set(values)
        return chosen

    def within(self, scope: TokenScope) -> Filters:
        """These filters and the token's scopes, which narrow whatever was asked."""
        return Filters(**dict(self._values), **scope.filter_values())

    def sql_parameters(self, filter_set: FilterSet) -> dict[str, list[str]]:
        """Every allocation filter of `filter_set`, and the scope's, as SQL parameters
        (empty: no filter)."""
        parameters: dict[str, list[str]] = {}
        for f in (*filter_set.allocation, *SCOPE_ALLOCATION):
            parameters.update(f.sql_parameters(self.get(f.name)))
        return parameters

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filters) and other._key == self._key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        given = ", ".join(f"{name}={values!r}" for name, values in self._key)
        return f"Filters({given})"
