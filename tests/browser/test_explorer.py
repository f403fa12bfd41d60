"""The allocation explorer and the savings page in a real headless Chromium.

Each figure the page shows is compared with what the test computes from the API's
own answers for the same question (k8s_costs, its `step` series without a limit,
k8s_recommendations), never with what the page's scripts computed.
"""

from __future__ import annotations

import urllib.parse
from collections import defaultdict
from typing import Any

import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from devtools import browser
from tests.browser.conftest import Site
from tests.browser.test_dashboard import CENT, NETWORK_SCHEMES, api_get, chart, dollars

pytestmark = pytest.mark.e2e

OTHER = "__other__"


def hash_state(driver: WebDriver) -> dict[str, str]:
    """The explorer's state as its URL holds it."""
    route = driver.execute_script("return location.hash")
    return dict(urllib.parse.parse_qsl(route.split("?", 1)[1]))


def table(driver: WebDriver, table_id: str) -> list[dict[str, str]]:
    """The rows of a table as shown: header text -> cell text, and the row's data-key."""
    headers = [
        th.text.rstrip(" ▲▼")
        for th in driver.find_elements("css selector", f"#{table_id} thead th")
    ]
    rows = []
    for row in driver.find_elements("css selector", f"#{table_id} tbody tr"):
        cells = [cell.text for cell in row.find_elements("tag name", "td")]
        rows.append(
            {"key": row.get_attribute("data-key"), **dict(zip(headers, cells, strict=True))}
        )
    return rows


def expected_chart(site: Site, top: int, **query: Any) -> dict[str, list[float]]:
    """The chart the explorer should draw, from the API: the `top` most expensive keys
    of the period and the rest as one series, per bucket of the full series."""
    whole = api_get(site, "k8s_costs", **query)
    keys = list(dict.fromkeys(group["key"] for group in whole["groups"]))[:top]
    series = whole["series"]
    starts = sorted(series, key=int)
    traces = {key: [series[start].get(key, 0.0) for start in starts] for key in keys}
    other = [sum(c for k, c in series[start].items() if k not in keys) for start in starts]
    if any(other):
        traces[OTHER] = other
    return traces


def plotted_by_key(driver: WebDriver) -> dict[str, list[float]]:
    """The explorer's chart by group key (a trace is named by its key, a special key
    with its meaning in brackets, the rest `other`)."""
    return {
        OTHER if name == "other" else name.split(" (")[0]: values
        for name, values in chart(driver, "allocation-chart").items()
    }


def open_explorer(driver: WebDriver, site: Site, state: str) -> None:
    browser.open_page(driver, site.url, f"allocation?{site.hash_period}&{state}", "allocation")


def test_the_explorer_total_groups_and_stacked_chart_are_the_apis(
    site: Site, signed_in: WebDriver
) -> None:
    open_explorer(signed_in, site, "group_by=namespace&step=day&top=2")

    answer = api_get(site, "k8s_costs", group_by="namespace")
    total = signed_in.find_element("id", "allocation-total")
    assert float(total.get_attribute("data-value")) == pytest.approx(
        answer["total_cost"], rel=1e-12
    )
    assert dollars(total.text) == pytest.approx(answer["total_cost"], abs=CENT)
    shown = table(signed_in, "allocation-table")
    assert [row["key"] for row in shown] == [group["key"] for group in answer["groups"]]
    for row, group in zip(shown, answer["groups"], strict=True):
        assert dollars(row["Cost"]) == pytest.approx(group["cost"], abs=CENT)
        assert dollars(row["CPU"]) == pytest.approx(group["cpu_cost"], abs=CENT)
    assert len(answer["groups"]) > 2, "the chart must have an `other`"

    plotted = plotted_by_key(signed_in)
    expected = expected_chart(site, 2, group_by="namespace", step="day")
    assert list(plotted) == list(expected)
    for key, values in expected.items():
        assert plotted[key] == pytest.approx(values, rel=1e-9, abs=1e-9), key
    per_bucket = [sum(values) for values in zip(*plotted.values(), strict=True)]
    whole = api_get(site, "k8s_costs", group_by="namespace", step="day")["series"]
    assert per_bucket == pytest.approx(
        [sum(whole[start].values()) for start in sorted(whole, key=int)], rel=1e-9
    )
    assert sum(per_bucket) == pytest.approx(answer["total_cost"], rel=1e-9)


