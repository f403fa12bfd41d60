"""breakdown_expenses over a real embedded ClickHouse (chdb) and montydb under tmp_path.

One organization over four days: a cluster costed on days 1-3 (with its breakdown
and allocation, an `__idle__` row among them) whose node VM is billed on days 1-4,
another VM, and a bucket of another provider. Every expected figure is computed here
from what was written; each day's buckets are also checked against clean_expenses
for that day alone, the figure the dashboard's table shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest

from api.app import create_app
from api.query.breakdown import BREAKDOWNS
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect
from tests.api_data import (
    Api,
    add_cloud_account,
    add_cluster,
    add_resource,
    assert_problem,
    day,
    write_allocation,
    write_breakdown,
    write_cost,
    write_costs,
)

URL = "/restapi/v2/organizations/{org}/breakdown_expenses"
CLUSTER_COST = {1: 16.0, 2: 32.0, 3: 64.0}
NODE_COST = {1: 1.0, 2: 2.0, 3: 4.0, 4: 8.0}
OTHER_COST = 100.0
BUCKET_COST = {1: 0.5, 2: 0.25, 3: 0.125, 4: 0.0625}
ALL_DAYS = [1, 2, 3, 4]


def start(n: int) -> int:
    return day_start_epoch(day(n))


def end(n: int) -> int:
    return day_start_epoch(day(n)) + 86399


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Any]:
    """Settings of stores shared by the module's tests (they only read), and the database."""
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path_factory.mktemp("breakdown"))})
    with connect(settings.clickhouse_dsn) as client:
        warehouse.init_schema(client)
    return settings, registry.open_database(settings.mongo_uri, settings.mongo_db)


@pytest.fixture(scope="module")
def app(stores: tuple[Settings, Any]) -> Any:
    return create_app(stores[0])


@pytest.fixture(scope="module")
def api(app: Any, stores: tuple[Settings, Any]) -> Iterator[Api]:
    with app.test_client() as client:
        yield Api(client, stores[1])


@pytest.fixture(scope="module")
def org(stores: tuple[Settings, Any]) -> str:
    """The organization above; the cluster's resource id."""
    settings, db = stores
    cluster = add_cluster(db, "org-1", "acc-k8s", list(CLUSTER_COST))
    db.resources.update_one(
        {"_id": cluster}, {"$set": {"meta.node_provider_ids": ["aws:///eu-west-1a/i-0node"]}}
    )
    for n, cost in CLUSTER_COST.items():
        write_cost(settings, "acc-k8s", cluster, n, cost)
        write_breakdown(
            settings,
            "acc-k8s",
            cluster,
            n,
            {
                "cpu_cost": cost / 2,
                "ram_cost": cost / 4,
                "pv_cost": cost / 8,
                "network_cost": cost / 16,
                "management_cost": cost / 16,
            },
        )
        write_allocation(
            settings,
            "acc-k8s",
            n,
            [
                {
                    "resource_id": "pod-web",
                    "namespace": "web",
                    "node": "n1",
                    "services": [],
                    "cpu_cost": cost / 4,
                    "ram_cost": cost / 8,
                    "pv_cost": cost / 8,
                    "network_cost": cost / 16,
                    "management_cost": cost / 32,
                },
                {
                    "resource_id": "idle-n1",
                    "namespace": "__idle__",
                    "node": "n1",
                    "services": [],
                    "cpu_cost": cost / 4,
                    "ram_cost": cost / 8,
                    "management_cost": cost / 32,
                },
            ],
        )
    add_cloud_account(db, "org-1", "aws-1")
    arn = "arn:aws:ec2:eu-west-1:123456789012:instance/i-0node"
    add_resource(db, "org-1", "aws-1", "node-vm", cloud_resource_id=arn, region="eu-west-1")
    add_resource(db, "org-1", "aws-1", "other-vm", cloud_resource_id="i-0other", region=None)
    add_cloud_account(db, "org-1", "gcp-1", kind="gcp_cnr")
    add_resource(
        db,
        "org-1",
        "gcp-1",
        "bucket",
        service_name="Cloud Storage",
        resource_type="Bucket",
        region="europe-west1",
    )
    for n in ALL_DAYS:
        write_costs(settings, "aws-1", n, {"node-vm": NODE_COST[n], "other-vm": OTHER_COST})
        write_cost(settings, "gcp-1", "bucket", n, BUCKET_COST[n])
    return cluster


