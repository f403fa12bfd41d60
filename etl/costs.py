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
while a node lives, so its day average is its capacity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

GIB = 2**30
COMPONENTS = (
    "cpu_cost",
    "ram_cost",
    "gpu_cost",
    "pv_cost",
    "load_balancer_cost",
    "network_cost",
    "management_cost",
)


@dataclass
class DayCosts:
    """A cluster-day: the breakdown, the per-entity frames behind it, and data issues."""

    breakdown: dict[str, float]
    nodes: pd.DataFrame
    volumes: pd.DataFrame
    network: pd.DataFrame
    cluster_info: dict[str, str]
    issues: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        """The cluster-day's cost: the sum of its components."""
        return sum(self.breakdown.values())


def _values(frame: pd.DataFrame, key: str, name: str) -> pd.DataFrame:
    return frame[[key, "value"]].rename(columns={"value": name})


def node_costs(
    answers: dict[str, pd.DataFrame], sample_hours: float
) -> tuple[pd.DataFrame, list[str]]:
    """Per node: capacity, price-hours and cpu/ram/gpu cost; issues for half-described nodes."""
    nodes = _values(answers["node_cpu_cores"], "node", "cpu_cores")
    for query, column in (
        ("node_ram_bytes", "ram_bytes"),
        ("node_gpu_count", "gpu_count"),
        ("node_cpu_price_samples", "cpu_price_samples"),
        ("node_ram_price_samples", "ram_price_samples"),
        ("node_gpu_price_samples", "gpu_price_samples"),
    ):
        nodes = nodes.merge(_values(answers[query], "node", column), on="node", how="outer")
    no_capacity = nodes["cpu_cores"].isna() & nodes["cpu_price_samples"].notna()
    no_price = nodes["cpu_cores"].notna() & nodes["cpu_price_samples"].isna()
    issues = [
        f"node {node} has prices but no capacity series: its cost is not counted"
        for node in nodes.loc[no_capacity, "node"]
    ] + [
        f"node {node} has no cpu price series: its cpu cost is not counted"
        for node in nodes.loc[no_price, "node"]
    ]
    nodes = nodes.fillna(0.0)
    nodes["cpu_cost"] = nodes["cpu_cores"] * nodes["cpu_price_samples"] * sample_hours
    nodes["ram_cost"] = nodes["ram_bytes"] / GIB * nodes["ram_price_samples"] * sample_hours
    nodes["gpu_cost"] = nodes["gpu_count"] * nodes["gpu_price_samples"] * sample_hours
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
    by_class = egress.groupby("class", as_index=False)["value"].sum()
    by_class = by_class.rename(columns={"value": "egress_bytes"}).merge(
        _values(answers["network_class_price"], "class", "price_per_gib"), on="class", how="left"
    )
    by_class["price_per_gib"] = by_class["price_per_gib"].fillna(0.0)
    by_class["network_cost"] = by_class["egress_bytes"] / GIB * by_class["price_per_gib"]
    return by_class


def day_costs(answers: dict[str, pd.DataFrame], scrape_interval_s: int) -> DayCosts:
    """The cluster-day breakdown from the answers of `etl.queries.QUERIES`."""
    sample_hours = scrape_interval_s / 3600
    nodes, issues = node_costs(answers, sample_hours)
    volumes = volume_costs(answers, sample_hours)
    network = network_costs(answers)
    info = answers["cluster_info"]
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
        cluster_info=info.drop(columns="value").iloc[0].to_dict() if len(info) else {},
        issues=issues,
    )
