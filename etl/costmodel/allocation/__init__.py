"""The allocation of a cluster-day: its cost split down to the pod, plus idle and unmounted.

One row per pod uid (cpu, ram, gpu, pv, load balancer, network and its share of the
management fee, and the Services that select it), one `__idle__` row per node (what its
pods did not use), one `__unmounted__` row per PV or load balancer (what no pod used;
a load balancer's row names its Service), so that the rows add
up to the cluster's asset cost (etl/costmodel/assets.py), component by component. The formulas
and the running-time convention are in docs/allocation.md; `reconcile` checks the sum
every day. All of it is computed from the same PromQL answers as the asset view
(etl/metroculus/queries.py), a fixed set of queries whatever the number of pods.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from etl.core.answers import Answers, canonical
from etl.core.days import day_start_epoch
from etl.costmodel.allocation.assetsplit import (
    idle_costs,
    load_balancer_shares,
    management_shares,
    network_costs,
    pod_services,
    volume_shares,
)
from etl.costmodel.allocation.capacity import cap_to_node
from etl.costmodel.allocation.pods import CAPACITY_UNIT, containers, pods
from etl.costmodel.allocation.usage import (
    CONTAINER_DAY_COLUMNS,
    REQUESTED,
    USED,
    container_days,
)
from etl.costmodel.assets import CAPACITY, COMPONENTS, RESOURCES, DayCosts

IDLE = "__idle__"
UNMOUNTED = "__unmounted__"
# Fixed namespace so a row's key is the same on every run and machine.
ROW_ID_NAMESPACE = uuid.UUID("0f6c1d5e-7a2b-4c3d-9e8f-1a2b3c4d5e6f")
ATTRIBUTES = [
    "namespace",
    "controller_kind",
    "controller",
    "pod",
    "pod_uid",
    "node",
    "labels",
    "namespace_labels",
    "services",
    "price_flag",
]
AMOUNTS = ["running_hours", "cpu_core_hours", "ram_gib_hours", "gpu_hours", *REQUESTED]
ROW_COLUMNS = ["resource_id", *ATTRIBUTES, *AMOUNTS, *USED, *COMPONENTS, "cost"]
NEGATIVE_TOLERANCE = 1e-9
# A PV's part on one allocation row: the row's resource_id and whether it is the PV's
# own `__unmounted__` row (`unmounted`) or a pod's (`pod`).
VOLUME_PART_COLUMNS = ["persistentvolume", "holder", "holder_kind", "list_usd"]


@dataclass
class Allocation:
    """A cluster-day's allocation rows (ROW_COLUMNS) and what looked wrong in the data."""

    rows: pd.DataFrame
    issues: list[str] = field(default_factory=list)
    # Data that loads but must not pass unseen: containers ran and were allocated nothing.
    quality_failures: list[str] = field(default_factory=list)
    # Right-sizing's container-days (usage.CONTAINER_DAY_COLUMNS): requests, daily usage
    # quantiles and the prices paid, one row per running container.
    containers: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=CONTAINER_DAY_COLUMNS)
    )
    # Who carries each PV's cost (VOLUME_PART_COLUMNS): per PV, the rows (pods mounting
    # it, its `__unmounted__` row) and their part, for the reconciliation to the bill.
    volume_parts: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=VOLUME_PART_COLUMNS)
    )

    @property
    def breakdown(self) -> dict[str, float]:
        """Each component summed over every row: the cluster-day's breakdown."""
        return {column: float(self.rows[column].sum()) for column in COMPONENTS}

    @property
    def total(self) -> float:
        """The cluster-day's cost: the sum of every row."""
        return sum(self.breakdown.values())


def _special(kind: str, namespace: str, pod: str, node: str = "") -> dict[str, object]:
    return {
        "kind": kind,
        "namespace": namespace,
        "controller_kind": "",
        "controller": namespace,
        "pod": pod,
        "pod_uid": "",
        "node": node,
        "labels": {},
        "namespace_labels": {},
        "services": [],
        "price_flag": "",
    }


def _row_id(row: Mapping[str, object]) -> str:
    """A key per row and content: a rerun that changes a row's attributes replaces it.

    Services are part of it: a pod whose Services changed is a new key, so every copy of
    a key (cancel rows included) carries the same names.
    """
    identity = json.dumps([row["kind"], *(row[a] for a in ATTRIBUTES)], sort_keys=True)
    return str(uuid.uuid5(ROW_ID_NAMESPACE, identity))


