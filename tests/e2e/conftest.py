"""Fixtures of the end-to-end tier shared by several modules.

`loaded`: two simulated clusters over one day at a 5 min scrape, one per exporter shape
that changes the allocation's join (`opencost`: OpenCost's own emitters, `ksm2`: a real
kube-state-metrics v2), costed once through the tenant-day pipeline; the stored
allocation and container-usage rows then answer every sharing, efficiency and
right-sizing question of tests/e2e/test_sharing_e2e.py and test_efficiency_e2e.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from devtools.simulate import build_scenario
from etl.storage import registry
from tests.allocation_checks import (
    PITFALL_DAY,
    api_over_every_day,
    registered_history,
)
from tests.stored import stored_day
from tests.truth import expected_allocation

SHAPES = ("opencost", "ksm2")


@pytest.fixture(scope="session")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both clusters costed once; `get(route, status, **query)` asks the API over the day."""
    scenarios = {
        f"share-{shape}": build_scenario(
            1, 1, PITFALL_DAY, seed=400 + n, scrape_interval_s=300, exporter=shape
        )
        for n, shape in enumerate(SHAPES)
    }
    root = tmp_path_factory.mktemp("sharing")
    with registered_history(root, scenarios) as (settings, scenario):
        tenants = [cluster["tenant_id"] for cluster in scenario["clusters"]]
        history_view = SimpleNamespace(tenant_ids=tenants, days=[PITFALL_DAY], scenario=scenario)
        get = api_over_every_day(settings, history_view)  # runs every tenant-day
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    return {
        "get": get,
        "scenario": scenario,
        "tenants": tenants,
        "settings": settings,
        "database": database,
        "organization": scenario["clusters"][0]["organization_id"],
        "truth": [(t, expected_allocation(scenario, t, PITFALL_DAY)) for t in tenants],
        "total": sum(stored_day(settings, t, PITFALL_DAY)["cost"] for t in tenants),
    }
