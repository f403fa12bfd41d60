"""Containers -> pods: running time, cpu/ram/gpu cost, controller and labels, keyed by uid.

A container runs over [first, last + R) clipped to the day, where first and last are
the steps at which kube-state-metrics last reported it running (== 1, never the 0 it
keeps reporting for a completed pod). Its amount of each resource is the larger of
its day-average allocation and request (OpenCost's allocation is already
max(request, usage)), and its cost is that amount times its node's price summed over
its running time (exact when a spot price moves: etl/costmodel/allocation/prices.py), or times
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

from etl.core.answers import Answers
from etl.core.days import day_start_epoch
from etl.costmodel.allocation import usage
from etl.costmodel.allocation.capacity import PriceHours, fit_to_capacity
from etl.costmodel.allocation.prices import Pieces, cumulative, pieces, price_hours
from etl.costmodel.assets import CAPACITY, COST_MODEL_FLAG, GIB, MODEL_KEYS, RESOURCES

CONTAINER = ["namespace", "pod", "container"]
POD = ["namespace", "pod"]
# kube_pod_container_resource_requests' `resource` label -> ours.
REQUEST_RESOURCES = {"cpu": "cpu", "memory": "ram", "nvidia_com_gpu": "gpu"}
ALLOCATION_QUERIES = {
    "cpu": "container_cpu_allocation",
    "ram": "container_ram_allocation",
    "gpu": "container_gpu_allocation",
}
LABEL_PREFIX = "label_"
# The asset view's capacity columns in the allocation's units (cores, GiB, GPUs).
CAPACITY_UNIT = {"cpu": 1.0, "ram": 1 / GIB, "gpu": 1.0}


def joined(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """`left` x `right` on the names `on`, and on `uid` only where both sides carry one.

    Why: the name is what every exporter sends; the uid is what tells apart two pods
    of one name within a day, but OpenCost's allocation series and its kube_pod_owner
    have none (docs/exporters.md). `left` keeps its `uid`; the right one is dropped.
    """
    pairs = left.merge(right, on=on, how="inner", suffixes=("", "_right"))
    if "uid_right" not in pairs:
        return pairs
    theirs = pairs["uid_right"].fillna("")
    keep = (theirs == "") | (pairs["uid"] == "") | (theirs == pairs["uid"])
    return pairs[keep].drop(columns="uid_right")


def _lives(first_seen: pd.DataFrame, last_seen: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    first = first_seen[[*keys, "value"]].rename(columns={"value": "first"})
    last = last_seen[[*keys, "value"]].rename(columns={"value": "last"})
    return first.merge(last, on=keys)


def _running(answers: Answers, day: date, step_s: int) -> pd.DataFrame:
    """Per container that ran: its names, pod `uid` ("" where none is sent), start, end,
    hours, `lived_by` (which series gave its life) and `row` (its position).

    Lives come from kube-state-metrics' running series; a container with none (no
    kube-state-metrics, nor OpenCost's own emitter of it) takes the life of its
    allocation series, which OpenCost emits only while the container runs.
    """
    lo = day_start_epoch(day)
    keys = [*CONTAINER, "uid"]
    frame = _lives(answers["container_first_seen"], answers["container_last_seen"], keys)
    series = _lives(
        answers["container_allocation_first_seen"],
        answers["container_allocation_last_seen"],
        [*keys, "node"],
    )
    named = frame[CONTAINER].drop_duplicates().assign(known=True)
    alone = series.merge(named, on=CONTAINER, how="left")
    alone = (
        alone[alone["known"].isna()]
        .groupby(keys, as_index=False)
        .agg(first=("first", "min"), last=("last", "max"))
    )
    frame = pd.concat(
        [frame.assign(lived_by="running"), alone.assign(lived_by="allocation")],
        ignore_index=True,
    )
    frame["start"] = frame["first"].clip(lower=lo)
    frame["end"] = (frame["last"] + step_s).clip(upper=lo + 86400)
    frame = frame[frame["end"] > frame["start"]].drop(columns=["first", "last"])
    frame["hours"] = (frame["end"] - frame["start"]) / 3600
    frame = frame.reset_index(drop=True)
    frame["row"] = frame.index
    return frame


def _allocation_series(answers: Answers) -> pd.DataFrame:
    """One row per allocation series (names, uid, node): its life and cpu/ram/gpu values."""
    keys = [*CONTAINER, "uid", "node"]
    series = answers["container_allocation_first_seen"].rename(columns={"value": "first"})
    series = series.merge(
        answers["container_allocation_last_seen"].rename(columns={"value": "last"}),
        on=keys,
        how="outer",
    )
    for r, query in ALLOCATION_QUERIES.items():
        values = answers[query].groupby(keys, as_index=False)["value"].max()
        series = series.merge(values.rename(columns={"value": f"{r}_alloc"}), on=keys, how="outer")
    return series


def _allocations(running: pd.DataFrame, answers: Answers, step_s: int) -> pd.DataFrame:
    """Per running container (`row`): its node and {r}_alloc, from one allocation series
    of its name: the one with its uid, else the one overlapping its life the most.

    The uid only breaks ties, never excludes: OpenCost releases that label container
    series with a uid look it up by pod name alone, so it can be another namespace's
    pod's (docs/exporters.md).
    """
    pairs = running[["row", *CONTAINER, "uid", "start", "end"]].merge(
        _allocation_series(answers), on=CONTAINER, suffixes=("", "_series")
    )
    overlap = np.minimum(pairs["end"], pairs["last"] + step_s) - np.maximum(
        pairs["start"], pairs["first"]
    )
    pairs = pairs.assign(
        same_uid=(pairs["uid"] != "") & (pairs["uid"] == pairs["uid_series"]),
        overlap=overlap.fillna(-1.0),
    )
    # Ties (equal overlap: series that both span the day) go to the node first by name.
    order = ["row", "same_uid", "overlap", "node"]
    best = pairs.sort_values(order, ascending=[True, False, False, True], kind="stable")
    best = best.drop_duplicates("row")
    return best[["row", "node", *(f"{r}_alloc" for r in RESOURCES)]]


def _requests(running: pd.DataFrame, answers: Answers) -> pd.DataFrame:
    """Per running container (`row`): `{r}_request` and the `request_node` it was bound to."""
    requests = answers["container_requests"].assign(
        resource=lambda f: f["resource"].map(REQUEST_RESOURCES)
    )
    pairs = joined(running[["row", *CONTAINER, "uid"]], requests, CONTAINER)
    found = pairs.pivot_table(index="row", columns="resource", values="value", aggfunc="max")
    found = found.reindex(columns=list(RESOURCES)).add_suffix("_request")
    nodes = pairs[pairs["node"] != ""].groupby("row")["node"].min().rename("request_node")
    return found.join(nodes, how="outer").reset_index()


def pod_keys(frame: pd.DataFrame) -> pd.Series:
    """Per row: its pod's key, the uid, or `namespace/name` where no series sent one."""
    return frame["uid"].where(frame["uid"] != "", frame["namespace"] + "/" + frame["pod"])


