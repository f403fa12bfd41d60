"""Ingestion end to end, with nothing stood in on the wire.

Each simulated cluster is a tiny exporter serving its current metrics in the text
exposition format, scraped every second by a real Prometheus in agent mode that
remote-writes through `k8scost diproxy` (a subprocess, under gunicorn) into a real
Prometheus started with --web.enable-remote-write-receiver, the stand-in for Thanos
Receive. Cluster B's exporter labels its series with cluster A's tenant_id: the forged
label must not get them into A's tenant.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import cramjam
import pytest
import requests

from api.app import create_app
from api.auth import issue_token
from devtools.localprom import PrometheusServer, free_port
from devtools.simulate import simulate_to_dir
from diproxy import protocol
from diproxy.app import WRITE_PATH
from diproxy.auth import rotate_token
from etl.core.config import Settings
from etl.storage import registry
from etl.storage.ingest_status import read_status

pytestmark = pytest.mark.e2e

K8SCOST = Path(sys.executable).with_name("k8scost")
JOB = "opencost"
# One simulated day sampled hourly: the exporters serve the day's last tick.
SIM_DAY = date(2026, 5, 4)
SIM_STEP_S = 3600
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"')
WAIT_S = 60.0
T = TypeVar("T")


@dataclass(frozen=True)
class Exported:
    """One series an exporter serves: its sample name, family type, labels and value."""

    name: str
    kind: str
    labels: dict[str, str]
    value: float


def cluster_samples(metrics: Path, at: int) -> dict[str, list[Exported]]:
    """Per tenant, the simulator's series sampled at `at`, without their tenant_id label."""
    per_tenant: dict[str, list[Exported]] = {}
    kind = ""
    with metrics.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("# TYPE "):
                kind = line.split()[3]
            if line.startswith("#"):
                continue
            head, value, stamp = line.rsplit(" ", 2)
            if int(stamp) != at:
                continue
            name, _, label_text = head.partition("{")
            labels = dict(LABEL.findall(label_text))
            tenant = labels.pop("tenant_id")
            per_tenant.setdefault(tenant, []).append(Exported(name, kind, labels, float(value)))
    return per_tenant


def exposition(series: list[Exported], forged_tenant: str | None) -> bytes:
    """The text exposition format (0.0.4), optionally with a tenant_id label on every series."""
    lines, typed = [], set()
    for one in series:
        if one.name not in typed:
            typed.add(one.name)
            lines.append(f"# TYPE {one.name} {one.kind}")
        labels = {**one.labels, **({"tenant_id": forged_tenant} if forged_tenant else {})}
        text = ",".join(f'{key}="{value}"' for key, value in labels.items())
        lines.append(f"{one.name}{{{text}}} {one.value!r}")
    return ("\n".join(lines) + "\n").encode()


class Exporter:
    """A tiny HTTP server answering every GET with one fixed exposition."""

    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                """Quiet: a scrape a second would flood the test output."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Ingest:
    settings: Settings
    db: Any
    receiver: PrometheusServer
    proxy_url: str
    tenants: list[str]  # cluster A, cluster B
    tokens: dict[str, str]  # account id -> token
    deleted_token: str
    exported: dict[str, list[Exported]]


@contextmanager
def running_proxy(settings: Settings, log_path: Path) -> Iterator[str]:
    """`k8scost diproxy` as an operator runs it, up once /livez answers; yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "K8SCOST_DATA_DIR": str(settings.data_dir),
        "THANOS_RECEIVE_URL": settings.thanos_receive_url,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(K8SCOST), "diproxy", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while not answers(f"{url}/livez"):
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"diproxy did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.ConnectionError:
        return False


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingest]:
    root = tmp_path_factory.mktemp("ingest")
    scenario_path = simulate_to_dir(
        root / "sim", 2, 1, SIM_DAY, seed=3, scrape_interval_s=SIM_STEP_S
    )
    scenario = json.loads(scenario_path.read_text())
    exported = cluster_samples(scenario_path.with_name("metrics.om"), scenario["end"] - SIM_STEP_S)
    tenants = [cluster["tenant_id"] for cluster in scenario["clusters"]]
    with PrometheusServer(
        root / "receiver", extra_args=["--web.enable-remote-write-receiver"]
    ) as receiver:
        settings = Settings.from_env(
            {
                "K8SCOST_DATA_DIR": str(root / "data"),
                "THANOS_RECEIVE_URL": f"{receiver.url}/api/v1/write",
            }
        )
        db = registry.open_database(settings.mongo_uri, settings.mongo_db)
        for cluster in scenario["clusters"]:
            registry.add_account(
                db, cluster["organization_id"], cluster["name"], cluster["tenant_id"]
            )
        registry.add_account(db, "sim-org", "deleted", "acc-deleted")
        deleted_token, _ = rotate_token(db, "acc-deleted")
        db.cloud_accounts.update_one({"_id": "acc-deleted"}, {"$set": {"deleted_at": 1}})
        issued = {tenant: rotate_token(db, tenant)[0] for tenant in tenants}
        with running_proxy(settings, root / "diproxy.log") as proxy_url:
            yield Ingest(
                settings, db, receiver, proxy_url, tenants, issued, deleted_token, exported
            )


