"""The proxy app over HTTP: statuses, the tenant stamp, and that a rejected write forwards nothing.

The receiver is a real HTTP server on 127.0.0.1 that records every request it gets, so
"nothing forwarded" is counted on the wire, and "receiver down" is a closed port.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cramjam
import pytest
from flask.testing import FlaskClient

from devtools.localprom import free_port
from diproxy import protocol
from diproxy.app import WRITE_PATH, Limits, create_app
from diproxy.auth import rotate_token
from etl.core.config import Settings
from etl.storage import registry, tokens
from etl.storage.ingest_status import read_status

PROTOBUF_HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}
SAMPLE_MS = 1_780_000_000_500
LIMITS = Limits(
    max_body_bytes=4096,
    max_decoded_bytes=16384,
    forward_timeout_s=5,
    max_series=3,
    max_samples=3,
    max_labels=4,
    max_label_name_chars=20,
    max_label_value_chars=30,
)
NAME = {"__name__": "up"}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records each POST; answers `status` with `reply` (204 and nothing by default)."""

    status: int = 204
    reply: bytes = b""
    got: list[Received] = field(default_factory=list)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(Received(dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(receiver.reply)))
                self.end_headers()
                self.wfile.write(receiver.reply)

            def log_message(self, *args: Any) -> None:
                """Quiet: the test reads `got`, not a log."""

        return Handler


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    recorder = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), recorder.handler())
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield recorder, f"http://127.0.0.1:{server.server_port}/api/v1/receive"
    server.shutdown()
    server.server_close()


@dataclass
class Proxy:
    client: FlaskClient
    receiver: Receiver
    db: Any
    tokens: dict[str, str]  # account name -> token


def make_proxy(tmp_path, receiver: Receiver, receive_url: str) -> Proxy:
    settings = Settings.from_env(
        {"K8SCOST_DATA_DIR": str(tmp_path), "THANOS_RECEIVE_URL": receive_url}
    )
    db = registry.open_database(settings.mongo_uri, settings.mongo_db)
    issued = {}
    for name in ("cluster-a", "cluster-b", "deleted"):
        registry.add_account(db, "org-1", name, account_id=f"acc-{name}")
        issued[name], _ = rotate_token(db, f"acc-{name}")
    db.cloud_accounts.update_one({"_id": "acc-deleted"}, {"$set": {"deleted_at": 1_700_000_000}})
    client = create_app(settings, LIMITS).test_client()
    return Proxy(client, receiver, db, issued)


@pytest.fixture
def proxy(tmp_path, receiver) -> Proxy:
    return make_proxy(tmp_path, *receiver)


def body_of(*label_sets: dict[str, str]) -> bytes:
    request = protocol.WriteRequest()
    for labels in label_sets:
        series = request.timeseries.add()
        series.labels.extend(protocol.Label(name=n, value=v) for n, v in labels.items())
        series.samples.add(value=1.5, timestamp=SAMPLE_MS)
    return protocol.encode(request)


GOOD_BODY = body_of({"__name__": "node_total_hourly_cost", "node": "n1"})


def post(proxy: Proxy, body: bytes, token: str | None = None, **headers: str):
    sent = {**PROTOBUF_HEADERS, **headers}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return proxy.client.post(WRITE_PATH, data=body, headers=sent)


def forwarded_series(received: Received) -> list[dict[str, str]]:
    raw = bytes(cramjam.snappy.decompress_raw(received.body))
    request = protocol.WriteRequest.FromString(raw)
    return [{label.name: label.value for label in s.labels} for s in request.timeseries]


def test_a_write_is_forwarded_once_with_the_tenant_header_and_label(proxy):
    answer = post(proxy, GOOD_BODY, proxy.tokens["cluster-a"])
    assert answer.status_code == 204, answer.text
    (received,) = proxy.receiver.got
    assert received.headers["THANOS-TENANT"] == "acc-cluster-a"
    assert received.headers["Content-Encoding"] == "snappy"
    assert "Authorization" not in received.headers
    assert forwarded_series(received) == [
        {"__name__": "node_total_hourly_cost", "node": "n1", "tenant_id": "acc-cluster-a"}
    ]


def test_a_forged_tenant_label_is_overwritten_by_the_tokens_account(proxy):
    forged = body_of(
        {"__name__": "node_total_hourly_cost", "tenant_id": "acc-cluster-a"},
        {"__name__": "up", "tenant_id": ""},
    )
    assert post(proxy, forged, proxy.tokens["cluster-b"]).status_code == 204
    (received,) = proxy.receiver.got
    assert received.headers["THANOS-TENANT"] == "acc-cluster-b"
    assert [s["tenant_id"] for s in forwarded_series(received)] == ["acc-cluster-b"] * 2


def test_rotation_revokes_the_old_token(proxy):
    old = proxy.tokens["cluster-a"]
    new, revoked = rotate_token(proxy.db, "acc-cluster-a")
    assert revoked == 1
    assert post(proxy, GOOD_BODY, old).status_code == 401
    assert post(proxy, GOOD_BODY, new).status_code == 204
    assert len(proxy.receiver.got) == 1


