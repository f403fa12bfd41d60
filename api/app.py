"""The API's application factory and its runner.

`create_app` builds a fresh app bound to one Settings object, so tests (and
several configurations in one process) never share state. Resources live in
blueprints (api/routes/); the OpenAPI document is
generated from their schemas at /openapi.json, with a self-contained docs page
at /docs (api/routes/docs.py: no CDN, so it works offline). Every route needs an
organization's bearer token except the probes and the docs (api/auth.py).
"""

from __future__ import annotations

from apiflask import APIFlask

from api import openapi, server
from api.auth import protect
from api.catalog.cache import attach_catalogs
from api.context import attach_settings
from api.headers import secure_answers
from api.problems import ProblemSchema, problem_response, stored_data_problem
from api.query.clean_expenses import CATALOG_FIELDS
from api.render.finite import FiniteJSONProvider, NonFiniteNumberError
from api.routes import (
    allocation,
    bills,
    breakdown_expenses,
    budgets,
    clean_expenses,
    docs,
    health,
    import_status,
    ingest_status,
    k8s_alerts,
    k8s_costs,
    recommendations,
    showback_reports,
    ui,
)
from etl.core import serve
from etl.core.config import Settings

API_TITLE = "k8scost API"
API_VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> APIFlask:
    """A new app serving clean_expenses and the health probes for `settings`.

    Nothing process-wide is set here (tests and benchmarks build many apps in one
    process): the GC tuning is the serving process's, api/server.py `tune_gc`.
    """
    # APIFlask's docs pages load their scripts from a CDN: api/routes/docs.py serves one.
    app = APIFlask(
        __name__,
        title=API_TITLE,
        version=API_VERSION,
        docs_path=None,
        spec_plugins=[openapi.ExclusiveRanges()],
    )
    app.config.update(
        # The platform answers invalid parameters with 400, not APIFlask's default 422.
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_SCHEMA=ProblemSchema,
        HTTP_ERROR_SCHEMA=ProblemSchema,
        # Organizations are not stored here, so an unknown one is not a 404 (it has no costs).
        AUTO_404_RESPONSE=False,
    )
    app.error_processor(problem_response)
    app.spec_processor(lambda spec: openapi.document(spec, server.SERVER_LIMITS))
    # No answer carries NaN or Infinity (api/render/finite.py): a 500 problem instead.
    app.json = FiniteJSONProvider(app)
    app.register_error_handler(NonFiniteNumberError, stored_data_problem)
    attach_settings(app, settings or Settings.from_env())
    attach_catalogs(app, CATALOG_FIELDS)
    protect(app)
    secure_answers(app)
    app.register_blueprint(docs.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(clean_expenses.bp)
    app.register_blueprint(ingest_status.bp)
    app.register_blueprint(k8s_costs.bp)
    app.register_blueprint(import_status.bp)
    app.register_blueprint(k8s_alerts.bp)
    app.register_blueprint(budgets.bp)
    app.register_blueprint(bills.bp)
    app.register_blueprint(breakdown_expenses.bp)
    app.register_blueprint(ui.bp)
    app.register_blueprint(ui.root)
    app.register_blueprint(recommendations.bp)
    app.register_blueprint(allocation.bp)
    app.register_blueprint(showback_reports.bp)
    return app


def serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int = serve.DEFAULT_WORKERS,
    threads: int = serve.DEFAULT_THREADS,
) -> None:
    """Serve the API under gunicorn (with request logging) until SIGTERM/SIGINT.

    From this process on servers; from a fresh interpreter when an embedded store is
    configured, since this process may have used it and must not fork (api/server.py).
    """
    if server.embeds_a_store(settings):
        server.spawn(settings, host, port, workers, threads)
    else:
        server.run_here(lambda: create_app(settings), host, port, workers, threads)