def breakdown(api: Api, first: int, last: int, by: str, **filters: Any) -> dict[str, Any]:
    pairs = [("start_date", start(first)), ("end_date", end(last)), ("breakdown_by", by)]
    for name, values in filters.items():
        pairs += [(name, value) for value in values]
    response = api.get("org-1", pairs, URL)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def day_total(n: int) -> float:
    """Day n as clean_expenses counts it: the node VM is inside the cluster on its days."""
    node = 0.0 if n in CLUSTER_COST else NODE_COST[n]
    return CLUSTER_COST.get(n, 0.0) + node + OTHER_COST + BUCKET_COST[n]


def test_each_days_buckets_add_up_to_that_days_clean_expenses_total(api: Api, org: str) -> None:
    for by in BREAKDOWNS:
        body = breakdown(api, 1, 4, by)

        assert sorted(body["breakdown"]) == sorted(str(start(n)) for n in ALL_DAYS), by
        for n in ALL_DAYS:
            bucket = body["breakdown"][str(start(n))]
            shown = api.expenses("org-1", start(n), end(n))["total_cost"]
            assert sum(key["cost"] for key in bucket.values()) == pytest.approx(shown), (by, n)
            assert shown == pytest.approx(day_total(n))
        assert body["total"] == pytest.approx(sum(map(day_total, ALL_DAYS)))
        assert sum(c["total"] for c in body["counts"].values()) == pytest.approx(body["total"])


def test_the_keys_are_the_accounts_services_and_regions_of_the_resources(
    api: Api, org: str
) -> None:
    by_service = breakdown(api, 4, 4, "service_name")["breakdown"][str(start(4))]
    assert by_service == {
        "AmazonEC2": {"cost": pytest.approx(NODE_COST[4] + OTHER_COST)},
        "Cloud Storage": {"cost": pytest.approx(BUCKET_COST[4])},
    }
    by_region = breakdown(api, 3, 3, "region")["breakdown"][str(start(3))]
    assert by_region == {
        "eu-west-1": {"cost": pytest.approx(CLUSTER_COST[3])},  # the folded node VM: none
        "europe-west1": {"cost": pytest.approx(BUCKET_COST[3])},
        "null": {"cost": pytest.approx(OTHER_COST)},
    }
    accounts = breakdown(api, 3, 3, "cloud_account_id")
    assert accounts["counts"]["gcp-1"] == {
        "total": pytest.approx(BUCKET_COST[3]),
        "previous_total": pytest.approx(BUCKET_COST[2]),
        "name": "name-gcp-1",
        "type": "gcp_cnr",
    }
    assert sorted(accounts["counts"]) == ["acc-k8s", "aws-1", "gcp-1"]


def test_previous_total_is_the_period_of_the_same_length_before_start_date(
    api: Api, org: str
) -> None:
    body = breakdown(api, 3, 4, "cloud_account_id")

    assert (body["previous_start_date"], body["previous_end_date"]) == (start(1), end(2))
    assert body["previous_total"] == pytest.approx(day_total(1) + day_total(2))
    assert body["previous_total"] == pytest.approx(
        api.expenses("org-1", start(1), end(2))["total_cost"]
    )
    assert body["total"] == pytest.approx(day_total(3) + day_total(4))
    assert sorted(body["breakdown"]) == [str(start(3)), str(start(4))]
    counts = body["counts"]
    assert counts["acc-k8s"]["total"] == pytest.approx(CLUSTER_COST[3])
    assert counts["acc-k8s"]["previous_total"] == pytest.approx(CLUSTER_COST[1] + CLUSTER_COST[2])
    assert counts["aws-1"]["previous_total"] == pytest.approx(2 * OTHER_COST)  # node VM folded


