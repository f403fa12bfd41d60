"""`k8scost ui screenshots DIR`: PNGs of the dashboard's pages on the demo's data.

What `make demo` loads (devtools/demo.py: simulated clusters costed by the pipeline,
so the data health page has its ledger), plus a bill of the clusters' node VMs (the
bills page), a budget and the alerts the evaluator raises on the last day, served by
the API from a fresh interpreter and photographed by Debian's headless chromium
(devtools/browser.py). The README's images in docs/img/ come from `make screenshots`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from api.auth import issue_token
from devtools import demo
from etl.bills import import_bill
from etl.core.config import Settings
from etl.storage import registry

# The demo's default scrape interval (k8scost demo --scrape-interval): a small history.
SCRAPE_INTERVAL_S = 300


@click.group("ui")
def ui_group() -> None:
    """The dashboard, served by `k8scost api` under /ui/."""


@ui_group.command("screenshots")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--clusters", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=3, show_default=True)
@click.pass_obj
def screenshots_command(settings: Settings, out_dir: Path, clusters: int, days: int) -> None:
    """Cost the demo's simulated clusters, serve them, and write a PNG of each page."""
    # selenium comes with the test extra (the API image has none): imported when used.
    from devtools import browser

    with demo.simulated_thanos(settings, clusters, days, SCRAPE_INTERVAL_S) as (url, scenario):
        local = settings.with_overrides(thanos_url=url)
        demo.cost_history(local, scenario, lambda result: None)
        organization = scenario["clusters"][0]["organization_id"]
        import_bill(
            local, organization, demo.node_bill(local, scenario, local.data_dir / "demo-bill.csv")
        )
        demo.budget_and_alerts(local, scenario)
    token = issue_token(registry.open_database(local.mongo_uri, local.mongo_db), organization)
    period = (scenario["days"][0], scenario["days"][-1])
    with browser.api_server(local) as base_url:
        written = browser.screenshots(base_url, organization, token, out_dir, period)
    for path in written:
        click.echo(path)


def dashboard_url(host: str, port: int, first: date, last: date) -> str:
    """The dashboard's overview over [first, last] (the period rides in the URL's hash)."""
    return f"http://{host}:{port}/ui/#/overview?from={first.isoformat()}&to={last.isoformat()}"
