"""One tenant-day end to end against a real Prometheus, checked against the analytic truth."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from etl.core.config import Settings
from etl.metroculus.extract import QUERY_COUNT
from etl.metroculus.promql import PromQLUnavailableError
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from etl.worker import ledger
from etl.worker.pipeline import NoDataError, run_tenant_day
from tests.stored import same_day, stored_day
from tests.truth import COST_KEYS, expected_day_costs

pytestmark = pytest.mark.e2e

# Everything but network is exact up to float rounding; network goes through
# Prometheus' `increase`, which extrapolates half a scrape interval for pods that
# stop mid-day (the simulator keeps their egress tiny), hence a looser bound,
# still ten times tighter than the 0.1% the issue asks for.
EXACT = 1e-9
NETWORK = 1e-4


def _account(settings: Settings, tenant: str) -> dict:
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    (account,) = registry.k8s_accounts(database, [tenant])
    return account


def _run(settings: Settings, tenant: str, day: date):
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    return run_tenant_day(settings, database, _account(settings, tenant), day)


def test_every_component_of_every_tenant_day_matches_the_truth(
    pipeline_settings, simulated_prometheus
):
    checked = 0
    for tenant in simulated_prometheus.tenant_ids:
        for day in simulated_prometheus.days:
            result = _run(pipeline_settings, tenant, day)
            expected = expected_day_costs(simulated_prometheus.scenario, tenant, day)
            stored = stored_day(pipeline_settings, tenant, day)
            for component in COST_KEYS:
                tolerance = NETWORK if component == "network_cost" else EXACT
                assert result.breakdown[component] == pytest.approx(
                    expected[component], rel=tolerance
                ), (tenant, day, component)
                assert stored[component] == pytest.approx(expected[component], rel=tolerance)
            assert expected["gpu_cost"] > 0 and expected["network_cost"] > 0
            assert stored["cost"] == pytest.approx(sum(expected.values()), rel=NETWORK)
            assert stored["cost"] == pytest.approx(sum(stored[c] for c in COST_KEYS), rel=EXACT)
            checked += 1
    assert checked == 4


def test_a_rerun_leaves_identical_totals(pipeline_settings, simulated_prometheus):
    tenant, day = simulated_prometheus.tenant_ids[0], simulated_prometheus.days[1]
    _run(pipeline_settings, tenant, day)
    first = stored_day(pipeline_settings, tenant, day)
    _run(pipeline_settings, tenant, day)
    _run(pipeline_settings, tenant, day)
    again = stored_day(pipeline_settings, tenant, day)
    assert again == same_day(first)
    assert again["expense_rows"] == 1 and again["live_rows"] == 1


def test_the_cluster_row_holds_its_price_in_every_metric(pipeline_settings, simulated_prometheus):
    """Until nodes are priced from the bill, the exporter's price is the cluster's billed,
    effective, list and contracted cost alike (docs/api.md, "Cost metrics"), rerun or not."""
    tenant, day = simulated_prometheus.tenant_ids[0], simulated_prometheus.days[0]
    _run(pipeline_settings, tenant, day)
    _run(pipeline_settings, tenant, day)
    with connect(pipeline_settings.clickhouse_dsn) as client:
        ((billed, *others),) = client.query(
            "SELECT sum(cost * sign), sum(effective_cost * sign), sum(list_cost * sign),"
            " sum(contracted_cost * sign) FROM expenses WHERE cloud_account_id = {tenant:String}"
            " AND toDate(date) = {day:Date} HAVING sum(sign) > 0",
            parameters={"tenant": tenant, "day": day},
        ).result_rows
    assert billed > 0
    assert others == pytest.approx([billed] * 3, rel=1e-12)


def test_a_rerun_replaces_a_wrong_day_and_leaves_nothing_over(
    pipeline_settings, simulated_prometheus
):
    tenant, day = simulated_prometheus.tenant_ids[1], simulated_prometheus.days[0]
    with connect(pipeline_settings.clickhouse_dsn) as client:
        wrong = pd.DataFrame(
            {
                "resource_id": [registry.cluster_resource_id(tenant), "stale-resource"],
                "cost": [999.0, 5.0],
            }
        )
        warehouse.restate_day(client, "expenses", tenant, day, wrong)
    _run(pipeline_settings, tenant, day)
    expected = expected_day_costs(simulated_prometheus.scenario, tenant, day)
    with connect(pipeline_settings.clickhouse_dsn) as client:
        rows = client.query(
            "SELECT resource_id, sum(cost * sign) FROM expenses "
            "WHERE cloud_account_id = {t:String} GROUP BY cloud_account_id, date, resource_id "
            "HAVING sum(sign) > 0",
            parameters={"t": tenant},
        ).result_rows
    assert [resource for resource, _ in rows] == [registry.cluster_resource_id(tenant)]
    assert rows[0][1] == pytest.approx(sum(expected.values()), rel=NETWORK)


def test_a_constant_number_of_instant_queries_per_tenant_day(
    pipeline_settings, simulated_prometheus
):
    counts = {
        _run(pipeline_settings, tenant, simulated_prometheus.days[0]).promql_queries
        for tenant in simulated_prometheus.tenant_ids
    }
    assert counts == {QUERY_COUNT}  # no second read for the ledger's sample count


def test_a_failed_day_keeps_the_previous_good_data(pipeline_settings, simulated_prometheus):
    tenant, day = simulated_prometheus.tenant_ids[0], simulated_prometheus.days[0]
    _run(pipeline_settings, tenant, day)
    good = stored_day(pipeline_settings, tenant, day)
    down = pipeline_settings.with_overrides(thanos_url="http://127.0.0.1:9", promql_retries=0)
    with pytest.raises(PromQLUnavailableError, match=tenant):
        _run(down, tenant, day)
    assert stored_day(pipeline_settings, tenant, day) == same_day(good)
    record = _ledger(pipeline_settings, tenant, day)
    assert (record["status"], record["stage"], record["attempts"]) == ("failed", "extract", 2)
    assert "PromQLUnavailableError" in record["last_error"]
    _run(pipeline_settings, tenant, day)
    assert _ledger(pipeline_settings, tenant, day)["status"] == "succeeded"


def _ledger(settings: Settings, tenant: str, day: date) -> dict:
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    return ledger.find_records(database, [tenant], day, day)[(tenant, day.isoformat())]


def test_a_day_without_metrics_loads_nothing(pipeline_settings, simulated_prometheus):
    tenant = simulated_prometheus.tenant_ids[0]
    before_history = date(2026, 5, 1)
    with pytest.raises(NoDataError, match="no cost metrics"):
        _run(pipeline_settings, tenant, before_history)
    assert stored_day(pipeline_settings, tenant, before_history) == {}
    assert _ledger(pipeline_settings, tenant, before_history)["status"] == "no_data"


def test_the_cluster_resource_document(pipeline_settings, simulated_prometheus):
    tenant = simulated_prometheus.tenant_ids[0]
    for day in simulated_prometheus.days:
        _run(pipeline_settings, tenant, day)
    database = registry.open_database(pipeline_settings.mongo_uri, pipeline_settings.mongo_db)
    resource = database.resources.find_one({"_id": registry.cluster_resource_id(tenant)})
    cluster = next(c for c in simulated_prometheus.scenario["clusters"] if c["tenant_id"] == tenant)
    assert resource["resource_type"] == "K8s Cluster"
    assert resource["service_name"] == "Kubernetes"
    assert resource["name"] == cluster["info"]["name"]
    assert resource["region"] == cluster["info"]["region"]
    assert resource["first_seen"] == int(simulated_prometheus.scenario["start"])
    assert resource["last_seen"] == int(simulated_prometheus.scenario["end"]) - 1
