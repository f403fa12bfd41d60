"""How shared K8s costs are spread: the sharing policy, declared once.

Who pays for the capacity no pod used (`__idle__`), for kube-system and the
monitoring stack, for a support contract outside the cluster? The stored allocation
stays unshared; a `SharingPolicy` says how a query spreads those costs over the
other groups (sql/queries/k8s_costs_shared.sql computes it in ClickHouse). The same
object is a request's parameters (api/query/sharing.py), an organization's stored
defaults (etl/storage/sharing.py) and the options of `k8scost sharing set`, so each
option's name, values and default are written here only.

- `share_idle`: `none` (idle stays its own `__idle__` group), `weighted` (each
  resource's idle to the groups in proportion to their cost of that resource, the
  rest of idle's cost, its management share, by their cpu + ram + gpu cost:
  OpenCost's weighted `shareIdle`), `even` (the same dollars to every group);
- `idle_by`: `cluster` (a cluster-day's idle over its groups) or `node` (a node's
  idle only to the groups that ran on it);
- `share_namespaces`, `share_labels` (`key:value`, the pod's label else its
  namespace's): those rows' cost is spread over the other groups, by `share_split`
  (`weighted` by each group's own cost, or `even`);
- `shared_overhead_hourly`: USD per cluster-hour (24 per stored cluster-day; at most the
  money bound of etl/core/money.py), spread
  by `share_split` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from etl.core.money import BOUND_TEXT, money_problem

SHARE_IDLE = ("none", "weighted", "even")
IDLE_BY = ("cluster", "node")
SHARE_SPLIT = ("weighted", "even")
IDLE = "__idle__"


class SharingError(ValueError):
    """A sharing option with a value it cannot take (a 400 problem in the API)."""


def split_list(text: str | Iterable[str]) -> tuple[str, ...]:
    """`a,b` (or a list of such texts) as ('a', 'b'); blanks dropped, order kept, once each."""
    parts = [text] if isinstance(text, str) else list(text)
    found = [item.strip() for part in parts for item in part.split(",")]
    return tuple(dict.fromkeys(item for item in found if item))


def label_pair(text: str, what: str = "share_labels") -> tuple[str, str]:
    """`key:value` as (key, value); a SharingError (naming `what`) without a key or a
    colon. The one reading of a label pair: the API's label filters use it too."""
    key, separator, value = text.partition(":")
    if not separator or not key:
        raise SharingError(f"{what} {text!r} must be key:value")
    return key, value


@dataclass(frozen=True)
class SharingPolicy:
    """One way of spreading shared costs; the default shares nothing (today's answer)."""

    share_idle: str = "none"
    idle_by: str = "cluster"
    share_namespaces: tuple[str, ...] = ()
    share_labels: tuple[str, ...] = ()
    share_split: str = "weighted"
    shared_overhead_hourly: float = 0.0

    def __post_init__(self) -> None:
        for name, allowed in (
            ("share_idle", SHARE_IDLE),
            ("idle_by", IDLE_BY),
            ("share_split", SHARE_SPLIT),
        ):
            if getattr(self, name) not in allowed:
                raise SharingError(f"{name} must be one of {', '.join(allowed)}")
        overhead = self.shared_overhead_hourly
        if not isinstance(overhead, int | float) or money_problem(overhead) or overhead < 0:
            raise SharingError(
                f"shared_overhead_hourly must be a number of USD >= 0 and <= {BOUND_TEXT}"
            )
        if IDLE in self.share_namespaces:
            raise SharingError(f"share_namespaces: {IDLE} is shared by share_idle")
        for text in self.share_labels:
            label_pair(text)

    @property
    def active(self) -> bool:
        """Whether anything is shared (else the answer is the unshared one)."""
        return self != SharingPolicy()

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> SharingPolicy:
        """A policy from option values (lists as lists or comma-separated texts); the
        options not given keep their defaults, unknown names are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise SharingError(f"unknown sharing options: {', '.join(sorted(unknown))}")
        given: dict[str, Any] = {}
        for name, value in values.items():
            if name in ("share_namespaces", "share_labels"):
                given[name] = split_list(value)
            elif name == "shared_overhead_hourly":
                try:
                    given[name] = float(value)
                except (TypeError, ValueError):
                    raise SharingError("shared_overhead_hourly must be a number") from None
            else:
                given[name] = value
        return cls(**given)

    def overridden(self, values: Mapping[str, Any]) -> SharingPolicy:
        """This policy with the options in `values` replaced (a request over defaults)."""
        return SharingPolicy.of({**self.document(), **values})

    def document(self) -> dict[str, Any]:
        """The policy as plain values (lists as lists): what MongoDB stores and the API echoes."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in asdict(self).items()
        }

    def sql_parameters(self, per_cluster: bool = False) -> dict[str, Any]:
        """The parameters of sql/queries/k8s_costs_shared.sql; `per_cluster` keeps each
        cluster's groups apart (clean_expenses costs its cluster items from them)."""
        pairs = [label_pair(text) for text in self.share_labels]
        return {
            "per_cluster": int(per_cluster),
            "share_idle": self.share_idle,
            "idle_by": self.idle_by,
            "share_namespaces": list(self.share_namespaces),
            "share_label_keys": [key for key, _ in pairs],
            "share_label_values": [value for _, value in pairs],
            "share_split": self.share_split,
            "overhead_hourly": float(self.shared_overhead_hourly),
        }
