"""`k8scost run --from --to`: every tenant-day of a range, failures reported at the end."""

from __future__ import annotations

from datetime import timedelta

import pytest

from etl.storage import registry
from etl.worker import ledger
from tests.e2e.test_cli import k8scost
from tests.stored import stored_day
from tests.truth import expected_day_costs

pytestmark = pytest.mark.e2e


def test_a_range_costs_every_tenant_day_and_names_the_ones_that_failed(
    pipeline_settings, simulated_prometheus
):
    first = last = simulated_prometheus.days[0]
    empty = first - timedelta(days=1)  # before the simulated history: no metrics
    tenants = simulated_prometheus.tenant_ids[:1]
    completed = k8scost(
        pipeline_settings,
        "run",
        "--from",
        empty.isoformat(),
        "--to",
        last.isoformat(),
        "--tenant",
        tenants[0],
        "--concurrency",
        "2",
    )
    total = len(tenants) * 2
    assert completed.returncode == 1, completed.stderr
    # Not a terminal: one plain line per tenant-day, then the end report.
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == total + 1
    assert f"{total}/{total} tenant-days, {len(tenants)} failed" in completed.stdout
    assert lines[-1].startswith(f"{total} tenant-days: {total - len(tenants)} loaded")
    failed = [line for line in completed.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == len(tenants) and all(str(empty) in line for line in failed)
    database = registry.open_database(pipeline_settings.mongo_uri, pipeline_settings.mongo_db)
    records = ledger.find_records(database, tenants, empty, last)
    for tenant in tenants:
        assert records[(tenant, empty.isoformat())]["status"] == ledger.NO_DATA
        for day in (first,):
            assert records[(tenant, day.isoformat())]["status"] == ledger.SUCCEEDED
            expected = expected_day_costs(simulated_prometheus.scenario, tenant, day)
            assert stored_day(pipeline_settings, tenant, day)["cost"] == pytest.approx(
                sum(expected.values()), rel=1e-4
            )


def test_a_range_needs_both_ends_and_no_date(pipeline_settings):
    completed = k8scost(pipeline_settings, "run", "--from", "2026-06-01")
    assert completed.returncode != 0 and "--from and --to" in completed.stderr
