"""What one token may see and do: its scopes and its role (issue #28), in one place.

A token is bound to an organization (api/auth.py) and, optionally, narrowed by scopes:
`cluster:<cloud account id>`, `namespace:<name>`, `label:<key>=<value>` (the pod's
label, else its namespace's). Scopes of one kind are a union, kinds an intersection.
They are stored with the token's digest (`scopes`, `role` in `api_tokens`) and applied
to every answer as filters the request cannot widen: `Filters.within`
(api/query/filters.py) adds them as the hidden `scope_*` filters, which every query of
the allocation and the catalog reads like the others, so totals, `previous_total` and
counts are the scope's, and a filter outside it is an empty answer. A namespace or
label scope sees K8s cost only (its allocation rows, with the idle and shared costs
the organization's sharing policy gives them; no bill lines).

Roles: `viewer` reads; `editor` also writes budgets (and alert settings) within its
scope; `admin` also manages sharing defaults, webhooks, pricing and tokens. A token
without a role (issued before roles) and `k8scost tokens create` without `--role` are
`admin` of the whole organization, as every token was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from etl.alerts.budgets import parse_scope

ROLES = ("viewer", "editor", "admin")
DEFAULT_ROLE = "admin"
WRITE_ROLE = "editor"  # what a write needs unless its view says more (`needs_role`)
ROLE_ATTRIBUTE = "k8scost_role"


def needs_role(role: str):
    """Mark a view as a write that needs `role` (api/auth.py checks it before the view)."""

    def mark(view):
        setattr(view, ROLE_ATTRIBUTE, role)
        return view

    return mark


_SCOPE = re.compile(
    r"^(?:cluster:(?P<cluster>.+)|namespace:(?P<namespace>[^\s]+)|label:(?P<key>[^=\s]+)=(?P<value>.*))$"
)
SCOPE_SYNTAX = "cluster:<cloud account id>, namespace:<name> or label:<key>=<value>"


class ScopeError(ValueError):
    """A scope or role that cannot be read."""


@dataclass(frozen=True)
class TokenScope:
    """A token's scopes (empty tuples: not narrowed on that kind) and role."""

    clusters: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    role: str = DEFAULT_ROLE

    @classmethod
    def parse(cls, texts: Iterable[str], role: str = DEFAULT_ROLE) -> TokenScope:
        """Scopes as `k8scost tokens create --scope` takes them; a ScopeError otherwise."""
        if role not in ROLES:
            raise ScopeError(f"role {role!r} is not one of {', '.join(ROLES)}")
        clusters: dict[str, None] = {}
        namespaces: dict[str, None] = {}
        labels: dict[tuple[str, str], None] = {}
        for text in texts:
            found = _SCOPE.match(text.strip())
            if found is None:
                raise ScopeError(f"scope {text!r} is not one of {SCOPE_SYNTAX}")
            if found["cluster"] is not None:
                clusters[found["cluster"]] = None
            elif found["namespace"] is not None:
                namespaces[found["namespace"]] = None
            else:
                labels[(found["key"], found["value"])] = None
        return cls(tuple(clusters), tuple(namespaces), tuple(labels), role)

    @classmethod
    def of_document(cls, document: Mapping[str, Any]) -> TokenScope:
        """The scope stored with a token (none stored: the whole organization, admin)."""
        return cls.parse(document.get("scopes", ()), document.get("role", DEFAULT_ROLE))

    def texts(self) -> list[str]:
        """The scopes as written (what is stored and listed)."""
        return [
            *(f"cluster:{c}" for c in self.clusters),
            *(f"namespace:{n}" for n in self.namespaces),
            *(f"label:{k}={v}" for k, v in self.labels),
        ]

    def document(self) -> dict[str, Any]:
        return {"scopes": self.texts(), "role": self.role}

    @property
    def whole_organization(self) -> bool:
        return not (self.clusters or self.namespaces or self.labels)

    @property
    def k8s_only(self) -> bool:
        """Namespace or label scopes see allocation rows only, never bill lines."""
        return bool(self.namespaces or self.labels)

    def allows(self, role: str) -> bool:
        """Whether this token's role is `role` or above."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def filter_values(self) -> dict[str, tuple[str, ...]]:
        """The hidden `scope_*` filters of api/query/filters.py (only the kinds narrowed)."""
        values = {
            "scope_cluster": self.clusters,
            "scope_namespace": self.namespaces,
            "scope_label": tuple(f"{k}:{v}" for k, v in self.labels),
        }
        return {name: given for name, given in values.items() if given}

    def sees_accounts(self, account_ids: Iterable[str]) -> list[str]:
        """The accounts (clusters) a cluster scope keeps; all of them without one."""
        return [a for a in account_ids if not self.clusters or a in self.clusters]

    def namespaces_within(self, wanted: Iterable[str]) -> tuple[str, ...] | None:
        """A namespace filter within the scope (None: nothing can match)."""
        wanted = tuple(wanted)
        if not self.namespaces:
            return wanted
        kept = tuple(n for n in wanted if n in self.namespaces) if wanted else self.namespaces
        return kept or None

    def covers(self, other: TokenScope) -> bool:
        """Whether `other`'s scope lies within this one: on every kind this one narrows,
        `other` narrows too, to some of its values (a showback report's scope)."""
        return all(
            not mine or (theirs and set(theirs) <= set(mine))
            for mine, theirs in (
                (self.clusters, other.clusters),
                (self.namespaces, other.namespaces),
                (self.labels, other.labels),
            )
        )

    def covers_budget(self, budget_scope: str) -> bool:
        """Whether a budget's scope lies within this token's: it sees and writes it then.
        A budget has one dimension, so a token narrowed on several kinds covers none."""
        if self.whole_organization:
            return True
        parts = parse_scope(budget_scope)
        kinds = [bool(self.clusters), bool(self.namespaces), bool(self.labels)]
        if sum(kinds) != 1:
            return False
        if "account" in parts:
            return parts["account"] in self.clusters
        if "namespace" in parts:
            return parts["namespace"] in self.namespaces
        if "key" in parts:
            return (parts["key"], parts["value"]) in self.labels
        return False

    def covers_alert(self, alert: Mapping[str, Any], budget_scopes: Mapping[str, str]) -> bool:
        """Whether an alert is about data within the scope: a budget's when the budget is
        covered; an anomaly's when its cluster is, and, for a namespace scope, when it is
        one of the scope's namespaces (a label scope has no anomaly of its own)."""
        if self.whole_organization:
            return True
        if alert.get("budget_id"):
            scope = budget_scopes.get(alert["budget_id"])
            return scope is not None and self.covers_budget(scope)
        if self.labels or (self.clusters and alert.get("cloud_account_id") not in self.clusters):
            return False
        return not self.namespaces or alert.get("namespace") in self.namespaces
