"""A real headless Chromium driving the dashboard: for its tests, screenshots and benchmark.

Debian's `chromium` with its `chromium-driver`, through selenium (scripts/setup.sh
installs both; nothing is downloaded). The flags are those that keep it from
reaching outside on this kind of machine (docs/dashboard.md): no background
networking, no component updates, no sync, a fresh profile in a directory of its own.
Its performance log records every request the page makes, so a test can show that
none left 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from etl.core.config import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# The pages photographed after the overview and a cluster: each drawn from the period alone.
PERIOD_PAGES = ("health", "allocation", "savings", "alerts", "budgets", "bills")
WAIT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def api_server(settings: Settings, log: Path | None = None) -> Iterator[str]:
    """`python -m api` (what `k8scost api` serves) on a free port of 127.0.0.1: its URL.

    A fresh interpreter, since this process may have used the embedded stores (the
    API hands them over when a task wants them, etl/storage/clickhouse.py).
    """
    port = free_port()
    env = {
        **os.environ,
        "K8SCOST_DATA_DIR": str(settings.data_dir),
        "CLICKHOUSE_DSN": settings.clickhouse_dsn,
        "MONGO_URI": settings.mongo_uri,
        "MONGO_DB": settings.mongo_db,
    }
    with open(log or os.devnull, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                urllib.request.urlopen(f"{url}/livez", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the API did not start (exit {process.poll()})") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile, logging the network; quit on exit."""
    profile = Path(tempfile.mkdtemp(prefix="k8scost-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(shutil.which("chromedriver") or CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_loaded(driver: webdriver.Chrome, page: str, timeout_s: float = WAIT_S) -> None:
    """Wait until the dashboard says it has drawn `page` (<body data-loaded>).

    On a timeout, the error names what the page showed and the browser's console.
    """
    try:
        WebDriverWait(driver, timeout_s).until(
            lambda d: d.execute_script("return document.body.dataset.loaded") == page
        )
    except TimeoutException as error:
        shown = driver.execute_script(
            "return [document.body.dataset.loaded, location.href,"
            " (document.getElementById('page-message') || {}).textContent]"
        )
        raise TimeoutException(f"{page} not drawn: {shown}; console: {console(driver)}") from error


def console(driver: webdriver.Chrome) -> list[str]:
    """The browser console's messages since the last call."""
    return [entry["message"] for entry in driver.get_log("browser")]


def sign_in(driver: webdriver.Chrome, base_url: str, organization_id: str, token: str) -> None:
    """Open the dashboard and sign in through its form, as a person does."""
    driver.get(f"{base_url}/")
    wait_loaded(driver, "sign-in")
    driver.find_element("id", "sign-in-org").clear()
    driver.find_element("id", "sign-in-org").send_keys(organization_id)
    driver.find_element("id", "sign-in-token").send_keys(token)
    driver.find_element("id", "sign-in-submit").click()


def open_page(
    driver: webdriver.Chrome, base_url: str, route: str, page: str, timeout_s: float = WAIT_S
) -> None:
    """Go to `#/<route>` of the signed-in dashboard and wait until it is drawn."""
    # A new hash in the same document does not reload it: clear the old page's mark first.
    driver.execute_script("if (document.body) delete document.body.dataset.loaded")
    target = f"{base_url}/ui/#/{route}"
    if driver.current_url == target:
        driver.refresh()  # the same URL again is no navigation at all
    else:
        driver.get(target)
    wait_loaded(driver, page, timeout_s)


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """Every URL the browser requested since the last call (its performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message: dict[str, Any] = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def screenshots(
    base_url: str, organization_id: str, token: str, out_dir: Path, period: tuple[str, str]
) -> list[Path]:
    """PNGs of the pages over `period` (YYYY-MM-DD, inclusive) in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    days = f"from={period[0]}&to={period[1]}"
    written = []
    with chromium() as driver:
        sign_in(driver, base_url, organization_id, token)
        open_page(driver, base_url, f"overview?{days}", "overview")
        written.append(_shot(driver, out_dir / "overview.png"))
        link = driver.find_element("css selector", "#expenses-table .cluster-link")
        link.click()
        wait_loaded(driver, "cluster")
        written.append(_shot(driver, out_dir / "cluster.png"))
        for page in PERIOD_PAGES:
            open_page(driver, base_url, f"{page}?{days}", page)
            written.append(_shot(driver, out_dir / f"{page}.png"))
    return written


def _shot(driver: webdriver.Chrome, path: Path) -> Path:
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1400, max(1000, int(height) + 40))
    driver.save_screenshot(str(path))
    return path
