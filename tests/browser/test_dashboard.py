"""The dashboard as a person uses it: a real headless Chromium against `k8scost api`.

Each test reads what the page shows and compares it with what the API answers for
the same question (the API's own numbers are checked against the truth elsewhere:
tests/e2e/test_allocation_e2e.py, tests/unit/test_breakdown.py).
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from api import auth
from api.query.breakdown import COMPONENT_KEYS, IDLE
from devtools import browser
from etl.storage import registry
from tests.browser.conftest import Site, api_answer

pytestmark = pytest.mark.e2e

CENT = 0.005
NETWORK_SCHEMES = ("http", "https", "ws", "wss")
LOCAL_SCHEMES = ("chrome", "data", "blob", "about")
SERIES = [*COMPONENT_KEYS.values(), IDLE]


def api_get(site: Site, endpoint: str, **params: Any) -> dict[str, Any]:
    pairs = [("start_date", site.start), ("end_date", site.end)]
    for name, value in params.items():
        pairs += [(name, item) for item in (value if isinstance(value, list) else [value])]
    return api_answer(site, endpoint, pairs)


def dollars(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def chart(driver: WebDriver, element_id: str) -> dict[str, list[float]]:
    """The plotted series of a chart: name -> y values, as Plotly holds them."""
    traces = driver.execute_script(
        "return document.getElementById(arguments[0]).data.map(t => [t.name, Array.from(t.y)])",
        element_id,
    )
    return {name: values for name, values in traces}


def open_cluster(driver: WebDriver, site: Site) -> str:
    """From the overview, click the first cluster row; the cluster's account id."""
    browser.open_page(driver, site.url, f"overview?{site.hash_period}", "overview")
    driver.find_element("css selector", "#expenses-table .cluster-link").click()
    browser.wait_loaded(driver, "cluster")
    route = driver.execute_script("return location.hash")
    return urllib.parse.unquote(route.split("/")[2])


def test_the_overview_total_is_the_apis_total_cost(site: Site, signed_in: WebDriver) -> None:
    browser.open_page(signed_in, site.url, f"overview?{site.hash_period}", "overview")

    shown = dollars(signed_in.find_element("id", "total-cost").text)

    expenses = api_get(site, "clean_expenses")
    assert expenses["total_cost"] > 0
    assert shown == pytest.approx(expenses["total_cost"], abs=CENT)
    # The stacked chart is the same money, day by day.
    plotted = chart(signed_in, "overview-chart")
    assert sum(map(sum, plotted.values())) == pytest.approx(expenses["total_cost"], rel=1e-9)
    rows = signed_in.find_elements("css selector", "#expenses-table tbody tr")
    assert [row.get_attribute("data-resource-id") for row in rows] == [
        item["resource_id"] for item in expenses["clean_expenses"]
    ]


def test_the_cluster_chart_has_one_series_per_component_adding_up_to_its_cost(
    site: Site, signed_in: WebDriver
) -> None:
    account = open_cluster(signed_in, site)

    plotted = chart(signed_in, "cluster-chart")

    assert list(plotted) == SERIES
    (cluster,) = api_get(site, "clean_expenses", cloud_account_id=account)["clean_expenses"]
    assert sum(map(sum, plotted.values())) == pytest.approx(cluster["cost"], rel=1e-9)
    costed = api_get(
        site, "breakdown_expenses", breakdown_by="k8s_component", cloud_account_id=account
    )
    assert all(len(values) == len(costed["breakdown"]) for values in plotted.values())
    assert sum(plotted[IDLE]) > 0, "the simulated nodes have capacity no pod uses"
    shown = dollars(signed_in.find_element("id", "cluster-cost").text)
    assert shown == pytest.approx(cluster["cost"], abs=CENT)


def test_drilling_into_a_namespace_lists_its_controllers(site: Site, signed_in: WebDriver) -> None:
    account = open_cluster(signed_in, site)
    rows = signed_in.find_elements("css selector", "#drill-table tbody tr")
    namespaces = [row.get_attribute("data-key") for row in rows]
    assert "__idle__" in namespaces, "idle stays visible as what it is"
    idle = signed_in.find_element("css selector", '#drill-table tr[data-key="__idle__"]')
    assert "node capacity no pod used" in idle.text
    drillable = signed_in.find_element("css selector", "#drill-table tr.drillable td")
    namespace = drillable.find_element("xpath", "..").get_attribute("data-key")

    drillable.click()
    WebDriverWait(signed_in, 30).until(
        lambda d: (
            d.execute_script("return document.body.dataset.drilled") == f"controller:{namespace}:"
        )
    )

    shown = [
        row.get_attribute("data-key")
        for row in signed_in.find_elements("css selector", "#drill-table tbody tr")
    ]
    answer = api_get(
        site, "k8s_costs", group_by="controller", cloud_account_id=account, k8s_namespace=namespace
    )
    assert shown == [group["key"] for group in answer["groups"]]
    assert shown and set(shown).isdisjoint(namespaces)