def _pod_rows(
    pod_frame: pd.DataFrame,
    volumes: dict[str, dict[str, float]],
    balancers: dict[str, float],
    network: dict[str, float],
) -> pd.DataFrame:
    frame = pod_frame.rename(
        columns={
            "uid": "pod_uid",
            "cpu_amount_hours": "cpu_core_hours",
            "ram_amount_hours": "ram_gib_hours",
            "gpu_amount_hours": "gpu_hours",
        }
    ).assign(kind="pod")
    pod_volumes: dict[str, float] = {}
    for split in volumes.values():  # PVs in name order: one sum order on every run
        for uid, dollars in split.items():
            pod_volumes[uid] = pod_volumes.get(uid, 0.0) + dollars
    for column, shares in (
        ("pv_cost", pod_volumes),
        ("load_balancer_cost", balancers),
        ("network_cost", network),
    ):
        frame[column] = frame["pod_uid"].map(shares).fillna(0.0)
    return frame


def _idle_rows(idle: pd.DataFrame) -> pd.DataFrame:
    rows = pd.DataFrame([_special("idle", IDLE, IDLE, node) for node in idle["node"]])
    if rows.empty:
        return rows
    rows["price_flag"] = idle["price_flag"].to_numpy()
    rows["running_hours"] = idle["running_hours"].to_numpy()
    for r, amount in (("cpu", "cpu_core_hours"), ("ram", "ram_gib_hours"), ("gpu", "gpu_hours")):
        rows[f"{r}_cost"] = idle[f"{r}_cost"].to_numpy()
        rows[amount] = idle[f"{r}_amount_hours"].to_numpy()
    return rows


def _unmounted_rows(
    volumes: pd.Series, balancers: dict[tuple[str, str], float], orphans: pd.DataFrame
) -> pd.DataFrame:
    rows = [
        {**_special("pv", UNMOUNTED, f"persistentvolume/{pv}"), "pv_cost": cost}
        for pv, cost in volumes.items()
    ] + [
        {
            **_special("lb", UNMOUNTED, f"service/{namespace}/{service}"),
            "services": [service],
            "load_balancer_cost": cost,
        }
        for (namespace, service), cost in balancers.items()
    ]
    # Egress of a pod name no running pod had today: kept in its namespace, unowned.
    rows += [
        {**_special("network", namespace, pod), "controller": "", "network_cost": cost}
        for namespace, pod, cost in orphans.itertuples(index=False)
    ]
    return pd.DataFrame(rows)


SHOWN = 5


def _unjoined(containers_frame: pd.DataFrame) -> list[str]:
    """The containers that ran on no known node: no allocation series matched them."""
    lost = containers_frame[containers_frame["node"] == ""]
    if lost.empty:
        return []
    names = [
        f"{n}/{p}/{c}"
        for n, p, c in lost[["namespace", "pod", "container"]].itertuples(index=False)
    ]
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return [
        f"{len(names)} of {len(containers_frame)} running containers matched no "
        "container_*_allocation series by (namespace, pod, container) and no node in "
        "kube_pod_container_resource_requests, so their cost stays in __idle__: "
        f"{', '.join(names[:SHOWN])}{more}"
    ]


def _quality_failures(rows: pd.DataFrame, containers_frame: pd.DataFrame) -> list[str]:
    """Containers ran on priced nodes, yet the pods were allocated no compute at all."""
    compute = [f"{r}_cost" for r in RESOURCES]
    pods_cost = float(rows.loc[rows["kind"] == "pod", compute].to_numpy().sum())
    nodes_cost = float(rows[compute].to_numpy().sum())
    if containers_frame.empty or pods_cost != 0 or nodes_cost <= 0:
        return []
    return [
        f"{len(containers_frame)} containers ran, but their allocated cpu/ram/gpu cost is "
        f"$0: all {nodes_cost:.6f} USD of node cost is idle (their series could not be joined)"
    ]


def _unreported(containers_frame: pd.DataFrame) -> list[str]:
    """Containers kube-state-metrics did not report: their lives are their series'."""
    count = int((containers_frame["lived_by"] == "allocation").sum())
    if not count:
        return []
    return [
        f"{count} of {len(containers_frame)} running containers had no "
        "kube_pod_container_status_running series: their running time is that of their "
        "container_cpu_allocation series"
    ]


def _over_capacity(containers_frame: pd.DataFrame) -> list[str]:
    """The nodes whose containers asked for more than the node has at some instant: the
    ones etl/costmodel/allocation/capacity.py scaled (kept below amount x hours)."""
    issues = []
    for r, unit in (("cpu", "cores"), ("ram", "GiB"), ("gpu", "GPUs")):
        asked = containers_frame[f"{r}_amount"] * containers_frame["hours"]
        scaled = containers_frame[containers_frame[f"{r}_amount_hours"] < asked * (1 - 1e-12)]
        for node, group in scaled.groupby("node", sort=True):
            kept = group[f"{r}_amount_hours"].sum()
            issues.append(
                f"node {node}: its containers asked for more {r} than it has at some instant "
                f"({asked[group.index].sum():.6g} {unit}-hours, {kept:.6g} kept): scaled to "
                "its capacity"
            )
    return issues


