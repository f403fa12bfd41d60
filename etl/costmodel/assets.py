"""Transform: the tenant-day's PromQL answers -> the cluster-day cost breakdown (USD).

The formulas, with units (R = the cluster's scrape interval in seconds, so one
gauge sample stands for R/3600 hours; see docs/costs.md):

- cpu_cost  = sum over nodes of  vCPU capacity x sum(cpu $/vCPU-h samples) x R/3600
- ram_cost  = sum over nodes of  RAM bytes / 2^30 x sum(ram $/GiB-h samples) x R/3600
- gpu_cost  = sum over nodes of  GPU count x sum(gpu $/GPU-h samples) x R/3600
- pv_cost   = sum over PVs of    capacity bytes / 2^30 x sum($/GiB-h samples) x R/3600
- load_balancer_cost = sum over services of sum($/h samples) x R/3600
- management_cost    = sum over provisioners of sum($/h samples) x R/3600
- network_cost = sum over classes (zone, region, internet) of egress bytes / 2^30 x class $/GiB

Summing price samples (rather than multiplying an average price by hours) keeps a
price that changes during the day (spot) exact. Node capacity does not change
while a node lives, so its day average is its capacity. The "samples" are one per
scrape step of the entity's life, the last price carried through scrape gaps
(etl/metroculus/queries.py), so a missed scrape does not make a node cheaper.

A node without a price series, or with an implausible price (over PRICE_CEILINGS,
like the 3.8e8 $/h GPU node seen in the field), is priced with the account's cost
model (`config.cost_model`, else DEFAULT_COST_MODEL) over its life, and flagged:
never silently, never failing the tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from etl.core.answers import canonical
from etl.core.components import COMPONENTS as COMPONENTS  # the cost model's output columns

GIB = 2**30
RESOURCES = ("cpu", "ram", "gpu")
CAPACITY = {"cpu": "cpu_cores", "ram": "ram_bytes", "gpu": "gpu_count"}
# $ per vCPU-, GiB- and GPU-hour above which a price is an error, not a price: about
# a hundred times the dearest list prices.
PRICE_CEILINGS = {"cpu": 10.0, "ram": 2.0, "gpu": 100.0}
# OpenCost's own defaults, for accounts whose config has no cost model.
DEFAULT_COST_MODEL = {
    "cpu_hourly_cost": 0.031611,
    "memory_hourly_cost": 0.004237,
    "gpu_hourly_cost": 0.95,
}
MODEL_KEYS = {"cpu": "cpu_hourly_cost", "ram": "memory_hourly_cost", "gpu": "gpu_hourly_cost"}
COST_MODEL_FLAG = "cost_model"
OUTLIER_FLAG = "price_outlier"


@dataclass
class DayCosts:
    """A cluster-day: the breakdown, the per-entity frames behind it, and data issues."""

    breakdown: dict[str, float]
    nodes: pd.DataFrame
    volumes: pd.DataFrame
    network: pd.DataFrame
    cluster_info: dict[str, str]
    issues: list[str] = field(default_factory=list)
    node_provider_ids: list[str] = field(default_factory=list)
    # What loads but is wrong on its face (etl/allocation: containers allocated $0).
    quality_failures: list[str] = field(default_factory=list)
    region: str = ""

    @property
    def total(self) -> float:
        """The cluster-day's cost: the sum of its components."""
        return sum(self.breakdown.values())


def _values(frame: pd.DataFrame, key: str, name: str) -> pd.DataFrame:
    return frame[[key, "value"]].rename(columns={"value": name})


def cost_model(config: Mapping[str, object] | None) -> dict[str, float]:
    """The account's fallback prices: its `cost_model` over DEFAULT_COST_MODEL."""
    model = dict(DEFAULT_COST_MODEL)
    for key, value in ((config or {}).get("cost_model") or {}).items():
        if key in model:
            model[key] = float(value)
    return model


def _price_issue(node: str, missing: list[str], outliers: dict[str, float]) -> str:
    reasons = [f"no {r} price series" for r in missing] + [
        f"an implausible {r} price of {price:.6g} $/unit-hour" for r, price in outliers.items()
    ]
    return (
        f"node {node} has {' and '.join(reasons)}: priced with the account's cost model (flagged)"
    )


