"""What the OpenAPI document needs beyond what APIFlask generates from the schemas.

- The bearer scheme and the 401/403 answers (api/auth.py `document_security`).
- The limits the server enforces before the app runs (etl/core/http1.py) under
  `info.x-server-limits`, and the answers it gives for them on every operation.
- A request body whose schema has required fields is itself required (APIFlask does
  not say so, and a POST without a body is a 400).
- Patterns: the document's `pattern`s are the server's own regular expressions,
  written so that they mean the same in JSON Schema's dialect (`portable_pattern`).
- Exclusive bounds: apispec states a marshmallow `Range`'s `min` and `max` as
  `minimum`/`maximum` whether or not they are included, so an amount that must be
  above 0 read as "0 is fine". OpenAPI 3.1 (JSON Schema) says it with
  `exclusiveMinimum`/`exclusiveMaximum`, which `ExclusiveRanges` adds.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from apispec import APISpec, BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow.fields import Field
from marshmallow.validate import Range

from api.auth import document_security
from etl.core.http1 import ServerLimits

# What the server layer answers itself, before the app runs (etl/core/http1.py).
SERVER_ANSWERS = {
    "400": "Malformed request head (refused by the server)",
    "408": "The request head or body did not arrive in time",
    "413": "Body over the server's limit",
    "414": "Request line over the server's limit",
    "431": "Header fields over the server's limits",
    "503": "Too many open connections",
}
PROBLEM_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ProblemSchema"}}}


# Python's `\s` (str.isspace): JSON Schema's (ECMAScript's) leaves out \x1c-\x1f and \x85
# and adds \ufeff, so a pattern states the whitespace it means by name.
PYTHON_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


# Python's `.` is anything but a newline (ECMAScript's also refuses \r, \u2028, \u2029),
# and its `$` also matches before a final newline.
OUTSIDE_CLASS = {".": r"[^\n]", "$": r"\n?$"}


def portable_pattern(pattern: str) -> str:
    """A Python regular expression as JSON Schema reads the same: whitespace, `.` and `$`
    spelled out, and no `(?P<name>`."""
    portable = re.sub(r"\(\?P<\w+>", "(", pattern)
    out, in_class, at = [], False, 0
    while at < len(portable):
        char = portable[at]
        if char == "\\" and portable[at + 1 : at + 2] == "s":
            out.append(PYTHON_SPACE if in_class else f"[{PYTHON_SPACE}]")
            at += 2
            continue
        if char == "\\":
            out.append(portable[at : at + 2])
            at += 2
            continue
        in_class = (in_class or char == "[") and not (in_class and char == "]")
        out.append(char if in_class else OUTSIDE_CLASS.get(char, char))
        at += 1
    return "".join(out)


def document(spec: dict[str, Any], limits: ServerLimits) -> dict[str, Any]:
    """The app's spec processor: security, and the server's limits with their answers."""
    spec = document_security(spec)
    spec["info"]["x-server-limits"] = asdict(limits)
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, text in SERVER_ANSWERS.items():
                responses.setdefault(status, {"description": text, "content": PROBLEM_CONTENT})
            if "requestBody" in operation and _has_required_fields(spec, operation["requestBody"]):
                operation["requestBody"]["required"] = True
    return spec


def _has_required_fields(spec: dict[str, Any], body: dict[str, Any]) -> bool:
    for media in body.get("content", {}).values():
        schema = media.get("schema", {})
        name = schema.get("$ref", "").rpartition("/")[2]
        schema = spec.get("components", {}).get("schemas", {}).get(name, schema)
        if schema.get("required"):
            return True
    return False


def _exclusive_bounds(_converter: Any, field: Field, **_: Any) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for validator in field.validators:
        if isinstance(validator, Range):
            if validator.min is not None and not validator.min_inclusive:
                bounds["exclusiveMinimum"] = validator.min
            if validator.max is not None and not validator.max_inclusive:
                bounds["exclusiveMaximum"] = validator.max
    return bounds


class ExclusiveRanges(BasePlugin):
    """An apispec plugin: a `Range` that leaves a bound out says so in the document."""

    def init_spec(self, spec: APISpec) -> None:
        for plugin in spec.plugins:
            if isinstance(plugin, MarshmallowPlugin):
                plugin.converter.add_attribute_function(_exclusive_bounds)
