"""Every error response is one JSON shape, so clients parse failures one way.

The shape follows RFC 9457 problem details: `status`, `title` (the HTTP reason
phrase), `detail` (what went wrong, for a human) and, for invalid input or a
failing dependency, `errors` mapping each field or part to its messages.
APIFlask routes Werkzeug errors (404, 405, 500...), `abort`/`HTTPError` and
input validation errors through one processor: `problem_response`.
"""

from __future__ import annotations

from typing import Any

from apiflask import HTTPError, Schema
from apiflask.fields import Dict, Integer, List, String
from flask import current_app
from werkzeug.exceptions import default_exceptions
from werkzeug.http import HTTP_STATUS_CODES


class ProblemSchema(Schema):
    """The body of every 4xx/5xx response."""

    status = Integer(required=True, metadata={"description": "HTTP status code"})
    title = String(required=True, metadata={"description": "HTTP reason phrase"})
    detail = String(required=True, metadata={"description": "What went wrong"})
    errors = Dict(
        keys=String(),
        values=List(String()),
        metadata={"description": "Messages per invalid parameter or failing part"},
    )


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow nests messages (per location, per list index); clients want one level."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(messages, list | tuple):
        return {prefix: [str(message) for message in messages]}
    return {prefix: [str(messages)]}


def _validation_errors(error: HTTPError) -> dict[str, list[str]] | None:
    """Field messages of an input validation error; its detail is {location: {field: [...]}}."""
    if not isinstance(error.detail, dict) or not error.detail:
        return None
    merged: dict[str, list[str]] = {}
    for field_messages in error.detail.values():
        merged.update(_flatten(field_messages))
    return merged


def _default_detail(status: int) -> str:
    exception = default_exceptions.get(status)
    return exception.description if exception and exception.description else ""


def problem_response(error: HTTPError) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Turn any `HTTPError` into a problem document (the app's `error_processor`)."""
    status = error.status_code
    body: dict[str, Any] = {
        "status": status,
        "title": HTTP_STATUS_CODES.get(status, "Error"),
    }
    errors = error.extra_data.get("errors") or _validation_errors(error)
    if isinstance(error.detail, str) and error.detail:
        body["detail"] = error.detail
    elif errors:
        listed = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in errors.items())
        body["detail"] = f"invalid request parameters: {listed}"
    else:
        body["detail"] = _default_detail(status) or str(error.message or body["title"])
    if errors:
        body["errors"] = errors
    return body, status, dict(error.headers or {})


def stored_data_problem(error: Exception) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A 500 problem for an answer the stored data make impossible (a non-finite sum),
    logged as the server's fault: the request was valid."""
    current_app.logger.error("cannot answer %s: %s", error.__class__.__name__, error)
    return problem_response(HTTPError(500, detail=str(error)))
