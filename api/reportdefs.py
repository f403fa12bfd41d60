"""A showback report's definition: the fields `k8scost reports add` and the API take.

What each field means is in api/showback.py and docs/reports.md; this module only says
whether a definition can be stored, and how (a ReportError otherwise).
"""

from __future__ import annotations

import re
from typing import Any

from api.query.tokenscope import ScopeError, TokenScope
from api.routes.k8s_costs import GROUPS, LABEL_GROUP
from etl.core.metrics import METRICS
from etl.core.sharing import SharingError, SharingPolicy

PERIODS = ("weekly", "monthly")
FORMATS = ("csv", "parquet")
MAX_LEVELS = 2
DESTINATION = re.compile(r"^(s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?|file:///.*)$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


class ReportError(ValueError):
    """A report definition that cannot be stored."""


def definition(
    name: str,
    scopes: list[str],
    group_by: str,
    period: str,
    sharing: dict[str, Any],
    file_format: str,
    destination: str,
    cost_metric: str | None = None,
) -> dict[str, Any]:
    """The stored fields of a valid definition; a ReportError says what is wrong.

    `cost_metric` None: the organization's default metric when each file is written."""
    if not NAME.match(name):
        raise ReportError(f"name {name!r}: letters, digits, '-', '_' or '.' (a file name)")
    try:
        scope = TokenScope.parse(scopes, "viewer")
        SharingPolicy.of(sharing)
    except (ScopeError, SharingError) as error:
        raise ReportError(str(error)) from None
    parts = group_by.split(",")
    for part in parts:
        if part not in GROUPS and not (part.startswith(LABEL_GROUP) and part[len(LABEL_GROUP) :]):
            raise ReportError(f"group_by {part!r}: one of {', '.join(GROUPS)} or label:<key>")
    if len(parts) > MAX_LEVELS or len(set(parts)) != len(parts):
        raise ReportError(f"group_by {group_by!r}: one or two different groupings")
    if period not in PERIODS or file_format not in FORMATS:
        raise ReportError(
            f"period is one of {', '.join(PERIODS)}, format one of {', '.join(FORMATS)}"
        )
    if cost_metric is not None and cost_metric not in METRICS:
        raise ReportError(f"cost_metric {cost_metric!r}: one of {', '.join(METRICS)}")
    if not DESTINATION.match(destination):
        raise ReportError(f"destination {destination!r}: s3://bucket/prefix/ or file:///path/")
    return {
        "name": name,
        "scopes": scope.texts(),
        "group_by": group_by,
        "period": period,
        "sharing": dict(sharing),
        "format": file_format,
        "destination": destination if destination.endswith("/") else destination + "/",
        "cost_metric": cost_metric,
    }
