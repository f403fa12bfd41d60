"""A price sheet set after three days were costed, applied with `k8scost reprice`.

The cluster is simulated over three days (the last with a node the exporter does not
price: the on-prem case) and costed through the pipeline, which archives each day.
Then a sheet is set and `k8scost reprice` re-costs the three days from the archive with
Thanos' URL pointing at a closed port. Every namespace's, controller's and node's cpu,
ram, gpu and pv cost, and the cluster's cost per day, must equal the truth
(tests/truth.py) of the same scenario at the sheet's prices, chosen here by the rule
docs/pricing.md states; repricing again changes nothing, and a run that queries
Prometheus again gives the same day (the sheet applies to new runs too).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from devtools.simulate import build_scenario
from etl.storage.clickhouse import connect
from tests.allocation_checks import (
    ABS,
    REL,
    assert_matches_truth,
    registered_history,
    run,
    stored_allocation,
)
from tests.cli_runner import k8scost_in
from tests.stored import same_day, stored_day
from tests.truth import COST_KEYS, expected_day_costs

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # minutes: `make test` starts this file first

LAST_DAY = date(2026, 6, 3)
DAYS = [LAST_DAY - timedelta(days=n) for n in (2, 1, 0)]
# $ per core-hour, GiB-hour, GPU-hour (and PV GiB-hour on the `*` rows): far from any
# exporter price, so a node left at the exporter's price cannot pass for repriced.
EVERY_NODE = {"cpu": 0.011, "ram": 0.0013, "gpu": 0.77, "pv": 0.00021}
EVERY_NODE_LATER = {"cpu": 0.019, "ram": 0.0017, "gpu": 0.66, "pv": 0.00033}
BY_LABEL = {"cpu": 0.007, "ram": 0.0009, "gpu": 1.1}
BY_TYPE = {"cpu": 0.05, "ram": 0.006, "gpu": 0.0}
BY_NAME = {"cpu": 0.09, "ram": 0.008, "gpu": 2.5}


@dataclass(frozen=True)
class Choice:
    """What the sheet selects: a node by name, a zone by label, an instance type."""

    name: str
    zone: str
    instance_type: str

    def sheet(self) -> str:
        def row(selector: str, day: date, prices: dict[str, float]) -> str:
            pv = prices.get("pv", "")
            return f"{selector},{day},{prices['cpu']},{prices['ram']},{prices['gpu']},{pv}\n"

        return (
            "selector,valid_from,cpu_core_hour,ram_gib_hour,gpu_hour,pv_gib_hour\n"
            + row("*", DAYS[0], EVERY_NODE)
            + row(f"label:topology.kubernetes.io/zone={self.zone}", DAYS[0], BY_LABEL)
            + row(f"instance_type:{self.instance_type}", DAYS[1], BY_TYPE)
            + row(f"node:{self.name}", DAYS[0], BY_NAME)
            + row("*", DAYS[2], EVERY_NODE_LATER)
        )

    def prices(self, node: dict[str, Any], day: date) -> dict[str, float]:
        """The rule, written out: node name, then label, then instance type (from its
        day), then the `*` row in force."""
        if node["name"] == self.name:
            return BY_NAME
        if node["zone"] == self.zone:
            return BY_LABEL
        if node["instance_type"] == self.instance_type and day >= DAYS[1]:
            return BY_TYPE
        return EVERY_NODE_LATER if day >= DAYS[2] else EVERY_NODE


def choose(nodes: list[dict[str, Any]]) -> Choice:
    """The arm node by name (its zone's label selects it too), its zone, and the instance
    type of a CPU node of that zone (which has nodes in the other zone too): every rank
    of the rule decides some node's prices."""
    named = next(n for n in nodes if n["arch"] == "arm64")
    typed = next(
        n for n in nodes if n is not named and n["zone"] == named["zone"] and not n["gpu_count"]
    )
    choice = Choice(named["name"], named["zone"], typed["instance_type"])
    decided = [choice.prices(node, DAYS[-1]) for node in nodes]
    assert all(any(p is prices for p in decided) for prices in (BY_NAME, BY_LABEL, BY_TYPE))
    assert any(p is EVERY_NODE_LATER for p in decided)
    return choice


def at_sheet_prices(scenario: dict, day: date, choice: Choice) -> dict:
    """The scenario as if every node and PV had been priced by the sheet all day."""
    repriced = copy.deepcopy(scenario)
    (cluster,) = repriced["clusters"]
    for node in cluster["nodes"]:
        prices = choice.prices(node, day)
        node["prices"] = {r: [[node["start"], prices[r]]] for r in ("cpu", "ram", "gpu")}
        node["priced"] = True
    pv_price = (EVERY_NODE_LATER if day >= DAYS[2] else EVERY_NODE)["pv"]
    for pv in cluster["pvs"]:
        pv["price_per_gib_hour"] = pv_price
    return repriced


def node_day_list_costs(settings: Any, tenant: str, day: date) -> dict[str, float]:
    """What k8s_node_days holds as the day's list cpu, ram and gpu cost: what the bill
    reconciliation scales from."""
    sums = ", ".join(f"sum({r}_list_usd * sign) AS {r}_cost" for r in ("cpu", "ram", "gpu"))
    with connect(settings.clickhouse_dsn) as client:
        frame = client.query_df(
            f"SELECT {sums} FROM k8s_node_days WHERE cloud_account_id = {{tenant:String}} "
            "AND toDate(date) = {day:Date}",
            parameters={"tenant": tenant, "day": day},
        )
    return frame.iloc[0].to_dict()


def test_reprice_costs_archived_days_at_the_sheets_prices_without_thanos(tmp_path, monkeypatch):
    scenario = build_scenario(
        1, len(DAYS), LAST_DAY, seed=24, scrape_interval_s=300, pitfalls=["unpriced_node"]
    )
    with registered_history(tmp_path, {"on-prem": scenario}) as (settings, scenario):
        tenant = scenario["clusters"][0]["tenant_id"]
        for day in DAYS:
            run(settings, tenant, day)  # costed at the exporter's prices, archived
        at_exporter = {day: stored_day(settings, tenant, day) for day in DAYS}
        nodes = scenario["clusters"][0]["nodes"]
        assert any(not node.get("priced", True) for node in nodes)
        choice = choose(nodes)
        (tmp_path / "prices.csv").write_text(choice.sheet())

        monkeypatch.setenv("THANOS_URL", "http://127.0.0.1:9")  # nothing listens there
        k8scost = k8scost_in(settings.data_dir, monkeypatch)
        k8scost("pricing", "set", "--cluster", tenant, "--file", str(tmp_path / "prices.csv"))
        reprice = ("reprice", "--from", str(DAYS[0]), "--to", str(DAYS[-1]), "--tenant", tenant)
        printed = k8scost(*reprice)
        assert printed.count("replayed from") == len(DAYS)

        repriced = {}
        for day in DAYS:
            truth_scenario = at_sheet_prices(scenario, day, choice)
            rows = stored_allocation(settings, tenant, day)
            assert_matches_truth(rows, truth_scenario, tenant, day)
            truth = expected_day_costs(truth_scenario, tenant, day)
            stored = repriced[day] = stored_day(settings, tenant, day)
            for key in COST_KEYS:
                assert stored[key] == pytest.approx(truth[key], rel=REL, abs=ABS), (day, key)
            assert stored["cost"] == pytest.approx(sum(truth.values()), rel=REL)
            assert stored["cost"] != pytest.approx(at_exporter[day]["cost"], rel=1e-3)
            for key, value in node_day_list_costs(settings, tenant, day).items():
                assert value == pytest.approx(truth[key], rel=REL, abs=ABS), (day, key)

        k8scost(*reprice)  # again: restated, not added
        for day in DAYS:
            assert stored_day(settings, tenant, day) == same_day(repriced[day])

        # A day run again from Prometheus is priced by the sheet too.
        run(settings, tenant, DAYS[-1])
        assert stored_day(settings, tenant, DAYS[-1]) == same_day(repriced[DAYS[-1]])


def test_reprice_names_the_days_it_could_not_redo(tmp_path, monkeypatch):
    k8scost = k8scost_in(tmp_path / "data", monkeypatch)
    k8scost("accounts", "add", "--organization-id", "org", "--name", "c", "--id", "cluster-1")
    printed = k8scost(
        "reprice", "--from", "2026-06-01", "--to", "2026-06-02", "--tenant", "cluster-1", ok=False
    )
    assert "no archived extract for tenant cluster-1 on 2026-06-01" in printed
    assert printed.rstrip().endswith("reprice failed on 2 of 2 days: 2026-06-01, 2026-06-02")