def _pod_nodes(frame: pd.DataFrame) -> pd.Series:
    """Per container: its pod's node, one for all the pod's containers.

    A pod runs on one node, but its containers' series name it one by one, and some
    name none (a container without allocation series or a request: a sidecar with no
    requests). So the pod's node is the one most of its containers' allocation series
    name, else the one most of its request series name, the first by name on a tie;
    "" when nothing names one (the pod cannot be priced: its cost stays idle).
    """
    keys = pod_keys(frame)
    votes = pd.concat(
        [
            pd.DataFrame({"key": keys, "node": frame["node"], "rank": 0}),
            pd.DataFrame({"key": keys, "node": frame["request_node"], "rank": 1}),
        ]
    )
    votes = votes[votes["node"].fillna("") != ""]
    counted = votes.groupby(["key", "rank", "node"]).size().rename("count").reset_index()
    best = counted.sort_values(
        ["key", "rank", "count", "node"], ascending=[True, True, False, True], kind="stable"
    ).drop_duplicates("key")
    chosen = dict(zip(best["key"], best["node"], strict=True))
    return pd.Series([chosen.get(key, "") for key in keys], index=frame.index, dtype=object)


def _amounts(answers: Answers, frame: pd.DataFrame, step_s: int) -> pd.DataFrame:
    """Add `node` and `{r}_amount` (cores, GiB, GPUs): max(avg allocation, avg request).

    The node is the pod's (`_pod_nodes`).
    """
    frame = frame.merge(_allocations(frame, answers, step_s), on="row", how="left")
    frame = frame.merge(_requests(frame, answers), on="row", how="left")
    for r in RESOURCES:
        amount = frame[[f"{r}_alloc", f"{r}_request"]].max(axis=1).fillna(0.0)
        frame[f"{r}_amount"] = amount / GIB if r == "ram" else amount
    frame["node"] = _pod_nodes(frame)
    frame = usage.requested(frame)  # before the requests go
    return frame.drop(
        columns=[
            "request_node",
            *(f"{r}_{part}" for r in RESOURCES for part in ("alloc", "request")),
        ]
    )


