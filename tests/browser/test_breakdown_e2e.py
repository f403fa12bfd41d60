"""breakdown_expenses end to end: the pipeline's data served by `k8scost api` (no browser).

The cluster components are checked against the analytic truth of the simulated
scenario (tests/truth.py), at the exporter's prices: `cost_metric=list`, since the
site's bill holds one of a cluster's node VMs, which billed and effective price from
the bill (their truths: tests/unit/test_reconciled_*.py). The days are checked against
clean_expenses for each day alone.
"""

from __future__ import annotations

import pytest

from api.query.breakdown import COMPONENT_KEYS, IDLE
from etl.core.days import day_start_epoch
from tests.browser.conftest import DAY, Site
from tests.browser.test_dashboard import api_get
from tests.conftest import SimulatedPrometheus
from tests.truth import COST_KEYS, expected_allocation, expected_day_costs

pytestmark = pytest.mark.e2e

# The allocation's acceptance bound (tests/e2e/test_allocation_e2e.py): 0.01% of the truth.
REL = 1e-4


def test_each_cluster_day_splits_into_its_true_components_and_idle(
    site: Site, simulated_prometheus: SimulatedPrometheus
) -> None:
    scenario = simulated_prometheus.scenario
    for tenant in site.tenant_ids:
        body = api_get(
            site,
            "breakdown_expenses",
            breakdown_by="k8s_component",
            cloud_account_id=tenant,
            cost_metric="list",
        )
        assert len(body["breakdown"]) == 1, "one day of each cluster is costed"
        for day in site.days:
            if str(day_start_epoch(day)) not in body["breakdown"]:
                continue
            shown = body["breakdown"][str(day_start_epoch(day))]
            asset = expected_day_costs(scenario, tenant, day)
            idle_rows = [
                r
                for r in expected_allocation(scenario, tenant, day)
                if r["namespace"] == "__idle__"
            ]
            idle = {c: sum(row[c] for row in idle_rows) for c in COST_KEYS}
            for column, key in COMPONENT_KEYS.items():
                truth = asset[column] - idle[column]
                assert shown[key]["cost"] == pytest.approx(truth, rel=REL, abs=1e-9), (tenant, key)
            assert shown[IDLE]["cost"] == pytest.approx(sum(idle.values()), rel=REL)
            assert shown[IDLE]["cost"] > 0
            assert sum(k["cost"] for k in shown.values()) == pytest.approx(
                sum(asset.values()), rel=REL
            )


@pytest.mark.parametrize("breakdown_by", ["service_name", "cloud_account_id", "k8s_component"])
def test_each_days_buckets_add_up_to_that_days_clean_expenses(
    site: Site, breakdown_by: str
) -> None:
    body = api_get(site, "breakdown_expenses", breakdown_by=breakdown_by)
    assert len(body["breakdown"]) == len(site.days)
    for day in site.days:
        start = day_start_epoch(day)
        one_day = Site(site.url, site.organization_id, site.token, site.settings, [day], [])
        total = api_get(one_day, "clean_expenses")["total_cost"]
        assert sum(k["cost"] for k in body["breakdown"][str(start)].values()) == pytest.approx(
            total, rel=1e-9
        )
    assert body["previous_end_date"] == site.start - 1
    assert body["previous_start_date"] == site.start - len(site.days) * DAY
    assert body["previous_total"] == 0.0, "nothing was costed before the history"