def test_a_token_of_another_organization_is_named_and_a_revoked_one_signs_out(
    site: Site, chromium: WebDriver
) -> None:
    db = registry.open_database(site.settings.mongo_uri, site.settings.mongo_db)
    chromium.find_element("id", "sign-out").click()
    browser.sign_in(chromium, site.url, "someone-else", site.token)
    browser.wait_loaded(chromium, "refused")
    assert (
        "cannot read organization someone-else" in chromium.find_element("id", "page-message").text
    )

    chromium.find_element("id", "sign-out").click()
    token = auth.issue_token(db, site.organization_id)
    browser.sign_in(chromium, site.url, site.organization_id, token)
    browser.open_page(chromium, site.url, f"health?{site.hash_period}", "health")
    assert auth.revoke_token(db, token)

    browser.open_page(chromium, site.url, f"overview?{site.hash_period}", "sign-in")

    assert chromium.find_element("id", "sign-in").is_displayed()
    assert "sign in again" in chromium.find_element("id", "sign-in-message").text
    assert chromium.execute_script("return sessionStorage.getItem('k8scost.token')") is None
    browser.sign_in(chromium, site.url, site.organization_id, site.token)  # for the next tests
    browser.wait_loaded(chromium, "overview")


def test_the_health_page_shows_every_cluster_day_of_the_ledger(
    site: Site, signed_in: WebDriver
) -> None:
    browser.open_page(signed_in, site.url, f"health?{site.hash_period}", "health")

    cells = signed_in.find_elements("css selector", "#ledger td.cell")
    ledger = api_get(site, "k8s_import_status")["k8s_import_status"]
    assert len(cells) == len(ledger) == len(site.days) * len(site.tenant_ids)
    shown = sorted(cell.get_attribute("data-status") for cell in cells)
    loaded = {"succeeded": "loaded", "loaded": "loaded"}
    assert shown == sorted(loaded.get(item["status"], item["status"]) for item in ledger)
    assert shown == ["loaded", "loaded", "missing", "missing"], "one day of each cluster costed"
    missing = signed_in.find_element("css selector", '#ledger td[data-status="missing"]')
    assert "no run recorded this day" in missing.get_attribute("title")
    missing.click()  # its reason, and the rerun command filled in with its day and cluster
    assert signed_in.find_element("id", "ledger-detail").text == missing.get_attribute("title")
    day = signed_in.find_element("css selector", ".rerun-day").text
    tenant = signed_in.find_element("css selector", ".rerun-tenant").text
    assert {"cloud_account_id": tenant, "date": day, "status": "missing"} in [
        {key: item[key] for key in ("cloud_account_id", "date", "status")} for item in ledger
    ]
    ingest = signed_in.find_elements("css selector", "#ingest tbody tr")
    assert len(ingest) == len(site.tenant_ids)


def test_no_request_leaves_127_0_0_1(site: Site, signed_in: WebDriver) -> None:
    # The log holds every request since the browser started: the other tests' pages too.
    signed_in.execute_script("sessionStorage.clear()")
    browser.sign_in(signed_in, site.url, site.organization_id, site.token)
    browser.open_page(signed_in, site.url, f"overview?{site.hash_period}", "overview")
    open_cluster(signed_in, site)
    browser.open_page(signed_in, site.url, f"health?{site.hash_period}", "health")

    urls = browser.requested_urls(signed_in)

    assert any(url.endswith("/ui/vendor/plotly.min.js") for url in urls)
    assert any("/breakdown_expenses?" in url for url in urls)
    # What goes over the network (http, https, ws, wss) goes to the API; the rest is
    # the browser's own pages (chrome://new-tab-page at start) and the page's blobs.
    network = [url for url in urls if urllib.parse.urlsplit(url).scheme in NETWORK_SCHEMES]
    assert network, "the log records the page's requests"
    assert [url for url in network if not url.startswith(f"{site.url}/")] == []
    schemes = {urllib.parse.urlsplit(url).scheme for url in urls}
    assert schemes <= {*NETWORK_SCHEMES, *LOCAL_SCHEMES}, schemes
    assert not any(site.token in url for url in urls), "the token never goes in a URL"


def test_every_page_draws_under_the_content_security_policy(
    site: Site, signed_in: WebDriver
) -> None:
    with urllib.request.urlopen(f"{site.url}/ui/", timeout=10) as page:
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    browser.console(signed_in)  # what earlier tests left in the console
    signed_in.execute_script("sessionStorage.clear()")
    browser.sign_in(signed_in, site.url, site.organization_id, site.token)
    browser.open_page(signed_in, site.url, f"overview?{site.hash_period}", "overview")
    open_cluster(signed_in, site)
    browser.open_page(signed_in, site.url, f"health?{site.hash_period}", "health")

    refused = [line for line in browser.console(signed_in) if "Content Security Policy" in line]
    assert refused == []
