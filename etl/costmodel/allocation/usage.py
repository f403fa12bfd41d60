"""What containers requested and used: core-hours and byte-hours, for efficiency.

Requests come from kube-state-metrics (the same series the allocation reads), usage
from cAdvisor (etl/metroculus/usage.py). A container's requested core-hours are its
day-average cpu request x its running hours, its byte-hours its memory request x
hours. Used core-hours are the day's core-seconds of its name / 3600; used
byte-hours its average working set x its running hours. cAdvisor has no pod uid, so
two running containers of one name (a recreated pod) share the name's core-seconds
in proportion to their running hours and each takes the name's average working set.
A container without a usage series has used = NaN (stored NULL): unknown, never 0.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd

from etl.core.answers import Answers

NAME = ["namespace", "pod", "container"]
# Fixed namespace so a container-day's key is the same on every run and machine.
CONTAINER_DAY_NAMESPACE = uuid.UUID("7d3c5b1a-2e4f-4a6b-8c9d-0e1f2a3b4c5d")
REQUESTED = ["cpu_request_core_hours", "ram_request_byte_hours"]
USED = ["cpu_used_core_hours", "ram_used_byte_hours"]


def requested(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (a container per row, with `cpu_request`, `ram_request` in cores and
    bytes, NaN when not requested, and `hours`) with REQUESTED added."""
    hours = frame["hours"]
    return frame.assign(
        cpu_request_core_hours=frame["cpu_request"].fillna(0.0) * hours,
        ram_request_byte_hours=frame["ram_request"].fillna(0.0) * hours,
    )


def used(answers: Answers, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (running containers with NAME and `hours`) with USED added."""
    keys = pd.MultiIndex.from_frame(frame[NAME])
    seconds = _per_name(answers, "container_cpu_used_seconds")
    memory = _per_name(answers, "container_memory_working_set_avg")
    hours = frame["hours"].to_numpy(dtype="float64")
    name_hours = frame.groupby(NAME)["hours"].transform("sum").to_numpy(dtype="float64")
    share = np.divide(
        hours,
        name_hours,
        out=np.zeros(len(frame)),
        where=name_hours > 0,
    )
    core_hours = seconds.reindex(keys).to_numpy(dtype="float64") / 3600 * share
    byte_hours = memory.reindex(keys).to_numpy(dtype="float64") * hours
    return frame.assign(cpu_used_core_hours=core_hours, ram_used_byte_hours=byte_hours)


def _per_name(answers: Answers, query: str) -> pd.Series:
    """A usage answer's value per container name (a cluster without cAdvisor series has
    none: every value unknown)."""
    answer = answers[query]
    if answer.empty:
        return pd.Series(dtype="float64", index=pd.MultiIndex.from_tuples([], names=NAME))
    return answer.groupby(NAME)["value"].max()


# Right-sizing's daily quantiles (k8s_container_usage), from etl/metroculus/usage.py.
QUANTILES = {
    "cpu_p95": "container_cpu_usage_p95",
    "cpu_max": "container_cpu_usage_max",
    "ram_p95": "container_memory_working_set_p95",
    "ram_max": "container_memory_working_set_max",
    "samples": "container_usage_samples",
}
CONTAINER_DAY_COLUMNS = [
    "resource_id",
    "namespace",
    "controller_kind",
    "controller",
    "pod",
    "pod_uid",
    "container",
    "node",
    "running_hours",
    "cpu_request",
    "ram_request",
    *QUANTILES,
    "cpu_usd",
    "cpu_core_hours",
    "ram_usd",
    "ram_gib_hours",
]


def container_days(answers: Answers, frame: pd.DataFrame, pods: pd.DataFrame) -> pd.DataFrame:
    """One row per running container for right-sizing (CONTAINER_DAY_COLUMNS): its names
    and its pod's controller, its requests (day-average cores and bytes), the day's
    usage quantiles of its name (NaN without usage series) and what its cpu and ram
    cost for how many core- and GiB-hours (the prices of the nodes it ran on)."""
    keys = pd.MultiIndex.from_frame(frame[NAME])
    hours = frame["hours"].to_numpy(dtype="float64")
    rows = pd.DataFrame(
        {
            "namespace": frame["namespace"].to_numpy(),
            "pod": frame["pod"].to_numpy(),
            "pod_uid": frame["uid"].to_numpy(),
            "container": frame["container"].to_numpy(),
            "node": frame["node"].to_numpy(),
            "running_hours": hours,
            "cpu_request": np.divide(
                frame["cpu_request_core_hours"].to_numpy(dtype="float64"),
                hours,
                out=np.zeros(len(frame)),
                where=hours > 0,
            ),
            "ram_request": np.divide(
                frame["ram_request_byte_hours"].to_numpy(dtype="float64"),
                hours,
                out=np.zeros(len(frame)),
                where=hours > 0,
            ),
            "cpu_usd": frame["cpu_cost"].to_numpy(dtype="float64"),
            "cpu_core_hours": frame["cpu_amount_hours"].to_numpy(dtype="float64"),
            "ram_usd": frame["ram_cost"].to_numpy(dtype="float64"),
            "ram_gib_hours": frame["ram_amount_hours"].to_numpy(dtype="float64"),
        }
    )
    for column, query in QUANTILES.items():
        rows[column] = _per_name(answers, query).reindex(keys).to_numpy(dtype="float64")
    pod_key = frame["uid"].where(frame["uid"] != "", frame["namespace"] + "/" + frame["pod"])
    owners = pods.set_index("uid")[["controller_kind", "controller"]].reindex(pod_key)
    rows["controller_kind"] = owners["controller_kind"].fillna("").to_numpy()
    rows["controller"] = owners["controller"].fillna("").to_numpy()
    names = rows[
        ["namespace", "controller_kind", "controller", "pod", "pod_uid", "container", "node"]
    ].astype(str)
    rows["resource_id"] = [
        str(uuid.uuid5(CONTAINER_DAY_NAMESPACE, "/".join(parts)))
        for parts in names.itertuples(index=False)
    ]
    return rows[CONTAINER_DAY_COLUMNS]


def pod_sums(keyed: pd.DataFrame) -> pd.DataFrame:
    """Per pod `key`: REQUESTED summed; USED summed, NaN when one container has none
    (a pod half measured would look efficient)."""
    grouped = keyed.groupby("key", sort=True)
    sums = grouped[REQUESTED + USED].sum()
    missing = keyed[USED].isna().groupby(keyed["key"]).any()
    sums[USED] = sums[USED].mask(missing)
    return sums
