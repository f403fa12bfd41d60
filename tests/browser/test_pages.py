"""The alerts, budgets and bills pages in a real headless Chromium against `k8scost api`.

Each figure the page shows is compared with what the API answers for the same
question, and where the data's truth is known (the imported bill's rows), with that.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import date
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from api import auth
from api.query.tokenscope import TokenScope
from devtools import browser
from etl.core.days import day_start_epoch
from etl.storage import registry
from tests.browser.conftest import DAY, Site
from tests.browser.conftest import api_answer as api

pytestmark = pytest.mark.e2e

METRICS = ("billed", "effective", "list")
ALL_DAYS = [("start_date", 0), ("end_date", 2**32 - 1)]
MICRO = 1e-6


def period(site: Site) -> list[tuple[str, Any]]:
    return [("start_date", site.start), ("end_date", site.end)]


def wait_for(driver: WebDriver, script: str, expected: Any) -> None:
    WebDriverWait(driver, browser.WAIT_S).until(lambda d: d.execute_script(script) == expected)


def waterfall(driver: WebDriver) -> tuple[list[str], list[float]]:
    return driver.execute_script(
        "const t = document.getElementById('alert-waterfall').data[0];"
        "return [Array.from(t.measure), Array.from(t.y)]"
    )


def test_each_alerts_causes_add_up_to_its_change(site: Site, signed_in: WebDriver) -> None:
    browser.open_page(signed_in, site.url, f"alerts?{site.hash_period}", "alerts")

    alerts = api(site, "k8s_alerts", period(site))["k8s_alerts"]
    rows = signed_in.find_elements("css selector", "#alerts-table tbody tr")
    assert [row.get_attribute("data-alert-id") for row in rows] == [a["id"] for a in alerts]
    assert {a["kind"] for a in alerts} == {"anomaly", "budget"}
    assert {a["state"] for a in alerts} == {"open", "resolved"}
    for alert in alerts:
        signed_in.find_element(
            "css selector", f'#alerts-table tr[data-alert-id="{alert["id"]}"] button'
        ).click()
        for dimension, causes in alert["causes"].items():
            Select(signed_in.find_element("id", "alert-causes-by")).select_by_value(dimension)
            wait_for(signed_in, "return document.body.dataset.alert", f"{alert['id']}:{dimension}")

            measure, bars = waterfall(signed_in)

            assert measure == ["absolute", *["relative"] * len(causes), "total"]
            amounts = [cause["amount_usd"] for cause in causes]
            assert bars[1:-1] == amounts
            assert sum(amounts) == pytest.approx(alert["change_usd"], abs=MICRO)
            assert bars[0] + sum(bars[1:-1]) == pytest.approx(alert["cost_usd"], abs=MICRO)
            assert bars[-1] == alert["cost_usd"]


def test_an_anomaly_links_to_its_cluster_on_its_day(site: Site, signed_in: WebDriver) -> None:
    browser.open_page(signed_in, site.url, f"alerts?{site.hash_period}", "alerts")
    alerts = api(site, "k8s_alerts", [*period(site), ("state", "open")])["k8s_alerts"]
    (anomaly,) = [alert for alert in alerts if alert["kind"] == "anomaly"]
    row = f'#alerts-table tr[data-alert-id="{anomaly["id"]}"]'

    signed_in.find_element("css selector", f"{row} a.cluster-day").click()
    browser.wait_loaded(signed_in, "cluster")

    route = urllib.parse.unquote(signed_in.execute_script("return location.hash"))
    assert route.startswith(f"#/cluster/{anomaly['cloud_account_id']}/")
    assert route.endswith(f"?from={anomaly['day']}&to={anomaly['day']}")
    day = day_start_epoch(date.fromisoformat(anomaly["day"]))
    (cluster,) = api(
        site,
        "clean_expenses",
        [
            ("start_date", day),
            ("end_date", day + DAY - 1),
            ("cloud_account_id", anomaly["cloud_account_id"]),
        ],
    )["clean_expenses"]
    shown = signed_in.find_element("id", "cluster-cost").get_attribute("data-value")
    assert float(shown) == cluster["cost"]


def bar(driver: WebDriver, budget_id: str, kind: str) -> float:
    element = driver.find_element(
        "css selector", f'.budget[data-budget-id="{budget_id}"] .bar.{kind}'
    )
    return float(element.get_attribute("data-value"))


def test_a_budgets_bars_are_its_month_to_date_and_forecast(
    site: Site, signed_in: WebDriver
) -> None:
    browser.open_page(signed_in, site.url, f"budgets?{site.hash_period}", "budgets")

    as_of = site.days[-1]
    answer = api(site, "budgets", [("as_of", as_of.isoformat())])
    assert answer["budgets"], "the site has a budget"
    for budget in answer["budgets"]:
        assert bar(signed_in, budget["id"], "mtd") == budget["status"]["month_to_date_usd"]
        assert bar(signed_in, budget["id"], "forecast") == budget["status"]["forecast_usd"]
    # The organization's month to date is every cost of the month's days up to as_of.
    (tight,) = [b for b in answer["budgets"] if b["name"] == "tight"]
    month = api(
        site,
        "clean_expenses",
        [
            ("start_date", day_start_epoch(as_of.replace(day=1))),
            ("end_date", day_start_epoch(as_of) + DAY - 1),
        ],
    )
    assert bar(signed_in, tight["id"], "mtd") == pytest.approx(month["total_cost"], abs=MICRO)


def fill_budget(driver: WebDriver, **fields: str) -> None:
    for name, value in fields.items():
        box = driver.find_element("id", f"budget-{name}")
        box.clear()
        box.send_keys(value)
    driver.find_element("id", "budget-save").click()


def saved_budget(driver: WebDriver) -> str:
    WebDriverWait(driver, browser.WAIT_S).until(
        lambda d: (d.execute_script("return document.body.dataset.budgetWrite") or "").startswith(
            "saved:"
        )
    )
    browser.wait_loaded(driver, "budgets")
    written = driver.execute_script("return document.body.dataset.budgetWrite")
    driver.execute_script("delete document.body.dataset.budgetWrite")
    return written.removeprefix("saved:")


def test_a_budget_is_created_edited_and_deleted_on_the_page(
    site: Site, signed_in: WebDriver
) -> None:
    browser.open_page(signed_in, site.url, f"budgets?{site.hash_period}", "budgets")
    fill_budget(signed_in, name="web team", scope="cloud_account_id:nowhere", amount="250")
    wait_for(signed_in, "return document.body.dataset.budgetWrite", "refused:400")
    message = signed_in.find_element("id", "budget-form-message").text
    assert "scope: unknown cloud account nowhere" in message, message

    fill_budget(signed_in, name="web team", scope="organization", amount="250", thresholds="40, 90")
    created = saved_budget(signed_in)
    stored = api(site, f"budgets/{created}", [])
    assert (stored["name"], stored["amount_usd"], stored["thresholds"]) == (
        "web team",
        250,
        [40, 90],
    )

    card = f'.budget[data-budget-id="{created}"]'
    signed_in.find_element("xpath", f"//div[@data-budget-id='{created}']//button[.='Edit']").click()
    fill_budget(signed_in, amount="300.5")
    assert saved_budget(signed_in) == created
    assert api(site, f"budgets/{created}", [])["amount_usd"] == 300.5

    signed_in.find_element(
        "xpath", f"//div[@data-budget-id='{created}']//button[.='Delete']"
    ).click()
    signed_in.switch_to.alert.accept()
    WebDriverWait(signed_in, browser.WAIT_S).until(
        lambda d: not d.find_elements("css selector", card)
    )
    assert created not in {b["id"] for b in api(site, "budgets", [])["budgets"]}


@pytest.mark.parametrize(
    ("scope", "says"),
    [
        (TokenScope(role="viewer"), ["the token is a viewer", "needs an editor or admin token"]),
        (
            TokenScope(namespaces=("web",), role="editor"),
            ["outside the token's scope", "Choose a scope within the token's"],
        ),
    ],
)
def test_a_refused_budget_write_is_explained(
    site: Site, chromium: WebDriver, scope: TokenScope, says: list[str]
) -> None:
    db = registry.open_database(site.settings.mongo_uri, site.settings.mongo_db)
    token = auth.issue_token(db, site.organization_id, scope)
    chromium.find_element("id", "sign-out").click()
    browser.sign_in(chromium, site.url, site.organization_id, token)
    browser.open_page(chromium, site.url, f"budgets?{site.hash_period}", "budgets")
    before = api(site, "budgets", [])["total_count"]

    fill_budget(chromium, name="not mine", scope="organization", amount="10")

    wait_for(chromium, "return document.body.dataset.budgetWrite", "refused:403")
    message = chromium.find_element("id", "budget-form-message").text
    assert all(text in message for text in says), message
    assert api(site, "budgets", [])["total_count"] == before
    chromium.execute_script("delete document.body.dataset.budgetWrite")
    chromium.find_element("id", "sign-out").click()
    browser.sign_in(chromium, site.url, site.organization_id, site.token)  # for the next tests
    browser.wait_loaded(chromium, "overview")


def shown_bills(driver: WebDriver) -> dict[tuple[str, str], dict[str, float]]:
    shown = {}
    for row in driver.find_elements("css selector", "#bills-table tbody tr"):
        cells = row.find_elements("css selector", "td[data-metric]")
        key = (row.get_attribute("data-account"), row.get_attribute("data-billing-period"))
        shown[key] = {
            c.get_attribute("data-metric"): float(c.get_attribute("data-value")) for c in cells
        }
    return shown


def test_the_bills_totals_are_the_apis_and_the_bills(site: Site, signed_in: WebDriver) -> None:
    browser.open_page(signed_in, site.url, f"bills?{site.hash_period}", "bills")

    months = sorted({day.isoformat()[:7] for day in site.days})
    expected: dict[tuple[str, str], dict[str, float]] = defaultdict(
        lambda: dict.fromkeys(METRICS, 0.0)
    )
    for month in months:
        for metric in METRICS:
            pairs = [*ALL_DAYS, ("billing_period", month), ("cost_metric", metric)]
            for item in api(site, "clean_expenses", pairs)["clean_expenses"]:
                expected[(item["cloud_account_id"], month)][metric] += item["cost"]
    shown = shown_bills(signed_in)
    assert shown.keys() == expected.keys()
    for key, figures in expected.items():
        assert shown[key] == pytest.approx(figures, abs=MICRO), key
    # The imported file's BilledCost, summed here, is the page's billed total.
    billed = sum(float(row["BilledCost"]) for row in site.bill)
    total = signed_in.find_element("id", "bills-total-billed").get_attribute("data-value")
    assert float(total) == pytest.approx(billed, abs=MICRO)


def test_the_folded_node_vms_are_the_clusters_billed_nodes(
    site: Site, signed_in: WebDriver
) -> None:
    browser.open_page(signed_in, site.url, f"bills?{site.hash_period}", "bills")

    clusters = api(site, "clean_expenses", period(site))
    expected = [
        (cluster["resource_id"], node["resource_id"], node["cost"])
        for cluster in clusters["clean_expenses"]
        for node in cluster.get("billed_nodes", [])
    ]
    rows = signed_in.find_elements("css selector", "#billed-nodes-table tbody tr")
    shown = [
        (
            row.get_attribute("data-cluster"),
            row.get_attribute("data-resource-id"),
            float(row.find_element("css selector", "td[data-value]").get_attribute("data-value")),
        )
        for row in rows
    ]
    assert shown == expected
    assert shown, "the bill's node VM is folded into its cluster"
    # Each folded VM's cost is its rows of the imported bill (on the cluster's costed day).
    for row in rows:
        vm = row.find_elements("css selector", "td")[2].text
        billed = sum(float(line["BilledCost"]) for line in site.bill if line["ResourceId"] == vm)
        assert float(
            row.find_element("css selector", "td[data-value]").get_attribute("data-value")
        ) == (pytest.approx(billed, abs=MICRO))
    reconciled = [c for c in clusters["clean_expenses"] if "reconciliation" in c]
    shown_reconciled = signed_in.find_elements("css selector", "#reconciliation-table tbody tr")
    assert len(shown_reconciled) == len(reconciled)


def test_the_pages_draw_under_the_content_security_policy(site: Site, signed_in: WebDriver) -> None:
    browser.console(signed_in)  # what earlier tests left in the console
    for page in ("alerts", "budgets", "bills"):
        browser.open_page(signed_in, site.url, f"{page}?{site.hash_period}", page)

    refused = [line for line in browser.console(signed_in) if "Content Security Policy" in line]
    assert refused == []


CHART_LIBRARY_LOADED = (
    "return [typeof Plotly !== 'undefined', performance.getEntriesByType('resource')"
    ".some((entry) => entry.name.endsWith('/ui/vendor/plotly.min.js'))]"
)


def test_only_a_page_that_draws_a_chart_loads_the_chart_library(
    site: Site, signed_in: WebDriver
) -> None:
    signed_in.get("about:blank")  # a new document: nothing loaded by an earlier page
    browser.open_page(signed_in, site.url, f"budgets?{site.hash_period}", "budgets")
    browser.open_page(signed_in, site.url, f"bills?{site.hash_period}", "bills")
    browser.open_page(signed_in, site.url, "alerts?from=2026-05-01&to=2026-05-02", "alerts")
    assert signed_in.find_elements("css selector", "#alerts-table tbody tr") == []
    assert signed_in.execute_script(CHART_LIBRARY_LOADED) == [False, False]

    browser.open_page(signed_in, site.url, f"alerts?{site.hash_period}", "alerts")
    assert signed_in.execute_script(CHART_LIBRARY_LOADED) == [True, True]
    assert signed_in.execute_script("return document.getElementById('alert-waterfall').data.length")


@pytest.mark.parametrize(
    ("page", "status", "says"),
    [
        (
            "alerts",
            "alerts-status",
            "No open or resolved alerts from 2026-05-01 to 2026-05-02 (UTC)",
        ),
        ("bills", "bills-status", "No bill charges for 2026-05: import a FOCUS bill"),
    ],
)
def test_a_period_without_data_says_so(
    site: Site, signed_in: WebDriver, page: str, status: str, says: str
) -> None:
    browser.open_page(signed_in, site.url, f"{page}?from=2026-05-01&to=2026-05-02", page)

    assert says in signed_in.find_element("id", status).text
    rows = signed_in.find_elements("css selector", f"#{page}-table tbody tr")
    assert rows == []
