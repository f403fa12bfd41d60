"""The post-load check: the stored day, read as readers read it, against what the load wrote."""

from __future__ import annotations

import pandas as pd

from etl.costmodel.assets import COMPONENTS
from etl.worker.quality import day_problems

RESOURCE = "cluster-resource"
LOADED = {"cost": 7.0, **dict.fromkeys(COMPONENTS, 1.0)}


def state(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def expense(cost: float = 7.0, live_rows: int = 1, resource: str = RESOURCE) -> dict:
    return {"resource_id": resource, "live_rows": live_rows, "cost": cost}


def breakdown(**changes: float) -> dict:
    return {"resource_id": RESOURCE, "live_rows": 1, **dict.fromkeys(COMPONENTS, 1.0), **changes}


def test_a_day_stored_as_loaded_has_no_problem():
    assert day_problems(LOADED, state([expense()]), state([breakdown()]), RESOURCE) == []


def test_a_doubled_day_is_caught():
    problems = day_problems(LOADED, state([expense(14.0, 2)]), state([breakdown()]), RESOURCE)
    assert problems == ["expenses has 2 live rows"]


def test_a_left_over_resource_or_an_empty_day_is_caught():
    two = state([expense(), expense(resource="stale")])
    assert (
        "expenses holds 2 live resources"
        in day_problems(LOADED, two, state([breakdown()]), RESOURCE)[0]
    )
    assert day_problems(LOADED, state([expense()]), state([]), RESOURCE) == [
        f"k8s_cost_breakdown holds 0 live resources, expected only {RESOURCE}"
    ]


def test_values_that_differ_from_the_load_or_do_not_add_up_are_caught():
    problems = day_problems(
        LOADED, state([expense(7.5)]), state([breakdown(cpu_cost=-1.0)]), RESOURCE
    )
    assert problems == [
        "cost is 7.5, the load wrote 7.0",
        "cpu_cost is -1.0",
        "cost 7.5 is not the sum of its components 5.0",
    ]
