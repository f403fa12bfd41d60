"""k8s_costs' totals (api/routes/k8s_costs.py group_totals, also the showback reports'
manifests) are exact sums of the groups: the same bits in any order, and the value the
exact_sum rule gives, computed here with Fractions, where adding the floats does not."""

from __future__ import annotations

import itertools
from fractions import Fraction

from api.render.schemas import COST_FIELDS
from api.routes.k8s_costs import SHARED_PARTS, group_totals
from etl.core.sharing import SharingPolicy

# Tenths and thousandths: their float sums drift from the decimal total.
COSTS = [0.1, 0.2, 0.7, 1e-3, 0.3, 0.6, 7e-3, 0.1, 0.2, 0.4]


def _exact(values: list[float]) -> float:
    """The rule by hand: each value in whole 1e-12 units (round half to even), summed."""
    units = sum(round(Fraction(value) * 10**12) for value in values)
    return float(Fraction(units, 10**12))


def _groups(costs: list[float]) -> list[dict]:
    return [
        {
            **{field: cost for field in COST_FIELDS},
            "list_cost": cost,
            "shared": {part: cost for part in SHARED_PARTS},
        }
        for cost in costs
    ]


def test_the_totals_are_exact_sums_of_the_groups_in_any_order():
    assert sum(COSTS) != _exact(COSTS)  # so the test says something: floats drift here
    for policy in (SharingPolicy(), SharingPolicy(share_idle="weighted")):
        for order in itertools.islice(itertools.permutations(COSTS), 0, None, 50_000):
            totals = group_totals(_groups(list(order)), policy)
            assert all(totals[field] == _exact(COSTS) for field in COST_FIELDS)
            if policy.active:
                assert totals["shared"] == {part: _exact(COSTS) for part in SHARED_PARTS}
            else:
                assert totals["list_cost"] == _exact(COSTS)
