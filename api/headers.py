"""Security headers of every answer: one place, so a new route gets them without a thought.

- `X-Content-Type-Options: nosniff` on every answer: a browser must not read a JSON or
  CSV answer as HTML or script.
- `Cache-Control: no-store` on every answer of a route that needs a token (api/auth.py):
  an organization's costs must not stay in a shared or browser cache. Public answers
  keep theirs (the dashboard's static files are cached a day, api/routes/ui.py).
- No page of the API may be framed (clickjacking): `frame-ancestors 'none'` and the
  older `X-Frame-Options: DENY`. The dashboard's page gets a full Content-Security-
  Policy: scripts, styles, data and images from this origin only. Its scripts are all
  files (no inline script, no eval); styles allow 'unsafe-inline' because the chart
  library (plotly) sets style attributes on the SVG it draws.
"""

from __future__ import annotations

from flask import Flask, Response, request

from api.auth import PUBLIC_ENDPOINTS

NO_FRAMING = "frame-ancestors 'none'"
DASHBOARD_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        NO_FRAMING,
    ]
)
DASHBOARD_ENDPOINTS = frozenset({"ui.page"})


def _secure(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    policy = DASHBOARD_POLICY if request.endpoint in DASHBOARD_ENDPOINTS else NO_FRAMING
    response.headers.setdefault("Content-Security-Policy", policy)
    if request.endpoint not in PUBLIC_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    return response


def secure_answers(app: Flask) -> None:
    """Add the security headers to every answer of `app`, errors included."""
    app.after_request(_secure)
