"""MongoDB side of the budgets: `k8s_budgets`, one document per budget.

`{_id, organization_id, name, scope, amount_usd, thresholds, created_at, updated_at}`;
`scope` is `organization`, `cloud_account_id:<id>`, `namespace:<name>` or
`label:<key>=<value>` (etl/alerts/budgets.py reads it). The one module that touches
the collection; only calls montydb implements too.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pymongo.database import Database

COLLECTION = "k8s_budgets"
DEFAULT_THRESHOLDS = (50.0, 80.0, 100.0)
EDITABLE = ("name", "scope", "amount_usd", "thresholds")


def add_budget(
    db: Database,
    organization_id: str,
    name: str,
    scope: str,
    amount_usd: float,
    thresholds: list[float] | None = None,
) -> dict[str, Any]:
    """Store a new budget; returns its document."""
    now = int(time.time())
    document = {
        "_id": str(uuid.uuid4()),
        "organization_id": organization_id,
        "name": name,
        "scope": scope,
        "amount_usd": float(amount_usd),
        "thresholds": sorted({float(t) for t in (thresholds or DEFAULT_THRESHOLDS)}),
        "created_at": now,
        "updated_at": now,
    }
    db[COLLECTION].insert_one(document)
    return document


def list_budgets(db: Database, organization_id: str | None = None) -> list[dict[str, Any]]:
    """The budgets (of one organization), by name."""
    query = {} if organization_id is None else {"organization_id": organization_id}
    return sorted(db[COLLECTION].find(query), key=lambda b: (b["name"], b["_id"]))


def get_budget(db: Database, budget_id: str) -> dict[str, Any] | None:
    """One budget by id, whichever organization owns it, or None."""
    return db[COLLECTION].find_one({"_id": budget_id})


def update_budget(db: Database, budget_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """Change some of name, scope, amount_usd, thresholds; the updated document or None."""
    changes = {
        k: v for k, v in fields.items() if k in ("name", "scope", "amount_usd", "thresholds")
    }
    if "thresholds" in changes:
        changes["thresholds"] = sorted({float(t) for t in changes["thresholds"]})
    if "amount_usd" in changes:
        changes["amount_usd"] = float(changes["amount_usd"])
    db[COLLECTION].update_one(
        {"_id": budget_id}, {"$set": {**changes, "updated_at": int(time.time())}}
    )
    return get_budget(db, budget_id)


def delete_budget(db: Database, budget_id: str) -> bool:
    """Remove a budget; whether it existed."""
    return db[COLLECTION].delete_one({"_id": budget_id}).deleted_count == 1
