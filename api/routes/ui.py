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

What a visit costs the browser (docs/dashboard.md, "Where a first render's time went"):
the page's scripts are named by their content's digest (`?v=`), so a browser keeps
them a year without asking again, and a release (another digest) is fetched at once;
the chart library is loaded only by the pages that draw a chart (common.js), since
compiling it is most of a first visit's main-thread time, and it is plotly.js's finance
bundle (bar and waterfall traces, the two the pages draw), a quarter of the full
bundle's size and compile.

Offline by construction: the chart library is read from api/ui/chart/node_modules,
which the README's setup installs from the npm registry at the version
api/ui/chart/package-lock.json pins (the Dockerfile likewise), and nothing else is
loaded from outside (no CDN, no web font).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from apiflask import APIBlueprint
from flask import Response, redirect, render_template, request, send_file, url_for

from api.query.breakdown import BREAKDOWNS
from api.query.filters import CLEAN_EXPENSES, K8S_COSTS, K8S_RECOMMENDATIONS

UI_DIR = Path(__file__).resolve().parents[1] / "ui"
# The chart library changes with api/ui/chart/package-lock.json only: the browser may
# keep it a day.
CHART_LIBRARY = (
    UI_DIR / "chart" / "node_modules" / "plotly.js-finance-dist-min" / "plotly-finance.min.js"
)
STATIC_MAX_AGE_S = 86400
# A script or style asked for by its digest is that content for good: a year, the
# customary longest (RFC 2616, 14.21: no Expires more than a year ahead).
VERSIONED_MAX_AGE_S = 365 * 86400


class _UiBlueprint(APIBlueprint):
    """The blueprint whose static files are cached by the browser when asked by digest."""

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """A year for a URL naming the file's current digest (what the page links); for
        any other (an old page, a hand-typed URL), Flask's default: ask again each time."""
        version = asset_versions().get(filename or "")
        if version is not None and request.args.get("v") == version:
            return VERSIONED_MAX_AGE_S
        return super().get_send_file_max_age(filename)


bp = _UiBlueprint(
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
def asset_versions() -> dict[str, str]:
    """Each static file's name and the first hex digits of its SHA-256.

    Read once per process: the files change with a release, which restarts the API.
    """
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        for path in (UI_DIR / "static").iterdir()
        if path.is_file()
    }


def asset_url(filename: str) -> str:
    """A static file's URL with its digest: what the page links (cached a year)."""
    return url_for("ui.static", filename=filename, v=asset_versions()[filename])


@root.get("/")
def home() -> Response:
    """The API's root opens the dashboard."""
    return redirect(url_for("ui.page"))


@bp.get("/")
def page() -> str:
    """The dashboard's one document; the filters' inputs come from the filter table."""
    return render_template(
        "index.html",
        asset_url=asset_url,
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
    """The chart library, as api/ui/chart/package-lock.json pins it."""
    if not CHART_LIBRARY.is_file():
        raise RuntimeError(f"{CHART_LIBRARY} is missing: scripts/setup.sh installs it (npm ci)")
    return send_file(CHART_LIBRARY, mimetype="text/javascript", max_age=STATIC_MAX_AGE_S)
