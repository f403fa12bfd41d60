"""MongoDB `k8s_alert_deliveries`: one document per (alert, webhook target), and the claim
that lets one sender at a time send it.

`_id` = `<alert id>|<target id>`, inserted once: however often the alert is
re-evaluated it is delivered once. It is also the `X-K8scost-Delivery` header a
receiver deduplicates on (docs/alerts.md).

States: `pending` -> `sending` -> `sent`, or back to `pending` (a failed attempt, due
again after its backoff), or `failed` after the configured tries.

Why a claim: several evaluations run at once (the `k8s_cost_alerts` DAG beside a
manual `k8scost alerts evaluate`), and each lists the same pending deliveries. A
sender first moves a delivery from due to `sending` with its name (`claimed_by`) and
a deadline (`claim_expires_at`), in one write filtered on that due state: on MongoDB
a find-and-modify is atomic on its document, and the montydb stand-in serializes it
(etl/storage/montystore.py). The one that got the document sends; the others skip
it. A sender that dies leaves `sending` behind; once its deadline has passed the
delivery is due again and the next run claims it, counting the lost attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo import ReturnDocument
from pymongo.database import Database

from etl.storage.montystore import DUPLICATE_KEY_ERRORS

DELIVERIES = "k8s_alert_deliveries"
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


def delivery_id(alert_id: str, target_id: str) -> str:
    """The delivery's `_id`: stable across retries and evaluations."""
    return f"{alert_id}|{target_id}"


def _due(now: float) -> dict[str, Any]:
    """The filter of a delivery that may be claimed at `now`: pending and due, or claimed
    by a sender whose deadline has passed."""
    return {
        "$or": [
            {"state": PENDING, "next_attempt_at": {"$lte": now}},
            {"state": SENDING, "claim_expires_at": {"$lt": now}},
        ]
    }


def enqueue(db: Database, alert: dict[str, Any], target_ids: Iterable[str], now: float) -> int:
    """One pending delivery of the alert per target that has none yet; how many were new."""
    created = 0
    for target_id in target_ids:
        try:
            db[DELIVERIES].insert_one(
                {
                    "_id": delivery_id(alert["_id"], target_id),
                    "alert_id": alert["_id"],
                    "target_id": target_id,
                    "organization_id": alert["organization_id"],
                    "state": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": None,
                    "created_at": int(now),
                }
            )
            created += 1
        except DUPLICATE_KEY_ERRORS:
            continue
    return created


def due(
    db: Database, now: float, organization_ids: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Deliveries that may be claimed at `now`, oldest first (a claim decides who sends)."""
    query = _due(now)
    if organization_ids is not None:
        query["organization_id"] = {"$in": list(organization_ids)}
    found = db[DELIVERIES].find(query)
    return sorted(found, key=lambda delivery: (delivery["created_at"], delivery["_id"]))


def claim(
    db: Database, delivery: str, owner: str, now: float, expires_at: float
) -> dict[str, Any] | None:
    """Claim a due delivery for `owner` until `expires_at`, counting an attempt.

    Returns the delivery as it was before the claim (its `state` says whether an
    expired claim was taken over), or None when it is not due any more: another
    sender claimed it first, or it was sent meanwhile.
    """
    return db[DELIVERIES].find_one_and_update(
        {"_id": delivery, **_due(now)},
        {
            "$set": {
                "state": SENDING,
                "claimed_by": owner,
                "claim_expires_at": expires_at,
                "last_attempt_at": now,
            },
            "$inc": {"attempts": 1},
        },
        return_document=ReturnDocument.BEFORE,
    )


def finish(db: Database, delivery: str, owner: str, fields: dict[str, Any]) -> bool:
    """Record the outcome of `owner`'s attempt; False when its claim was taken over meanwhile
    (it outlived its deadline), in which case the new claimant's outcome stands."""
    result = db[DELIVERIES].update_one(
        {"_id": delivery, "state": SENDING, "claimed_by": owner}, {"$set": fields}
    )
    return result.modified_count == 1


def find(db: Database, alert_id: str | None = None) -> list[dict[str, Any]]:
    """Every delivery (of one alert), by id."""
    query = {} if alert_id is None else {"alert_id": alert_id}
    return sorted(db[DELIVERIES].find(query), key=lambda delivery: delivery["_id"])