def test_drilling_into_a_namespace_shows_it_by_label_and_adds_up_to_its_cost(
    site: Site, signed_in: WebDriver
) -> None:
    open_explorer(signed_in, site, "group_by=namespace&then=label:team&step=week&top=3")
    parents = {g["key"]: g for g in api_get(site, "k8s_costs", group_by="namespace")["groups"]}
    link = signed_in.find_element("css selector", "#allocation-table tbody a")
    namespace = link.find_element("xpath", "../..").get_attribute("data-key")

    link.send_keys(Keys.ENTER)  # the keyboard, as a person without a mouse does
    WebDriverWait(signed_in, 30).until(lambda d: hash_state(d).get("drill") == namespace)
    browser.wait_loaded(signed_in, "allocation")

    drilled = api_get(site, "k8s_costs", group_by="label:team", k8s_namespace=namespace)
    shown = table(signed_in, "allocation-table")
    assert [row["key"] for row in shown] == [group["key"] for group in drilled["groups"]]
    assert sum(g["cost"] for g in drilled["groups"]) == pytest.approx(
        parents[namespace]["cost"], rel=1e-9
    )
    total = float(signed_in.find_element("id", "allocation-total").get_attribute("data-value"))
    assert total == pytest.approx(parents[namespace]["cost"], rel=1e-12)
    expected = expected_chart(site, 3, group_by="label:team", k8s_namespace=namespace, step="week")
    plotted = plotted_by_key(signed_in)
    assert plotted == {key: pytest.approx(values, rel=1e-9) for key, values in expected.items()}
    crumbs = signed_in.find_element("id", "allocation-path").text
    assert f"namespace {namespace}, by label:team" in crumbs


def test_the_url_round_trips_the_explorers_state(site: Site, signed_in: WebDriver) -> None:
    open_explorer(signed_in, site, "group_by=namespace&cost_metric=list")
    assert "list" in signed_in.find_element("id", "allocation-metric").text
    Select(signed_in.find_element("id", "allocation-step")).select_by_value("month")
    browser.wait_loaded(signed_in, "allocation")
    signed_in.find_element("id", "allocation-top").clear()
    signed_in.find_element("id", "allocation-top").send_keys("3")
    Select(signed_in.find_element("id", "allocation-share_idle")).select_by_value("weighted")
    browser.wait_loaded(signed_in, "allocation")
    Select(signed_in.find_element("id", "allocation-idle_by")).select_by_value("node")
    browser.wait_loaded(signed_in, "allocation")
    Select(signed_in.find_element("id", "allocation-group")).select_by_value("node")
    browser.wait_loaded(signed_in, "allocation")
    namespaces = [g["key"] for g in api_get(site, "k8s_costs", group_by="namespace")["groups"]]
    kept = [key for key in namespaces if not key.startswith("__")][:2]
    signed_in.find_element("css selector", '[data-allocation-filter="k8s_namespace"]').send_keys(
        ", ".join(kept)
    )
    signed_in.find_element("id", "allocation-apply").click()
    WebDriverWait(signed_in, 30).until(lambda d: "k8s_namespace" in hash_state(d))
    browser.wait_loaded(signed_in, "allocation")
    state = hash_state(signed_in)
    shown_total = signed_in.find_element("id", "allocation-total").get_attribute("data-value")

    signed_in.execute_script("delete document.body.dataset.loaded")
    signed_in.refresh()
    browser.wait_loaded(signed_in, "allocation")

    assert hash_state(signed_in) == state
    assert state == {
        "from": site.days[0].isoformat(),
        "to": site.days[-1].isoformat(),
        "group_by": "node",
        "then": "pod",
        "step": "month",
        "top": "3",
        "sort": "cost:desc",
        "share_idle": "weighted",
        "idle_by": "node",
        "cost_metric": "list",
        "k8s_namespace": ",".join(kept),
    }
    assert (
        Select(
            signed_in.find_element("id", "allocation-group")
        ).first_selected_option.get_attribute("value")
        == "node"
    )
    assert signed_in.find_element("id", "allocation-top").get_attribute("value") == "3"
    assert (
        Select(
            signed_in.find_element("id", "allocation-share_idle")
        ).first_selected_option.get_attribute("value")
        == "weighted"
    )
    answer = api_get(
        site,
        "k8s_costs",
        group_by="node",
        share_idle="weighted",
        idle_by="node",
        cost_metric="list",
        k8s_namespace=kept,
    )
    reloaded = signed_in.find_element("id", "allocation-total").get_attribute("data-value")
    assert float(reloaded) == float(shown_total) == pytest.approx(answer["total_cost"], rel=1e-12)
    assert answer["totals"]["shared"]["idle"] > 0, "weighted idle was shared"
    assert dollars(signed_in.find_element("id", "allocation-shared").text) == pytest.approx(
        sum(answer["totals"]["shared"].values()), abs=CENT
    )


