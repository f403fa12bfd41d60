"""Property-based fuzzing of the whole API against its own /openapi.json (schemathesis).

Each operation gets a bounded number of generated requests (valid and invalid query
strings, odd path values) with a valid token, organization-wide or a viewer's scoped to a
namespace (whose writes are refused: a 403 the document declares); the organization in the path is
mostly the token's, which has data in every table, so the queries run for real.
Checks: every check schemathesis has (no 5xx; every status code, content type, header
and body is one the document declares; valid requests accepted, invalid ones refused;
unsupported methods and missing auth refused...), and `finite_numbers`: no answer
carries a number that is not finite. Rules the document cannot state (a period's end
after its start, a reference to stored data) are kept by the positive cases.
"""

from __future__ import annotations

import json
import math
import zlib
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from marshmallow import ValidationError
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from api import reportdefs
from api.app import create_app
from api.auth import SCHEME_NAME, issue_token
from api.query.tokenscope import TokenScope
from api.routes import import_status
from api.routes.allocation import AllocationQuery
from etl.core.config import Settings
from etl.core.days import day_start_epoch
from etl.storage import registry, warehouse
from etl.storage.clickhouse import connect

pytestmark = pytest.mark.slow  # minutes: `make test` starts this file first

ORG = "org-fuzz"
# The day the fixture stores data on.
DAY = date(2024, 3, 1)
# Negative cases are refused before any query, so they cost little; they take at least
# this many per operation so that some break a parameter, with the token
# (`mostly_authenticated`: the last assertion). Positive cases, each a real query,
# take the profile's count (tests/conftest.py).
NEGATIVE_EXAMPLES = 25
# Answer headers that carry a number (clean_expenses' CSV totals).
NUMBER_HEADERS = ("x-total-cost", "x-total-count")


def finite_numbers(_ctx: Any, response: Any, _case: Any) -> None:
    """No JSON `Infinity`/`NaN` (not JSON: JSON.parse refuses them), no `inf` in a header."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"the answer holds {constant}, not a finite number")

    if "json" in "".join(response.headers.get("content-type", [])):
        json.loads(response.content, parse_constant=refuse)
    for name in NUMBER_HEADERS:
        for value in response.headers.get(name, []):
            if not math.isfinite(float(value)):
                refuse(f"{name}: {value}")


load_all_checks()
# Every check schemathesis has (max_response_time aside: a timing is not a test's business).
CHECKS = [*REGISTERED_CHECKS.get_all(), finite_numbers]
# What a case given the token is checked against: not that its (broken) credentials
# were refused.
WITH_TOKEN_CHECKS = [check for check in CHECKS if check.__name__ != "ignored_auth"]


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An app over stores holding a cluster (costs, breakdown, allocation) and a bill VM."""
    config = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path_factory.mktemp("fuzz"))})
    db = registry.open_database(config.mongo_uri, config.mongo_db)
    account = registry.add_account(db, ORG, "cluster", "acc-k8s")
    cluster = registry.record_cluster_seen(db, account, DAY, {"name": "c"}, ["aws:///z/i-1"])["_id"]
    db.cloud_accounts.insert_one(
        {"_id": "aws-1", "organization_id": ORG, "type": "aws_cnr", "name": "aws", "deleted_at": 0}
    )
    db.resources.insert_one(
        {
            "_id": "vm",
            "organization_id": ORG,
            "cloud_account_id": "aws-1",
            "cloud_resource_id": "i-1",
            "tags": {"t": "v"},
        }
    )
    with connect(config.clickhouse_dsn) as client:
        warehouse.init_schema(client)
        for account_id, resource_id in (("acc-k8s", cluster), ("aws-1", "vm")):
            frame = pd.DataFrame({"resource_id": [resource_id], "cost": [1.5]})
            warehouse.restate_day(client, "expenses", account_id, DAY, frame)
        breakdown = pd.DataFrame({"resource_id": [cluster], "cpu_cost": [1.0], "ram_cost": [0.5]})
        warehouse.restate_day(client, "k8s_cost_breakdown", "acc-k8s", DAY, breakdown)
        allocation = pd.DataFrame(
            {
                "resource_id": ["r"],
                "namespace": ["ns"],
                "node": ["n"],
                "services": [["svc"]],
                "cost": [1.5],
            }
        )
        warehouse.restate_day(client, "k8s_allocation", "acc-k8s", DAY, allocation)
    app = create_app(config)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a bug must show as a 500, not a traceback
    scoped = TokenScope.parse(["namespace:ns"], "viewer")  # issue #28: a scope changes no shape
    return {"app": app, "token": issue_token(db, ORG), "scoped": issue_token(db, ORG, scoped)}


def operations(app: Any, token: str) -> list[Any]:
    """The document's operations, with the token as the bearer scheme's credentials: so
    schemathesis knows the requests are authenticated (and checks what is not)."""
    auth = {"auth": {"openapi": {SCHEME_NAME: {"bearer": token}}}}
    config = SchemathesisConfig.from_dict(auth)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    return [result.ok() for result in schema.get_all_operations()]


def organization_for(case: Any) -> None:
    """Mostly the token's own organization (where the data is), sometimes another one."""
    generated = (case.path_parameters or {}).get("organization_id")
    if generated is not None and zlib.crc32(generated.encode()) % 4:
        case.path_parameters["organization_id"] = ORG


