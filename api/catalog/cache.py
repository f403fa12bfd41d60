"""Per-process catalogs of the organizations (api/catalog/catalog.py), rebuilt when stale.

A catalog is rebuilt when the organization's stamp in MongoDB differs from the one
it was built at (every write of its accounts or resources, by any process, moves
the stamp: etl/storage/catalog_versions.py), so an import, a new account or a
cluster seen is in the very next answer of every API process. One read of the
stamp per request is the price. It is also rebuilt when older than the TTL (a
backstop for documents changed by hand), or when ClickHouse reports costs of a
resource id it does not know. Ids still unknown after a rebuild are remembered as
orphans (expense rows without a document), so they do not trigger a rebuild on
every request. `fields` are the document fields a catalog keeps: those the items
show and those the filters read (api/query/clean_expenses.py).
"""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Sequence

from flask import Flask, current_app

from api.catalog.catalog import Catalog
from etl.core.config import Settings
from etl.storage.catalog_versions import catalog_version
from etl.storage.registry import open_database, organization_documents

ACCOUNT_FIELDS = ("name", "type")
CATALOG_EXTENSION = "k8scost_catalogs"
# How long an API process trusts its copy of an organization's resource documents.
CATALOG_TTL_S = 300.0


def build_catalog(
    settings: Settings, organization_id: str, fields: Sequence[str], version: str
) -> Catalog:
    """The organization's live accounts and their resources (only `fields`), from MongoDB,
    as of stamp `version` (read before them: a write in between rebuilds it again)."""
    db = open_database(settings.mongo_uri, settings.mongo_db)
    accounts, resources = organization_documents(db, organization_id, ACCOUNT_FIELDS, fields)
    return Catalog(accounts, resources, time.monotonic(), version)


def stored_version(settings: Settings, organization_id: str) -> str:
    """The organization's catalog stamp in MongoDB."""
    return catalog_version(open_database(settings.mongo_uri, settings.mongo_db), organization_id)


class CatalogCache:
    """Per-process catalogs of the most recently used organizations.

    A rebuild holds its organization's lock only, so a slow rebuild of one
    organization does not stall the requests of another.
    """

    def __init__(self, ttl_s: float, fields: Sequence[str], max_organizations: int = 32) -> None:
        self.ttl_s = ttl_s
        self.fields = tuple(fields)
        self.max_organizations = max_organizations
        self.builds = 0
        self._catalogs: OrderedDict[str, Catalog] = OrderedDict()
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()

    def get(self, settings: Settings, organization_id: str) -> Catalog:
        """The organization's catalog, rebuilt when its stamp moved or older than the TTL."""
        version = stored_version(settings, organization_id)
        with self._organization_lock(organization_id):
            catalog = self._catalogs.get(organization_id)
            if (
                catalog is None
                or catalog.version != version
                or time.monotonic() - catalog.built_at >= self.ttl_s
            ):
                catalog = self._rebuild(settings, organization_id, version)
            return catalog

    def refresh(self, settings: Settings, organization_id: str, unknown: set[str]) -> Catalog:
        """Rebuild because costs name `unknown` ids, unless they are known orphans."""
        with self._organization_lock(organization_id):
            catalog = self._catalogs.get(organization_id)
            if catalog is not None and unknown <= catalog.orphans | catalog.resources.keys():
                return catalog
            catalog = self._rebuild(
                settings, organization_id, stored_version(settings, organization_id)
            )
            catalog.orphans = unknown - catalog.resources.keys()
            return catalog

    def _organization_lock(self, organization_id: str) -> threading.Lock:
        with self._lock:
            return self._locks[organization_id]

    def _rebuild(self, settings: Settings, organization_id: str, version: str) -> Catalog:
        catalog = build_catalog(settings, organization_id, self.fields, version)
        # Millions of long-lived objects would make every full garbage collection walk
        # them all, a cost that grows with the catalog; freezing moves them out of
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


def attach_catalogs(app: Flask, fields: Sequence[str]) -> None:
    """Bind to `app` its cache of organization catalogs keeping `fields` (api/app.py:
    clean_expenses' CATALOG_FIELDS, which the layers above this one define)."""
    app.extensions[CATALOG_EXTENSION] = CatalogCache(CATALOG_TTL_S, fields)


def catalogs() -> CatalogCache:
    """The cache of organization catalogs of the app handling the current request:
    every route reads its organization's catalog through it."""
    return current_app.extensions[CATALOG_EXTENSION]
