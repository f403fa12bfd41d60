"""The transform on small hand-made answers, against figures worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.core.answers import ANSWERS
from etl.costmodel.assets import cluster_region, day_costs, network_class

GIB = 2**30


def answers(**frames: list[dict]) -> dict[str, pd.DataFrame]:
    """Every query's answer empty (with its columns) except the ones given."""
    shaped = {a.name: pd.DataFrame(columns=a.columns()) for a in ANSWERS}
    for name, rows in frames.items():
        shaped[name] = pd.DataFrame(rows)
    return shaped


def test_node_costs_multiply_capacity_by_summed_price_samples():
    # 60 s scrape: 720 samples = 12 h. n1: 4 vCPU at 0.05 $/vCPU-h, 16 GiB at 0.01 $/GiB-h.
    day = day_costs(
        answers(
            node_cpu_cores=[{"node": "n1", "value": 4.0}],
            node_ram_bytes=[{"node": "n1", "value": 16.0 * GIB}],
            node_gpu_count=[{"node": "n1", "value": 1.0}],
            node_cpu_price_samples=[{"node": "n1", "value": 0.05 * 720}],
            node_ram_price_samples=[{"node": "n1", "value": 0.01 * 720}],
            node_gpu_price_samples=[{"node": "n1", "value": 2.0 * 720}],
        ),
        scrape_interval_s=60,
    )
    assert day.breakdown["cpu_cost"] == pytest.approx(4 * 0.05 * 12)
    assert day.breakdown["ram_cost"] == pytest.approx(16 * 0.01 * 12)
    assert day.breakdown["gpu_cost"] == pytest.approx(1 * 2.0 * 12)
    assert day.issues == []


def test_rates_per_hour_become_dollars_through_the_sample_duration():
    # 5 min scrape: 288 samples = 24 h of a 0.10 $/h fee and a 0.025 $/h load balancer.
    day = day_costs(
        answers(
            management_rate_samples=[{"provisioner_name": "EKS", "value": 0.10 * 288}],
            load_balancer_rate_samples=[
                {"namespace": "web", "service_name": "lb", "value": 0.025 * 288}
            ],
            pv_bytes=[{"persistentvolume": "pv1", "value": 100.0 * GIB}],
            pv_price_samples=[{"persistentvolume": "pv1", "value": 0.0001 * 144}],
        ),
        scrape_interval_s=300,
    )
    assert day.breakdown["management_cost"] == pytest.approx(2.4)
    assert day.breakdown["load_balancer_cost"] == pytest.approx(0.6)
    assert day.breakdown["pv_cost"] == pytest.approx(100 * 0.0001 * 12)
    assert day.total == pytest.approx(2.4 + 0.6 + 0.12)


def test_network_bytes_are_priced_per_class_and_same_zone_is_free():
    rows = [
        {"internet": "true", "same_zone": "false", "same_region": "false", "value": 2.0 * GIB},
        {"internet": "false", "same_zone": "false", "same_region": "false", "value": 3.0 * GIB},
        {"internet": "false", "same_zone": "false", "same_region": "true", "value": 5.0 * GIB},
        {"internet": "false", "same_zone": "true", "same_region": "true", "value": 7.0 * GIB},
    ]
    prices = [
        {"class": "internet", "value": 0.09},
        {"class": "region", "value": 0.02},
        {"class": "zone", "value": 0.01},
    ]
    day = day_costs(answers(network_egress_bytes=rows, network_class_price=prices), 60)
    assert day.breakdown["network_cost"] == pytest.approx(2 * 0.09 + 3 * 0.02 + 5 * 0.01)


@pytest.mark.parametrize(
    ("internet", "same_zone", "same_region", "expected"),
    [
        ("true", "false", "false", "internet"),
        ("true", "true", "true", "internet"),
        ("false", "false", "false", "region"),
        ("false", "false", "true", "zone"),
        ("false", "true", "true", "same_zone"),
    ],
)
def test_network_classes_follow_the_contract(internet, same_zone, same_region, expected):
    assert network_class(internet, same_zone, same_region) == expected


def test_a_half_described_node_is_reported_not_silently_costed():
    day = day_costs(
        answers(
            node_cpu_cores=[{"node": "priced-later", "value": 2.0}],
            node_cpu_price_samples=[{"node": "ghost", "value": 10.0}],
        ),
        60,
    )
    assert day.breakdown["cpu_cost"] == 0
    assert len(day.issues) == 2
    assert any("ghost" in issue and "no capacity" in issue for issue in day.issues)
    assert any("priced-later" in issue and "no cpu price" in issue for issue in day.issues)


@pytest.mark.parametrize(
    ("info_region", "node_regions", "expected"),
    [
        ("eu-west-1", ["us-east-1"], "eu-west-1"),  # kubecost_cluster_info decides
        ("", ["us-east-1", "us-east-1", ""], "us-east-1"),  # else nodes that agree
        ("", ["us-east-1", "us-west-2"], ""),  # disagreeing nodes: unknown
        ("", [], ""),
    ],
)
def test_a_cluster_region_comes_from_its_info_else_from_nodes_that_agree(
    info_region, node_regions, expected
):
    nodes = pd.DataFrame(
        {"node": [f"n{i}" for i in range(len(node_regions))], "region": node_regions}
    )
    assert cluster_region({"region": info_region}, nodes) == expected
