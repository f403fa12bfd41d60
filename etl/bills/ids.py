"""Stable ids of what a cloud bill creates, and the account type of its provider.

Ids are UUID5s of what the bill says, so the same bill gives the same cloud
account and resource ids in every import and on every machine: a re-import finds
what the previous one created instead of adding copies.
"""

from __future__ import annotations

import json
import re
import uuid

# Fixed namespaces: changing them would orphan every imported account and resource.
CLOUD_ID_NAMESPACE = uuid.UUID("0f3c2a71-8d4e-4b6a-9c15-2e7d9a4b8c60")
# Account-level items get ids of their own namespace, so that no ResourceId can
# ever be named like one of them.
ACCOUNT_LEVEL_NAMESPACE = uuid.uuid5(CLOUD_ID_NAMESPACE, "account-level")
# And a commitment's unused part, so that it is never the commitment's own resource.
UNUSED_COMMITMENT_NAMESPACE = uuid.uuid5(CLOUD_ID_NAMESPACE, "unused-commitment")
# Lower-case fragments of ProviderName and the platform's account type they mean
# (FOCUS names "AWS", "Microsoft", "Google Cloud"; older files say "Amazon", "Azure").
PLATFORM_TYPES = (
    ("amazon", "aws_cnr"),
    ("aws", "aws_cnr"),
    ("microsoft", "azure_cnr"),
    ("azure", "azure_cnr"),
    ("google", "gcp_cnr"),
    ("gcp", "gcp_cnr"),
    ("alibaba", "alibaba_cnr"),
)
OTHER_TYPE_PREFIX = "focus_"
OTHER_TYPE_SUFFIX = "_cnr"
_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")


def account_type(provider_name: str) -> str:
    """The cloud account type of a FOCUS ProviderName; every provider has one.

    The providers the platform has connectors for keep their types (`aws_cnr`,
    `azure_cnr`, `gcp_cnr`, `alibaba_cnr`); any other provider gets
    `focus_<name>_cnr`, its name lower-cased with runs of other characters as `_`
    (Oracle: `focus_oracle_cnr`). The prefix keeps these apart from the platform's
    own types: a provider named "Kubernetes" must not become `kubernetes_cnr`, the
    type of the clusters.
    """
    lowered = provider_name.lower()
    for fragment, kind in PLATFORM_TYPES:
        if fragment in lowered:
            return kind
    slug = _NOT_ALPHANUMERIC.sub("_", lowered).strip("_") or "unnamed"
    return f"{OTHER_TYPE_PREFIX}{slug}{OTHER_TYPE_SUFFIX}"


def account_id(organization_id: str, kind: str, sub_account_id: str) -> str:
    """The cloud account id of a bill's (sub-)account in an organization."""
    return str(uuid.uuid5(CLOUD_ID_NAMESPACE, f"{organization_id}/{kind}/{sub_account_id}"))


def resource_id(cloud_account_id: str, cloud_resource_id: str) -> str:
    """The resource id of a bill's resource (its FOCUS ResourceId) in a cloud account."""
    return str(uuid.uuid5(CLOUD_ID_NAMESPACE, f"{cloud_account_id}/{cloud_resource_id}"))


def account_level_id(cloud_account_id: str, service_name: str, charge_category: str | None) -> str:
    """The id of the account-level item holding an account's rows without a ResourceId.

    One per (account, ServiceName, ChargeCategory): the tax, credits, support fees...
    """
    name = json.dumps([service_name, charge_category])
    return str(uuid.uuid5(ACCOUNT_LEVEL_NAMESPACE, f"{cloud_account_id}/{name}"))


def unused_commitment_id(cloud_account_id: str, commitment_discount_id: str) -> str:
    """The id of the item holding a commitment's unused part (CommitmentDiscountStatus
    Unused) in an account: one per CommitmentDiscountId."""
    return str(
        uuid.uuid5(UNUSED_COMMITMENT_NAMESPACE, f"{cloud_account_id}/{commitment_discount_id}")
    )
