"""Containers -> pods: running time, cpu/ram/gpu cost, controller and labels, keyed by uid.

A container runs over [first, last + R) clipped to the day, where first and last are
the steps at which kube-state-metrics last reported it running (== 1, never the 0 it
keeps reporting for a completed pod). Its amount of each resource is the larger of
its day-average allocation and request (OpenCost's allocation is already
max(request, usage)), and its cost is that amount times its node's price summed over
its running time (exact when a spot price moves: etl/allocation/prices.py), or times
its running hours and the cost model's price when its node has none (or an
implausible one).

A container is flagged (`price_flag`) when a fallback price priced a resource it
uses. Everything is keyed by pod uid: a pod recreated under the same name (a StatefulSet)
is another pod, with its own node, hours and cost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd

from etl.allocation.prices import pieces, price_hours
from etl.costs import COST_MODEL_FLAG, GIB, MODEL_KEYS, RESOURCES
from etl.days import day_start_epoch
from etl.queries import Answers

CONTAINER = ["uid", "container"]
# kube_pod_container_resource_requests' `resource` label -> ours.
REQUEST_RESOURCES = {"cpu": "cpu", "memory": "ram", "nvidia_com_gpu": "gpu"}
ALLOCATION_QUERIES = {
    "cpu": "container_cpu_allocation",
    "ram": "container_ram_allocation",
    "gpu": "container_gpu_allocation",
}
LABEL_PREFIX = "label_"


def _per_container(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """uid, container and the largest `value` of each, as column `name`."""
    grouped = frame.groupby(CONTAINER, as_index=False)["value"].max()
    return grouped.rename(columns={"value": name})


def _running(answers: Answers, day: date, step_s: int) -> pd.DataFrame:
    """uid, container, namespace, pod, start, end, hours of the containers that ran."""
    lo = day_start_epoch(day)
    first = answers["container_first_seen"].rename(columns={"value": "first"})
    last = answers["container_last_seen"][[*CONTAINER, "value"]].rename(columns={"value": "last"})
    frame = first.merge(last, on=CONTAINER)
    frame["start"] = frame["first"].clip(lower=lo)
    frame["end"] = (frame["last"] + step_s).clip(upper=lo + 86400)
    frame = frame[frame["end"] > frame["start"]].drop(columns=["first", "last"])
    frame["hours"] = (frame["end"] - frame["start"]) / 3600
    return frame.reset_index(drop=True)


def _amounts(answers: Answers, frame: pd.DataFrame) -> pd.DataFrame:
    """Add `node` and `{r}_amount` (cores, GiB, GPUs): max(avg allocation, avg request)."""
    requests = answers["container_requests"].assign(
        resource=lambda f: f["resource"].map(REQUEST_RESOURCES)
    )
    for r, query in ALLOCATION_QUERIES.items():
        allocation = (
            answers[query]
            .groupby(CONTAINER, as_index=False)
            .agg(**{f"{r}_node": ("node", "first"), f"{r}_alloc": ("value", "max")})
        )
        request = _per_container(requests[requests["resource"] == r], f"{r}_request")
        frame = frame.merge(allocation, on=CONTAINER, how="left").merge(
            request, on=CONTAINER, how="left"
        )
        amount = frame[[f"{r}_alloc", f"{r}_request"]].max(axis=1).fillna(0.0)
        frame[f"{r}_amount"] = amount / GIB if r == "ram" else amount
    frame["node"] = frame["cpu_node"].fillna(frame["ram_node"]).fillna("")
    return frame.drop(
        columns=[f"{r}_{part}" for r in RESOURCES for part in ("node", "alloc", "request")]
    )


def containers(
    answers: Answers,
    day: date,
    step_s: int,
    nodes: pd.DataFrame,
    model: Mapping[str, float],
) -> pd.DataFrame:
    """Per running container: where, how long, how much, and its cpu/ram/gpu cost."""
    frame = _amounts(answers, _running(answers, day, step_s))
    known = nodes.set_index("node")
    on_known = frame["node"].isin(known.index)
    flag = frame["node"].map(known["price_flag"]).where(on_known, COST_MODEL_FLAG).fillna("")
    frame["price_flag"] = ""
    for r in RESOURCES:
        table = pieces(answers[f"node_{r}_price_changes"], "node")
        integral = price_hours(table, frame["node"], frame["start"], frame["end"])
        fallback = frame["node"].map(known[f"{r}_fallback"]).where(on_known, True).astype(bool)
        price = frame["node"].map(known[f"{r}_price"]).where(on_known, model[MODEL_KEYS[r]])
        paid = np.where(fallback, frame["hours"] * price, np.nan_to_num(integral))
        frame[f"{r}_cost"] = frame[f"{r}_amount"] * paid
        # Flagged when a fallback price priced something it uses.
        frame.loc[fallback & (frame[f"{r}_amount"] > 0), "price_flag"] = flag
        frame[f"{r}_amount_hours"] = frame[f"{r}_amount"] * frame["hours"]
    return frame


def _label_maps(frame: pd.DataFrame, key: str) -> dict[str, dict[str, str]]:
    """key -> {label: value} from a `label_map` answer (kube-state-metrics' label_* names)."""
    found: dict[str, dict[str, str]] = {}
    for value, text in zip(frame[key], frame["labels"], strict=True):
        labels = found.setdefault(value, {})
        for name, label in json.loads(text).items():
            if name.startswith(LABEL_PREFIX):
                labels[name.removeprefix(LABEL_PREFIX)] = label
    return found


def _controllers(answers: Answers, uids: pd.Index, namespaces: pd.Series) -> list[tuple]:
    """(controller_kind, controller) per pod; a ReplicaSet is resolved to its Deployment."""
    owners = answers["pod_owners"]
    owner = dict(
        zip(
            owners["uid"], zip(owners["owner_kind"], owners["owner_name"], strict=True), strict=True
        )
    )
    sets = answers["replicaset_owners"]
    parent = dict(
        zip(
            zip(sets["namespace"], sets["replicaset"], strict=True),
            zip(sets["owner_kind"], sets["owner_name"], strict=True),
            strict=True,
        )
    )
    found = []
    for uid, namespace in zip(uids, namespaces, strict=True):
        kind, name = owner.get(uid, ("", ""))
        if kind == "ReplicaSet":
            kind, name = parent.get((namespace, name), (kind, name))
        found.append((kind, name))
    return found


def pods(answers: Answers, frame: pd.DataFrame) -> pd.DataFrame:
    """Roll containers up to pods (one row per uid) with their controller and labels."""
    sums = {
        f"{r}_{part}": (f"{r}_{part}", "sum")
        for r in RESOURCES
        for part in ("cost", "amount_hours")
    }
    grouped = frame.groupby("uid", sort=True).agg(
        namespace=("namespace", "first"),
        pod=("pod", "first"),
        node=("node", "first"),
        start=("start", "min"),
        end=("end", "max"),
        price_flag=("price_flag", "max"),
        **sums,
    )
    grouped["running_hours"] = (grouped["end"] - grouped["start"]) / 3600
    owned = _controllers(answers, grouped.index, grouped["namespace"])
    grouped["controller_kind"] = [kind for kind, _ in owned]
    grouped["controller"] = [name for _, name in owned]
    pod_labels = _label_maps(answers["pod_labels"], "uid")
    namespace_labels = _label_maps(answers["namespace_labels"], "namespace")
    grouped["labels"] = [pod_labels.get(uid, {}) for uid in grouped.index]
    grouped["namespace_labels"] = [namespace_labels.get(ns, {}) for ns in grouped["namespace"]]
    return grouped.reset_index()
