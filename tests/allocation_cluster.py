"""A small hand-made cluster for the allocation's unit tests: its answers, one entity at a time.

Hourly steps keep the arithmetic readable: a price summed over n steps is price x n,
and n steps are n hours.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd

from etl.core.answers import ANSWERS
from etl.core.days import day_start_epoch
from etl.costmodel.allocation import allocate
from etl.costmodel.assets import cost_model, day_costs

DAY = date(2026, 6, 1)
LO = day_start_epoch(DAY)
STEP = 3600
GIB = 2**30
MODEL = cost_model({"cost_model": {"cpu_hourly_cost": 0.02, "memory_hourly_cost": 0.002}})


class Cluster:
    """Builds the answers of a small cluster, one entity at a time."""

    def __init__(self, day: date = DAY) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {answer.name: [] for answer in ANSWERS}
        self.day, self.lo = day, day_start_epoch(day)

    def add(self, query: str, value: float, **labels: Any) -> None:
        self.rows[query].append({**labels, "value": value})

    def node(self, name: str, hours: int, cores: float, ram_gib: float, prices: dict | None):
        """A node alive from 00:00 for `hours`, at constant `prices` ($ per unit-hour)."""
        self.add("node_cpu_cores", cores, node=name)
        self.add("node_ram_bytes", ram_gib * GIB, node=name)
        self.add("node_gpu_count", 0, node=name)
        self.add("node_life_steps", hours, node=name)
        for resource, price in (prices or {}).items():
            self.add(f"node_{resource}_price_samples", price * hours, node=name)
            self.change(f"node_{resource}_price_changes", 0, price, node=name)

    def change(self, query: str, hour: float, price: float, **labels: str) -> None:
        """A price change event: `price` from `hour` on."""
        self.add(query, 1, **labels, price=repr(price), at=str(self.lo + int(hour * STEP)))

    def pod(
        self,
        uid: str,
        node: str,
        start_h: int,
        end_h: int,
        cores: float = 1.0,
        ram_gib: float = 1.0,
        namespace: str = "ns",
        name: str | None = None,
        labels: dict[str, str] | None = None,
        owner: tuple[str, str] = ("Job", "job"),
    ) -> None:
        """A pod of one container running over hours [start_h, end_h), as OpenCost's
        current exporter describes it: its allocation series and kube_pod_owner carry no
        uid, kube-state-metrics' running and label series do (docs/exporters.md)."""
        name = name or f"pod-{uid}"
        pod = {"namespace": namespace, "pod": name}
        running = {**pod, "container": "main", "uid": uid}
        series = {**pod, "container": "main", "uid": "", "node": node}
        first, last = self.lo + start_h * STEP, self.lo + (end_h - 1) * STEP
        self.add("container_first_seen", first, **running)
        self.add("container_last_seen", last, **running)
        self.add("container_allocation_first_seen", first, **series)
        self.add("container_allocation_last_seen", last, **series)
        self.add("container_cpu_allocation", cores, **series)
        self.add("container_ram_allocation", ram_gib * GIB, **series)
        self.add("pod_owners", 1, **pod, uid="", owner_kind=owner[0], owner_name=owner[1])
        text = json.dumps({f"label_{k}": v for k, v in (labels or {}).items()})
        self.add("pod_labels", 1, **pod, uid=uid, labels=text)

    def request(self, uid: str, resource: str, value: float) -> None:
        """A kube-state-metrics request series of the pod `uid`'s container."""
        (pod,) = [r for r in self.rows["container_first_seen"] if r["uid"] == uid]
        names = {k: pod[k] for k in ("namespace", "pod", "container", "uid")}
        self.add("container_requests", value, **names, node="", resource=resource)

    def answers(self) -> dict[str, pd.DataFrame]:
        shaped = {}
        for answer in ANSWERS:
            shaped[answer.name] = pd.DataFrame(self.rows[answer.name], columns=answer.columns())
        return shaped

    def allocate(self):
        answers = self.answers()
        assets = day_costs(answers, STEP, MODEL)
        return assets, allocate(answers, self.day, STEP, assets, MODEL)


PRICES = {"cpu": 0.05, "ram": 0.01}


def row(allocation, **match: str) -> dict[str, Any]:
    (found,) = [r for r in allocation.rows.to_dict("records") if match.items() <= r.items()]
    return found