def node_costs(
    answers: dict[str, pd.DataFrame],
    sample_hours: float,
    model: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Per node: capacity, price-hours and cpu/ram/gpu cost; issues for half-described nodes.

    `{r}_fallback` marks the resources priced with the cost model `model` (its
    `{r}_price` is then that price), and `price_flag` says why.
    """
    model = model or DEFAULT_COST_MODEL
    nodes = _values(answers["node_cpu_cores"], "node", "cpu_cores")
    for query, column in (
        ("node_ram_bytes", "ram_bytes"),
        ("node_gpu_count", "gpu_count"),
        ("node_life_steps", "life_steps"),
        ("node_cpu_price_samples", "cpu_price_samples"),
        ("node_ram_price_samples", "ram_price_samples"),
        ("node_gpu_price_samples", "gpu_price_samples"),
    ):
        nodes = nodes.merge(_values(answers[query], "node", column), on="node", how="outer")
    no_capacity = nodes["cpu_cores"].isna() & nodes["cpu_price_samples"].notna()
    issues = [
        f"node {node} has prices but no capacity series: its cost is not counted"
        for node in nodes.loc[no_capacity, "node"]
    ]
    known = nodes["cpu_cores"].notna()
    # A resource the node has (GPUs only on GPU nodes) but no price series for.
    missing = {
        r: known & nodes[f"{r}_price_samples"].isna() & (nodes[CAPACITY[r]].fillna(0) > 0)
        for r in RESOURCES
    }
    nodes = nodes.fillna(0.0)
    nodes["price_flag"] = ""
    life = nodes["life_steps"].where(nodes["life_steps"] > 0)
    outlier = {r: nodes[f"{r}_price_samples"] / life > PRICE_CEILINGS[r] for r in RESOURCES}
    for r in RESOURCES:
        fallback = missing[r] | outlier[r]
        nodes[f"{r}_fallback"] = fallback
        nodes[f"{r}_price"] = (
            (nodes[f"{r}_price_samples"] / life).fillna(0.0).where(~fallback, model[MODEL_KEYS[r]])
        )
        price_steps = nodes[f"{r}_price_samples"].where(
            ~fallback, nodes["life_steps"] * model[MODEL_KEYS[r]]
        )
        scale = 1 / GIB if r == "ram" else 1.0
        nodes[f"{r}_cost"] = nodes[CAPACITY[r]] * scale * price_steps * sample_hours
        nodes.loc[missing[r] & (nodes["price_flag"] == ""), "price_flag"] = COST_MODEL_FLAG
        nodes.loc[outlier[r], "price_flag"] = OUTLIER_FLAG
    for index, node in nodes[nodes["price_flag"] != ""].iterrows():
        issues.append(
            _price_issue(
                node["node"],
                [r for r in RESOURCES if missing[r][index]],
                {
                    r: node[f"{r}_price_samples"] / node["life_steps"]
                    for r in RESOURCES
                    if outlier[r][index]
                },
            )
        )
    return nodes.sort_values("node", ignore_index=True), issues


def volume_costs(answers: dict[str, pd.DataFrame], sample_hours: float) -> pd.DataFrame:
    """Per persistent volume: capacity GiB x price-hours."""
    volumes = _values(answers["pv_bytes"], "persistentvolume", "capacity_bytes").merge(
        _values(answers["pv_price_samples"], "persistentvolume", "price_samples"),
        on="persistentvolume",
        how="inner",
    )
    volumes["pv_cost"] = volumes["capacity_bytes"] / GIB * volumes["price_samples"] * sample_hours
    return volumes


def network_class(internet: str, same_zone: str, same_region: str) -> str:
    """Egress class of a counter series, per the metric contract; same-zone traffic is free."""
    if internet == "true":
        return "internet"
    if same_region == "false":
        return "region"
    if same_zone == "false":
        return "zone"
    return "same_zone"


def network_costs(answers: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per egress class: GiB of the day x that class's $/GiB."""
    egress = answers["network_egress_bytes"].copy()
    egress["class"] = pd.Series(
        [
            network_class(*labels)
            for labels in egress[["internet", "same_zone", "same_region"]].itertuples(index=False)
        ],
        index=egress.index,
        dtype="object",
    )
    # Text keys on both sides even when a side is empty (no network-costs DaemonSet, no
    # egress price gauges: pandas types an empty column as it pleases).
    by_class = egress.groupby("class", as_index=False)["value"].sum().astype({"class": object})
    prices = _values(answers["network_class_price"], "class", "price_per_gib")
    by_class = by_class.rename(columns={"value": "egress_bytes"}).merge(
        prices.astype({"class": object}), on="class", how="left"
    )
    by_class["price_per_gib"] = by_class["price_per_gib"].fillna(0.0)
    by_class["network_cost"] = by_class["egress_bytes"] / GIB * by_class["price_per_gib"]
    return by_class


def day_costs(
    answers: dict[str, pd.DataFrame],
    scrape_interval_s: int,
    model: Mapping[str, float] | None = None,
) -> DayCosts:
    """The cluster-day breakdown from the answers of `etl.metroculus.queries.QUERIES`.

    `model` is the account's cost model (see `cost_model`), for nodes without a price.
    """
    answers = canonical(answers)
    sample_hours = scrape_interval_s / 3600
    nodes, issues = node_costs(answers, sample_hours, model)
    volumes = volume_costs(answers, sample_hours)
    network = network_costs(answers)
    info = answers["cluster_info"]
    cluster_info = info.drop(columns="value").iloc[0].to_dict() if len(info) else {}
    breakdown = {
        "cpu_cost": float(nodes["cpu_cost"].sum()),
        "ram_cost": float(nodes["ram_cost"].sum()),
        "gpu_cost": float(nodes["gpu_cost"].sum()),
        "pv_cost": float(volumes["pv_cost"].sum()),
        "load_balancer_cost": float(answers["load_balancer_rate_samples"]["value"].sum())
        * sample_hours,
        "network_cost": float(network["network_cost"].sum()),
        "management_cost": float(answers["management_rate_samples"]["value"].sum()) * sample_hours,
    }
    return DayCosts(
        breakdown=breakdown,
        nodes=nodes,
        volumes=volumes,
        network=network,
        cluster_info=cluster_info,
        issues=issues,
        node_provider_ids=sorted(set(answers["node_provider_ids"]["provider_id"]) - {""}),
        region=cluster_region(cluster_info, answers["node_provider_ids"]),
    )


def cluster_region(cluster_info: Mapping[str, str], nodes: pd.DataFrame) -> str:
    """kubecost_cluster_info's region, else the one region all its nodes' price series
    name, else "" (unknown: a multi-region cluster, or no labels)."""
    if cluster_info.get("region"):
        return cluster_info["region"]
    regions = set(nodes["region"]) - {""} if "region" in nodes else set()
    return regions.pop() if len(regions) == 1 else ""