def read_csv_export(driver: WebDriver, button_id: str) -> str:
    """The CSV a click on the export button hands to the browser."""
    driver.execute_script(
        "window.exported = null; const make = URL.createObjectURL;"
        "URL.createObjectURL = (blob) => { window.exported = blob; return make(blob); };"
    )
    driver.find_element("id", button_id).click()
    return driver.execute_async_script(
        "const done = arguments[0]; window.exported.text().then(done);"
    )


def test_the_csv_export_is_the_table_as_shown(site: Site, signed_in: WebDriver) -> None:
    open_explorer(signed_in, site, "group_by=controller&sort=ram_cost:asc")
    shown = table(signed_in, "allocation-table")

    lines = read_csv_export(signed_in, "allocation-export").splitlines()

    assert lines[0].split(",")[:3] == ["controller", "CPU", "RAM"]
    assert [line.split(",")[0] for line in lines[1:-1]] == [row["key"] for row in shown]
    assert lines[-1].startswith("total,")
    rams = [float(line.split(",")[2]) for line in lines[1:-1]]
    assert rams == sorted(rams)
    answer = api_get(site, "k8s_costs", group_by="controller")
    by_key: dict[str, float] = defaultdict(float)
    for group in answer["groups"]:
        by_key[group["key"]] += group["ram_cost"]
    assert sum(rams) == pytest.approx(sum(by_key.values()), rel=1e-9)


def test_the_savings_total_and_rows_are_the_apis(site: Site, signed_in: WebDriver) -> None:
    browser.open_page(signed_in, site.url, f"savings?{site.hash_period}", "savings")

    answer = api_get(site, "k8s_recommendations")
    total = signed_in.find_element("id", "savings-total")
    assert float(total.get_attribute("data-value")) == pytest.approx(
        answer["total_monthly_savings"], rel=1e-12
    )
    assert dollars(total.text) == pytest.approx(
        sum(r["monthly_savings"] or 0.0 for r in answer["recommendations"]), abs=CENT
    )
    assert answer["total_count"] > 0, "the simulated containers have requests and usage"
    shown = table(signed_in, "savings-table")
    expected = sorted(
        answer["recommendations"],
        key=lambda r: -r["monthly_savings"] if r["monthly_savings"] is not None else float("inf"),
    )
    assert [row["Container"] for row in shown] == [r["container"] for r in expected]

    signed_in.find_element("css selector", "#savings-table thead th:nth-child(4) button").click()
    containers = [row["Container"] for row in table(signed_in, "savings-table")]
    assert containers == sorted(containers, reverse=True)
    needle = expected[0]["namespace"]
    signed_in.find_element("id", "savings-search").send_keys(needle)
    narrowed = table(signed_in, "savings-table")
    assert {row["Namespace"] for row in narrowed} == {needle}
    assert hash_state(signed_in)["q"] == needle
    lines = read_csv_export(signed_in, "savings-export").splitlines()
    assert len(lines) == len(narrowed) + 1


def test_both_pages_draw_under_the_csp_and_ask_only_the_api(
    site: Site, signed_in: WebDriver
) -> None:
    browser.console(signed_in)  # what earlier tests left in the console
    browser.requested_urls(signed_in)
    open_explorer(signed_in, site, "group_by=label:app&step=month")
    browser.open_page(signed_in, site.url, f"savings?{site.hash_period}", "savings")

    refused = [line for line in browser.console(signed_in) if "Content Security Policy" in line]
    assert refused == []
    urls = browser.requested_urls(signed_in)
    network = [url for url in urls if urllib.parse.urlsplit(url).scheme in NETWORK_SCHEMES]
    assert any("/k8s_costs?" in url and "step=month" in url for url in network)
    assert any("/k8s_recommendations?" in url for url in network)
    assert [url for url in network if not url.startswith(f"{site.url}/")] == []
    assert not any(site.token in url for url in urls), "the token never goes in a URL"


def test_choosing_another_period_keeps_the_rest_of_the_view(
    site: Site, signed_in: WebDriver
) -> None:
    open_explorer(signed_in, site, "group_by=label:team&step=week&top=3")

    signed_in.execute_script("delete document.body.dataset.loaded")
    Select(signed_in.find_element("id", "period")).select_by_value("last_month")
    browser.wait_loaded(signed_in, "allocation")

    state = hash_state(signed_in)
    assert (state["group_by"], state["step"], state["top"]) == ("label:team", "week", "3")
    assert state["from"] != site.days[0].isoformat()
    assert state["from"].endswith("-01"), "last month starts on the 1st"