def containers(
    answers: Answers,
    day: date,
    step_s: int,
    nodes: pd.DataFrame,
    model: Mapping[str, float],
) -> pd.DataFrame:
    """Per running container: where, how long, how much, and its cpu/ram/gpu cost.

    A container on a node the asset view does not know is priced with the cost model
    (flagged); one whose node is unknown ("") costs nothing here, its node's idle keeps
    it (etl/costmodel/allocation/__init__.py reports it).
    """
    frame = usage.used(answers, _amounts(answers, _running(answers, day, step_s), step_s))
    known = nodes.set_index("node")
    on_known = frame["node"].isin(known.index)
    placed = frame["node"] != ""
    flag = frame["node"].map(known["price_flag"]).where(on_known, COST_MODEL_FLAG).fillna("")
    frame["price_flag"] = ""
    for r in RESOURCES:
        table = pieces(answers[f"node_{r}_price_changes"], "node")
        integral = price_hours(table, frame["node"], frame["start"], frame["end"])
        fallback = frame["node"].map(known[f"{r}_fallback"]).where(on_known, True).astype(bool)
        price = frame["node"].map(known[f"{r}_price"]).where(on_known, model[MODEL_KEYS[r]])
        paid = np.where(fallback, frame["hours"] * price, np.nan_to_num(integral))
        frame[f"{r}_cost"] = np.where(placed, frame[f"{r}_amount"] * paid, 0.0)
        # Flagged when a fallback price priced something it uses.
        frame.loc[placed & fallback & (frame[f"{r}_amount"] > 0), "price_flag"] = flag
        frame[f"{r}_amount_hours"] = frame[f"{r}_amount"] * frame["hours"]
        fitted = fit_to_capacity(
            frame,
            f"{r}_amount",
            known[CAPACITY[r]] * CAPACITY_UNIT[r],
            _node_price(r, known, table),
        )
        if fitted is not None:
            cost, hours = fitted
            refit = ~np.isnan(cost)
            frame.loc[refit, f"{r}_cost"] = cost[refit]
            frame.loc[refit, f"{r}_amount_hours"] = hours[refit]
    return frame


