"""What the cost model reads of a tenant-day: answer name -> frame of label columns and `value`.

The answer contract, apart from the PromQL side in both directions: it imports no query
and no query imports it. The cost model (etl/costmodel) reads these frames and nothing of
how they were obtained; the transform (etl/metroculus/derive.py) makes them from the raw
round answers the archive keeps, so a fix in the transform or the cost model replays onto
archived days. Each answer is one row per entity (node, PV, container, claim, price
change, ...) with the columns below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.core.labels import (
    ALLOCATION_SERIES,
    CHANGE,
    CLAIM,
    CONTAINER,
    LOAD_BALANCER,
    NETWORK_CLASS_LABELS,
    NODE,
    POD,
    POD_EGRESS,
    PV,
    USAGE_CONTAINER,
)

Answers = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Answer:
    """One answer's shape: its label columns; with `label_map`, a `labels` column also
    holds all of each sample's labels (JSON text), for series whose label names vary."""

    name: str
    labels: tuple[str, ...]
    label_map: bool = False

    def columns(self) -> list[str]:
        """The frame's columns, in order."""
        return [*self.labels, *(["labels"] if self.label_map else []), "value"]

    def frame(self, rows: list[list[object]]) -> pd.DataFrame:
        """A frame of `rows` (one list per row, in `columns()` order), `value` as float.

        Built column by column: a frame's constructor and `astype` from rows cost more
        than the extract's own work on small answers."""
        columns = self.columns()
        values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
        data = {name: list(column) for name, column in zip(columns[:-1], values[:-1], strict=True)}
        data["value"] = np.asarray(values[-1], dtype="float64")
        return pd.DataFrame(data, columns=columns)


ANSWERS: tuple[Answer, ...] = (
    Answer("cluster_info", ("id", "name", "provider", "provisioner", "region")),
    Answer("node_cpu_cores", NODE),
    Answer("node_ram_bytes", NODE),
    Answer("node_gpu_count", NODE),
    Answer("node_cpu_price_samples", NODE),
    Answer("node_ram_price_samples", NODE),
    Answer("node_gpu_price_samples", NODE),
    Answer("pv_bytes", PV),
    Answer("pv_price_samples", PV),
    Answer("load_balancer_rate_samples", LOAD_BALANCER),
    Answer("management_rate_samples", ("provisioner_name",)),
    Answer("network_class_price", ("class",)),
    Answer("network_egress_bytes", NETWORK_CLASS_LABELS),
    Answer("node_life_steps", NODE),
    Answer("node_provider_ids", ("node", "provider_id", "region")),
    Answer("container_first_seen", CONTAINER),
    Answer("container_last_seen", CONTAINER),
    Answer("container_cpu_allocation", ALLOCATION_SERIES),
    Answer("container_ram_allocation", ALLOCATION_SERIES),
    Answer("container_gpu_allocation", ALLOCATION_SERIES),
    Answer("container_allocation_first_seen", ALLOCATION_SERIES),
    Answer("container_allocation_last_seen", ALLOCATION_SERIES),
    Answer("container_requests", (*ALLOCATION_SERIES, "resource")),
    Answer("node_cpu_price_changes", (*NODE, *CHANGE)),
    Answer("node_ram_price_changes", (*NODE, *CHANGE)),
    Answer("node_gpu_price_changes", (*NODE, *CHANGE)),
    Answer("pod_owners", (*POD, "owner_kind", "owner_name")),
    Answer("replicaset_owners", ("namespace", "replicaset", "owner_kind", "owner_name")),
    Answer("pod_labels", POD, label_map=True),
    Answer("namespace_labels", ("namespace",), label_map=True),
    Answer("service_selectors", ("namespace", "service"), label_map=True),
    Answer("claim_bytes", CLAIM),
    Answer("claim_first_seen", CLAIM),
    Answer("claim_last_seen", CLAIM),
    Answer("pv_price_changes", (*PV, *CHANGE)),
    Answer("load_balancer_first_seen", LOAD_BALANCER),
    Answer("load_balancer_last_seen", LOAD_BALANCER),
    Answer("pod_network_egress_bytes", POD_EGRESS),
    # What a price sheet selects nodes by and prices PVs over (etl/costmodel/sheetprices.py):
    # kube_node_labels as sent, and how many steps each PV existed (its capacity series).
    Answer("node_labels", NODE, label_map=True),
    Answer("pv_life_steps", PV),
    # Usage (cAdvisor): each query's rows as they come (etl/metroculus/usage.py).
    *(
        Answer(name, USAGE_CONTAINER)
        for name in (
            "container_cpu_used_seconds",
            "container_cpu_usage_p95",
            "container_cpu_usage_max",
            "container_memory_working_set_avg",
            "container_memory_working_set_p95",
            "container_memory_working_set_max",
            "container_usage_samples",
        )
    ),
    # Which cloud disk each PV was (pv_hourly_cost's provider_id), for the reconciliation
    # to the bill (etl/costmodel/pvdays.py).
    Answer("pv_provider_ids", (*PV, "provider_id")),
)
ANSWER = {answer.name: answer for answer in ANSWERS}


def canonical(answers: Answers) -> Answers:
    """Every answer's rows in one order: sorted by all their columns, values last.

    Why: an engine returns series in no set order (Prometheus' and Thanos' aggregations
    come out of hash maps), and so may a concurrent extract, a replay or a split query.
    The cost model reads answers in this order only, so that whatever choice remains
    between equal candidates (the tie rules of docs/allocation.md) is the same on every
    run, process and hash seed: one day's data gives one set of rows.
    """
    return {
        name: frame.sort_values(list(frame.columns), kind="stable", ignore_index=True)
        if len(frame) > 1
        else frame.reset_index(drop=True)
        for name, frame in answers.items()
    }
