"""The dashboard (the seed's NGUI), served by the API process itself under `/ui/`.

Pages in one HTML document (api/ui/templates/index.html) driven by a few small
scripts (api/ui/static/: common.js, one per page, app.js the router): the expenses
overview, a cluster's components and drill-down, data health, the allocation
explorer and the right-sizing savings (whose filter inputs come from the filter
table, like the overview's, so a new filter shows up on its own), alerts, budgets
and bills (docs/dashboard.md). The
page, its scripts, its style and the chart library are public (api/auth.py
PUBLIC_ENDPOINTS): they hold no data. The data comes from the API's own endpoints
with the token the user signs in with, kept in the browser's session storage and
sent as a Bearer header, never in a URL.

Offline by construction: the chart library is plotly's bundled `plotly.min.js`, read
from the installed `plotly` package (a registry package installed by the README's
setup), and nothing else is loaded from outside (no CDN, no web font).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from apiflask import APIBlueprint
from flask import Response, redirect, render_template, send_file, url_for

from api.query.breakdown import BREAKDOWNS
from api.query.filters import CLEAN_EXPENSES, K8S_COSTS, K8S_RECOMMENDATIONS

UI_DIR = Path(__file__).resolve().parents[1] / "ui"
# Static files change with a release only: the browser may keep them a day.
STATIC_MAX_AGE_S = 86400

bp = APIBlueprint(
    "ui",
    __name__,
    url_prefix="/ui",
    template_folder=str(UI_DIR / "templates"),
    static_folder=str(UI_DIR / "static"),
    static_url_path="/static",
    enable_openapi=False,
)
root = APIBlueprint("ui_root", __name__, enable_openapi=False)


@cache
def plotly_js() -> Path:
    """The `plotly.min.js` bundled in the installed plotly package (without importing it)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed (scripts/setup.sh installs it)")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


@root.get("/")
def home() -> Response:
    """The API's root opens the dashboard."""
    return redirect(url_for("ui.page"))


@bp.get("/")
def page() -> str:
    """The dashboard's one document; the filters' inputs come from the filter table."""
    return render_template(
        "index.html",
        filters=CLEAN_EXPENSES.filters,
        allocation_filters=K8S_COSTS.filters,
        savings_filters=K8S_RECOMMENDATIONS.filters,
        # The overview's chart: by service first (K8s included), then the other fields.
        breakdowns=sorted(
            (b for b in BREAKDOWNS if b != "k8s_component"), key=lambda b: b != "service_name"
        ),
    )


@bp.get("/vendor/plotly.min.js")
def plotly() -> Response:
    """The chart library, from the plotly package."""
    return send_file(plotly_js(), mimetype="text/javascript", max_age=STATIC_MAX_AGE_S)
