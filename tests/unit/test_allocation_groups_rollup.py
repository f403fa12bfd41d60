"""Property test: the k8s_costs groups stored per cluster-day answer what the
allocation rows answer, to the bit, under restatement.

Hypothesis draws test_allocation_rollup.py's histories (allocation rows, node-days,
PV-days and bill rows of two clusters over three days, restated, merged and read in
any order, every other restatement through a second connection). At every read, on
the data as it is then, for each coarse grouping drawn (etl/storage/allocationgroups.py
COARSE_PARTS, alone or two of them, with or without the chart's `day` part): the rows
k8s_costs reads from the stored groups (etl/storage/k8scostreads.py, which refreshes
the allocation rollup, then the groups) are the rows k8s_costs_groups.sql sums from
the allocation rollup itself, every column equal as a double (same bits), in the same
order. Made to keep a cluster-day's groups after its allocation was computed again
(the stale-days query answering nothing), the test fails.

Examples are drawn derandomized with a share of the profile's (tests/rollup_checks.py).
"""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.core.days import day_start_epoch
from etl.core.sharing import SharingPolicy
from etl.storage import allocationgroups, allocationrollup, sqlfiles, warehouse
from etl.storage.clickhouse import connect
from etl.storage.k8scostreads import cost_group_rows
from tests.rollup_checks import alternating_writers, history_settings
from tests.unit.test_allocation_rollup import histories, restated
from tests.unit.test_bill_rollup import COLUMNS, DAYS, EVERYTHING, read_parameters

EXAMPLES = itertools.count()
EXAMPLES_SHARE = 0.25  # of the profile's (tests/rollup_checks.py)
GROUPINGS = st.lists(
    st.tuples(
        st.lists(
            st.sampled_from(allocationgroups.COARSE_PARTS), min_size=1, max_size=2, unique=True
        ),
        st.booleans(),
    ).map(lambda drawn: ",".join(drawn[0]) + (",day" if drawn[1] else "")),
    min_size=1,
    max_size=3,
)
UNFILTERED: dict[str, list[str]] = {name: [] for name in allocationgroups.ROW_FILTERS}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with connect(f"chdb://{tmp_path_factory.mktemp('group-rollup') / 'ch'}") as client:
        warehouse.init_schema(client)
        yield client


def same_bits(value: object) -> object:
    """A value as compared: a double by its bits (NaN equal to NaN), others as they are."""
    return float(value).hex() if isinstance(value, float) and not math.isnan(value) else value


def answers(rows) -> list[dict]:
    return [{name: same_bits(value) for name, value in row.items()} for row in rows]


def check_read(client, prefix: str, bill_read: tuple, groupings: list[str]) -> None:
    read = read_parameters(prefix, bill_read)
    parameters = {
        "cloud_account_ids": read["cluster_account_ids"],
        "start_date": read["first_day"],
        "end_date": read["last_day"],
        **{name: read[name] for name in allocationrollup.BILL_ARGUMENTS},
        **UNFILTERED,
    }
    for group_by in groupings:
        asked = {**parameters, "group_by": group_by}
        assert allocationgroups.stored_grouping(asked) is not None
        stored = answers(cost_group_rows(client, asked, SharingPolicy()))
        rows = client.query(
            sqlfiles.query("k8s_costs_groups"),
            parameters=allocationrollup.with_rollup(
                client, asked, asked["cloud_account_ids"], asked["start_date"], asked["end_date"]
            ),
        ).named_results()
        assert stored == answers(rows), group_by


@history_settings(EXAMPLES_SHARE)
@given(history=histories(), groupings=GROUPINGS)
def test_the_stored_groups_answer_what_the_rows_answer_under_restatement(
    client, history, groupings
):
    prefix = f"g{next(EXAMPLES)}-"
    with alternating_writers(client) as writers:
        for step in history:
            if step[0] == "read":
                check_read(client, prefix, tuple(step[1:-1]), groupings)  # its filters left out
            elif step[0] == "merge":
                client.command("OPTIMIZE TABLE k8s_allocation FINAL")
            else:
                restated(next(writers), prefix, step)
    for column in COLUMNS:
        check_read(client, prefix, (column, *EVERYTHING[1:]), groupings)


def test_awkward_amounts_sum_to_the_same_bits(client):
    """Amounts no binary fraction holds, tiny and large, and usage left unmeasured on
    some rows: the stored groups' sums are the rows' exact sums all the same."""
    amounts = [0.1, 1 / 3, 1e-13, 123456.789, 2.675, 7e12]
    rows = pd.DataFrame(
        [
            {
                "resource_id": f"r{n}",
                "namespace": f"ns-{n % 2}",
                "controller_kind": "Deployment",
                "controller": f"app-{n % 3}",
                "pod": f"pod-{n}",
                "node": f"node-{n % 2}",
                "cpu_cost": amount,
                "ram_cost": amounts[-1 - n],
                "cost": amount + amounts[-1 - n],
                "cpu_request_core_hours": amount,
                "cpu_used_core_hours": None if n % 2 else amount / 7,
            }
            for n, amount in enumerate(amounts)
        ]
    )
    for day in DAYS[:2]:
        warehouse.restate_day(client, "k8s_allocation", "awkward", day, rows)
    first, last = day_start_epoch(DAYS[0]), day_start_epoch(DAYS[1])
    parameters = {
        "cloud_account_ids": ["awkward"],
        "start_date": first,
        "end_date": last,
        "bill_resource_ids": [],
        "bill_instance_keys": [],
        "cost_column": "cost",
        **UNFILTERED,
    }
    for group_by in ("namespace", "controller,day", "node,namespace"):
        asked = {**parameters, "group_by": group_by}
        stored = answers(cost_group_rows(client, asked, SharingPolicy()))
        rows = client.query(
            sqlfiles.query("k8s_costs_groups"),
            parameters=allocationrollup.with_rollup(client, asked, ["awkward"], first, last),
        ).named_results()
        assert stored == answers(rows)


@pytest.mark.parametrize(
    ("asked", "grouping"),
    [
        ({"group_by": "namespace"}, ("namespace", False)),
        ({"group_by": "controller,day"}, ("controller", True)),
        ({"group_by": "cluster,node"}, ("cluster,node", False)),
        ({"group_by": "pod"}, None),
        ({"group_by": "label:team,day"}, None),
        ({"group_by": "day"}, None),
        ({"group_by": "day,namespace"}, None),
        ({"group_by": "namespace", "namespaces": ["web"]}, None),
        ({"group_by": "namespace", "scope_label_keys": ["team"]}, None),
    ],
)
def test_only_unfiltered_coarse_groupings_read_the_stored_groups(asked, grouping):
    assert allocationgroups.stored_grouping({**UNFILTERED, **asked}) == grouping
