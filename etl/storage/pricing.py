"""MongoDB side of an organization's pricing choices: its default cost metric.

An organization that reads amortized costs stores that once (`k8scost pricing
metric --organization-id ORG effective`); every answer in a cost metric
(docs/api.md, "Cost metrics") starts from it, and a request's `cost_metric`
overrides it. Collection `organization_pricing`, `_id` the organization id,
`cost_metric` and `updated_at`. No document: `billed`, so that an organization
that chose nothing gets the answers it always had.
"""

from __future__ import annotations

import time

from pymongo.database import Database

from etl.core.metrics import DEFAULT_METRIC, METRICS

COLLECTION = "organization_pricing"


def default_metric(db: Database, organization_id: str) -> str:
    """The organization's stored cost metric (`billed` without one)."""
    document = db[COLLECTION].find_one({"_id": organization_id}, {"cost_metric": 1})
    return (document or {}).get("cost_metric", DEFAULT_METRIC)


def set_default_metric(db: Database, organization_id: str, metric: str) -> None:
    """Store the organization's cost metric; ValueError for a metric that is none of METRICS."""
    if metric not in METRICS:
        raise ValueError(f"cost metric {metric!r} is not one of {', '.join(METRICS)}")
    db[COLLECTION].update_one(
        {"_id": organization_id},
        {"$set": {"cost_metric": metric, "updated_at": int(time.time())}},
        upsert=True,
    )
