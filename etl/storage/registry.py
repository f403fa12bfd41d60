"""MongoDB side: cloud accounts (one per cluster tenant) and resource documents.

The one module of the pipeline that reads or writes the `cloud_accounts` and
`resources` collections; the pipeline sees a cluster account as a `ClusterAccount`,
never as the document, so a field's name and default are written once, here. Every
write that changes them stamps the organization (etl/storage/catalog_versions.py),
so that the API's processes drop their copies at once.

`MONGO_URI` is `mongodb://...` for a server (pymongo) or `montydb:///path` for the
embedded default: montydb with its SQLite storage, which separate processes (the
Airflow tasks and the API) can share. Only the pymongo calls both implement are
used here: find, find_one, insert_one, insert_many, update_one (with upsert).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from etl.core.days import day_start_epoch
from etl.storage.catalog_versions import catalog_changed

K8S_ACCOUNT_TYPE = "kubernetes_cnr"
K8S_CLUSTER_RESOURCE_TYPE = "K8s Cluster"
K8S_SERVICE_NAME = "Kubernetes"
# Fixed namespace so a cluster's resource id is the same on every run and machine.
RESOURCE_ID_NAMESPACE = uuid.UUID("5b0c7d9e-3f2a-4c1b-9e8d-6a7f0b1c2d3e")


class UnknownAccountError(LookupError):
    """A tenant id that is not a registered, live kubernetes_cnr cloud account."""


@dataclass(frozen=True)
class ClusterAccount:
    """A kubernetes_cnr cloud account: one cluster, whose id is its Thanos tenant.

    `config` is the account's settings as the platform stores them (read-only here):
    `scrape_interval_seconds`, `cost_model` (fallback prices, etl.costmodel.assets).
    """

    id: str
    organization_id: str
    name: str
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    type: str = K8S_ACCOUNT_TYPE

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ClusterAccount:
        """The account of a `cloud_accounts` document (a missing config is an empty one)."""
        return cls(
            id=document["_id"],
            organization_id=document["organization_id"],
            name=document["name"],
            config=MappingProxyType(dict(document.get("config") or {})),
            type=document.get("type", K8S_ACCOUNT_TYPE),
        )

    def scrape_interval_s(self, default_s: int) -> int:
        """The cluster's Prometheus scrape interval: its config's, else `default_s`."""
        return int(self.config.get("scrape_interval_seconds") or default_s)


_THREAD_LOCAL = threading.local()


@cache
def _mongo_client(uri: str) -> MongoClient:
    return MongoClient(uri, tz_aware=True)


def _monty_client(uri: str) -> Any:
    """montydb's SQLite connection only works in the thread that opened it: one per thread."""
    clients = _THREAD_LOCAL.__dict__.setdefault("monty_clients", {})
    if uri not in clients:
        from etl.storage import montystore

        clients[uri] = montystore.open_client(Path(uri.removeprefix("montydb://")))
    return clients[uri]


def open_database(uri: str, name: str) -> Database:
    """The database `name` at `uri` (a pymongo client per process, a montydb one per thread)."""
    client = _monty_client(uri) if uri.startswith("montydb://") else _mongo_client(uri)
    return client[name]


def database_in_this_thread(db: Database) -> Database:
    """`db` for the calling thread (a heartbeat's): the same pymongo database, or the same
    montydb database through this thread's client."""
    if isinstance(db, Database):
        return db
    return open_database(f"montydb://{db.client.address}", db.name)


def add_account(
    db: Database,
    organization_id: str,
    name: str,
    account_id: str | None = None,
    config: dict[str, Any] | None = None,
) -> ClusterAccount:
    """Register a kubernetes_cnr cloud account; its id is the cluster's Thanos tenant."""
    document = {
        "_id": account_id or str(uuid.uuid4()),
        "organization_id": organization_id,
        "type": K8S_ACCOUNT_TYPE,
        "name": name,
        "config": config or {},
        "created_at": int(time.time()),
        "deleted_at": 0,
        "last_import_at": 0,
    }
    db.cloud_accounts.insert_one(document)
    catalog_changed(db, organization_id)
    return ClusterAccount.from_document(document)


