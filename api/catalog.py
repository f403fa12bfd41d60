"""What an organization may see: its live cloud accounts and their resource documents.

MongoDB is the source of truth for *which* resources belong to an organization and
for their attributes (region, service, tags...). Reading 100k documents per
request is far too slow (montydb scans its whole collection for any query, about
0.1 ms per document; a MongoDB server still decodes every document), so each API
process keeps one `Catalog` per organization and rebuilds it when it is older
than the TTL, or when ClickHouse reports costs of a resource id it does not know
(an import added resources). Costs are never cached: they always come from
ClickHouse. Ids still unknown after a rebuild are remembered as orphans (expense
rows without a document), so they do not trigger a rebuild on every request.

The catalog also knows which cloud-bill resources are nodes of the organization's
K8s clusters (`node_clusters`), for the double-counting rule of docs/api.md.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.arrowbytes import bytes_array
from api.filters import DOCUMENT_FIELDS
from api.itemindex import NOT_FOUND, ItemIndex, resource_keys
from etl.core.config import Settings
from etl.storage.registry import K8S_ACCOUNT_TYPE, K8S_CLUSTER_RESOURCE_TYPE, open_database

# The document fields a catalog keeps: those its items show, then any other field a
# filter of api/filters.py reads (so a new attribute filter cannot find nothing).
SHOWN_FIELDS = (
    "cloud_account_id",
    "cloud_resource_id",
    "resource_type",
    "service_name",
    "name",
    "region",
    "first_seen",
    "last_seen",
    "created_at",
    "deleted_at",
    "tags",
    "meta",
)
RESOURCE_FIELDS = tuple(dict.fromkeys((*SHOWN_FIELDS, *DOCUMENT_FIELDS)))
ACCOUNT_FIELDS = ("name", "type")
# Document values JSON has no type for (an ObjectId in `meta`) are written as text.
_ENCODER = msgspec.json.Encoder(enc_hook=str)
# What follows the fields of an item or a billed node in its JSON: the cost.
COST_KEY = b',"cost":'
# Filter combinations whose scope a catalog keeps.
MEMO_SIZE = 64
T = TypeVar("T")


def instance_key(identifier: str) -> str:
    """The instance part of a node provider id or a bill's resource id, for matching.

    `aws:///us-east-1a/i-0abc` and `arn:aws:ec2:us-east-1:1:instance/i-0abc` both give
    `i-0abc`; `gce://project/zone/vm-1` and `//compute.googleapis.com/.../instances/vm-1`
    give `vm-1`. An Azure scale-set instance ends in a bare number, so its key keeps
    the scale set's name (`.../virtualMachineScaleSets/ss/virtualMachines/3` gives
    `ss/virtualmachines/3`). Keys are lower case: Azure ids are case-insensitive.
    """
    parts = [part for part in identifier.strip().split("/") if part]
    if not parts:
        return ""
    if parts[-1].isdigit() and len(parts) >= 3:
        return "/".join(parts[-3:]).lower()
    return parts[-1].rsplit(":", 1)[-1].lower()


def without_nulls(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields that have a value: JSON and CSV leave the others out (CSV: empty)."""
    return {key: value for key, value in fields.items() if value is not None}


def json_prefix(fields: dict[str, Any]) -> bytes:
    """An item's (or a billed node's) fields as JSON, open for its cost: `{...,"cost":`."""
    return _ENCODER.encode(fields)[:-1] + COST_KEY


