"""The proxy's WSGI app: authenticate, check, stamp the tenant, forward, in that order.

Every check runs before anything is sent, so a rejected request forwards nothing. Status
codes follow what Prometheus' remote-write client does with them: it drops a batch on
4xx (retrying cannot help a bad token or body) and retries on 5xx, so "receiver
unreachable or failing" is 503. Error bodies are one line of plain text because
Prometheus copies the body into its log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import urllib3
from flask import Flask, Request, Response, request

from diproxy import Rejection, protocol
from diproxy.auth import authenticate
from etl.core.config import Settings
from etl.storage.ingest_status import IngestRecorder
from etl.storage.registry import Database, open_database

WRITE_PATH = "/storage/api/v2/write"
PROTOBUF = "application/x-protobuf"
WRITE_REQUEST_PROTO = "prometheus.WriteRequest"
REMOTE_WRITE_VERSION = "0.1.0"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits(protocol.Bounds):
    """Bounds on one write: its size, what it may hold (protocol.Bounds), the forward's time.

    Prometheus sends at most a few hundred kB per request by default.
    """

    max_body_bytes: int = 10 * 2**20  # as received (snappy)
    # Below Prometheus' default remote_timeout (30 s), so the sender hears 503 and retries.
    forward_timeout_s: float = 25.0
    status_interval_s: float = 30.0


class _Proxy:
    """The write handler with what it shares across requests: the HTTP pool and the recorder."""

    def __init__(self, settings: Settings, limits: Limits) -> None:
        self.settings = settings
        self.limits = limits
        self.http = urllib3.PoolManager(maxsize=8)
        self.timeout = urllib3.Timeout(connect=5.0, read=limits.forward_timeout_s)
        self.recorder = IngestRecorder(self.database, limits.status_interval_s)

    def database(self) -> Database:
        return open_database(self.settings.mongo_uri, self.settings.mongo_db)

    def write(self) -> Response:
        """`POST /storage/api/v2/write`: one remote-write request of one cluster."""
        tenant = authenticate(self.database(), request.headers.get("Authorization")).id
        _check_content_headers(request)
        try:
            stamped = protocol.stamp_tenant(self._body(), tenant, self.limits)
        except protocol.BodyTooLargeError as error:
            raise Rejection(413, str(error)) from error
        except protocol.MalformedBodyError as error:
            raise Rejection(400, str(error)) from error
        if stamped.series:  # a metadata-only request holds nothing a receiver stores
            self._forward(tenant, stamped.body)
            self.recorder.record(tenant, stamped.newest_sample_ms)
        return Response(status=204)

    def _body(self) -> bytes:
        limit = self.limits.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise Rejection(413, f"body of {request.content_length} bytes is over {limit}")
        body = request.stream.read(limit + 1)
        if len(body) > limit:
            raise Rejection(413, f"body is over {limit} bytes")
        return body

    def _forward(self, tenant: str, body: bytes) -> None:
        headers = {
            "Content-Encoding": "snappy",
            "Content-Type": PROTOBUF,
            "X-Prometheus-Remote-Write-Version": REMOTE_WRITE_VERSION,
            "User-Agent": "k8scost-diproxy",
            self.settings.thanos_tenant_header: tenant,
        }
        try:
            answer = self.http.request(
                "POST",
                self.settings.thanos_receive_url,
                body=body,
                headers=headers,
                timeout=self.timeout,
                retries=False,
            )
        except urllib3.exceptions.HTTPError as error:
            raise Rejection(503, f"receiver unavailable: {error}") from error
        if 200 <= answer.status < 300:
            return
        said = " ".join(answer.data[:300].decode(errors="replace").split())
        if 400 <= answer.status < 500:
            raise Rejection(answer.status, f"receiver refused the write: {said}")
        raise Rejection(503, f"receiver answered {answer.status}: {said}")


def _check_content_headers(incoming: Request) -> None:
    """Only remote write 1.0 is understood; forwarding anything else would skip the stamp."""
    if incoming.headers.get("Content-Encoding", "").strip().lower() != "snappy":
        raise Rejection(415, "Content-Encoding must be snappy")
    proto = incoming.mimetype_params.get("proto", WRITE_REQUEST_PROTO)
    if incoming.mimetype != PROTOBUF or proto != WRITE_REQUEST_PROTO:
        raise Rejection(
            415,
            f"Content-Type must be {PROTOBUF} (remote write 1.0, {WRITE_REQUEST_PROTO}); "
            f"got {incoming.content_type!r}",
        )


def _rejected(rejection: Rejection) -> Response:
    log.warning(
        "rejected write from %s: %d %s", request.remote_addr, rejection.status, rejection.reason
    )
    response = Response(rejection.reason + "\n", rejection.status, mimetype="text/plain")
    if rejection.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def create_app(settings: Settings | None = None, limits: Limits | None = None) -> Flask:
    """A new proxy app for `settings` (default: from the environment)."""
    proxy = _Proxy(settings or Settings.from_env(), limits or Limits())
    app = Flask(__name__)
    app.add_url_rule(WRITE_PATH, "write", proxy.write, methods=["POST"])
    app.add_url_rule("/livez", "livez", lambda: Response("ok\n", mimetype="text/plain"))
    app.register_error_handler(Rejection, _rejected)
    return app