def _node_price(r: str, known: pd.DataFrame, table: Pieces) -> PriceHours:
    """The node's price x hours over intervals: its step function, or its fallback price."""

    def over(node: str, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        if bool(known.at[node, f"{r}_fallback"]):
            return known.at[node, f"{r}_price"] * (t1 - t0) / 3600
        if node not in table:
            return np.zeros(len(t0))
        return (cumulative(table[node], t1) - cumulative(table[node], t0)) / 3600

    return over


def label_maps(frame: pd.DataFrame) -> list[dict[str, str]]:
    """{label: value} per row of a `label_map` answer (kube-state-metrics' label_* names)."""
    return [
        {
            name.removeprefix(LABEL_PREFIX): label
            for name, label in json.loads(text).items()
            if name.startswith(LABEL_PREFIX)
        }
        for text in frame["labels"]
    ]


def merged_labels(keys: pd.Series, maps: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """key -> the union of its label maps (a label set that changed in the day is two series)."""
    found: dict[str, dict[str, str]] = {}
    for key, labels in zip(keys, maps, strict=True):
        found.setdefault(key, {}).update(labels)
    return found


def _per_pod(pods: pd.DataFrame, answer: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`columns` of `answer` per pod key (index), matched by name and, where sent, uid."""
    pairs = joined(pods[["key", *POD, "uid"]], answer, POD)
    return pairs.drop_duplicates("key").set_index("key")[columns]


def _controllers(answers: Answers, pods: pd.DataFrame) -> pd.DataFrame:
    """controller_kind, controller per pod key; a ReplicaSet is resolved to its Deployment."""
    owners = _per_pod(pods, answers["pod_owners"], ["namespace", "owner_kind", "owner_name"])
    sets = answers["replicaset_owners"].rename(
        columns={"replicaset": "owner_name", "owner_kind": "parent_kind", "owner_name": "parent"}
    )
    sets = sets.assign(owner_kind="ReplicaSet").drop_duplicates(["namespace", "owner_name"])
    found = owners.reset_index().merge(
        sets[["namespace", "owner_kind", "owner_name", "parent_kind", "parent"]],
        on=["namespace", "owner_kind", "owner_name"],
        how="left",
    )
    return pd.DataFrame(
        {
            # Text even when no kube_replicaset_owner came (Kubecost bundles no
            # kube-state-metrics): pandas types the empty merge's columns as floats.
            "controller_kind": found["parent_kind"]
            .astype(object)
            .fillna(found["owner_kind"])
            .to_numpy(),
            "controller": found["parent"].astype(object).fillna(found["owner_name"]).to_numpy(),
        },
        index=found["key"],
    )


def pods(answers: Answers, frame: pd.DataFrame) -> pd.DataFrame:
    """Roll containers up to pods with their controller and labels.

    One row per pod, keyed (`uid`) by its uid, or by `namespace/name` where the
    exporter sends no uid.
    """
    sums = {
        f"{r}_{part}": (f"{r}_{part}", "sum")
        for r in RESOURCES
        for part in ("cost", "amount_hours")
    }
    keyed = frame.assign(key=pod_keys(frame))
    grouped = keyed.groupby("key", sort=True).agg(
        uid=("uid", "first"),
        namespace=("namespace", "first"),
        pod=("pod", "first"),
        node=("node", "first"),
        start=("start", "min"),
        end=("end", "max"),
        price_flag=("price_flag", "max"),
        **sums,
    )
    grouped = grouped.join(usage.pod_sums(keyed)).reset_index()
    grouped["running_hours"] = (grouped["end"] - grouped["start"]) / 3600
    owned = _controllers(answers, grouped).reindex(grouped["key"]).fillna("")
    grouped["controller_kind"] = owned["controller_kind"].to_numpy()
    grouped["controller"] = owned["controller"].to_numpy()
    pod_labels = joined(grouped[["key", *POD, "uid"]], answers["pod_labels"], POD)
    labels = merged_labels(pod_labels["key"], label_maps(pod_labels))
    grouped["labels"] = [labels.get(key, {}) for key in grouped["key"]]
    namespaces = answers["namespace_labels"]
    namespace_labels = merged_labels(namespaces["namespace"], label_maps(namespaces))
    grouped["namespace_labels"] = [namespace_labels.get(ns, {}) for ns in grouped["namespace"]]
    return grouped.drop(columns="uid").rename(columns={"key": "uid"})
