"""The Airflow UI as an operator uses it, in Debian's headless Chromium (issue #29).

`make airflow` (tests/local_stack.py: the demo's 3 simulated clusters over the 3 days
ending yesterday) is started as a person starts it; then, in the browser:
- the first screen is green: the runs Airflow starts by itself (yesterday's daily run,
  the repair run and what it triggers, the alerts) all succeed;
- sign in with the admin password the console points to;
- trigger k8s_costs_daily from the trigger form with `date` and two `tenants`;
- the run's task instances are named `<account name> <day>`;
- clear one tenant's `load` and watch it run again, to the same cost;
- read the day off the first task's log;
- then, as `make airflow` is stopped, SIGTERM: nothing it started is left
  (tests/local_stack.py; tests/e2e/test_airflow_local.py does the same for --celery).
The grid and the trigger form are saved as airflow-grid.png and airflow-trigger.png in
the directory $AIRFLOW_UI_SCREENSHOTS names (docs/img, for the README's pictures), else
in the test's temporary directory, so a test run leaves the checkout as it was.
Airflow's REST API (with the same sign-in) tells when runs end: what an operator waits
for by watching the page.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from devtools import browser
from etl.core.config import Settings
from etl.storage import ledger as ledger_store
from etl.storage import registry
from etl.worker import ledger
from tests.local_stack import LocalStack, check_block_then_sigterm, local_stack

pytestmark = [pytest.mark.e2e, pytest.mark.celery]  # minutes: `make test` starts it first

DAILY, REPAIR = "k8s_costs_daily", "k8s_costs_repair"
WAIT_S = 60
RUNS_TIMEOUT_S = 600
FINISHED = {"success", "failed"}


class AirflowApi:
    """Airflow's REST API as the signed-in admin (a token from /auth/token)."""

    def __init__(self, stack: LocalStack) -> None:
        self.url = stack.airflow_url
        answer = requests.post(
            f"{self.url}/auth/token",
            json={"username": "admin", "password": stack.password()},
            timeout=30,
        )
        answer.raise_for_status()
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def get(self, path: str, **params: Any) -> Any:
        answer = requests.get(
            f"{self.url}/api/v2{path}", headers=self.headers, params=params, timeout=30
        )
        answer.raise_for_status()
        return answer.json()

    def runs(self) -> list[dict[str, Any]]:
        return self.get("/dags/~/dagRuns", limit=100)["dag_runs"]

    def wait_all_finished(self, *dag_ids: str) -> list[dict[str, Any]]:
        """Every run, once each of `dag_ids` has one and none is queued or running."""
        deadline = time.monotonic() + RUNS_TIMEOUT_S
        while True:
            runs = self.runs()
            started = {run["dag_id"] for run in runs}
            if started >= set(dag_ids) and all(run["state"] in FINISHED for run in runs):
                return runs
            assert time.monotonic() < deadline, [(r["dag_run_id"], r["state"]) for r in runs]
            time.sleep(2)

    def task(self, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """One mapped task instance, or with no map index the list of them all."""
        run = urllib.parse.quote(run_id, safe="")
        path = f"/dags/{DAILY}/dagRuns/{run}/taskInstances/{task_id}"
        return self.get(f"{path}/{map_index}" if map_index >= 0 else f"{path}/listMapped")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with local_stack(tmp_path_factory.mktemp("airflow-ui"), []) as started:
        yield started


def _page_text(driver: browser.webdriver.Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def _wait_text(driver: browser.webdriver.Chrome, *fragments: str) -> None:
    WebDriverWait(driver, WAIT_S).until(
        lambda d: all(fragment in _page_text(d) for fragment in fragments),
        f"{fragments} not on {driver.current_url}",
    )


def _labelled(root: Any, labels: set[str]) -> list[WebElement]:
    """The buttons under `root` whose text or aria-label is one of `labels`; none while
    React replaces them under our feet (a stale element: asked again)."""
    try:
        return [
            b
            for b in root.find_elements(By.CSS_SELECTOR, "button")
            if {b.text, b.get_attribute("aria-label")} & labels
        ]
    except StaleElementReferenceException:
        return []


def _button(root: Any, driver: browser.webdriver.Chrome, label: str) -> WebElement:
    """The last button whose text or aria-label is `label` under `root`, once there is one."""
    WebDriverWait(driver, WAIT_S).until(
        lambda _: _labelled(root, {label}), f"no button {label!r} on {driver.current_url}"
    )
    return _labelled(root, {label})[-1]


def _expand_task_groups(driver: browser.webdriver.Chrome) -> None:
    """Show every tenant-day's tasks for the grid's picture: Airflow's grid offers
    "Expand all task groups", or, when it kept the groups open (its view state persists
    in the browser), "Collapse all task groups", which means there is nothing to do.
    Under load the run page has once drawn its grid without either button for a whole
    minute (the groups' names shown); a reload draws it again. Only the picture needs
    the groups open, so if two loads show no button it is taken as drawn."""
    expand, collapse = "Expand all task groups", "Collapse all task groups"
    for attempt in range(2):
        if attempt:
            driver.refresh()
        try:
            WebDriverWait(driver, WAIT_S / 2).until(lambda _: _labelled(driver, {expand, collapse}))
        except TimeoutException:
            continue
        with suppress(StaleElementReferenceException):  # redrawn meanwhile: pictured as it is
            if buttons := _labelled(driver, {expand}):
                buttons[-1].click()
        return
    print(f"no {expand!r} button on {driver.current_url}: the grid's picture shows it as drawn")


def _type(field: WebElement, text: str) -> None:
    """Type as a person does, a key at a time: the form re-renders on every change, and a
    burst of keys can lose one."""
    for key in text:
        field.send_keys(key)


def _sign_in(driver: browser.webdriver.Chrome, stack: LocalStack) -> None:
    driver.get(f"{stack.airflow_url}/")
    WebDriverWait(driver, WAIT_S).until(lambda d: d.find_elements(By.NAME, "password"))
    driver.find_element(By.NAME, "username").send_keys("admin")
    driver.find_element(By.NAME, "password").send_keys(stack.password())
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, WAIT_S).until(lambda d: "/auth/login" not in d.current_url)


def _trigger(
    driver: browser.webdriver.Chrome,
    stack: LocalStack,
    day: date,
    tenants: list[str],
    shots: Path,
) -> str:
    """Trigger k8s_costs_daily from the form with `date` and `tenants` (the filled form
    saved in `shots`); returns the run id."""
    driver.get(f"{stack.airflow_url}/dags/{DAILY}")
    _button(driver, driver, "Trigger").click()
    WebDriverWait(driver, WAIT_S).until(lambda d: d.find_elements(By.ID, "element_tenants"))
    date_field = driver.find_element(By.ID, "element_date")
    _type(date_field, day.strftime("%m%d%Y"))  # the browser's en-US date field
    assert date_field.get_attribute("value") == day.isoformat()
    tenants_field = driver.find_element(By.ID, "element_tenants")
    _type(tenants_field, "\n".join(tenants))
    assert tenants_field.get_attribute("value") == "\n".join(tenants)
    driver.save_screenshot(str(shots / "airflow-trigger.png"))
    dialog = driver.find_element(By.CSS_SELECTOR, ".chakra-dialog__content")
    submit = _button(dialog, driver, "Trigger")
    driver.execute_script("arguments[0].scrollIntoView()", submit)
    submit.click()
    WebDriverWait(driver, WAIT_S).until(lambda d: "/runs/manual__" in d.current_url)
    return urllib.parse.unquote(driver.current_url.split("/runs/", 1)[1].split("/")[0])


def _wait_success(api: AirflowApi, run_id: str) -> None:
    deadline = time.monotonic() + RUNS_TIMEOUT_S
    while (state := api.get(f"/dags/{DAILY}/dagRuns/{run_id}")["state"]) not in FINISHED:
        assert time.monotonic() < deadline, run_id
        time.sleep(2)
    assert state == "success", run_id


@pytest.mark.timeout(1800)  # Airflow's first runs, then ours, on 2 shared cores
def test_an_operator_triggers_reruns_and_reads_a_day_in_the_ui(stack, tmp_path):
    shots = Path(os.environ.get("AIRFLOW_UI_SCREENSHOTS") or tmp_path)
    api = AirflowApi(stack)
    # The first screen is green: what Airflow started by itself all succeeded.
    first = api.wait_all_finished(DAILY, REPAIR)
    assert {r["state"] for r in first} == {"success"}, [
        (r["dag_run_id"], r["state"]) for r in first
    ]
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(stack.data_dir)})
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    accounts = registry.k8s_accounts(db)[:2]
    # The first of the demo's 3 simulated days, which end yesterday (UTC).
    day = datetime.now(UTC).date() - timedelta(days=3)
    with browser.chromium() as driver:
        _sign_in(driver, stack)
        run_id = _trigger(driver, stack, day, [account.id for account in accounts], shots)
        _wait_success(api, run_id)
        names = [f"{account.name} {day}" for account in accounts]
        driver.get(f"{stack.airflow_url}/dags/{DAILY}/runs/{urllib.parse.quote(run_id)}")
        _wait_text(driver, *names)
        _expand_task_groups(driver)
        driver.save_screenshot(str(shots / "airflow-grid.png"))
        # Clear the first tenant's load (and what follows it) and watch it run again.
        (load,) = [
            ti
            for ti in api.task(run_id, "tenant_day.load")["task_instances"]
            if ti["rendered_map_index"] == names[0]
        ]
        record_id = ledger.record_id(accounts[0].id, day)
        before = db[ledger_store.COLLECTION].find_one({"_id": record_id})
        path = (
            f"/runs/{urllib.parse.quote(run_id)}/tasks/tenant_day.load/mapped/{load['map_index']}"
        )
        driver.get(f"{stack.airflow_url}/dags/{DAILY}{path}")
        _wait_text(driver, names[0])
        _button(driver, driver, "Press shift+c to clear").click()
        dialog = driver.find_element(By.CSS_SELECTOR, ".chakra-dialog__content")
        _button(dialog, driver, "Confirm").click()
        deadline = time.monotonic() + RUNS_TIMEOUT_S
        while (again := api.task(run_id, "tenant_day.load", load["map_index"]))[
            "try_number"
        ] < 2 or again["state"] != "success":
            assert time.monotonic() < deadline, again
            time.sleep(2)
        _wait_success(api, run_id)
        after = db[ledger_store.COLLECTION].find_one({"_id": record_id})
        assert after["totals"] == before["totals"]  # the same cost, restated
        loads = [entry["status"] for entry in after["history"]].count(ledger.LOADED)
        assert loads == [entry["status"] for entry in before["history"]].count(ledger.LOADED) + 1
        # The day, off the first task's log.
        driver.get(
            f"{stack.airflow_url}/dags/{DAILY}/runs/{urllib.parse.quote(run_id)}/tasks/list_tenants"
        )
        _wait_text(driver, f"run {run_id} costs {day}")


def test_sigterm_stops_everything_make_airflow_started(stack):
    check_block_then_sigterm(stack)