def _issues(rows: pd.DataFrame, containers_frame: pd.DataFrame, nodes: pd.DataFrame) -> list[str]:
    placed = containers_frame[containers_frame["node"] != ""]
    issues = (
        _unjoined(containers_frame)
        + _unreported(containers_frame)
        + _over_capacity(containers_frame)
        + [
            f"pod {namespace}/{pod} ran on {node} without a capacity series: "
            "priced with the account's cost model (flagged)"
            for namespace, pod, node in placed.loc[
                ~placed["node"].isin(nodes["node"]), ["namespace", "pod", "node"]
            ]
            .drop_duplicates()
            .itertuples(index=False)
        ]
    )
    for column in ("cpu_cost", "ram_cost", "gpu_cost", "pv_cost"):
        negative = rows[
            (rows["namespace"].isin([IDLE, UNMOUNTED])) & (rows[column] < -NEGATIVE_TOLERANCE)
        ]
        issues += [
            f"{row.namespace} {row.node or row.pod}: pods were allocated {-row[column]:.6f} USD "
            f"more {column.removesuffix('_cost')} than it costs"
            for _, row in negative.iterrows()
        ]
    return issues


def allocate(
    answers: Answers,
    day: date,
    step_s: int,
    assets: DayCosts,
    model: Mapping[str, float],
) -> Allocation:
    """The cluster-day's allocation from the PromQL answers and its asset view `assets`.

    `step_s` is the cluster's scrape interval, `model` the account's cost model.
    """
    answers = canonical(answers)
    step_h = step_s / 3600
    nodes = assets.nodes.assign(life_hours=assets.nodes["life_steps"] * step_h)
    for r in RESOURCES:
        capacity = nodes[CAPACITY[r]] * CAPACITY_UNIT[r]
        nodes[f"{r}_capacity_hours"] = capacity * nodes["life_hours"]
    running = containers(answers, day, step_s, nodes, model)
    pod_frame = pods(answers, running)
    capped = cap_to_node(pod_frame, nodes, RESOURCES)
    pod_frame["services"] = pod_services(answers, pod_frame)
    volumes, unmounted_volumes = volume_shares(answers, pod_frame, assets.volumes, step_s)
    balancers, unmounted_balancers = load_balancer_shares(
        answers, pod_frame, step_s, day_start_epoch(day)
    )
    network, orphans = network_costs(answers, pod_frame)
    frames = [
        _pod_rows(pod_frame, volumes, balancers, network),
        _idle_rows(idle_costs(nodes, pod_frame)),
        _unmounted_rows(unmounted_volumes, unmounted_balancers, orphans),
    ]
    rows = pd.concat([frame for frame in frames if not frame.empty], ignore_index=True)
    rows = rows.reindex(columns=["kind", *ROW_COLUMNS])
    for column in [*AMOUNTS, *COMPONENTS]:
        rows[column] = rows[column].astype("float64").fillna(0.0)
    rows[USED] = rows[USED].astype("float64")  # NaN: no usage series (stored NULL)
    compute = rows[[f"{r}_cost" for r in RESOURCES]].sum(axis=1)
    rows["management_cost"] = management_shares(assets.breakdown["management_cost"], compute)
    rows["cost"] = rows[list(COMPONENTS)].sum(axis=1)
    rows["resource_id"] = [_row_id(row) for row in rows.to_dict("records")]
    issues = _issues(rows, running, assets.nodes) + capped
    failures = _quality_failures(rows, running)
    return Allocation(
        rows=rows[ROW_COLUMNS],
        issues=issues,
        quality_failures=failures,
        containers=container_days(answers, running, pod_frame),
        volume_parts=_volume_parts(rows, volumes, unmounted_volumes),
    )


def _volume_parts(
    rows: pd.DataFrame, volumes: dict[str, dict[str, float]], unmounted: pd.Series
) -> pd.DataFrame:
    """Per PV, the allocation rows carrying its cost and their part (VOLUME_PART_COLUMNS):
    the pods' shares, and its `__unmounted__` row's rest (every PV of the asset view has
    one, so a PV's parts add up to its cost)."""
    pod_rows = rows[rows["kind"] == "pod"]
    by_uid = dict(zip(pod_rows["pod_uid"], pod_rows["resource_id"], strict=True))
    spare = rows[rows["kind"] == "pv"]
    by_volume = dict(zip(spare["pod"], spare["resource_id"], strict=True))
    parts = [
        [volume, by_uid[uid], "pod", dollars]
        for volume, split in volumes.items()
        for uid, dollars in split.items()
    ] + [
        [volume, by_volume[f"persistentvolume/{volume}"], "unmounted", dollars]
        for volume, dollars in unmounted.items()
    ]
    return pd.DataFrame(parts, columns=VOLUME_PART_COLUMNS)
