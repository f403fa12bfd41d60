"""The dashboard's files: linked by digest and cached, the chart library left to the pages.

A reload must not ask again for every script (each a request the API's threads serve
before the page's own calls), and a release must reach the browser at once: the page
links each file with its content's digest, and only such a URL is cached for long.
"""

from __future__ import annotations

import hashlib
import re

from apiflask import APIFlask

from api.routes.ui import UI_DIR

YEAR_S = 365 * 86400


def linked_assets(page: str) -> dict[str, str]:
    """The page's static files: name -> the `v` its URL carries."""
    return dict(re.findall(r'"/ui/static/([\w.]+)\?v=(\w+)"', page))


def test_the_page_links_each_script_and_style_by_its_contents_digest(app: APIFlask) -> None:
    page = app.test_client().get("/ui/").get_data(as_text=True)
    linked = linked_assets(page)
    assert {"common.js", "app.js", "style.css"} <= set(linked)
    for name, version in linked.items():
        contents = (UI_DIR / "static" / name).read_bytes()
        assert hashlib.sha256(contents).hexdigest().startswith(version), name
    assert not re.search(r'/ui/static/[\w.]+"', page), "a static file linked without its digest"


def test_only_a_url_naming_the_current_digest_is_cached_for_long(app: APIFlask) -> None:
    client = app.test_client()
    version = linked_assets(client.get("/ui/").get_data(as_text=True))["common.js"]
    contents = (UI_DIR / "static" / "common.js").read_bytes()

    current = client.get(f"/ui/static/common.js?v={version}")
    assert current.status_code == 200 and current.data == contents
    assert current.cache_control.max_age == YEAR_S
    for url in ("/ui/static/common.js", "/ui/static/common.js?v=0123456789abcdef"):
        other = client.get(url)  # an old page's link, or none: the same file, asked again
        assert other.status_code == 200 and other.data == contents
        assert other.cache_control.max_age is None, url


def test_the_page_loads_no_chart_library_itself(app: APIFlask) -> None:
    page = app.test_client().get("/ui/").get_data(as_text=True)
    assert "plotly" not in " ".join(re.findall(r"<script[^>]*>", page))
    assert 'data-chart-library="/ui/vendor/plotly.min.js"' in page
