"""Where a dashboard page's time goes, visit by visit, in headless Chromium (not part of the suite).

bench/ui.py says how long a page takes; this says what it waited on. On the same
organization and period (`--data-dir`, bench/api.py's data), each page named is
visited as bench.ui visits it: once with an empty browser cache, then `--reloads`
times. Each visit prints, in ms from the start of its navigation (Navigation and
Resource Timing, read from the page):

- the document's milestones: its response, DOM interactive, DOMContentLoaded, and
  the moment app.js marked the page drawn;
- every resource the page fetched: when it was asked for, its first and last byte,
  and the bytes that crossed the network (0: from the browser's cache);
- the main thread's long tasks (over 50 ms: compiling and running a script, layout),
  from a Long Tasks observer the devtools protocol installs before the page's own
  scripts (Page.addScriptToEvaluateOnNewDocument).

The API's access log of the same requests (its own duration of each) goes to
`--server-log`. docs/dashboard.md, "Where a first render's time went", is what it
showed.

    .venv/bin/python -m bench.waterfall [--data-dir DIR] [--reloads N] [--server-log FILE] PAGE...
"""

from __future__ import annotations

import argparse
import urllib.parse
from pathlib import Path
from typing import Any

from bench.ui import PAGE_TIMEOUT_S, ROUTES, built, signed_in_session
from devtools import browser

# Collects the long tasks of each new document, before any of its scripts runs.
LONG_TASKS = """
window.k8scostLongTasks = [];
new PerformanceObserver((list) => {
  for (const task of list.getEntries()) {
    window.k8scostLongTasks.push([task.startTime, task.duration]);
  }
}).observe({ type: "longtask", buffered: true });
"""
READ = """
const [navigation] = performance.getEntriesByType("navigation");
return {
  drawn: window.k8scostDrawnAt,
  navigation: navigation.toJSON(),
  resources: performance.getEntriesByType("resource").map((entry) => entry.toJSON()),
  longTasks: window.k8scostLongTasks,
};
"""


def short_name(url: str) -> str:
    """The last part of a URL's path: the script, or the API endpoint."""
    return urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or "/"


def print_visit(label: str, seen: dict[str, Any]) -> None:
    nav = seen["navigation"]
    print(
        f"{label}: response {nav['responseEnd']:.0f}, DOM interactive "
        f"{nav['domInteractive']:.0f}, DOMContentLoaded {nav['domContentLoadedEventEnd']:.0f}, "
        f"drawn {seen['drawn']:.0f} ms"
    )
    for entry in sorted(seen["resources"], key=lambda entry: entry["startTime"]):
        print(
            f"  {short_name(entry['name']):<24} asked {entry['startTime']:6.0f}  first byte "
            f"{entry['responseStart']:6.0f}  last byte {entry['responseEnd']:6.0f}  "
            f"{entry['transferSize']:>9} B"
        )
    tasks = ", ".join(f"{start:.0f}+{duration:.0f}" for start, duration in seen["longTasks"])
    print(f"  long tasks (start+duration): {tasks or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", choices=[page.name for page in ROUTES])
    parser.add_argument("--data-dir", type=Path, help="reuse a loaded directory")
    parser.add_argument("--reloads", type=int, default=2)
    parser.add_argument("--server-log", type=Path, help="write the API's access log here")
    arguments = parser.parse_args()
    with signed_in_session(arguments.data_dir, arguments.server_log) as session:
        driver = session.driver
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LONG_TASKS})
        for page in arguments.pages:
            if not built(driver, page):
                print(f"{page}: not built in the served dashboard")
                continue
            driver.execute_cdp_cmd("Network.clearBrowserCache", {})
            for visit in range(1, arguments.reloads + 2):
                driver.get("about:blank")
                route = f"{session.routes[page]}&visit={visit}"
                browser.open_page(driver, session.base_url, route, page, PAGE_TIMEOUT_S)
                label = "first visit, empty cache" if visit == 1 else f"reload {visit - 1}"
                print_visit(f"{page}, {label}", driver.execute_script(READ))


if __name__ == "__main__":
    main()
