"""Property test through the real query set and a real Prometheus: drawn cluster-days,
rendered in every exporter shape, cost one amount that adds up and matches the truth.

Hypothesis draws the simulator's seed, a set of the field's pitfalls and an exporter
shape; each example is written as that shape, backfilled into its own Prometheus and
costed twice through the tenant-day pipeline. A server per example is the expensive
part, so the examples are few (MAX_EXAMPLES, derandomized: the same on every run);
tests/unit/test_allocation_properties.py draws many more on the transform alone.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.simulate import SHAPES, build_scenario
from devtools.simulate.pitfalls import PITFALLS
from tests.allocation_checks import (
    PITFALL_DAY,
    assert_matches_truth,
    registered_history,
    run,
    stored_allocation,
)

MAX_EXAMPLES = 3
pytestmark = pytest.mark.e2e


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(1, 10_000),
    pitfalls=st.sets(st.sampled_from(PITFALLS), max_size=4),
    shape=st.sampled_from(sorted(SHAPES)),
)
def test_a_drawn_cluster_day_in_any_shape_costs_one_amount(
    tmp_path_factory: pytest.TempPathFactory, seed: int, pitfalls: set[str], shape: str
) -> None:
    scenario = build_scenario(
        1,
        1,
        PITFALL_DAY,
        seed=seed,
        scrape_interval_s=300,
        pitfalls=sorted(pitfalls),
        exporter=shape,
    )
    root = tmp_path_factory.mktemp("drawn")
    with registered_history(root, {shape: scenario}) as (settings_, merged):
        tenant = merged["clusters"][0]["tenant_id"]
        first = run(settings_, tenant, PITFALL_DAY)
        rows = stored_allocation(settings_, tenant, PITFALL_DAY).sort_values("resource_id")
        again = run(settings_, tenant, PITFALL_DAY)
        rerun = stored_allocation(settings_, tenant, PITFALL_DAY).sort_values("resource_id")
    assert again.cost == first.cost and again.breakdown == first.breakdown
    assert list(rerun["resource_id"]) == list(rows["resource_id"])
    assert not [issue for issue in first.issues if "does not reconcile" in issue]
    assert (rows[["cpu_cost", "ram_cost", "gpu_cost", "pv_cost"]] >= -1e-9).all().all()
    assert_matches_truth(rows, merged, tenant, PITFALL_DAY)
