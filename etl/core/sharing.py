"""How shared K8s costs are spread: the sharing policy, declared once.

Who pays for the capacity no pod used (`__idle__`), for kube-system and the
monitoring stack, for a support contract outside the cluster? The stored allocation
stays unshared; a `SharingPolicy` says how a query spreads those costs over the
other groups (sql/queries/k8s_costs_shared.sql computes it in ClickHouse). The same
object is a request's parameters, an organization's stored defaults, a report's
options and the options of `k8scost sharing set`, so everything about it lives here:
each option's name, values, default and description (`OPTIONS`, from which
api/query/sharing.py builds the query fields and k8scost/sharing.py the click
options), its reading from any of those sources (`SharingPolicy.of`, `given_options`),
the defaults' resolution (`resolve`: the organization's defaults, then what was
given) and the parameters of the shared query (`sql_parameters`). The store module
(etl/storage/sharing.py) only reads and writes the defaults' document.

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
from dataclasses import asdict, dataclass
from typing import Any

from etl.core.money import BOUND_TEXT, money_problem

SHARE_IDLE = ("none", "weighted", "even")
IDLE_BY = ("cluster", "node")
SHARE_SPLIT = ("weighted", "even")
IDLE = "__idle__"
# What split_list and label_pair read, as a pattern of the whole text: comma-separated
# items, each blank or a key (not starting with a space) before a colon.
LABEL_LIST_PATTERN = r"^\s*(?:[^,:\s][^,:]*:[^,]*)?(?:,\s*(?:[^,:\s][^,:]*:[^,]*)?)*$"


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


CHOICE, LIST, NUMBER = "choice", "list", "number"


@dataclass(frozen=True)
class SharingOption:
    """One option of the policy, as the API's query parameter, the stored field and
    the command line's `--flag` (its name with dashes) all take it."""

    name: str
    # CHOICE (one of `choices`), LIST (comma-separated; empty: none) or NUMBER (USD).
    kind: str
    description: str
    choices: tuple[str, ...] = ()


OPTIONS = (
    SharingOption(
        "share_idle",
        CHOICE,
        "Spread `__idle__` over the groups (weighted: each resource's idle by the groups' "
        "cost of it; even: the same to each group); default none, or the organization's",
        SHARE_IDLE,
    ),
    SharingOption(
        "idle_by",
        CHOICE,
        "Spread a cluster's idle over its groups, or a node's over its own",
        IDLE_BY,
    ),
    SharingOption(
        "share_namespaces", LIST, "Namespaces whose cost is spread over the others (ns[,ns...])"
    ),
    SharingOption(
        "share_labels",
        LIST,
        "Pods whose cost is spread over the others (key:value[,key:value...],"
        " the pod's label else its namespace's)",
    ),
    SharingOption(
        "share_split",
        CHOICE,
        "How shared namespaces, labels and overhead are spread: by each group's cost, or even",
        SHARE_SPLIT,
    ),
    SharingOption(
        "shared_overhead_hourly",
        NUMBER,
        "USD per cluster-hour spread like shared namespaces (>= 0)",
    ),
)
OPTION_NAMES = tuple(option.name for option in OPTIONS)
KINDS = {option.name: option.kind for option in OPTIONS}


def given_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """The sharing options `values` gives: a request's query (other parameters beside
    them) or the command line's options (None when not given)."""
    return {name: values[name] for name in OPTION_NAMES if values.get(name) is not None}


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
        for option in OPTIONS:
            if option.kind == CHOICE and getattr(self, option.name) not in option.choices:
                raise SharingError(f"{option.name} must be one of {', '.join(option.choices)}")
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
        unknown = set(values) - set(OPTION_NAMES)
        if unknown:
            raise SharingError(f"unknown sharing options: {', '.join(sorted(unknown))}")
        given: dict[str, Any] = {}
        for name, value in values.items():
            if KINDS[name] == LIST:
                given[name] = split_list(value)
            elif KINDS[name] == NUMBER:
                try:
                    given[name] = float(value)
                except (TypeError, ValueError):
                    raise SharingError("shared_overhead_hourly must be a number") from None
            else:
                given[name] = value
        return cls(**given)

    @property
    def splits_evenly(self) -> bool:
        """Whether some cost goes the same to every group: an even split counts the
        groups, so it holds for one grouping only (OpenCost's API cannot regroup it)."""
        shares_pools = self.share_namespaces or self.share_labels or self.shared_overhead_hourly
        return self.share_idle == "even" or (self.share_split == "even" and bool(shares_pools))

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


def resolve(defaults: SharingPolicy, values: Mapping[str, Any]) -> SharingPolicy:
    """The policy a request, a report or `k8scost sharing set` means: the organization's
    stored `defaults` (the share-nothing policy without any) with the options `values`
    gives replaced, each on its own (an empty list shares none)."""
    return defaults.overridden(given_options(values))
