"""What an organization may see: its live cloud accounts and their resource documents.

MongoDB is the source of truth for *which* resources belong to an organization and
for their attributes (region, service, tags...). Reading 100k documents per request
is far too slow, so each API process keeps one `Catalog` per organization
(api/catalog/cache.py) with the indexes its filters need. Costs are never in it:
they always come from ClickHouse. What is derived from the documents alone (a
request's scope, the items' encoded JSON in api/render/items.py) is kept with the
catalog, so it is dropped with it and never older than the documents.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from etl.storage.nodes import (
    Folding,
    cluster_resources,
    folding,
    node_clusters,
)
from etl.storage.registry import K8S_ACCOUNT_TYPE

# Filter combinations whose scope a catalog keeps.
MEMO_SIZE = 64
T = TypeVar("T")


@dataclass
class Catalog:
    """One organization's live accounts and resources, indexed for the filters."""

    accounts: dict[str, dict[str, Any]]
    resources: dict[str, dict[str, Any]]
    built_at: float
    version: str = ""  # the organization's stamp it was built at (api/catalog/cache.py)
    orphans: set[str] = field(default_factory=set)
    _indexes: dict[str, dict[Any, set[str]]] = field(default_factory=dict)
    _memo: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    _derived: dict[Hashable, Any] = field(default_factory=dict)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, kept with this catalog (the MEMO_SIZE most recent keys).

        For what depends on the catalog and a request's parameters (a scope for given
        filters): the least recently used is dropped past MEMO_SIZE.
        """
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = compute()  # outside the lock: two threads may both compute, harmlessly
        with self._memo_lock:
            self._memo[key] = value
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return value

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, kept for the catalog's life: for what depends on it alone."""
        with self._memo_lock:
            if key in self._derived:
                return self._derived[key]
        value = compute()
        with self._memo_lock:
            return self._derived.setdefault(key, value)

    def ids_where(self, attribute: str, values: Iterable[str]) -> set[str]:
        """Ids of the resources whose `attribute` is one of `values`.

        A dict attribute (`tags`) matches by its keys: the resources carrying one of them.
        """
        index = self._index(attribute)
        return set().union(*(index.get(value, set()) for value in values))

    def _index(self, attribute: str) -> dict[Any, set[str]]:
        if attribute not in self._indexes:
            index: dict[Any, set[str]] = defaultdict(set)
            for resource_id, resource in self.resources.items():
                value = resource.get(attribute)
                for key in value if isinstance(value, dict) else [value]:
                    index[key].add(resource_id)
            self._indexes[attribute] = dict(index)
        return self._indexes[attribute]

    @cached_property
    def clusters(self) -> dict[str, Mapping[str, Any]]:
        """K8s cluster resources of live kubernetes_cnr accounts, by resource id."""
        return cluster_resources(self.accounts, self.resources)

    @cached_property
    def node_clusters(self) -> dict[str, str]:
        """Cloud-bill resource id -> id of the cluster it is a node of (etl/storage/nodes.py)."""
        return node_clusters(self.accounts, self.resources, self.clusters)

    @cached_property
    def k8s_account_ids(self) -> list[str]:
        """The live kubernetes_cnr accounts' ids: the clusters an allocation answer reads."""
        return sorted(
            account_id
            for account_id, account in self.accounts.items()
            if account.get("type") == K8S_ACCOUNT_TYPE
        )

    @cached_property
    def k8s_accounts_by_name(self) -> list[dict[str, Any]]:
        """The live kubernetes_cnr accounts' documents (`_id`, `name`, `type`), by name as
        registry.list_accounts orders them: the clusters the health page lists, found
        here rather than by a montydb scan of the organization's accounts per request."""
        clusters = (a for a in self.accounts.values() if a.get("type") == K8S_ACCOUNT_TYPE)
        return sorted(clusters, key=lambda account: account["name"])

    def k8s_accounts(self, wanted: set[str] | None = None) -> list[str]:
        """k8s_account_ids, only those in `wanted` when given (a request's account filter)."""
        return [account for account in self.k8s_account_ids if wanted is None or account in wanted]

    @cached_property
    def folding(self) -> Folding:
        """The accounts, folded nodes and bill arguments an organization-wide spend read
        takes (the budgets)."""
        return folding(self.accounts, self.resources, self.clusters, self.node_clusters)
