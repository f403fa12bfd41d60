"""The split of the shared assets among pods: volumes, load balancers, egress, node
capacity (idle) and the management fee.

Not the sharing of costs between groups at query time (etl/core/sharing.py): this
splits one cluster-day's asset costs into the stored allocation rows.

- PV: a pod mounts a claim while both the claim's mount series (by pod name) and the
  pod (by uid: a recreated pod reuses the name) live; the pods mounting a claim at an
  instant split its request x the PV's price at that instant equally; the PV's cost
  beyond that (unclaimed bytes, unmounted hours) is unmounted.
- Load balancer: its cost (rate x hours) is split equally between the pods its
  selector matches that run at each instant (a sweep over their running intervals);
  while none runs, it is unmounted.
- Services: a pod belongs to the Services of its namespace whose selector matches its
  labels (any Service, load balancer or not; an empty selector selects nothing), by
  the same matching as the load balancer split.
- Network: each egress counter series (namespace, pod name, class) priced per class;
  a name several pods used in the day (a recreated pod) is split in proportion to
  their running hours, since the counter has no uid.
- Idle: per node, its asset cost minus what the pods on it were allocated.
- Management fee: split in proportion to each row's cpu + ram + gpu cost, idle
  included (a negative one counts as zero).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from etl.core.answers import Answers
from etl.costmodel.allocation.prices import StepFunction, pieces, price_at
from etl.costmodel.assets import GIB, RESOURCES, network_class

LABEL_PREFIX = "label_"
CLAIM = ["namespace", "pod", "persistentvolume"]


def _sweep(
    rate: StepFunction, start: float, end: float, members: pd.DataFrame
) -> tuple[dict[str, float], float]:
    """Split a rate ($/h, a step function of time) over [start, end) equally between the
    members (uid, start, end) running at each instant: (dollars per uid, dollars while
    none ran)."""
    changes = rate[0][(rate[0] > start) & (rate[0] < end)]
    inside = members["start"].clip(start, end), members["end"].clip(start, end)
    cuts = np.unique(np.concatenate([[start, end], changes, inside[0], inside[1]]))
    t0, t1 = cuts[:-1], cuts[1:]
    running = (members["start"].to_numpy()[:, None] <= t0) & (
        members["end"].to_numpy()[:, None] >= t1
    )
    counts = running.sum(axis=0)
    dollars = price_at(rate, t0) * (t1 - t0) / 3600
    alone = float(dollars[counts == 0].sum())
    per_member = running @ np.divide(dollars, counts, out=np.zeros_like(dollars), where=counts > 0)
    return dict(zip(members["uid"], per_member.tolist(), strict=True)), alone


def volume_shares(
    answers: Answers, pods: pd.DataFrame, volumes: pd.DataFrame, step_s: int
) -> tuple[dict[str, dict[str, float]], pd.Series]:
    """(per PV, its cost per mounting pod uid; what each PV costs beyond its mounts).

    Kept per PV, not only per pod: the reconciliation to the bill prices each PV's part
    of a pod's pv cost by that PV's bill (etl/costmodel/pvdays.py)."""
    claims = (
        answers["claim_first_seen"]
        .merge(answers["claim_last_seen"], on=CLAIM, suffixes=("_first", "_last"))
        .merge(answers["claim_bytes"].rename(columns={"value": "bytes"}), on=CLAIM, how="left")
    )
    mounts = claims.merge(
        pods[["uid", "namespace", "pod", "start", "end"]], on=["namespace", "pod"]
    )
    # Within the pod's life (already inside the day) and the claim's mount series' life.
    mounts["start"] = np.maximum(mounts["start"], mounts["value_first"])
    mounts["end"] = np.minimum(mounts["end"], mounts["value_last"] + step_s)
    mounts = mounts[mounts["end"] > mounts["start"]]
    table = pieces(answers["pv_price_changes"], "persistentvolume")
    shares: dict[str, dict[str, float]] = {}
    allocated: dict[str, float] = {}
    for volume, group in mounts.groupby("persistentvolume"):
        if volume not in table:
            continue
        gib = group["bytes"].fillna(0.0).max() / GIB
        at, price, cumulative = table[volume]
        split, _ = _sweep(
            (at, price * gib, cumulative * gib), group["start"].min(), group["end"].max(), group
        )
        shares[volume] = split
        allocated[volume] = sum(split.values())
    assets = volumes.set_index("persistentvolume")["pv_cost"]
    unmounted = assets.subtract(pd.Series(allocated, dtype="float64"), fill_value=0.0)
    return shares, unmounted


def _selector(text: str) -> dict[str, str]:
    return {
        name.removeprefix(LABEL_PREFIX): value
        for name, value in json.loads(text).items()
        if name.startswith(LABEL_PREFIX)
    }


def _service_selectors(answers: Answers) -> dict[tuple[str, str], dict[str, str]]:
    """(namespace, service) -> its selector (pod label -> value) from `service_selectors`."""
    return {
        (namespace, service): _selector(text)
        for namespace, service, text in answers["service_selectors"][
            ["namespace", "service", "labels"]
        ].itertuples(index=False)
    }


def _selects(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    """Kubernetes' rule: every pair of a non-empty selector is among the pod's labels."""
    return bool(selector) and selector.items() <= labels.items()


def pod_services(answers: Answers, pods: pd.DataFrame) -> list[list[str]]:
    """Per pod (row of `pods`): the sorted names of the Services of its namespace that
    select it, so that a name filter finds the pods a Service sends traffic to."""
    by_namespace: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for (namespace, service), selector in sorted(_service_selectors(answers).items()):
        by_namespace.setdefault(namespace, []).append((service, selector))
    return [
        [
            service
            for service, selector in by_namespace.get(namespace, [])
            if _selects(selector, labels)
        ]
        for namespace, labels in zip(pods["namespace"], pods["labels"], strict=True)
    ]


def load_balancer_shares(
    answers: Answers, pods: pd.DataFrame, step_s: int, day_lo: int
) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """(load balancer cost per pod uid, unmounted cost per (namespace, service))."""
    rates = answers["load_balancer_rate_samples"]
    lives = answers["load_balancer_first_seen"].merge(
        answers["load_balancer_last_seen"],
        on=["namespace", "service_name"],
        suffixes=("_first", "_last"),
    )
    selectors = _service_selectors(answers)
    shares: dict[str, float] = {}
    unmounted: dict[tuple[str, str], float] = {}
    for namespace, service, samples in rates[["namespace", "service_name", "value"]].itertuples(
        index=False
    ):
        dollars = samples * step_s / 3600
        life = lives[(lives["namespace"] == namespace) & (lives["service_name"] == service)]
        start = max(float(life["value_first"].min()), day_lo) if len(life) else 0.0
        end = min(float(life["value_last"].max()) + step_s, day_lo + 86400) if len(life) else 0.0
        selector = selectors.get((namespace, service))
        members = pods[
            (pods["namespace"] == namespace)
            & np.array([_selects(selector, labels) for labels in pods["labels"]], dtype=bool)
        ]
        if end <= start:
            unmounted[namespace, service] = dollars
            continue
        rate = dollars / ((end - start) / 3600)
        split, alone = _sweep(
            (np.array([start]), np.array([rate]), np.zeros(1)), start, end, members
        )
        for uid, share in split.items():
            shares[uid] = shares.get(uid, 0.0) + share
        unmounted[namespace, service] = alone
    return shares, unmounted


def network_costs(answers: Answers, pods: pd.DataFrame) -> tuple[dict[str, float], pd.DataFrame]:
    """(network cost per pod uid, cost of names no running pod had: namespace, pod, cost)."""
    egress = answers["pod_network_egress_bytes"]
    prices = dict(
        zip(
            answers["network_class_price"]["class"],
            answers["network_class_price"]["value"],
            strict=True,
        )
    )
    classes = [
        network_class(*labels)
        for labels in egress[["internet", "same_zone", "same_region"]].itertuples(index=False)
    ]
    egress = egress.assign(
        cost=egress["value"] / GIB * np.array([prices.get(c, 0.0) for c in classes], dtype=float)
    )
    by_name = egress.groupby(["namespace", "pod_name"], as_index=False)["cost"].sum()
    named = pods[["uid", "namespace", "pod", "running_hours"]].rename(columns={"pod": "pod_name"})
    joined = by_name.merge(named, on=["namespace", "pod_name"], how="left")
    hours = joined.groupby(["namespace", "pod_name"])["running_hours"].transform("sum")
    joined["share"] = joined["cost"] * joined["running_hours"] / hours
    found = joined.dropna(subset=["uid"])
    orphans = joined[joined["uid"].isna()][["namespace", "pod_name", "cost"]]
    return dict(zip(found["uid"], found["share"], strict=True)), orphans


def idle_costs(nodes: pd.DataFrame, pods: pd.DataFrame) -> pd.DataFrame:
    """Per node with a life: its cpu/ram/gpu cost (and amount-hours) minus its pods'."""
    columns = [f"{r}_{part}" for r in RESOURCES for part in ("cost", "amount_hours")]
    used = pods.groupby("node")[columns].sum()
    idle = nodes[nodes["life_steps"] > 0].set_index("node")
    capacity = {"cpu": idle["cpu_cores"], "ram": idle["ram_bytes"] / GIB, "gpu": idle["gpu_count"]}
    hours = idle["life_hours"]
    frame = pd.DataFrame(index=idle.index)
    for r in RESOURCES:
        frame[f"{r}_cost"] = idle[f"{r}_cost"]
        frame[f"{r}_amount_hours"] = capacity[r] * hours
    frame = frame.subtract(used.reindex(frame.index).fillna(0.0))
    frame["price_flag"] = idle["price_flag"]
    frame["running_hours"] = hours
    return frame.reset_index()


def management_shares(fee: float, compute: pd.Series) -> pd.Series:
    """The fee split in proportion to `compute` (cpu + ram + gpu cost, negatives as 0)."""
    weights = compute.clip(lower=0.0)
    total = weights.sum()
    if total <= 0:
        return pd.Series(fee / len(compute) if len(compute) else 0.0, index=compute.index)
    return fee * weights / total