def instant(url: str, expr: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


SeriesSet = set[tuple[frozenset[tuple[str, str]], float]]


def expected_series(exported: list[Exported], tenant: str, target: str) -> SeriesSet:
    """What the receiver must hold: the exporter's series plus job, instance, the tenant."""
    expected = set()
    for one in exported:
        labels = {"instance": target, **one.labels, "__name__": one.name, "job": JOB}
        expected.add((frozenset({**labels, "tenant_id": tenant}.items()), one.value))
    return expected


def stored_series(url: str, tenant: str, names: set[str]) -> SeriesSet:
    return {
        (frozenset(series["metric"].items()), float(series["value"][1]))
        for series in instant(url, f'{{tenant_id="{tenant}"}}')
        if series["metric"]["__name__"] in names
    }


def poll(fetch: Callable[[], T], done: Callable[[T], bool]) -> T:
    """Call `fetch` until `done` accepts its value or WAIT_S passed; returns the last value."""
    deadline = time.monotonic() + WAIT_S
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = fetch()
    return value


def agent(root: Path, proxy_url: str, token: str, exporter: Exporter) -> PrometheusServer:
    """A cluster's Prometheus in agent mode, configured as docs/ingestion.md says, but fast."""
    scrape = {
        "job_name": JOB,
        "scrape_interval": "1s",
        "honor_labels": True,
        "static_configs": [{"targets": [exporter.target]}],
    }
    remote = {
        "url": f"{proxy_url}{WRITE_PATH}",
        "authorization": {"type": "Bearer", "credentials": token},
        "queue_config": {
            "batch_send_deadline": "100ms",
            "min_backoff": "50ms",
            "max_backoff": "500ms",
        },
        "metadata_config": {"send": False},
    }
    return PrometheusServer(root, agent=True, scrape_configs=[scrape], remote_write=[remote])


def test_each_cluster_lands_in_its_own_tenant_even_with_a_forged_label(ingest, tmp_path):
    a, b = ingest.tenants
    exporters = {
        a: Exporter(exposition(ingest.exported[a], forged_tenant=None)),
        b: Exporter(exposition(ingest.exported[b], forged_tenant=a)),
    }
    expected = {t: expected_series(ingest.exported[t], t, exporters[t].target) for t in (a, b)}
    names = {one.name for one in ingest.exported[a]}
    agents = [
        agent(tmp_path / tenant, ingest.proxy_url, ingest.tokens[tenant], exporters[tenant])
        for tenant in (a, b)
    ]
    started = time.time()
    try:
        for one in agents:
            one.start()
        stored = poll(
            lambda: {t: stored_series(ingest.receiver.url, t, names) for t in (a, b)},
            lambda got: got == expected,
        )
        # The status is bookkeeping after the forward: a failed status write is retried
        # by the tenant's next write, so it is awaited while the agents still write.
        status = poll(lambda: read_status(ingest.db, [a, b]), lambda got: len(got) == 2)
    finally:
        for one in agents:
            one.stop()
        for exporter in exporters.values():
            exporter.close()
    assert len(expected[a]) > 100
    assert stored[a] == expected[a]
    assert stored[b] == expected[b]
    assert instant(ingest.receiver.url, f'{{__name__=~".+",tenant_id!~"{a}|{b}"}}') == []
    for tenant in (a, b):
        assert started - 1 <= status[tenant]["last_sample_at"] <= time.time()
    listed = (
        create_app(ingest.settings)
        .test_client()
        .get(
            "/restapi/v2/organizations/sim-org/ingest_status",
            headers={"Authorization": f"Bearer {issue_token(ingest.db, 'sim-org')}"},
        )
    )
    assert {c["cloud_account_id"]: c["silent"] for c in listed.get_json()["ingest_status"]} == {
        a: False,
        b: False,
    }


def metric_total(url: str, name: str, having: str = "") -> float:
    """The sum of a server's own metric `name` over its series whose labels contain `having`."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(f"{name}{{") and having in line
    )


def receiver_writes(url: str) -> float:
    """How many remote-write requests the receiver has answered, by its own metrics."""
    return metric_total(url, "prometheus_http_requests_total", 'handler="/api/v1/write"')


def write_body(labels: dict[str, str]) -> bytes:
    request = protocol.WriteRequest()
    series = request.timeseries.add()
    series.labels.extend(protocol.Label(name=n, value=v) for n, v in sorted(labels.items()))
    series.samples.add(value=42.0, timestamp=int(time.time() * 1000))
    return protocol.encode(request)


def test_rejected_writes_get_their_status_and_reach_nothing(ingest):
    a, b = ingest.tenants
    token_a = ingest.tokens[a]
    good = write_body({"__name__": "diproxy_probe", "tenant_id": b})
    snappy = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}
    cases = [
        ({}, good, 401),
        ({"Authorization": "Bearer k8c_wrong"}, good, 401),
        ({"Authorization": f"Bearer {ingest.deleted_token}"}, good, 403),
        ({"Authorization": f"Bearer {token_a}", "Content-Encoding": "identity"}, good, 415),
        ({"Authorization": f"Bearer {token_a}"}, b"not snappy", 400),
        (
            {"Authorization": f"Bearer {token_a}"},
            bytes(cramjam.snappy.compress_raw(b"\xff" * 9)),
            400,
        ),
        ({"Authorization": f"Bearer {token_a}"}, write_body({"job": "no-name"}), 400),
        # a snappy header announcing 1 GiB: refused before inflating anything
        ({"Authorization": f"Bearer {token_a}"}, b"\x80\x80\x80\x80\x04" + bytes(16), 413),
    ]
    before = receiver_writes(ingest.receiver.url)
    for headers, body, status in cases:
        answer = requests.post(
            f"{ingest.proxy_url}{WRITE_PATH}", data=body, headers={**snappy, **headers}, timeout=10
        )
        assert (answer.status_code, headers) == (status, headers), answer.text
        assert answer.text.strip()
    assert receiver_writes(ingest.receiver.url) == before
    assert instant(ingest.receiver.url, "diproxy_probe") == []

    accepted = requests.post(
        f"{ingest.proxy_url}{WRITE_PATH}",
        data=good,
        headers={**snappy, "Authorization": f"Bearer {token_a}"},
        timeout=10,
    )
    assert accepted.status_code == 204, accepted.text
    assert receiver_writes(ingest.receiver.url) == before + 1
    (probe,) = instant(ingest.receiver.url, "diproxy_probe")
    assert probe["metric"]["tenant_id"] == a


def test_while_the_receiver_is_down_writes_get_503_and_prometheus_retries_them(ingest, tmp_path):
    tenant = ingest.tenants[0]
    receive_port = free_port()  # nothing listens here until the receiver starts below
    settings = ingest.settings.with_overrides(
        thanos_receive_url=f"http://127.0.0.1:{receive_port}/api/v1/write"
    )
    exporter = Exporter(exposition(ingest.exported[tenant], forged_tenant=None))
    expected = expected_series(ingest.exported[tenant], tenant, exporter.target)
    names = {one.name for one in ingest.exported[tenant]}
    log = tmp_path / "diproxy.log"
    with running_proxy(settings, log) as proxy_url:
        cluster = agent(tmp_path / "agent", proxy_url, ingest.tokens[tenant], exporter)
        try:
            cluster.start()
            retried = poll(
                lambda: metric_total(
                    cluster.url, "prometheus_remote_storage_samples_retried_total"
                ),
                lambda total: total > 0,
            )
            with PrometheusServer(
                tmp_path / "receiver",
                port=receive_port,
                extra_args=["--web.enable-remote-write-receiver"],
            ) as receiver:
                stored = poll(
                    lambda: stored_series(receiver.url, tenant, names), lambda got: got == expected
                )
        finally:
            cluster.stop()
            exporter.close()
    assert retried > 0
    assert "503 receiver unavailable" in log.read_text()
    assert stored == expected
