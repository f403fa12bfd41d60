"""How much one remote write costs the proxy: wire format work and the token lookup.

Run: .venv/bin/python -m bench.diproxy_write (from the repository root)
Prints milliseconds per request for a batch shaped like Prometheus' (2,000 series of
container metrics, one sample each) and for authenticating against the embedded MongoDB.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from diproxy import protocol
from diproxy.auth import authenticate, rotate_token
from etl.storage import registry

SERIES = 2000
ROUNDS = 20


def batch() -> bytes:
    request = protocol.WriteRequest()
    for n in range(SERIES):
        series = request.timeseries.add()
        labels = {
            "__name__": "container_cpu_allocation",
            "container": f"c{n % 3}",
            "instance": f"ip-10-0-{n % 50}-1.ec2.internal",
            "job": "kubecost",
            "namespace": f"ns-{n % 40}",
            "node": f"ip-10-0-{n % 50}-1.ec2.internal",
            "pod": f"pod-{n}",
            "uid": f"0000-{n:08d}",
        }
        series.labels.extend(protocol.Label(name=k, value=v) for k, v in labels.items())
        series.samples.add(value=0.25, timestamp=1_780_000_000_000 + n)
    return protocol.encode(request)


def per_call_ms(action, rounds: int = ROUNDS) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        action()
    return (time.perf_counter() - started) / rounds * 1000


def main() -> None:
    body = batch()

    def wire() -> None:
        protocol.stamp_tenant(body, "acc-1", protocol.Bounds())

    wire_ms = per_call_ms(wire)
    print(f"request of {SERIES} series: {len(body)} bytes snappy")
    rate = SERIES / wire_ms * 1000
    print(f"decode, check, stamp tenant, encode: {wire_ms:.1f} ms ({rate:,.0f} series/s)")

    with tempfile.TemporaryDirectory() as tmp:
        db = registry.open_database(f"montydb://{Path(tmp) / 'mongo'}", "k8scost")
        tokens = [
            rotate_token(db, registry.add_account(db, "org", f"c{n}").id)[0] for n in range(100)
        ]
        header = f"Bearer {tokens[-1]}"
        auth_ms = per_call_ms(lambda: authenticate(db, header), rounds=50)
        print(f"authenticate (montydb, 100 accounts and tokens): {auth_ms:.1f} ms")


if __name__ == "__main__":
    main()
