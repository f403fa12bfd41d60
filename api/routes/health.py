"""Liveness and readiness probes.

`/livez` only says the process answers (a restart is the cure when it does not);
`/readyz` says whether requests can be served now, i.e. whether ClickHouse and
MongoDB both answer, so a load balancer can stop routing while one is down.
"""

from __future__ import annotations

from collections.abc import Callable

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Boolean, Dict, String

from api.context import clickhouse, mongodb
from etl.storage import registry
from etl.storage.clickhouse import ping

bp = APIBlueprint("health", __name__, tag="health")

# A readiness probe must answer quickly: waiting 60 s for a chdb directory held
# by an import would time the probe out instead of reporting "not ready".
READY_LOCK_WAIT_S = 2.0


class LiveSchema(Schema):
    alive = Boolean(required=True)


class ReadySchema(Schema):
    ready = Boolean(required=True)
    checks = Dict(keys=String(), values=String(), required=True)


def _check_clickhouse() -> None:
    with clickhouse(lock_wait_s=READY_LOCK_WAIT_S) as client:
        ping(client)


def _check_mongodb() -> None:
    # find_one works on pymongo and montydb alike (montydb has no "ping" command).
    registry.ping(mongodb())


CHECKS: dict[str, Callable[[], None]] = {
    "clickhouse": _check_clickhouse,
    "mongodb": _check_mongodb,
}


@bp.get("/livez")
@bp.output(LiveSchema)
def livez() -> dict[str, bool]:
    """The process is up."""
    return {"alive": True}


@bp.get("/readyz")
@bp.output(ReadySchema)
@bp.doc(responses={200: "ClickHouse and MongoDB answer", 503: "A backing store does not answer"})
def readyz() -> dict[str, object]:
    """ClickHouse answers `SELECT 1` and MongoDB answers a query."""
    failures: dict[str, list[str]] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as error:  # any failure, whatever its type, means "not ready"
            failures[name] = [f"{type(error).__name__}: {error}"]
    if failures:
        raise HTTPError(
            503,
            detail=f"not ready: {', '.join(failures)} unavailable",
            extra_data={"errors": failures},
        )
    return {"ready": True, "checks": dict.fromkeys(CHECKS, "ok")}
