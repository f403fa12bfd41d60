"""Price sheets: the CSV's errors (line and column), which row prices a node on a day,
the sheet applied to a day's answers, and `k8scost pricing set|sheets|show|unset`."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from etl.core.answers import ANSWER, ANSWERS
from etl.costmodel.pricesheet import (
    PriceSheetError,
    from_documents,
    in_force,
    node_row,
    parse_sheet,
)
from etl.costmodel.sheetprices import priced_by_sheet
from etl.metroculus.nodes import Day, small_answers
from etl.metroculus.promql import Series
from tests.allocation_cluster import LO, STEP
from tests.cli_runner import k8scost_in

HEADER = "selector,valid_from,cpu_core_hour,ram_gib_hour,gpu_hour,pv_gib_hour\n"
SHEET = HEADER + (
    "*,2026-06-01,0.02,0.003,0.5,0.0002\n"
    "instance_type:m5.xlarge,2026-06-01,0.04,0.005,0,\n"
    "label:pool=batch,2026-06-01,0.03,0.004,0,\n"
    "label:team=ml,2026-06-01,0.05,0.006,1.5,\n"
    "node:edge-1,2026-06-01,0.01,0.001,0,\n"
    "*,2026-06-03,0.025,0.0035,0.5,0.0003\n"
)


def error_of(text: str) -> str:
    with pytest.raises(PriceSheetError) as raised:
        parse_sheet(text, "prices.csv")
    return str(raised.value)


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("", "line 1, column 1", "no header"),
        ("selector,valid_from,cpu\n", "line 1, column 3", "unknown column 'cpu'"),
        (HEADER.replace(",pv_gib_hour", ""), "line 1, column 6", "lacks the columns pv_gib_hour"),
        (HEADER, "line 2, column 1", "no price rows"),
        (HEADER + "*,2026-06-01,0.02,0.003,0.5\n", "line 2, column 6", "5 fields"),
        (HEADER + "pool=a,2026-06-01,1,1,1,\n", "line 2, column 1", "none of node:NAME"),
        (HEADER + "label:pool,2026-06-01,1,1,1,\n", "line 2, column 1", "label:KEY=VALUE"),
        (HEADER + "node:,2026-06-01,1,1,1,\n", "line 2, column 1", "names no node"),
        (HEADER + "node:a,2026-13-01,1,1,1,\n", "line 2, column 2", "invalid date"),
        (HEADER + "node:a,2026-06-01,abc,1,1,\n", "line 2, column 3", "'abc' is not a number"),
        (HEADER + "node:a,2026-06-01,1,nan,1,\n", "line 2, column 4", "not a finite"),
        (HEADER + "node:a,2026-06-01,1,inf,1,\n", "line 2, column 4", "not a finite"),
        (HEADER + "node:a,2026-06-01,1,1,-0.5,\n", "line 2, column 5", "non-negative"),
        (HEADER + "node:a,2026-06-01,11,1,1,\n", "line 2, column 3", "over the plausible"),
        (HEADER + "*,2026-06-01,1,1,1,\n", "line 2, column 6", "a '*' row needs"),
        (HEADER + "node:a,2026-06-01,1,1,1,0.1\n", "line 2, column 6", "only a '*' row"),
        (
            HEADER + "node:a,2026-06-01,1,1,1,\n\nnode:a,2026-06-01,2,1,1,\n",
            "line 4, column 1",
            "already on line 2",
        ),
        (HEADER + '"node:a,2026-06-01,1,1,1,\n', "line 2, column 1", "not CSV"),
    ],
)
def test_a_malformed_sheet_is_refused_at_its_line_and_column(text, where, reason):
    message = error_of(text)
    assert message.startswith(f"prices.csv, {where}: "), message
    assert reason in message


def test_columns_may_come_in_any_order_and_cells_are_trimmed():
    text = "pv_gib_hour, selector ,gpu_hour,ram_gib_hour,cpu_core_hour,valid_from\n"
    (row,) = parse_sheet(text + " 0.1 ,*, 2 ,0.5, 1 ,2026-06-01\n", "p.csv")
    assert (row.prices, row.pv_gib_hour, row.valid_from) == (
        {"cpu": 1.0, "ram": 0.5, "gpu": 2.0},
        0.1,
        date(2026, 6, 1),
    )


def test_a_stored_sheet_reads_back_as_it_was_parsed():
    rows = parse_sheet(SHEET, "p.csv")
    assert from_documents(json.loads(json.dumps([r.document() for r in rows]))) == rows


def prices_of(day: date, node: str, labels: dict[str, str]) -> dict[str, float] | None:
    row = node_row(in_force(parse_sheet(SHEET, "p.csv"), day), node, labels)
    return None if row is None else dict(row.prices)


XLARGE = {"node_kubernetes_io_instance_type": "m5.xlarge"}


@pytest.mark.parametrize(
    ("node", "labels", "cpu"),
    [
        ("other", {}, 0.02),  # only `*`
        ("a", XLARGE, 0.04),  # instance type over `*`
        ("a", {**XLARGE, "pool": "batch"}, 0.03),  # label over instance type
        ("a", {"pool": "batch", "team": "ml"}, 0.03),  # two labels: the first row written
        ("edge-1", {**XLARGE, "team": "ml"}, 0.01),  # node name over everything
        ("a", {"beta_kubernetes_io_instance_type": "m5.xlarge"}, 0.04),  # the older label
    ],
)
def test_the_most_specific_selector_prices_a_node(node, labels, cpu):
    assert prices_of(date(2026, 6, 2), node, labels)["cpu"] == cpu


def test_a_row_is_in_force_from_its_day_until_a_later_row_of_its_selector():
    assert prices_of(date(2026, 5, 31), "other", {}) is None
    assert prices_of(date(2026, 6, 2), "other", {})["cpu"] == 0.02
    assert prices_of(date(2026, 6, 3), "other", {})["cpu"] == 0.025
    assert prices_of(date(2027, 1, 1), "other", {})["cpu"] == 0.025
    # The later `*` row does not outrank a more specific row still in force.
    assert prices_of(date(2026, 6, 3), "a", XLARGE)["cpu"] == 0.04


def test_label_keys_match_as_kube_state_metrics_names_them():
    sheet = parse_sheet(HEADER + "label:example.com/pool=gpu,2026-06-01,1,1,1,\n", "p.csv")
    assert node_row(sheet, "n", {"example_com_pool": "gpu"}) is sheet[0]
    assert node_row(sheet, "n", {"example_com_pool": "cpu"}) is None


def answers(step_s: int = 300) -> dict[str, pd.DataFrame]:
    """A day of two nodes (one the exporter did not price at all) and a PV."""
    empty = {a.name: a.frame([]) for a in ANSWERS}
    steps = 86400 // step_s
    labels = json.dumps({"label_node_kubernetes_io_instance_type": "m5.xlarge"})
    return empty | {
        "node_life_steps": ANSWER["node_life_steps"].frame([["a", steps], ["b", steps / 2]]),
        "node_labels": ANSWER["node_labels"].frame([["a", labels, 1.0]]),
        "node_cpu_price_samples": ANSWER["node_cpu_price_samples"].frame([["a", 0.1 * steps]]),
        "node_cpu_price_changes": ANSWER["node_cpu_price_changes"].frame(
            [["a", "0.1", "1780272000", 1.0], ["a", "0.2", "1780300000", 1.0]]
        ),
        "pv_bytes": ANSWER["pv_bytes"].frame([["pv-1", 2.0**30]]),
        "pv_life_steps": ANSWER["pv_life_steps"].frame([["pv-1", steps]]),
    }


def test_the_sheet_replaces_the_exporters_prices_in_the_answers():
    day = date(2026, 6, 2)
    priced, issues = priced_by_sheet(answers(), parse_sheet(SHEET, "p.csv"), day)
    assert issues == []
    samples = priced["node_cpu_price_samples"].set_index("node")["value"].to_dict()
    assert samples == {"a": 0.04 * 288, "b": 0.02 * 144}  # b had no price series at all
    changes = priced["node_cpu_price_changes"]
    assert changes[["node", "price", "at"]].values.tolist() == [
        ["a", "0.04", "1780358400"],
        ["b", "0.02", "1780358400"],
    ]
    assert priced["node_gpu_price_samples"].set_index("node")["value"].to_dict() == {
        "a": 0.0,
        "b": 0.5 * 144,
    }
    assert priced["pv_price_samples"].values.tolist() == [["pv-1", 0.0002 * 288]]


def test_without_a_sheet_in_force_the_answers_are_untouched():
    original = answers()
    priced, issues = priced_by_sheet(original, parse_sheet(SHEET, "p.csv"), date(2026, 5, 1))
    assert priced is original and issues == []


def test_a_pvs_life_is_the_steps_of_its_capacity_series_not_its_price_series():
    """pv_life_steps is derived in the transform from the archived raw samples of the
    small families (no query of its own): a PV the exporter never priced still has one."""

    def series(family: str, pv: str, hours: range) -> Series:
        labels = {"__name__": family, "persistentvolume": pv}
        return Series(labels, [LO + h * STEP for h in hours], [1.0] * len(hours))

    capacity = "kube_persistentvolume_capacity_bytes"
    raw = [
        series(capacity, "pv-all-day", range(24)),
        series("pv_hourly_cost", "pv-all-day", range(6)),
        series(capacity, "pv-morning", range(12)),
        series(capacity, "pv-unpriced", range(18, 24)),
    ]
    lives = small_answers(raw, Day(LO, STEP))["pv_life_steps"]
    assert dict(zip(lives["persistentvolume"], lives["value"], strict=True)) == {
        "pv-all-day": 24,
        "pv-morning": 12,
        "pv-unpriced": 6,
    }


def test_label_rows_without_node_labels_and_pvs_without_a_life_are_reported():
    day, old = date(2026, 6, 2), answers()
    old["node_labels"] = ANSWER["node_labels"].frame([])
    old["pv_life_steps"] = ANSWER["pv_life_steps"].frame([])
    priced, issues = priced_by_sheet(old, parse_sheet(SHEET, "p.csv"), day)
    assert "matched no node" in issues[0] and "instance_type:m5.xlarge" in issues[0]
    assert "PVs pv-1 have no life" in issues[1]
    assert priced["pv_price_samples"].empty
    assert priced["node_cpu_price_samples"].set_index("node")["value"].to_dict() == {
        "a": 0.02 * 288,
        "b": 0.02 * 144,
    }


def test_the_pricing_sheet_commands(tmp_path, monkeypatch):
    k8scost = k8scost_in(tmp_path / "data", monkeypatch)
    k8scost("accounts", "add", "--organization-id", "org", "--name", "c", "--id", "cluster-1")
    sheet, bad = str(tmp_path / "prices.csv"), str(tmp_path / "bad.csv")
    (tmp_path / "prices.csv").write_text(SHEET)
    (tmp_path / "bad.csv").write_text(SHEET + "node:x,2026-06-01,1,1,oops,\n")
    stored = k8scost("pricing", "set", "--cluster", "cluster-1", "--file", sheet)
    assert "cluster cluster-1: 6 rows from prices.csv, in force from 2026-06-01" in stored
    refused = k8scost("pricing", "set", "--cluster", "cluster-1", "--file", bad, ok=False)
    assert f"{bad}, line 8, column 5: gpu_hour 'oops' is not a number" in refused
    refused = k8scost("pricing", "set", "--cluster", "nope", "--file", sheet, ok=False)
    assert "unknown tenant nope" in refused
    shown = k8scost("pricing", "show", "--cluster", "cluster-1")
    assert parse_sheet(shown, "shown") == parse_sheet(SHEET, "p.csv")  # nothing of bad.csv
    on_day = k8scost("pricing", "show", "--cluster", "cluster-1", "--date", "2026-06-03")
    assert [r.selector.text() for r in parse_sheet(on_day, "shown")][-1] == "*"
    assert len(parse_sheet(on_day, "shown")) == 5
    listed = k8scost("pricing", "sheets")
    assert "cluster-1" in listed and "prices.csv" in listed
    k8scost("pricing", "unset", "--cluster", "cluster-1")
    assert "cluster-1" not in k8scost("pricing", "sheets")
    k8scost("pricing", "show", "--cluster", "cluster-1", ok=False)
