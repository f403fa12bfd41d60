"""The one PromQL client: instant queries against Thanos Query (or Prometheus).

Both speak the same `/api/v1/query` HTTP API. Transport failures and 5xx/429
answers are retried with exponential backoff by urllib3's `Retry` (a query is a
read, so retrying a POST is safe); an error *answer* (bad PromQL, too many
samples) is not retried. Every error names the tenant and the query, because
the operator reading an Airflow log needs both to reproduce it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

import msgspec
import numpy as np
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

# Thanos extras (Prometheus ignores them): deduplicate HA replicas, and fail
# rather than answer from a subset of stores, since a partial answer would
# silently under-cost the day.
THANOS_PARAMS = {"dedup": "true", "partial_response": "false"}
TENANT_HEADER = "THANOS-TENANT"
T = TypeVar("T")
R = TypeVar("R")


class PromQLError(RuntimeError):
    """Thanos/Prometheus answered, but with an error for this query."""


class PromQLUnavailableError(PromQLError):
    """Thanos/Prometheus could not be reached (after retries)."""


class Sample(NamedTuple):
    """One element of an instant vector: its labels and its value (a tuple: answers hold
    thousands, and a tuple is the cheapest to build)."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One element of a range vector (a matrix answer): its labels and its raw samples."""

    labels: dict[str, str]
    times: Sequence[float]
    values: Sequence[float]


@dataclass
class QueryCounter:
    """How many queries a client sent; tests and the benchmark read it. Updated under a
    lock, since the extract sends independent queries from several threads."""

    queries: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


class PromQLClient:
    """Instant-query client bound to one endpoint; reuse it for a tenant-day's queries."""

    def __init__(
        self, base_url: str, timeout_s: float = 60.0, retries: int = 3, backoff_s: float = 0.5
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.counter = QueryCounter()
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff_s,
            status_forcelist=(429, 502, 503, 504),
            allowed_methods=None,
            raise_on_status=False,
        )
        self.session = requests.Session()
        # Room for the extract's concurrent queries (PROMQL_CONCURRENCY) on one session.
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def instant(self, query: str, at: datetime, tenant: str) -> list[Sample]:
        """Evaluate `query` at `at`; returns the vector (scalars become one unlabeled sample)."""
        where = f"tenant {tenant}, query {query!r}"
        return _samples(self._post(query, at, tenant, where), where)

    def matrix(self, query: str, at: datetime, tenant: str) -> list[Series]:
        """Evaluate `query` (a range selector) at `at`; returns each series' raw samples."""
        where = f"tenant {tenant}, query {query!r}"
        data = self._post(query, at, tenant, where)
        if data.get("resultType") != "matrix":
            raise PromQLError(
                f"unexpected PromQL result type {data.get('resultType')!r} for {where}"
            )
        found = []
        for item in data["result"]:
            points = np.asarray(item["values"], dtype=float).reshape(-1, 2)
            if not np.isfinite(points[:, 1]).all():
                raise PromQLError(f"non-finite value in the answer for {where}")
            found.append(Series(item["metric"], points[:, 0], points[:, 1]))
        return found

    def _post(self, query: str, at: datetime, tenant: str, where: str) -> dict[str, Any]:
        try:
            response = self.session.post(
                f"{self.base_url}/api/v1/query",
                data={"query": query, "time": f"{at.timestamp():.3f}", **THANOS_PARAMS},
                headers={TENANT_HEADER: tenant},
                timeout=self.timeout_s,
            )
        except requests.RequestException as error:
            raise PromQLUnavailableError(
                f"PromQL endpoint {self.base_url} unreachable ({type(error).__name__}) for {where}"
            ) from error
        with self.counter.lock:
            self.counter.queries += 1
            self.counter.seconds += response.elapsed.total_seconds()
        body = _json_body(response)
        if response.status_code >= 500 and body.get("status") != "error":
            raise PromQLUnavailableError(
                f"PromQL endpoint {self.base_url} answered HTTP {response.status_code} for {where}"
            )
        if body.get("status") != "success":
            kind = body.get("errorType", f"HTTP {response.status_code}")
            detail = body.get("error", response.text[:200])
            raise PromQLError(f"PromQL error for {where}: {kind}: {detail}")
        for warning in body.get("warnings") or []:
            log.warning("PromQL warning for %s: %s", where, warning)
            with self.counter.lock:
                self.counter.warnings.append(warning)
        return body["data"]


def _json_body(response: requests.Response) -> dict[str, Any]:
    # msgspec (already a dependency) decodes the large answers several times faster.
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _samples(data: dict[str, Any], where: str) -> list[Sample]:
    kind = data.get("resultType")
    if kind == "vector":
        return [Sample(item["metric"], _finite(item["value"][1], where)) for item in data["result"]]
    if kind == "scalar":
        return [Sample({}, _finite(data["result"][1], where))]
    raise PromQLError(f"unexpected PromQL result type {kind!r} for {where}")


def _finite(text: str, where: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise PromQLError(f"non-finite value {text} in the answer for {where}")
    return value


def run_concurrently(work: Callable[[T], R], items: Iterable[T], concurrency: int) -> list[R]:
    """`work` over `items`, at most `concurrency` at a time, answers in the items' order.

    Independent queries of one tenant-day divide its wall time on a Thanos with several
    cores (OpenCost's MAX_QUERY_CONCURRENCY does the same); 1 runs them one by one. The
    first error is raised once the queries already sent have finished.
    """
    items = list(items)
    if concurrency <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
        return list(pool.map(work, items))
