"""The API's application factory and its runner.

`create_app` builds a fresh app bound to one Settings object, so tests (and
several configurations in one process) never share state. Resources live in
blueprints (`api/expenses.py`, `api/health.py`); the OpenAPI document is
generated from their schemas at /openapi.json, with a docs page at /docs.
"""

from __future__ import annotations

from apiflask import APIFlask

from api import expenses, health
from api.context import attach_settings
from api.problems import ProblemSchema, problem_response
from etl.config import Settings

API_TITLE = "k8scost API"
API_VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> APIFlask:
    """A new app serving clean_expenses and the health probes for `settings`."""
    app = APIFlask(__name__, title=API_TITLE, version=API_VERSION)
    app.config.update(
        # The platform answers invalid parameters with 400, not APIFlask's default 422.
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_SCHEMA=ProblemSchema,
        HTTP_ERROR_SCHEMA=ProblemSchema,
        # Organizations are not stored here, so an unknown one is not a 404 (it has no costs).
        AUTO_404_RESPONSE=False,
    )
    app.error_processor(problem_response)
    attach_settings(app, settings or Settings.from_env())
    app.register_blueprint(health.bp)
    app.register_blueprint(expenses.bp)
    return app


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the API with Flask's threaded server until interrupted."""
    create_app(settings).run(host=host, port=port)