def list_accounts(
    db: Database, account_type: str | None = None, organization_id: str | None = None
) -> list[dict[str, Any]]:
    """Live (not deleted) cloud accounts of any provider, as documents, optionally of one type
    and organization: what `k8scost accounts list` and the API show.

    An organization's accounts are found by `organization_id` alone and the rest is
    checked here: montydb evaluates one equality several times faster than three (as
    `organization_documents` below), and the health page lists a thousand clusters."""
    query = {"organization_id": organization_id} if organization_id else {"deleted_at": 0}
    return sorted(
        (
            account
            for account in db.cloud_accounts.find(query)
            if account.get("deleted_at") == 0
            and (not account_type or account.get("type") == account_type)
        ),
        key=lambda account: account["name"],
    )


def organization_documents(
    db: Database,
    organization_id: str,
    account_fields: Sequence[str],
    resource_fields: Sequence[str],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The organization's live accounts and their resources, by id, with only these fields.

    Resources are found by `organization_id` (one equality, which montydb evaluates
    far faster than `cloud_account_id $in` a thousand accounts; a MongoDB server
    uses an index on it), then kept only when their account is live.
    """
    accounts = {
        account["_id"]: account
        for account in db.cloud_accounts.find(
            {"organization_id": organization_id, "deleted_at": 0}, dict.fromkeys(account_fields, 1)
        )
    }
    resources: dict[str, dict[str, Any]] = {}
    if accounts:
        for resource in db.resources.find({"organization_id": organization_id}):
            if resource.get("cloud_account_id") in accounts:
                resources[resource["_id"]] = {
                    name: resource[name] for name in resource_fields if name in resource
                }
    return accounts, resources


def save_accounts(db: Database, organization_id: str, documents: list[dict[str, Any]]) -> int:
    """Insert the accounts that do not exist yet, stamp the others' `last_import_at`;
    how many were new. Written for a cloud bill's accounts (etl/bills/load.py)."""
    ids = sorted(document["_id"] for document in documents)
    existing = {
        account["_id"]
        for account in db.cloud_accounts.find(
            {"organization_id": organization_id, "_id": {"$in": ids}}, {"_id": 1}
        )
    }
    new = [document for document in documents if document["_id"] not in existing]
    if new:
        db.cloud_accounts.insert_many(new)
        catalog_changed(db, organization_id)
    now = int(time.time())
    for account in sorted(existing):
        db.cloud_accounts.update_one({"_id": account}, {"$set": {"last_import_at": now}})
    return len(new)


def save_resources(
    db: Database,
    documents: Mapping[str, dict[str, Any]],
    merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
) -> int:
    """Insert new resources, update a stored one to `merge(stored, fresh)` where that
    changes it (one scan of their accounts, no per-id lookups); how many were new."""
    accounts = sorted({document["cloud_account_id"] for document in documents.values()})
    stored = {
        document.pop("_id"): document
        for document in db.resources.find({"cloud_account_id": {"$in": accounts}})
        if document["_id"] in documents
    }
    now = int(time.time())
    new = [
        {"_id": rid, **document, "created_at": now}
        for rid, document in documents.items()
        if rid not in stored
    ]
    if new:
        db.resources.insert_many(new)
    changed = {document["organization_id"] for document in new}
    for rid in sorted(documents.keys() & stored.keys()):
        updated = merge(stored[rid], documents[rid])
        if any(stored[rid].get(key) != value for key, value in updated.items()):
            # The whole document, not a $set: tag keys hold dots (EKS'
            # `kubernetes.io/cluster/<name>`), which MongoDB stores but montydb's
            # update path refuses.
            db.resources.replace_one({"_id": rid}, {**stored[rid], **updated})
            changed.add(documents[rid]["organization_id"])
    for organization_id in sorted(changed):
        catalog_changed(db, organization_id)
    return len(new)


def ping(db: Database) -> None:
    """One cheap read of `cloud_accounts`: raises when MongoDB does not answer."""
    db.cloud_accounts.find_one({}, {"_id": 1})


def account_document(db: Database, account_id: str) -> dict[str, Any] | None:
    """The cloud account's document as stored (deleted ones too), or None."""
    return db.cloud_accounts.find_one({"_id": account_id})


def k8s_accounts(db: Database, tenant_ids: list[str] | None = None) -> list[ClusterAccount]:
    """The kubernetes_cnr accounts to process: all of them, or exactly the named ones."""
    accounts = [
        ClusterAccount.from_document(document) for document in list_accounts(db, K8S_ACCOUNT_TYPE)
    ]
    if not tenant_ids:
        return accounts
    by_id = {account.id: account for account in accounts}
    unknown = [tenant for tenant in tenant_ids if tenant not in by_id]
    if unknown:
        raise UnknownAccountError(
            f"unknown tenant {', '.join(unknown)}: not a registered kubernetes_cnr account"
        )
    return [by_id[tenant] for tenant in tenant_ids]


def cluster_resource_id(cloud_account_id: str) -> str:
    """Deterministic resource id of the cluster of a kubernetes_cnr account."""
    return str(uuid.uuid5(RESOURCE_ID_NAMESPACE, f"{cloud_account_id}/k8s-cluster"))


def record_cluster_seen(
    db: Database,
    account: ClusterAccount,
    day: date,
    cluster_info: dict[str, str],
    node_provider_ids: Iterable[str] = (),
    region: str = "",
    pv_provider_ids: Iterable[str] = (),
) -> dict[str, Any]:
    """Create or update the cluster's resource document, widening first_seen/last_seen.

    `region` is the cluster's (etl.costmodel.assets.cluster_region, else `cluster_info`'s); an
    unknown one keeps what the document had, and a document that never had one has no
    `region` key (the platform's schema types it as a string, never null).

    `meta.node_provider_ids` accumulates (sorted) the provider ids of the cluster's
    nodes, and `meta.pv_provider_ids` its PVs' (their disks), so that a node VM or a
    disk that also appears in a cloud bill is counted once (etl/storage/nodes.py).
    """
    resource_id = cluster_resource_id(account.id)
    first = day_start_epoch(day)
    last = first + 86400 - 1
    existing = db.resources.find_one({"_id": resource_id}) or {}
    document = {
        "cloud_account_id": account.id,
        "organization_id": account.organization_id,
        "cloud_resource_id": cluster_info.get("id") or account.id,
        "resource_type": K8S_CLUSTER_RESOURCE_TYPE,
        "service_name": K8S_SERVICE_NAME,
        "name": cluster_info.get("name") or account.name,
        "first_seen": min(existing.get("first_seen", first), first),
        "last_seen": max(existing.get("last_seen", last), last),
        "tags": existing.get("tags", {}),
        "meta": {
            **{
                key: cluster_info[key] for key in ("provider", "provisioner") if key in cluster_info
            },
            **{
                field: sorted(set(existing.get("meta", {}).get(field, [])) | set(ids) - {""})
                for field, ids in (
                    ("node_provider_ids", node_provider_ids),
                    ("pv_provider_ids", pv_provider_ids),
                )
            },
        },
        "deleted_at": 0,
    }
    region = region or cluster_info.get("region", "")
    if region or existing.get("region"):
        document["region"] = region or existing["region"]
    if not existing:
        document["created_at"] = int(time.time())
    update: dict[str, Any] = {"$set": document}
    if "region" not in document and "region" in existing:
        update["$unset"] = {"region": ""}  # a null written by an earlier version
    db.resources.update_one({"_id": resource_id}, update, upsert=True)
    if any(existing.get(key) != value for key, value in document.items()) or "$unset" in update:
        catalog_changed(db, account.organization_id)
    db.cloud_accounts.update_one(
        {"_id": account.id}, {"$set": {"last_import_at": int(time.time())}}
    )
    return {"_id": resource_id, **{k: v for k, v in existing.items() if k != "region"}, **document}