def mostly_authenticated(case: Any, token: str) -> bool:
    """Negative cases go out without the scheme's credentials, so each would be refused
    before its parameters are read: a case whose query was made invalid is given the
    token (True), so the parameters' own validation is reached too; the others still
    try the API without credentials."""
    if case.meta is None or not case.meta.is_negative_at(ParameterLocation.QUERY):
        return False
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    return True


def ordered_period(case: Any) -> None:
    """A period ends on or after its start (and the import status' spans at most
    MAX_DAYS): rules between two parameters, which OpenAPI cannot state, so a
    schema-valid request may break them; positive cases keep them."""
    query = case.query or {}
    start, end = query.get("start_date"), query.get("end_date")
    if not isinstance(start, int) or not isinstance(end, int):
        return
    start, end = min(start, end), max(start, end)
    if case.operation.path.endswith("/k8s_import_status"):
        start = max(start, end - import_status.MAX_DAYS * 86400 + 1)
    query["start_date"], query["end_date"] = start, end


def supported_day(case: Any) -> None:
    """A day parameter within the days the API supports: a date's range is not a thing
    OpenAPI can state (out of it is a 400), so positive cases stay in this century."""
    query = case.query or {}
    day = query.get("as_of")
    if isinstance(day, str) and len(day) == 10 and not day.startswith("20"):
        query["as_of"] = "20" + day[2:]


def known_account(case: Any) -> None:
    """A budget's account scope names an account of the organization: a reference to
    stored data, which no schema can state; positive cases name the stored one."""
    body = case.body if isinstance(case.body, dict) else {}
    if str(body.get("scope", "")).startswith("cloud_account_id:"):
        body["scope"] = "cloud_account_id:aws-1"


# A value of each OpenCost parameter its grammar accepts (docs/api.md, the allocation API).
# The window is the stored day and the next, as `start,end` Unix seconds: with the step's
# example two sets (the per-step loop), the first over the stored rows; the allocation
# API runs one query per step, so a window of seven days made each such case seven
# queries over days holding nothing.
OPENCOST_EXAMPLES = {
    "window": f"{day_start_epoch(DAY)},{day_start_epoch(DAY + timedelta(days=2))}",
    "aggregate": "namespace",
    "step": "1d",
}


def opencost_grammar(case: Any) -> None:
    """/allocation's parameters follow OpenCost's grammars (windows, aggregates, the filter
    language, booleans), more than a pattern states: a positive case keeps the values the
    route's own parsers accept, else a documented example (or drops an optional one)."""
    if not case.operation.path.startswith("/allocation"):
        return
    query = case.query or {}
    for name, field in AllocationQuery().fields.items():
        if name not in query:
            continue
        try:
            field.deserialize(query[name])
        except ValidationError:
            if name in OPENCOST_EXAMPLES:
                query[name] = OPENCOST_EXAMPLES[name]
            else:
                del query[name]


# A report definition the API stores (docs/reports.md).
REPORT_EXAMPLE = {"name": "team-costs", "period": "monthly", "destination": "file:///tmp/reports/"}


def report_grammar(case: Any) -> None:
    """A report's scopes, groupings and sharing options follow the token, k8s_costs and
    sharing grammars: a positive case whose definition the API's own check refuses
    (api/reportdefs.py) sends a documented example instead."""
    if not case.operation.path.endswith("/showback_reports") or not isinstance(case.body, dict):
        return
    body = case.body
    try:
        reportdefs.definition(
            str(body.get("name")),
            list(body.get("scopes") or []),
            str(body.get("group_by", "namespace")),
            str(body.get("period")),
            dict(body.get("sharing") or {}),
            str(body.get("format", "csv")),
            str(body.get("destination")),
        )
    except (reportdefs.ReportError, TypeError, ValueError):
        body.clear()
        body.update(REPORT_EXAMPLE)


@pytest.mark.parametrize("token", ["token", "scoped"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_error_and_every_answer_matches_the_document(
    fuzz_target: dict[str, Any], mode: GenerationMode, token: str
) -> None:

    statuses: dict[str, set[int]] = {}
    examples = settings.default.max_examples
    if mode is GenerationMode.NEGATIVE:
        examples = max(examples, NEGATIVE_EXAMPLES)
    for operation in operations(fuzz_target["app"], fuzz_target[token]):
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()):
            continue  # nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            organization_for(case)
            checks = CHECKS
            if mode is GenerationMode.NEGATIVE and mostly_authenticated(case, fuzz_target[token]):
                checks = WITH_TOKEN_CHECKS  # the credentials are valid now
            if mode is GenerationMode.POSITIVE:
                ordered_period(case)
                supported_day(case)
                known_account(case)
                opencost_grammar(case)
                report_grammar(case)
            response = case.call_and_validate(checks=checks)
            statuses.setdefault(case.operation.label, set()).add(response.status_code)

        fuzz()
    # The generated requests reached the handlers, not only the validation layer.
    clean_expenses = "GET /restapi/v2/organizations/{organization_id}/clean_expenses"
    assert (200 if mode is GenerationMode.POSITIVE else 400) in statuses[clean_expenses]