def test_k8s_component_takes_what_idle_costs_out_of_each_component(api: Api, org: str) -> None:
    body = breakdown(api, 2, 2, "k8s_component", cloud_account_id=["acc-k8s"])

    cost = CLUSTER_COST[2]
    costs = {key: value["cost"] for key, value in body["breakdown"][str(start(2))].items()}
    assert costs == pytest.approx(
        {
            "cpu": cost / 2 - cost / 4,
            "ram": cost / 4 - cost / 8,
            "gpu": 0.0,
            "pv": cost / 8,
            "load_balancer": 0.0,
            "network": cost / 16,
            "management": cost / 16 - cost / 32,
            "idle": cost / 4 + cost / 8 + cost / 32,
        }
    )
    assert body["total"] == pytest.approx(cost)
    everything = breakdown(api, 4, 4, "k8s_component")["breakdown"][str(start(4))]
    assert everything == {"null": {"cost": pytest.approx(day_total(4))}}, "no cluster on day 4"


def test_an_allocation_filter_costs_the_clusters_from_the_matching_rows(api: Api, org: str) -> None:
    for by in ("k8s_component", "cloud_account_id"):
        body = breakdown(api, 1, 3, by, k8s_namespace=["web"])
        for n in CLUSTER_COST:
            shown = api.expenses("org-1", start(n), end(n), k8s_namespace="web")["total_cost"]
            bucket = body["breakdown"][str(start(n))]
            assert sum(key["cost"] for key in bucket.values()) == pytest.approx(shown), by
            assert shown == pytest.approx(CLUSTER_COST[n] * 19 / 32)  # the pod's row
    components = breakdown(api, 1, 1, "k8s_component", k8s_node=["n1"])["counts"]
    assert components["idle"]["total"] == pytest.approx(CLUSTER_COST[1] * 13 / 32)
    assert components["cpu"]["total"] == pytest.approx(CLUSTER_COST[1] / 4)


def test_other_filters_narrow_the_series_like_clean_expenses(api: Api, org: str) -> None:
    body = breakdown(api, 1, 4, "service_name", region=["europe-west1"])
    assert body["counts"] == {
        "Cloud Storage": {"total": pytest.approx(sum(BUCKET_COST.values())), "previous_total": 0.0}
    }
    nothing = breakdown(api, 1, 4, "region", cloud_account_id=["someone-elses"])
    assert (nothing["breakdown"], nothing["counts"], nothing["total"]) == ({}, {}, 0.0)


@pytest.mark.parametrize(
    "query",
    [
        {"start_date": 0, "end_date": 1},
        {"start_date": 0, "end_date": 1, "breakdown_by": "pod"},
        {"start_date": 0, "end_date": 1, "breakdown_by": "region", "limit": 3},
        {"start_date": 5, "end_date": 1, "breakdown_by": "region"},
    ],
)
def test_a_bad_query_is_a_400_problem(api: Api, query: dict[str, Any]) -> None:
    assert_problem(api.get("org-1", query, URL), 400)


def test_it_needs_the_organizations_token_and_is_in_the_openapi_document(app: Any) -> None:
    with app.test_client() as client:
        query = {"start_date": 0, "end_date": 1, "breakdown_by": "region"}
        assert_problem(client.get(URL.format(org="org-1"), query_string=query), 401)
        spec = client.get("/openapi.json").get_json()
    operation = spec["paths"]["/restapi/v2/organizations/{organization_id}/breakdown_expenses"]
    parameters = {p["name"] for p in operation["get"]["parameters"]}
    assert {"breakdown_by", "start_date", "end_date", "k8s_namespace", "tag"} <= parameters
    assert {"200", "400", "401", "403"} <= set(operation["get"]["responses"])
    assert not [path for path in spec["paths"] if path == "/" or path.startswith("/ui")]


