"""The OpenAPI document says what the server checks: patterns, exclusive bounds, bodies."""

from __future__ import annotations

import random
import re

import pytest

from api.openapi import portable_pattern
from api.routes.budgets import SCOPE_PATTERN
from etl.alerts.budgets import SCOPE

# Characters where Python's and JSON Schema's (ECMAScript's) regular expressions differ:
# \x1c-\x1f and \x85 are whitespace to Python only, \ufeff to ECMAScript only; `.` refuses
# \r, \u2028 and \u2029 in ECMAScript only; `$` takes a final newline in Python only.
TRICKY = [chr(code) for code in (9, 10, 13, 0x1C, 0x1D, 0x85, 0xA0, 0x2028, 0x3000, 0xFEFF)]


def as_json_schema_reads(pattern: str) -> re.Pattern[str]:
    """`pattern` as ECMAScript runs it, for these patterns: `$` is the very end."""
    return re.compile(pattern.replace("$", r"\Z"))


@pytest.mark.parametrize(
    "python_pattern",
    [SCOPE.pattern, r"^\s*(?:[^,:\s][^,:]*:[^,]*)?$", r"^a.b$", r"^[.]+a$"],
)
def test_a_portable_pattern_accepts_what_the_python_pattern_accepts(python_pattern: str):
    server, document = (
        re.compile(python_pattern),
        as_json_schema_reads(portable_pattern(python_pattern)),
    )
    pieces = [*TRICKY, "a", "b", "=", ":", ",", ".", "$", " "]
    prefixes = ["", "organization", "namespace:", "label:", "cloud_account_id:", "a"]
    chosen = random.Random(7)
    for _ in range(20_000):
        size = chosen.randint(0, 5)
        text = chosen.choice(prefixes) + "".join(chosen.choice(pieces) for _ in range(size))
        assert bool(server.match(text)) == bool(document.search(text)), repr(text)


def test_the_scope_pattern_is_the_scope_rule():
    assert portable_pattern(SCOPE.pattern) == SCOPE_PATTERN
    assert "?P<" not in SCOPE_PATTERN and r"\s" not in SCOPE_PATTERN


def test_bounds_left_out_and_required_bodies_are_stated(app):
    spec = app.test_client().get("/openapi.json").get_json()
    budget = spec["components"]["schemas"]["BudgetIn"]["properties"]
    assert budget["amount_usd"]["exclusiveMinimum"] == 0
    assert budget["thresholds"]["items"]["exclusiveMinimum"] == 0
    budgets = spec["paths"]["/restapi/v2/organizations/{organization_id}/budgets"]
    assert budgets["post"]["requestBody"]["required"] is True
    update = spec["paths"]["/restapi/v2/organizations/{organization_id}/budgets/{budget_id}"]
    assert "required" not in update["put"]["requestBody"]  # every field is optional there
