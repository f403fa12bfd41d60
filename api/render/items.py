"""A clean_expenses item and a billed node as the answer shows them, and their encoded JSON.

An item is its resource document's fields (api/render/schemas.py `CleanExpenseSchema`)
with its account's name and type, and, for a node VM of a cluster, that cluster;
its cost comes from ClickHouse. Every resource's item is encoded once per catalog up
to its cost (`json_prefix`), so that a request finds its items and lays them out with
Arrow compute rather than item by item (docs/api.md).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.catalog.catalog import Catalog
from api.render.arrowbytes import bytes_array
from api.render.itemindex import NOT_FOUND, ItemIndex, resource_keys

# The document fields an item shows; a catalog also keeps those its filters read.
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
# Document values JSON has no type for (an ObjectId in `meta`) are written as text.
_ENCODER = msgspec.json.Encoder(enc_hook=str)
# What follows the fields of an item or a billed node in its JSON: the cost.
COST_KEY = b',"cost":'


def without_nulls(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields that have a value: JSON and CSV leave the others out (CSV: empty)."""
    return {key: value for key, value in fields.items() if value is not None}


def json_prefix(fields: dict[str, Any]) -> bytes:
    """An item's (or a billed node's) fields as JSON, open for its cost: `{...,"cost":`."""
    return _ENCODER.encode(fields)[:-1] + COST_KEY


def item_base(catalog: Catalog, resource_id: str, cloud_account_id: str) -> dict[str, Any]:
    """The resource as a clean_expenses item shows it, but for its cost.

    A resource the catalog does not know (an orphan cost row) keeps its ids only.
    A field without a value is left out, never null: the platform's schema types
    `region`, `resource_name`... as strings, and its frontend reads them as such
    (a bill row without region, an account-level charge, a cluster whose region
    is not known).
    """
    if resource_id not in catalog.resources:
        return {"id": resource_id, "resource_id": resource_id, "cloud_account_id": cloud_account_id}
    resource = catalog.resources[resource_id]
    account = catalog.accounts.get(resource["cloud_account_id"], {})
    base = {
        **{name: resource[name] for name in SHOWN_FIELDS if name in resource},
        "id": resource_id,
        "resource_id": resource_id,
        "resource_name": resource.get("name"),
        "cloud_account_name": account.get("name"),
        "cloud_account_type": account.get("type"),
    }
    cluster_id = catalog.node_clusters.get(resource_id)
    if cluster_id:
        base["k8s_cluster_id"] = cluster_id
        base["k8s_cluster_name"] = catalog.resources[cluster_id].get("name")
    return without_nulls(base)


def billed_node(catalog: Catalog, resource_id: str, cloud_account_id: str) -> dict[str, Any]:
    """A cloud-bill node as its cluster's `billed_nodes` lists it, but for its cost."""
    node = catalog.resources.get(resource_id, {})
    return {
        "resource_id": resource_id,
        "cloud_resource_id": node.get("cloud_resource_id"),
        "cloud_account_id": node.get("cloud_account_id", cloud_account_id),
        "name": node.get("name"),
    }


class EncodedItems:
    """A catalog's items and billed nodes encoded up to their cost, found by id."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @classmethod
    def of(cls, catalog: Catalog) -> EncodedItems:
        """The catalog's encoding, built once and kept with it."""
        return catalog.derived(cls, lambda: cls(catalog))

    @cached_property
    def item_index(self) -> ItemIndex:
        ids = list(self.catalog.resources)
        return ItemIndex.build(ids, [json_prefix(item_base(self.catalog, id_, "")) for id_ in ids])

    @cached_property
    def node_index(self) -> ItemIndex:
        ids = list(self.catalog.node_clusters)
        return ItemIndex.build(
            ids, [json_prefix(billed_node(self.catalog, id_, "")) for id_ in ids]
        )

    def item_prefixes(
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
        return self._prefixes(self.item_index, item_base, resource_ids, cloud_account_ids, keys)

    def node_prefixes(
        self,
        resource_ids: pa.StringArray,
        cloud_account_ids: pa.StringArray,
        keys: np.ndarray | None = None,
    ) -> tuple[pa.LargeBinaryArray, list[int]]:
        """`item_prefixes` for billed nodes (`billed_node` up to its cost)."""
        return self._prefixes(self.node_index, billed_node, resource_ids, cloud_account_ids, keys)

    def _prefixes(
        self,
        index: ItemIndex,
        describe: Callable[[Catalog, str, str], dict[str, Any]],
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
            json_prefix(
                describe(self.catalog, resource_ids[at].as_py(), cloud_account_ids[at].as_py())
            )
            for at in unknown
        ]
        return pc.replace_with_mask(prefixes, prefixes.is_null(), bytes_array(orphans)), unknown