def test_the_root_opens_the_dashboard_whose_files_need_no_token(app: Any) -> None:
    with app.test_client() as client:
        root = client.get("/")
        page = client.get("/ui/")
        chart_library = client.get("/ui/vendor/plotly.min.js")
        script = client.get("/ui/static/common.js")
        assert_problem(client.get("/nowhere"), 404)
    assert (root.status_code, root.headers["Location"]) == (302, "/ui/")
    assert page.status_code == 200 and b'id="sign-in-form"' in page.data
    for name in ("k8s_namespace", "without_tag"):  # every filter of the table has an input
        assert f'data-filter="{name}"'.encode() in page.data
    assert b"http://" not in page.data and b"https://" not in page.data, "nothing from outside"
    assert chart_library.status_code == 200 and chart_library.mimetype == "text/javascript"
    assert b"plotly" in chart_library.data[:2000].lower()
    assert script.status_code == 200 and b"sessionStorage" in script.data


def test_clean_expenses_pages_by_offset_and_limit_with_the_totals_of_all(
    api: Api, org: str
) -> None:
    """The dashboard's table pages through clean_expenses on the same data."""
    every = api.expenses("org-1", start(1), end(4))
    listed = [item["resource_id"] for item in every["clean_expenses"]]
    assert len(listed) == 4
    for offset in range(len(listed) + 2):
        page = api.expenses("org-1", start(1), end(4), limit=2, offset=offset)
        assert [item["resource_id"] for item in page["clean_expenses"]] == listed[
            offset : offset + 2
        ], offset
        assert (page["total_count"], page["total_cost"]) == (
            every["total_count"],
            pytest.approx(every["total_cost"]),
        )
        assert page.get("offset", 0) == offset
    clusters = api.expenses("org-1", start(1), end(4), k8s_namespace="web", offset=1)
    assert (clusters["clean_expenses"], clusters["total_count"]) == ([], 1)
    assert_problem(api.get("org-1", {"start_date": 0, "end_date": 1, "offset": -1}), 400)


# The totals to the last bit (docs/api.md, "Summation: same rows, same bits"): another
# organization in the same stores, over days 1-10, whose costs are short decimals (0.1,
# 0.6, 7e-3 x n) and a cluster whose row is the float sum of two full-precision
# components (n/3 each), as the cost model writes it. Chosen so that, for every
# `breakdown_by`, adding the answer's buckets as floats misses the exact total, whether
# day by day or key by key (how the total was formed before).
MONEY_ORG = "org-money"
MONEY_DAYS = range(1, 11)


def money_rows(n: int) -> dict[str, float]:
    """Day n's expense rows of MONEY_ORG: resource id -> cost."""
    cpu, ram = money_components(n)
    return {"vm-a": 0.1, "vm-b": 0.6, "bucket-m": 7e-3 * n, "cluster-row": cpu + ram}


def money_components(n: int) -> tuple[float, float]:
    return n / 3.0, n / 3.0


def exact_total(values: list[float]) -> float:
    """The documented rule, computed apart from the code: each value in whole units of
    1e-12 (its exact rational value times 10^12, rounded half to even), the units
    summed, the sum correctly rounded to a double (what the engine's conversion gives
    below 2^53 units, about 9,007 USD)."""
    units = sum(round(Fraction(value) * 10**12) for value in values)
    return float(Fraction(units, 10**12))


