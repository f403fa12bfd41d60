"""The sharing policy, the efficiency rule, and docs/allocation.md's worked examples in SQL.

The worked example's seven rows are written to an embedded ClickHouse once; the
shared query (sql/queries/k8s_costs_shared.sql) must give the document's figures.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from api.query.efficiency import efficiency
from etl.core.components import COMPONENTS
from etl.core.sharing import OPTION_NAMES, SharingError, SharingPolicy, given_options, resolve
from etl.storage import allocationrollup, sqlfiles, warehouse
from etl.storage.clickhouse import connect
from etl.storage.nodedays import bill_arguments
from k8scost.cli import cli

DAY = pd.Timestamp("2026-06-02")


def test_a_policy_reads_comma_lists_and_overrides_option_by_option():
    policy = SharingPolicy.of({"share_namespaces": "kube-system, monitoring,,kube-system"})
    assert policy.share_namespaces == ("kube-system", "monitoring") and policy.active
    over = policy.overridden({"share_idle": "even", "share_namespaces": ""})
    assert over.share_idle == "even" and over.share_namespaces == ()
    assert SharingPolicy.of(SharingPolicy().document()) == SharingPolicy()
    assert not SharingPolicy().active


def test_the_options_are_the_policys_fields():
    assert tuple(field.name for field in fields(SharingPolicy)) == OPTION_NAMES


def test_resolve_takes_the_defaults_then_only_the_options_given():
    defaults = SharingPolicy.of({"share_idle": "weighted", "share_namespaces": "kube-system"})
    # A request's query: other parameters beside the options; the command line: None.
    query = {"start_date": 0, "group_by": "namespace", "share_split": "even", "idle_by": None}
    assert given_options(query) == {"share_split": "even"}
    resolved = resolve(defaults, query)
    assert resolved == SharingPolicy("weighted", "cluster", ("kube-system",), (), "even", 0.0)
    assert resolve(defaults, {"share_namespaces": ""}).share_namespaces == ()
    assert resolve(SharingPolicy(), {}) == SharingPolicy()


def test_sql_parameters_spell_out_labels_and_keep_clusters_apart_on_demand():
    policy = SharingPolicy.of({"share_labels": "team:infra,tier:", "shared_overhead_hourly": 2})
    parameters = policy.sql_parameters()
    assert parameters["share_label_keys"] == ["team", "tier"]
    assert parameters["share_label_values"] == ["infra", ""]
    assert parameters["overhead_hourly"] == 2.0 and parameters["per_cluster"] == 0
    assert policy.sql_parameters(per_cluster=True)["per_cluster"] == 1


@pytest.mark.parametrize(
    ("options", "even"),
    [
        ({}, False),
        ({"share_idle": "even"}, True),
        ({"share_split": "even"}, False),  # nothing pooled to split
        ({"share_split": "even", "share_namespaces": "kube-system"}, True),
        ({"share_split": "even", "shared_overhead_hourly": 1}, True),
        ({"share_idle": "weighted", "share_labels": "team:infra"}, False),
    ],
)
def test_an_even_split_is_told_apart(options, even):
    assert SharingPolicy.of(options).splits_evenly is even


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"share_idle": "maybe"}, "share_idle"),
        ({"share_labels": "team"}, "key:value"),
        ({"shared_overhead_hourly": -0.5}, ">= 0"),
        ({"shared_overhead_hourly": "lots"}, "number"),
        ({"share_namespaces": "__idle__"}, "share_idle"),
        ({"share_everything": "yes"}, "unknown"),
    ],
)
def test_bad_options_are_refused(options, words):
    with pytest.raises(SharingError, match=words):
        SharingPolicy.of(options)


def test_efficiency_is_null_without_usage_and_weighted_by_cost():
    row = {
        "cpu_used": 6.0,
        "cpu_requested_measured": 12.0,
        "ram_used": 8.0,
        "ram_requested_measured": 10.0,
    }
    found = efficiency(row, cpu_cost=3.0, ram_cost=1.0)
    assert found == pytest.approx(
        {"cpu_efficiency": 0.5, "ram_efficiency": 0.8, "total_efficiency": 0.575}
    )
    unknown = efficiency({**row, "cpu_used": None, "ram_used": None}, 3.0, 1.0)
    assert unknown == {"cpu_efficiency": None, "ram_efficiency": None, "total_efficiency": None}
    half = efficiency({**row, "ram_used": None}, 3.0, 1.0)
    assert half["total_efficiency"] == 0.5
    nothing_asked = efficiency({**row, "cpu_requested_measured": 0.0}, 3.0, 1.0)
    assert nothing_asked["cpu_efficiency"] is None


def _row(key: str, namespace: str, node: str, **costs: float) -> dict[str, Any]:
    row = {
        "cloud_account_id": "a",
        "date": DAY,
        "namespace": namespace,
        "controller_kind": "",
        "controller": namespace,
        "pod": key,
        "resource_id": key,
        "pod_uid": "" if namespace.startswith("__") else f"uid-{key}",
        "node": node,
        "labels": {},
        "namespace_labels": {},
        "services": [],
        "price_flag": "",
        "sign": 1,
    } | dict.fromkeys(COMPONENTS, 0.0)
    row |= costs
    row["cost"] = sum(costs.values())
    return row


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory):
    """docs/allocation.md's worked example in a fresh ClickHouse: a query function."""
    rows = [
        _row("a", "a", "n1", cpu_cost=2, ram_cost=1),
        _row("b1", "b", "n1", cpu_cost=1, ram_cost=1),
        _row("b2", "b", "n2", cpu_cost=3, ram_cost=3),
        _row("k", "kube-system", "n2", cpu_cost=1),
        _row("i1", "__idle__", "n1", cpu_cost=4, ram_cost=2, management_cost=1),
        _row("i2", "__idle__", "n2", cpu_cost=1, ram_cost=1, gpu_cost=5),
        _row("u", "__unmounted__", "", pv_cost=2),
    ]
    frame = pd.DataFrame(rows).astype({"sign": "int8"})
    path = tmp_path_factory.mktemp("sharing-example") / "ch"
    with connect(f"chdb://{path}") as client:
        warehouse.init_schema(client)
        client.insert_df("k8s_allocation", frame)

        def groups(**options: Any) -> dict[str, float]:
            parameters = {
                "cloud_account_ids": ["a"],
                "start_date": 0,
                "end_date": 2**32 - 1,
                "group_by": "namespace",
                "namespaces": [],
                "nodes": [],
                "services": [],
                "controllers": [],
                "label_keys": [],
                "label_values": [],
                "scope_namespaces": [],
                "scope_label_keys": [],
                "scope_label_values": [],
                "per_cluster": 0,
                **SharingPolicy.of(options).sql_parameters(),
                **bill_arguments(([], []), "billed"),  # no bill: nothing reconciled
            }
            answer = client.query(
                sqlfiles.query("k8s_costs_shared"),
                parameters=allocationrollup.with_rollup(client, parameters, ["a"], 0, 2**32 - 1),
            )
            return {
                row["group_key"]: row["own_cost"]
                + row["shared_idle"]
                + row["shared_namespaces"]
                + row["shared_overhead"]
                for row in answer.named_results()
            }

        yield groups


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"share_idle": "weighted"},
            {
                "a": 3 + 5 * 2 / 7 + 3 * 1 / 5 + 1 * 3 / 12,
                "b": 8 + 5 * 4 / 7 + 3 * 4 / 5 + 1 * 8 / 12,
                "kube-system": 1 + 5 * 1 / 7 + 1 * 1 / 12,
                "__idle__": 5,
                "__unmounted__": 2,
            },
        ),
        (
            {"share_idle": "even", "idle_by": "node"},
            {"a": 6.5, "b": 15, "kube-system": 4.5, "__unmounted__": 2},
        ),
        (
            {"share_namespaces": "kube-system", "share_split": "even", "shared_overhead_hourly": 1},
            {"a": 15.5, "b": 20.5, "__idle__": 14, "__unmounted__": 2},
        ),
    ],
)
def test_the_documented_worked_example(example, options, expected):
    assert example(**options) == pytest.approx(expected, rel=1e-12)
    # (28 of rows, plus 24 of overhead in the last case)
    assert sum(expected.values()) == pytest.approx(
        28 + 24 * options.get("shared_overhead_hourly", 0)
    )


def test_the_command_line_sets_only_the_options_given(tmp_path, monkeypatch):
    """`k8scost sharing set|show`: flags built from the policy's options, stored defaults
    changed option by option, `--reset` from nothing, a refused value `error:` exit 1."""
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(tmp_path))

    def sharing(*args: str) -> Any:
        return CliRunner().invoke(cli, ["sharing", *args, "--organization-id", "o"])

    first = sharing("set", "--share-idle", "even", "--share-labels", "team:infra")
    assert first.exit_code == 0, first.output
    second = sharing("set", "--shared-overhead-hourly", "1.5", "--share-labels", "")
    expected = SharingPolicy(share_idle="even", shared_overhead_hourly=1.5).document()
    assert json.loads(second.output) == expected
    assert json.loads(sharing("show").output) == expected
    refused = sharing("set", "--shared-overhead-hourly", "-1")
    assert refused.exit_code == 1 and "error: shared_overhead_hourly" in refused.output
    reset = sharing("set", "--reset", "--idle-by", "node")
    assert json.loads(reset.output) == SharingPolicy(idle_by="node").document()
    help_text = sharing("set", "--help").output
    assert all(f"--{name.replace('_', '-')}" in help_text for name in OPTION_NAMES)
