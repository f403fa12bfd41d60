"""The customer-side keep-lists in docs/ingestion.md keep every metric of the contract.

The contract's metric names come from the simulator's families as every supported
exporter shape names them (the metrics the pipeline is tested on), not from the docs,
so a metric added there and forgotten in the docs fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from devtools.simulate.exporters import SHAPES
from devtools.simulate.families import FAMILIES

DOC = Path(__file__).resolve().parents[2] / "docs" / "ingestion.md"
CONTRACT = {
    f"{shape.families[name].name}_total" if kind == "counter" else shape.families[name].name
    for shape in SHAPES.values()
    for name, kind, _ in FAMILIES
}
NOT_CONTRACT = [
    "up",
    "node_cpu_seconds_total",
    "container_memory_usage_bytes",  # cAdvisor, but not the working set the contract reads
    "kube_pod_info",
    "kubecost_pod_network_egress_bytes",
    "node_cpu_hourly_cost_x",
]


def keep_regexes() -> list[str]:
    """Every `regex:` of the page that keeps metric names (Prometheus anchors them)."""
    found = re.findall(r"^\s*regex: (\S+)$", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    return [regex for regex in found if "node_cpu_hourly_cost" in regex]


def test_each_config_on_the_page_carries_the_same_keep_list():
    regexes = keep_regexes()
    assert len(regexes) == 4  # the list itself, plain Prometheus, Kubecost chart, operator
    assert len(set(regexes)) == 1


def test_the_keep_list_keeps_the_whole_contract_and_nothing_else():
    keep = re.compile(keep_regexes()[0])
    assert {"pv_hourly_cost", "pod_pvc_allocation"} <= CONTRACT
    # kube-state-metrics v2 names node capacity its own way; 2 of cAdvisor's for usage
    assert len(CONTRACT) == 33
    assert sorted(name for name in CONTRACT if not keep.fullmatch(name)) == []
    assert [name for name in NOT_CONTRACT if keep.fullmatch(name)] == []