@pytest.mark.parametrize(
    ("token", "headers", "body", "status", "reason"),
    [
        (None, {}, GOOD_BODY, 401, "missing bearer token"),
        ("k8c_not-issued", {}, GOOD_BODY, 401, "invalid or revoked token"),
        ("deleted", {}, GOOD_BODY, 403, "acc-deleted is deleted"),
        ("cluster-a", {"Content-Encoding": "gzip"}, GOOD_BODY, 415, "snappy"),
        (
            "cluster-a",
            {"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"},
            GOOD_BODY,
            415,
            "remote write 1.0",
        ),
        ("cluster-a", {}, b"", 400, "not snappy"),
        ("cluster-a", {}, b"{json: 1}", 400, "not snappy"),
        ("cluster-a", {}, bytes(cramjam.snappy.compress_raw(b"\xff" * 9)), 400, "WriteRequest"),
        ("cluster-a", {}, body_of({"job": "no-name"}), 400, "no metric name"),
        ("cluster-a", {}, b"\x00" * 5000, 413, "over 4096"),
        ("cluster-a", {}, bytes(cramjam.snappy.compress_raw(bytes(20000))), 413, "decompresses"),
        ("cluster-a", {}, body_of(*[NAME] * 4), 413, "over 3 series"),
        ("cluster-a", {}, body_of({**NAME, "a": "1", "b": "2", "c": "3", "d": "4"}), 400, "over 4"),
        ("cluster-a", {}, body_of({**NAME, "n" * 21: "1"}), 400, "name over 20"),
        ("cluster-a", {}, body_of({**NAME, "pod": "p" * 31}), 400, "'pod' has a value over 30"),
    ],
    ids=[
        "no-token",
        "unknown-token",
        "deleted-account",
        "gzip",
        "remote-write-2.0",
        "empty-body",
        "not-snappy",
        "not-protobuf",
        "no-metric-name",
        "body-too-large",
        "inflates-too-large",
        "too-many-series",
        "too-many-labels",
        "label-name-too-long",
        "label-value-too-long",
    ],
)
def test_rejections_give_a_status_a_reason_and_forward_nothing(
    proxy, token, headers, body, status, reason
):
    answer = post(proxy, body, proxy.tokens.get(token, token), **headers)
    assert answer.status_code == status
    assert answer.mimetype == "text/plain"
    assert reason in answer.text
    assert proxy.receiver.got == []
    assert read_status(proxy.db, ["acc-cluster-a"]) == {}


def test_401_names_the_scheme(proxy):
    assert post(proxy, GOOD_BODY).headers["WWW-Authenticate"] == "Bearer"


def test_a_token_of_an_account_that_is_not_a_cluster_is_refused(proxy):
    registry.add_account(proxy.db, "org-1", "aws", account_id="acc-aws")
    proxy.db.cloud_accounts.update_one({"_id": "acc-aws"}, {"$set": {"type": "aws_cnr"}})
    token = tokens.issue(proxy.db, "cluster_tokens", "cloud_account_id", "acc-aws")
    answer = post(proxy, GOOD_BODY, token)
    assert (answer.status_code, proxy.receiver.got) == (401, [])
    assert "not bound to a kubernetes_cnr account" in answer.text


def test_receiver_down_is_503_so_prometheus_retries(tmp_path):
    down = make_proxy(tmp_path, Receiver(), f"http://127.0.0.1:{free_port()}/api/v1/receive")
    answer = post(down, GOOD_BODY, down.tokens["cluster-a"])
    assert answer.status_code == 503
    assert "receiver unavailable" in answer.text
    assert read_status(down.db, ["acc-cluster-a"]) == {}


@pytest.mark.parametrize(
    ("receiver_status", "status"), [(500, 503), (503, 503), (400, 400), (429, 429), (409, 409)]
)
def test_receiver_errors_map_to_retry_or_drop(proxy, receiver_status, status):
    proxy.receiver.status, proxy.receiver.reply = receiver_status, b"out of\norder sample"
    answer = post(proxy, GOOD_BODY, proxy.tokens["cluster-a"])
    assert answer.status_code == status
    assert "out of order sample" in answer.text
    assert read_status(proxy.db, ["acc-cluster-a"]) == {}


def test_a_request_without_series_is_accepted_and_not_forwarded(proxy):
    metadata_only = bytes(cramjam.snappy.compress_raw(b"\x1a\x04\x08\x01\x12\x00"))
    assert post(proxy, metadata_only, proxy.tokens["cluster-a"]).status_code == 204
    assert proxy.receiver.got == []


def test_an_accepted_write_records_the_newest_sample_of_its_tenant(proxy):
    assert post(proxy, GOOD_BODY, proxy.tokens["cluster-a"]).status_code == 204
    (status,) = read_status(proxy.db, ["acc-cluster-a", "acc-cluster-b"]).values()
    assert status["_id"] == "acc-cluster-a"
    assert status["last_sample_at"] == SAMPLE_MS // 1000


def test_livez_answers(proxy):
    assert proxy.client.get("/livez").status_code == 200
