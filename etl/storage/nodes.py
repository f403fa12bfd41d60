"""Which cloud-bill resources are nodes of the organization's K8s clusters.

A node VM appears twice: in the cloud bill, and inside its cluster's cost (the
cluster's resource document lists its nodes' provider ids, etl/storage/registry).
Matching the two by their instance part is the double-counting rule of docs/api.md:
the API's answers (api/catalog) and the organization budgets (etl/alerts/budgets.py)
fold such a VM into its cluster on the days the cluster has a cost. The same keys match
a bill's VM to the node it was on each day (etl/storage/nodedays.py, the
reconciliation to the bill).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etl.storage.registry import (
    K8S_ACCOUNT_TYPE,
    K8S_CLUSTER_RESOURCE_TYPE,
    Database,
    organization_documents,
)

# The fields of the organization's documents the matching reads.
ACCOUNT_FIELDS = ("type",)
RESOURCE_FIELDS = ("cloud_account_id", "resource_type", "cloud_resource_id", "meta")


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


def cluster_resources(
    accounts: Mapping[str, Mapping[str, Any]], resources: Mapping[str, Mapping[str, Any]]
) -> dict[str, Mapping[str, Any]]:
    """K8s cluster resources of live kubernetes_cnr accounts, by resource id."""
    return {
        resource_id: resource
        for resource_id, resource in resources.items()
        if resource.get("resource_type") == K8S_CLUSTER_RESOURCE_TYPE
        and accounts[resource["cloud_account_id"]].get("type") == K8S_ACCOUNT_TYPE
    }


# The cluster document's lists of the provider ids of what its cost already holds
# (etl/storage/registry.py: record_cluster_seen): its nodes' VMs and its PVs' disks.
FOLDED_PROVIDER_IDS = ("node_provider_ids", "pv_provider_ids")


def node_clusters(
    accounts: Mapping[str, Mapping[str, Any]],
    resources: Mapping[str, Mapping[str, Any]],
    clusters: Mapping[str, Mapping[str, Any]],
) -> dict[str, str]:
    """Cloud-bill resource id -> id of the cluster it is a node's VM or a PV's disk of
    (same organization): what the cluster's cost holds, so folds into it. A billed disk
    folds like a node (docs/api.md, "No double counting"): its PV's cost is in the
    cluster's, priced from the bill like a node's."""
    by_key = {
        instance_key(provider_id): cluster_id
        for cluster_id, cluster in sorted(clusters.items())
        for field in FOLDED_PROVIDER_IDS
        for provider_id in (cluster.get("meta") or {}).get(field, [])
        if instance_key(provider_id)
    }
    return {
        resource_id: by_key[key]
        for resource_id, key in zip(*bill_instance_keys(accounts, resources), strict=True)
        if key in by_key
    }


def bill_instance_keys(
    accounts: Mapping[str, Mapping[str, Any]], resources: Mapping[str, Mapping[str, Any]]
) -> tuple[list[str], list[str]]:
    """The bill resources that may be a node's VM, and their instance keys, as two lists
    in resource id order: resources of other accounts than clusters' with a cloud
    resource id (the reconciliation's query takes them as two arrays, like a map)."""
    pairs = sorted(
        (resource_id, instance_key(resource.get("cloud_resource_id") or ""))
        for resource_id, resource in resources.items()
        if accounts[resource["cloud_account_id"]].get("type") != K8S_ACCOUNT_TYPE
    )
    kept = [(resource_id, key) for resource_id, key in pairs if key]
    return [resource_id for resource_id, _ in kept], [key for _, key in kept]


def node_vm_keys(
    node_of: Mapping[str, str], resources: Mapping[str, Mapping[str, Any]]
) -> tuple[list[str], list[str]]:
    """The node VMs and disks of `node_clusters` and their instance keys, as two lists in
    id order: the bill arguments of the reconciliation (docs/api.md, "Reconciliation:
    nodes priced from the bill") for every reader, since what is folded is what
    reconciles: a bill resource that prices a node or a PV is never an item of its own
    too, and one that stays an item prices nothing."""
    ids = sorted(node_of)
    return ids, [instance_key(resources[vm].get("cloud_resource_id") or "") for vm in ids]


def folded_bill_keys(
    accounts: Mapping[str, Mapping[str, Any]], resources: Mapping[str, Mapping[str, Any]]
) -> tuple[list[str], list[str]]:
    """`node_vm_keys` of every cluster of the organization's documents: the bill
    arguments of its readers outside the API (the API's catalog keeps its own)."""
    every_folded = node_clusters(accounts, resources, cluster_resources(accounts, resources))
    return node_vm_keys(every_folded, resources)


@dataclass(frozen=True)
class Folding:
    """What an organization-wide spend read needs of the documents: the live accounts,
    each billed node VM's cluster (with those clusters' accounts), so that a node is
    counted once, in its cluster, and the bill arguments that price the clusters' nodes
    from the bill (etl/storage/costreads.py expense_days, allocation_days)."""

    account_ids: list[str]
    node_clusters: dict[str, str]
    cluster_account_ids: list[str]  # the accounts of node_clusters' clusters
    k8s_account_ids: list[str]  # the accounts of every cluster
    # node_vm_keys of node_clusters: the bill arguments of every reader (folded_bill_keys)
    node_vms: tuple[list[str], list[str]]


def folding(
    accounts: Mapping[str, Mapping[str, Any]],
    resources: Mapping[str, Mapping[str, Any]],
    clusters: Mapping[str, Mapping[str, Any]],
    node_of: Mapping[str, str],
) -> Folding:
    """The Folding of these documents: `clusters` and `node_of` being their
    cluster_resources and node_clusters."""
    return Folding(
        sorted(accounts),
        dict(node_of),
        sorted({resources[cluster]["cloud_account_id"] for cluster in node_of.values()}),
        sorted({cluster["cloud_account_id"] for cluster in clusters.values()}),
        node_vm_keys(node_of, resources),
    )


def read_folding(db: Database, organization_id: str) -> Folding:
    """The organization's Folding read from its documents (every resource of it: a
    process that keeps them, as the API's catalog does, derives it from those instead)."""
    accounts, resources = organization_documents(
        db, organization_id, ACCOUNT_FIELDS, RESOURCE_FIELDS
    )
    clusters = cluster_resources(accounts, resources)
    return folding(
        accounts,
        resources,
        clusters,
        node_clusters(accounts, resources, clusters),
    )