@dataclass
class Catalog:
    """One organization's live accounts and resources, indexed for the filters."""

    accounts: dict[str, dict[str, Any]]
    resources: dict[str, dict[str, Any]]
    built_at: float
    orphans: set[str] = field(default_factory=set)
    _indexes: dict[str, dict[Any, set[str]]] = field(default_factory=dict)
    _memo: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, kept with this catalog (the MEMO_SIZE most recent keys).

        For what depends on the catalog alone (a request's scope for given filters):
        it is dropped with the catalog, so it is never older than the documents.
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
    def clusters(self) -> dict[str, dict[str, Any]]:
        """K8s cluster resources of live kubernetes_cnr accounts, by resource id."""
        return {
            resource_id: resource
            for resource_id, resource in self.resources.items()
            if resource.get("resource_type") == K8S_CLUSTER_RESOURCE_TYPE
            and self.accounts[resource["cloud_account_id"]].get("type") == K8S_ACCOUNT_TYPE
        }

    @cached_property
    def node_clusters(self) -> dict[str, str]:
        """Cloud-bill resource id -> id of the cluster it is a node of (same organization)."""
        by_key = {
            instance_key(provider_id): cluster_id
            for cluster_id, cluster in sorted(self.clusters.items())
            for provider_id in (cluster.get("meta") or {}).get("node_provider_ids", [])
            if instance_key(provider_id)
        }
        matches = {}
        for resource_id, resource in self.resources.items():
            if self.accounts[resource["cloud_account_id"]].get("type") == K8S_ACCOUNT_TYPE:
                continue
            cluster_id = by_key.get(instance_key(resource.get("cloud_resource_id") or ""))
            if cluster_id:
                matches[resource_id] = cluster_id
        return matches

    def item_base(self, resource_id: str, cloud_account_id: str) -> dict[str, Any]:
        """The resource as a clean_expenses item shows it, but for its cost.

        A resource the catalog does not know (an orphan cost row) keeps its ids only.
        A field without a value is left out, never null: the platform's schema types
        `region`, `resource_name`... as strings, and its frontend reads them as such
        (a bill row without region, an account-level charge, a cluster whose region
        is not known).
        """
        if resource_id not in self.resources:
            return {
                "id": resource_id,
                "resource_id": resource_id,
                "cloud_account_id": cloud_account_id,
            }
        resource = self.resources[resource_id]
        account = self.accounts.get(resource["cloud_account_id"], {})
        base = {
            **resource,
            "id": resource_id,
            "resource_id": resource_id,
            "resource_name": resource.get("name"),
            "cloud_account_name": account.get("name"),
            "cloud_account_type": account.get("type"),
        }
        cluster_id = self.node_clusters.get(resource_id)
        if cluster_id:
            base["k8s_cluster_id"] = cluster_id
            base["k8s_cluster_name"] = self.resources[cluster_id].get("name")
        return without_nulls(base)

    def billed_node(self, resource_id: str, cloud_account_id: str) -> dict[str, Any]:
        """A cloud-bill node as its cluster's `billed_nodes` lists it, but for its cost."""
        node = self.resources.get(resource_id, {})
        return {
            "resource_id": resource_id,
            "cloud_resource_id": node.get("cloud_resource_id"),
            "cloud_account_id": node.get("cloud_account_id", cloud_account_id),
            "name": node.get("name"),
        }

    @cached_property
    def item_index(self) -> ItemIndex:
        """Every resource's item as JSON up to its cost (`json_prefix`), by id.

        Encoded once per catalog (~3 us per resource), so that a request finds its
        items and lays them out with Arrow compute rather than item by item.
        """
        ids = list(self.resources)
        return ItemIndex.build(ids, [json_prefix(self.item_base(id_, "")) for id_ in ids])

    @cached_property
    def node_index(self) -> ItemIndex:
        """Every cluster node's `billed_node` as JSON up to its cost, by id."""
        ids = list(self.node_clusters)
        return ItemIndex.build(ids, [json_prefix(self.billed_node(id_, "")) for id_ in ids])

    def json_prefixes(
        self,
        resource_ids: pa.StringArray,
        cloud_account_ids: pa.StringArray,
        keys: np.ndarray | None = None,
    ) -> tuple[pa.LargeBinaryArray, list[int]]:
        """Each item's `json_prefix`, and the positions of the ids the catalog does not know.

        `keys` are the ids' `resource_key`s when the query gave them. An unknown id (an
        orphan cost row, or a resource imported since the catalog was built) gets its
        ids only, encoded each time; its position tells the caller to rebuild.
        """
        return self._prefixes(
            self.item_index, self.item_base, resource_ids, cloud_account_ids, keys
        )

    def billed_node_prefixes(
        self,
        resource_ids: pa.StringArray,
        cloud_account_ids: pa.StringArray,
        keys: np.ndarray | None = None,
    ) -> tuple[pa.LargeBinaryArray, list[int]]:
        """`json_prefixes` for billed nodes (`billed_node` up to its cost)."""
        return self._prefixes(
            self.node_index, self.billed_node, resource_ids, cloud_account_ids, keys
        )

    @staticmethod
    def _prefixes(
        index: ItemIndex,
        describe: Callable[[str, str], dict[str, Any]],
        resource_ids: pa.StringArray,
        cloud_account_ids: pa.StringArray,
        keys: np.ndarray | None,
    ) -> tuple[pa.LargeBinaryArray, list[int]]:
        if keys is None:
            keys = resource_keys(resource_ids.to_pylist())
        places = index.positions(resource_ids, keys)
        prefixes = index.take(places)
        unknown = np.flatnonzero(places == NOT_FOUND).tolist()
        if not unknown:
            return prefixes, unknown
        orphans = [
            json_prefix(describe(resource_ids[at].as_py(), cloud_account_ids[at].as_py()))
            for at in unknown
        ]
        return pc.replace_with_mask(prefixes, prefixes.is_null(), bytes_array(orphans)), unknown


def build_catalog(settings: Settings, organization_id: str) -> Catalog:
    """Read the organization's live accounts and all their resources from MongoDB.

    Resources are found by `organization_id` (one equality, which montydb evaluates
    ~25x faster than `cloud_account_id $in` a thousand accounts; a MongoDB server
    uses an index on it), then kept only when their account is live.
    """
    db = open_database(settings.mongo_uri, settings.mongo_db)
    accounts = {
        account["_id"]: account
        for account in db.cloud_accounts.find(
            {"organization_id": organization_id, "deleted_at": 0}, dict.fromkeys(ACCOUNT_FIELDS, 1)
        )
    }
    resources: dict[str, dict[str, Any]] = {}
    if accounts:
        for resource in db.resources.find({"organization_id": organization_id}):
            if resource.get("cloud_account_id") in accounts:
                resources[resource["_id"]] = {
                    field: resource[field] for field in RESOURCE_FIELDS if field in resource
                }
    return Catalog(accounts, resources, time.monotonic())


class CatalogCache:
    """Per-process catalogs of the most recently used organizations.

    A rebuild holds its organization's lock only, so a slow rebuild of one
    organization does not stall the requests of another.
    """

    def __init__(self, ttl_s: float, max_organizations: int = 32) -> None:
        self.ttl_s = ttl_s
        self.max_organizations = max_organizations
        self.builds = 0
        self._catalogs: OrderedDict[str, Catalog] = OrderedDict()
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()

    def get(self, settings: Settings, organization_id: str) -> Catalog:
        """The organization's catalog, rebuilt when older than the TTL."""
        with self._organization_lock(organization_id):
            catalog = self._catalogs.get(organization_id)
            if catalog is None or time.monotonic() - catalog.built_at >= self.ttl_s:
                catalog = self._rebuild(settings, organization_id)
            return catalog

    def refresh(self, settings: Settings, organization_id: str, unknown: set[str]) -> Catalog:
        """Rebuild because costs name `unknown` ids, unless they are known orphans."""
        with self._organization_lock(organization_id):
            catalog = self._catalogs.get(organization_id)
            if catalog is not None and unknown <= catalog.orphans | catalog.resources.keys():
                return catalog
            catalog = self._rebuild(settings, organization_id)
            catalog.orphans = unknown - catalog.resources.keys()
            return catalog

    def _organization_lock(self, organization_id: str) -> threading.Lock:
        with self._lock:
            return self._locks[organization_id]

    def _rebuild(self, settings: Settings, organization_id: str) -> Catalog:
        catalog = build_catalog(settings, organization_id)
        # Millions of long-lived objects would make every full garbage collection walk
        # them all (~0.5 s per request at 100k resources); freezing moves them out of
        # the collector's view. They hold no cycles, so reference counting still frees
        # a replaced catalog.
        gc.freeze()
        with self._lock:
            self.builds += 1
            self._catalogs[organization_id] = catalog
            self._catalogs.move_to_end(organization_id)
            while len(self._catalogs) > self.max_organizations:
                evicted, _ = self._catalogs.popitem(last=False)
                self._locks.pop(evicted, None)
        return catalog
