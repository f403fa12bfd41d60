"""MongoDB side of the alerts: alerts, webhook targets and each organization's anomaly
thresholds (their deliveries: etl/storage/deliveries.py).

The one module that reads or writes these collections (etl/alerts/ and the API go
through it). Only calls montydb implements too are used: find, find_one, insert_one,
update_one (with upsert), delete_one; no bulk_write, no aggregate.

- `k8s_alerts`: one document per (kind, scope, day), `_id` spelling exactly that, so
  re-evaluating a day (a restatement, a rerun) updates the alert instead of raising a
  second one.
- `k8s_webhook_targets`: an organization's webhooks (`slack` or signed `json`).
- `k8s_alert_settings`: an organization's `threshold_pct` and `min_usd`.
- `k8s_alert_evaluations`: when each tenant-day was last evaluated, and what it raised.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable
from typing import Any

from pymongo.database import Database

from etl.storage.montystore import DUPLICATE_KEY_ERRORS

ALERTS = "k8s_alerts"
TARGETS = "k8s_webhook_targets"
SETTINGS = "k8s_alert_settings"
EVALUATIONS = "k8s_alert_evaluations"
OPEN, RESOLVED = "open", "resolved"
TARGET_KINDS = ("slack", "json")
# The anomaly rule's defaults (docs/alerts.md): a day more than 30% and more than 1 USD
# above the mean of its previous days.
DEFAULT_THRESHOLD_PCT = 30.0
DEFAULT_MIN_USD = 1.0


def save_alert(db: Database, alert: dict[str, Any]) -> bool:
    """Insert or update an alert by its `_id`; True when it is new (never seen before)."""
    now = int(time.time())
    existing = db[ALERTS].find_one({"_id": alert["_id"]}, {"_id": 1, "created_at": 1})
    if existing is None:
        try:
            db[ALERTS].insert_one({**alert, "created_at": now, "updated_at": now})
            return True
        except DUPLICATE_KEY_ERRORS:  # another run inserted it first: update it below
            pass
    fields = {key: value for key, value in alert.items() if key != "_id"}
    db[ALERTS].update_one({"_id": alert["_id"]}, {"$set": {**fields, "updated_at": now}})
    return False


def resolve_other_alerts(
    db: Database, kind: str, cloud_account_id: str, date: int, keep: Iterable[str]
) -> list[str]:
    """Mark `resolved` the open alerts of this kind for the account-day that a
    re-evaluation no longer raises; returns their ids."""
    kept = set(keep)
    resolved = []
    for alert in db[ALERTS].find(
        {"kind": kind, "cloud_account_id": cloud_account_id, "date": date, "state": OPEN},
        {"_id": 1},
    ):
        if alert["_id"] not in kept:
            db[ALERTS].update_one(
                {"_id": alert["_id"]}, {"$set": {"state": RESOLVED, "updated_at": int(time.time())}}
            )
            resolved.append(alert["_id"])
    return sorted(resolved)


def find_alerts(
    db: Database, organization_id: str, first: int, last: int, state: str | None = None
) -> list[dict[str, Any]]:
    """The organization's alerts dated in [first, last] (Unix seconds), newest day first."""
    query: dict[str, Any] = {"organization_id": organization_id}
    if state:
        query["state"] = state
    alerts = [alert for alert in db[ALERTS].find(query) if first <= alert["date"] <= last]
    return sorted(alerts, key=lambda alert: (-alert["date"], alert["_id"]))


def get_alert(db: Database, alert_id: str) -> dict[str, Any] | None:
    """One alert by id, or None."""
    return db[ALERTS].find_one({"_id": alert_id})


def add_target(
    db: Database, organization_id: str, kind: str, url: str, secret: str | None = None
) -> dict[str, Any]:
    """Register a webhook; a `json` one gets a signing secret (generated if not given)."""
    if kind not in TARGET_KINDS:
        raise ValueError(f"webhook kind {kind!r}: expected one of {', '.join(TARGET_KINDS)}")
    document = {
        "_id": str(uuid.uuid4()),
        "organization_id": organization_id,
        "kind": kind,
        "url": url,
        "secret": (secret or secrets.token_hex(32)) if kind == "json" else None,
        "created_at": int(time.time()),
    }
    db[TARGETS].insert_one(document)
    return document


def list_targets(db: Database, organization_id: str | None = None) -> list[dict[str, Any]]:
    """The webhooks (of one organization), by creation."""
    query = {} if organization_id is None else {"organization_id": organization_id}
    return sorted(db[TARGETS].find(query), key=lambda t: (t["created_at"], t["_id"]))


def get_target(db: Database, target_id: str) -> dict[str, Any] | None:
    """One webhook by id, or None."""
    return db[TARGETS].find_one({"_id": target_id})


def remove_target(db: Database, target_id: str) -> bool:
    """Delete a webhook; whether it existed."""
    return db[TARGETS].delete_one({"_id": target_id}).deleted_count == 1


def alert_settings(db: Database, organization_id: str) -> dict[str, float]:
    """The organization's anomaly thresholds, the defaults where it set none."""
    stored = db[SETTINGS].find_one({"_id": organization_id}) or {}
    return {
        "threshold_pct": float(stored.get("threshold_pct", DEFAULT_THRESHOLD_PCT)),
        "min_usd": float(stored.get("min_usd", DEFAULT_MIN_USD)),
    }


def set_alert_settings(
    db: Database, organization_id: str, threshold_pct: float | None, min_usd: float | None
) -> dict[str, float]:
    """Change the organization's thresholds (None keeps one); returns them."""
    fields = {
        key: float(value)
        for key, value in (("threshold_pct", threshold_pct), ("min_usd", min_usd))
        if value is not None
    }
    if fields:
        db[SETTINGS].update_one({"_id": organization_id}, {"$set": fields}, upsert=True)
    return alert_settings(db, organization_id)


def record_evaluation(
    db: Database, tenant_id: str, day: str, alert_ids: list[str], now: float
) -> None:
    """Note that a tenant-day was evaluated (replaced by the next evaluation)."""
    db[EVALUATIONS].update_one(
        {"_id": f"{tenant_id}:{day}"},
        {"$set": {"cloud_account_id": tenant_id, "day": day, "alerts": alert_ids,
                  "evaluated_at": now}},
        upsert=True,
    )  # fmt: skip


def find_evaluations(db: Database) -> list[dict[str, Any]]:
    """Every tenant-day evaluation, by id."""
    return sorted(db[EVALUATIONS].find({}), key=lambda record: record["_id"])
