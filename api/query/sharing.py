"""The sharing parameters of `k8s_costs` and `clean_expenses`, declared once.

Each option of etl/core/sharing.py's `SharingPolicy` is one query parameter here:
its field (type, allowed values, description for /openapi.json) is built from the
policy's own tuples, and a value the policy refuses (`share_idle=maybe`, a label
without `:`, a negative overhead) is a 400 problem. No parameter given: the
organization's stored defaults (etl/storage/sharing.py), themselves share-nothing
unless set; a given parameter overrides its default (an empty list shares none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apiflask.fields import Field, Float, String
from apiflask.validators import OneOf
from marshmallow import ValidationError

from api.openapi import portable_pattern
from etl.core.money import MAX_USD
from etl.core.sharing import IDLE_BY, SHARE_IDLE, SHARE_SPLIT, SharingError, SharingPolicy
from etl.storage.sharing import sharing_defaults

# What split_list and label_pair read, as the OpenAPI document states it: comma-separated
# items, each blank or a key (not starting with a space) before a colon.
LABEL_LIST_PATTERN = portable_pattern(
    r"^\s*(?:[^,:\s][^,:]*:[^,]*)?(?:,\s*(?:[^,:\s][^,:]*:[^,]*)?)*$"
)


def _checked(name: str):
    def check(value: Any) -> None:
        try:
            SharingPolicy.of({name: value})
        except SharingError as error:
            raise ValidationError(str(error)) from None

    return check


def _choice(allowed: tuple[str, ...], description: str) -> String:
    return String(
        validate=OneOf(allowed),
        metadata={"description": f"{description}: {' | '.join(allowed)}", "enum": list(allowed)},
    )


SHARING_FIELDS: dict[str, Field] = {
    "share_idle": _choice(
        SHARE_IDLE,
        "Spread `__idle__` over the groups (weighted: each resource's idle by the groups' "
        "cost of it; even: the same to each group); default none, or the organization's",
    ),
    "idle_by": _choice(
        IDLE_BY, "Spread a cluster's idle over its groups, or a node's over its own"
    ),
    "share_namespaces": String(
        validate=_checked("share_namespaces"),
        metadata={"description": "Namespaces whose cost is spread over the others (ns[,ns...])"},
    ),
    "share_labels": String(
        validate=_checked("share_labels"),
        metadata={
            "description": "Pods whose cost is spread over the others (key:value[,key:value...],"
            " the pod's label else its namespace's)",
            "pattern": LABEL_LIST_PATTERN,
        },
    ),
    "share_split": _choice(
        SHARE_SPLIT,
        "How shared namespaces, labels and overhead are spread: by each group's cost, or even",
    ),
    "shared_overhead_hourly": Float(
        validate=_checked("shared_overhead_hourly"),
        metadata={
            "description": "USD per cluster-hour spread like shared namespaces (>= 0)",
            "minimum": 0,
            "maximum": MAX_USD,  # the money bound (docs/api.md, "Money and dates")
        },
    ),
}


def request_policy(database: Any, organization_id: str, query: Mapping[str, Any]) -> SharingPolicy:
    """The policy of a validated query: the organization's defaults, overridden by it."""
    given = {name: query[name] for name in SHARING_FIELDS if name in query}
    return sharing_defaults(database, organization_id).overridden(given)
