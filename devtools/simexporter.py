"""A live exporter of one simulated cluster: what its Kubecost and kube-state-metrics expose.

The compose stack's demo cluster: a Prometheus in agent mode scrapes this exporter and
remote-writes through the ingestion proxy into Thanos Receive, the way a customer's
cluster does, so the daily DAG has a tenant to cost without any real cluster.

Values come from the same scenario as the backfilled history (devtools.simulate), read at
the scrape instant t: a series exists while start <= t < end, a gauge carries the piece
in force at t, a counter is rate x (t - start). The scenario covers the current UTC day
and is rebuilt when the day changes (counters restart then, as after a pod restart).
No `tenant_id` label is exported: the proxy sets the tenant from the cluster's token.
`k8scost simulate-serve` (k8scost/simulation.py) serves it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devtools.simulate import build_scenario
from devtools.simulate.exporters import DEFAULT_EXPORTER, shape_named
from devtools.simulate.openmetrics import _label_text, _number, shaped_families
from devtools.simulate.series import price_at

CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def render(cluster: dict[str, Any], at: int, exporter: str = DEFAULT_EXPORTER) -> str:
    """The cluster's exposition at Unix second `at` (no timestamps), in the `exporter` shape."""
    lines = []
    for family, kind, series_of, first in shaped_families(shape_named(exporter)):
        if first:
            lines.append(f"# TYPE {family} {kind}")
        sample_name = f"{family}_total" if kind == "counter" else family
        for series in series_of(cluster):
            if not series.start <= at < series.end:
                continue
            if series.rate is not None:
                value = _number(series.rate * (at - series.start))
            elif series.rates:
                value = _number(series.counted(at))
            else:
                value = _number(price_at(series.pieces, at))
            labels = _label_text(series.labels)
            lines.append(
                f"{sample_name}{{{labels}}} {value}" if labels else f"{sample_name} {value}"
            )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


class LiveCluster:
    """Cluster `index` (1-based) of the scenario for `seed`, rebuilt for each UTC day."""

    def __init__(self, index: int, seed: int, exporter: str = DEFAULT_EXPORTER) -> None:
        self.index, self.seed, self.exporter = index, seed, exporter
        self._lock = threading.Lock()
        self._day: str | None = None
        self._cluster: dict[str, Any] = {}

    def at(self, instant: int) -> dict[str, Any]:
        """The cluster as simulated over the UTC day containing `instant`."""
        day = datetime.fromtimestamp(instant, UTC).date()
        with self._lock:
            if self._day != day.isoformat():
                scenario = build_scenario(self.index, 1, day, self.seed, exporter=self.exporter)
                self._day, self._cluster = day.isoformat(), scenario["clusters"][-1]
            return self._cluster


def make_server(live: LiveCluster, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server answering GET /metrics with the live cluster at the request's second."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "only /metrics is served")
                return
            now = int(time.time())
            body = render(live.at(now), now, live.exporter).encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Scrapes every minute would bury the container log; errors still go to stderr."""

    return ThreadingHTTPServer((host, port), Handler)