@pytest.fixture(scope="module")
def money_org(stores: tuple[Settings, Any]) -> str:
    settings, db = stores
    cluster = add_cluster(db, MONEY_ORG, "money-k8s", list(MONEY_DAYS))
    add_cloud_account(db, MONEY_ORG, "money-aws")
    add_resource(db, MONEY_ORG, "money-aws", "vm-a")
    add_resource(db, MONEY_ORG, "money-aws", "vm-b", region="eu-west-1")
    add_cloud_account(db, MONEY_ORG, "money-gcp", kind="gcp_cnr")
    add_resource(db, MONEY_ORG, "money-gcp", "bucket-m", service_name="Cloud Storage")
    for n in MONEY_DAYS:
        rows = money_rows(n)
        write_costs(settings, "money-aws", n, {"vm-a": rows["vm-a"], "vm-b": rows["vm-b"]})
        write_cost(settings, "money-gcp", "bucket-m", n, rows["bucket-m"])
        write_cost(settings, "money-k8s", cluster, n, rows["cluster-row"])
        cpu, ram = money_components(n)
        write_breakdown(settings, "money-k8s", cluster, n, {"cpu_cost": cpu, "ram_cost": ram})
        pod = {"namespace": "web", "node": "n1", "services": [], "cpu_cost": cpu}
        idle = {"namespace": "__idle__", "node": "n1", "services": [], "ram_cost": ram}
        write_allocation(
            settings,
            "money-k8s",
            n,
            [{"resource_id": "pod-m", **pod}, {"resource_id": "idle-m", **idle}],
        )
    return cluster


def money_breakdown(api: Api, first: int, last: int, by: str, **filters: Any) -> dict[str, Any]:
    pairs = [("start_date", start(first)), ("end_date", end(last)), ("breakdown_by", by)]
    for name, values in filters.items():
        pairs += [(name, value) for value in values]
    response = api.get(MONEY_ORG, pairs, URL)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_total_is_clean_expenses_total_to_the_last_bit(api: Api, money_org: str) -> None:
    rows = [cost for n in MONEY_DAYS for cost in money_rows(n).values()]
    expected = exact_total(rows)
    first, last = MONEY_DAYS[0], MONEY_DAYS[-1]
    clean = api.expenses(MONEY_ORG, start(first), end(last))["total_cost"]
    assert clean == expected
    # the cluster's components do not add up to its row in units: the total is the row's
    components = [c for n in MONEY_DAYS for c in money_components(n)]
    others = [
        cost for n in MONEY_DAYS for rid, cost in money_rows(n).items() if rid != "cluster-row"
    ]
    assert exact_total(others + components) != expected
    for by in BREAKDOWNS:
        body = money_breakdown(api, first, last, by)
        buckets = [
            cost["cost"]
            for _, bucket in sorted(body["breakdown"].items(), key=lambda item: int(item[0]))
            for _, cost in sorted(bucket.items())
        ]
        by_day = 0.0
        for cost in buckets:
            by_day += cost
        by_key: dict[str, float] = {}
        for bucket in body["breakdown"].values():
            for key, cost in bucket.items():
                by_key[key] = by_key.get(key, 0.0) + cost["cost"]
        # float additions of the buckets miss the exact total: this data tells them apart
        assert by_day != expected and sum(by_key.values()) != expected, by
        assert body["total"] == clean == expected, by
        # the previous period: days 2-4 before days 5-7
        recent = money_breakdown(api, 5, 7, by)
        recent_rows = [cost for n in (5, 6, 7) for cost in money_rows(n).values()]
        previous_rows = [cost for n in (2, 3, 4) for cost in money_rows(n).values()]
        assert recent["total"] == api.expenses(MONEY_ORG, start(5), end(7))["total_cost"], by
        assert recent["total"] == exact_total(recent_rows), by
        assert recent["previous_total"] == api.expenses(MONEY_ORG, start(2), end(4))["total_cost"]
        assert recent["previous_total"] == exact_total(previous_rows), by
        # each key's total is the exact sum of its buckets over the days
        for key, count in body["counts"].items():
            days = [bucket[key]["cost"] for bucket in body["breakdown"].values() if key in bucket]
            assert count["total"] == exact_total(days), (by, key)


def test_with_an_allocation_filter_the_total_is_clean_expenses_total_too(
    api: Api, money_org: str
) -> None:
    for filters in ({"k8s_namespace": ["web"]}, {"k8s_node": ["n1"]}):
        clean = api.expenses(MONEY_ORG, start(1), end(7), **filters)["total_cost"]
        for by in BREAKDOWNS:
            assert money_breakdown(api, 1, 7, by, **filters)["total"] == clean, (by, filters)
