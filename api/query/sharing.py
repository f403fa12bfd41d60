"""The sharing parameters of `k8s_costs` and `clean_expenses`, as query fields.

Each option of etl/core/sharing.py's `OPTIONS` is one query parameter here, its field
(type, allowed values, description for /openapi.json) built from the option itself,
and a value the policy refuses (`share_idle=maybe`, a label without `:`, a negative
overhead) is a 400 problem. No parameter given: the organization's stored defaults
(etl/storage/sharing.py), themselves share-nothing unless set; a given parameter
overrides its default (an empty list shares none): etl/core/sharing.py's `resolve`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apiflask.fields import Field, Float, String
from apiflask.validators import OneOf
from marshmallow import ValidationError

from api.openapi import portable_pattern
from etl.core.money import MAX_USD
from etl.core.sharing import (
    CHOICE,
    LABEL_LIST_PATTERN,
    LIST,
    OPTIONS,
    SharingError,
    SharingOption,
    SharingPolicy,
    resolve,
)
from etl.storage.sharing import sharing_defaults

# The list options whose items have a form the OpenAPI document can state.
LIST_PATTERNS = {"share_labels": portable_pattern(LABEL_LIST_PATTERN)}


def _checked(name: str):
    def check(value: Any) -> None:
        try:
            SharingPolicy.of({name: value})
        except SharingError as error:
            raise ValidationError(str(error)) from None

    return check


def _field(option: SharingOption) -> Field:
    """The query field of one option: a choice, a comma-separated list, or USD."""
    if option.kind == CHOICE:
        allowed = option.choices
        return String(
            validate=OneOf(allowed),
            metadata={
                "description": f"{option.description}: {' | '.join(allowed)}",
                "enum": list(allowed),
            },
        )
    if option.kind == LIST:
        pattern = LIST_PATTERNS.get(option.name)
        return String(
            validate=_checked(option.name),
            metadata={"description": option.description}
            | ({"pattern": pattern} if pattern else {}),
        )
    return Float(
        validate=_checked(option.name),
        metadata={
            "description": option.description,
            "minimum": 0,
            "maximum": MAX_USD,  # the money bound (docs/api.md, "Money and dates")
        },
    )


SHARING_FIELDS: dict[str, Field] = {option.name: _field(option) for option in OPTIONS}


def request_policy(database: Any, organization_id: str, query: Mapping[str, Any]) -> SharingPolicy:
    """The policy of a validated query (or a report's options): the organization's
    defaults, overridden by it."""
    return resolve(sharing_defaults(database, organization_id), query)
