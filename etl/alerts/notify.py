"""Webhook notifications: what is sent, how it is signed, and delivery with backoff.

Two kinds of target (etl/storage/alerting.py):
- `slack`: a Slack-compatible incoming webhook; the body is `{text, blocks}` (a
  header, the figures, and the causes as a bulleted section), which Slack, Mattermost
  and Teams' Slack-compatible connectors all render.
- `json`: the alert as JSON, signed so the receiver can tell it came from us:
  header `X-K8scost-Timestamp: <unix seconds>` and `X-K8scost-Signature:
  sha256=<hex HMAC-SHA256 of "<timestamp>." + body, keyed by the target's secret>`
  (the timestamp inside the signature stops a replayed old body).

Delivery: each (alert, target) is one stored delivery, inserted once
(etl/storage/deliveries.py). Every run sends the pending ones that are due, each after
claiming it, so that runs at once send it once; a failure (connection error, timeout, a
non-2xx answer) counts an attempt and waits `backoff_s * 2**(attempts - 1)` before the
next (capped at MAX_BACKOFF_S); after `max_attempts` the delivery is `failed` and kept.
So a receiver that is down for a run loses nothing: the next run sends it. Every request
carries `X-K8scost-Delivery: <delivery id>`, the same on every attempt, so a receiver
can drop a repeat (a sender that died after the receiver got it, then retried).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterable
from typing import Any

import requests

from etl.core.config import Settings
from etl.storage import alerting, deliveries
from etl.storage.registry import Database

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-K8scost-Signature"
TIMESTAMP_HEADER = "X-K8scost-Timestamp"
DELIVERY_HEADER = "X-K8scost-Delivery"
# How long a claim outlives the request's own timeout: a live sender has recorded its
# outcome long before; only a dead one (or one stopped for this long) is taken over.
CLAIM_MARGIN_S = 60.0
MAX_BACKOFF_S = 6 * 3600
# The alert fields a JSON webhook receives (the stored document minus internals).
PUBLIC_FIELDS = (
    "kind",
    "organization_id",
    "cloud_account_id",
    "cloud_account_name",
    "scope",
    "namespace",
    "budget_id",
    "budget_name",
    "threshold_pct",
    "day",
    "date",
    "state",
    "title",
    "headline",
    "cost_usd",
    "baseline_usd",
    "change_usd",
    "change_pct",
    "summary",
    "causes",
)


def public_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """The alert as clients see it (API and JSON webhooks): `id` and its public fields."""
    return {"id": alert["_id"], **{key: alert.get(key) for key in PUBLIC_FIELDS}}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-K8scost-Signature` value of a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Whether a received signature header is ours (what a receiver does), in constant time."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def slack_body(alert: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` (the fallback line) and `blocks`."""
    title = alert["title"]
    causes = alert.get("summary") or ["(no cause could be named)"]
    return {
        "text": f"{title}: {alert['headline']}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alert["headline"]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "\n".join(f"• {line}" for line in causes)},
            },
        ],
    }


def request_for(target: dict[str, Any], alert: dict[str, Any], now: float) -> tuple[bytes, dict]:
    """The body and headers a target receives for an alert."""
    headers = {
        "Content-Type": "application/json",
        DELIVERY_HEADER: deliveries.delivery_id(alert["_id"], target["_id"]),
    }
    if target["kind"] == "slack":
        return json.dumps(slack_body(alert)).encode(), headers
    body = json.dumps(public_alert(alert), sort_keys=True).encode()
    timestamp = str(int(now))
    return body, {
        **headers,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(target["secret"], timestamp, body),
    }


def post(settings: Settings, target: dict[str, Any], alert: dict[str, Any], now: float) -> None:
    """Send one alert to one target; raises on a connection error or a non-2xx answer."""
    body, headers = request_for(target, alert, now)
    response = requests.post(
        target["url"], data=body, headers=headers, timeout=settings.webhook_timeout_s
    )
    response.raise_for_status()


def sender_name() -> str:
    """Who claims a delivery: host, pid and a nonce (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def deliver_due(
    settings: Settings,
    db: Database,
    organization_ids: Iterable[str] | None = None,
    now: float | None = None,
) -> dict[str, int]:
    """Send every delivery that is due and that this run claims first; counts of what
    became sent, retried, failed (a delivery another run claimed is in none)."""
    now = time.time() if now is None else now
    owner = sender_name()
    claim_expires_at = now + settings.webhook_timeout_s + CLAIM_MARGIN_S
    counts = {"sent": 0, "retry": 0, "failed": 0}
    for listed in deliveries.due(db, now, organization_ids):
        before = deliveries.claim(db, listed["_id"], owner, now, claim_expires_at)
        if before is None:
            continue  # another run claimed it first, or sent it
        if before["state"] == deliveries.SENDING:
            log.warning(
                "delivery %s: %s stopped before recording its attempt; sending again",
                listed["_id"],
                before["claimed_by"],
            )
        outcome = _attempt(settings, db, before, before["attempts"] + 1, now)
        if deliveries.finish(db, listed["_id"], owner, outcome):
            counts[_COUNTED[outcome["state"]]] += 1
    return counts


def _attempt(
    settings: Settings, db: Database, delivery: dict[str, Any], attempts: int, now: float
) -> dict[str, Any]:
    """Send a claimed delivery once; the fields that record how it went."""
    target = alerting.get_target(db, delivery["target_id"])
    alert = alerting.get_alert(db, delivery["alert_id"])
    try:
        if target is None or alert is None:
            raise LookupError("its webhook target or alert was deleted")
        post(settings, target, alert, now)
    except (requests.RequestException, LookupError) as error:
        failed = attempts >= settings.webhook_max_attempts or isinstance(error, LookupError)
        delay = min(settings.webhook_backoff_s * 2 ** (attempts - 1), MAX_BACKOFF_S)
        log.warning("delivery %s attempt %d failed: %s", delivery["_id"], attempts, error)
        return {
            "state": deliveries.FAILED if failed else deliveries.PENDING,
            "next_attempt_at": now + delay,
            "last_error": str(error)[:500],
        }
    return {"state": deliveries.SENT, "sent_at": now}


_COUNTED = {deliveries.SENT: "sent", deliveries.PENDING: "retry", deliveries.FAILED: "failed"}


def test_message(organization_id: str, now: float) -> dict[str, Any]:
    """A made-up alert for `k8scost alerts test-webhook`: a target's wiring, end to end."""
    return {
        "_id": f"test:{organization_id}:{int(now)}",
        "kind": "test",
        "organization_id": organization_id,
        "title": "k8scost test alert",
        "headline": "This is a test of the webhook; no cost changed.",
        "summary": ["+$0.00: nothing (a test)"],
        "state": "open",
        "date": int(now) - int(now) % 86400,
    }
