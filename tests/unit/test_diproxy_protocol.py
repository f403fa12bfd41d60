"""The remote-write wire format: decoding limits, the tenant stamp, and pass-through of the rest."""

from __future__ import annotations

import struct
import subprocess
import sys

import cramjam
import pytest

from diproxy import protocol


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, written by hand (independent of the proxy's code)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def series_bytes(labels: list[tuple[str, str]], extra: bytes = b"") -> bytes:
    encoded = b"".join(field(1, field(1, n.encode()) + field(2, v.encode())) for n, v in labels)
    sample = b"\x09" + struct.pack("<d", 2.5) + b"\x10" + varint(1_700_000_000_123)
    return encoded + field(2, sample) + extra


def compressed(raw: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(raw))


def forwarded(stamped: protocol.Stamped):
    return protocol.WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(stamped.body)))


def test_a_hand_encoded_request_is_read_and_its_unknown_fields_kept():
    exemplar = field(3, field(1, field(1, b"trace_id") + field(2, b"abc")))
    metadata = field(3, b"\x08\x01" + field(2, b"up"))
    raw = field(1, series_bytes([("__name__", "up"), ("job", "a")], exemplar)) + metadata
    stamped = protocol.stamp_tenant(compressed(raw), "acc-1", protocol.Bounds())
    (series,) = forwarded(stamped).timeseries
    assert [(label.name, label.value) for label in series.labels] == [
        ("__name__", "up"),
        ("job", "a"),
        ("tenant_id", "acc-1"),
    ]
    assert series.samples[0].timestamp == 1_700_000_000_123
    assert series.samples[0].value == 2.5
    out = bytes(cramjam.snappy.decompress_raw(stamped.body))
    assert exemplar in out
    assert out.endswith(metadata)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not snappy"),
        (b"plain text, not snappy", "not snappy"),
        (compressed(b"\xff\xff\xff\xff"), "not a remote-write"),
        (compressed(field(1, b"\xff\xff")), "series 0 is not a TimeSeries"),
    ],
)
def test_what_is_not_a_write_request_is_malformed(body, reason):
    with pytest.raises(protocol.MalformedBodyError, match=reason):
        protocol.stamp_tenant(body, "acc-1", protocol.Bounds())


def test_inflate_refuses_to_inflate_past_the_limit():
    announced_gib = varint(2**30) + b"\x00" * 8  # a snappy header claiming 1 GiB
    with pytest.raises(protocol.BodyTooLargeError, match="1073741824"):
        protocol.inflate(announced_gib, 1 << 20)
    with pytest.raises(protocol.BodyTooLargeError):
        protocol.inflate(compressed(bytes(5000)), 4999)


def labels_of(series) -> list[tuple[str, str]]:
    return [(label.name, label.value) for label in series.labels]


def body_of(*label_lists: list[tuple[str, str]]) -> bytes:
    return compressed(b"".join(field(1, series_bytes(labels)) for labels in label_lists))


def test_stamp_adds_or_overwrites_the_tenant_and_keeps_labels_sorted():
    body = body_of(
        [("__name__", "node_total_hourly_cost"), ("node", "n1")],
        [("__name__", "up"), ("tenant_id", "someone-else"), ("zone", "b")],
        [("zone", "a"), ("__name__", "z_unsorted")],
        [("__name__", "kube_pod_labels"), ("pod", "p"), ("uid", "u"), ("zone", "c")],
    )
    stamped = protocol.stamp_tenant(body, "acc-1", protocol.Bounds())
    assert (stamped.series, stamped.newest_sample_ms) == (4, 1_700_000_000_123)
    assert [labels_of(series) for series in forwarded(stamped).timeseries] == [
        [("__name__", "node_total_hourly_cost"), ("node", "n1"), ("tenant_id", "acc-1")],
        [("__name__", "up"), ("tenant_id", "acc-1"), ("zone", "b")],
        [("__name__", "z_unsorted"), ("tenant_id", "acc-1"), ("zone", "a")],
        [
            ("__name__", "kube_pod_labels"),
            ("pod", "p"),
            ("tenant_id", "acc-1"),
            ("uid", "u"),
            ("zone", "c"),
        ],
    ]


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        ([("job", "a")], "no metric name"),
        ([("__name__", ""), ("job", "a")], "no metric name"),
        ([("__name__", "up"), ("", "x")], "empty name"),
        ([("", "x"), ("__name__", "up")], "empty name"),
        ([("__name__", "up"), ("tenant_id", "a"), ("tenant_id", "b")], "'tenant_id' twice"),
    ],
)
def test_stamp_rejects_invalid_series(labels, reason):
    with pytest.raises(protocol.MalformedBodyError, match=f"series 1 .*{reason}"):
        protocol.stamp_tenant(body_of([("__name__", "ok")], labels), "acc-1", protocol.Bounds())


def test_a_request_without_series_has_no_newest_sample():
    stamped = protocol.stamp_tenant(compressed(b""), "acc-1", protocol.Bounds())
    assert (stamped.series, stamped.newest_sample_ms) == (0, None)


SMALL = protocol.Bounds(
    max_series=3, max_samples=4, max_labels=3, max_label_name_chars=8, max_label_value_chars=10
)
UP = ("__name__", "up")
TOO_LARGE, MALFORMED = protocol.BodyTooLargeError, protocol.MalformedBodyError


@pytest.mark.parametrize(
    ("raw", "error", "reason"),
    [
        (b"".join(field(1, series_bytes([UP])) for _ in range(4)), TOO_LARGE, "over 3 series"),
        # 5 samples in 2 series; then 2 samples and 3 exemplars in one.
        (
            field(1, series_bytes([UP])) + field(1, series_bytes([UP], field(2, b"") * 3)),
            TOO_LARGE,
            "over 4 samples",
        ),
        (field(1, series_bytes([UP], field(2, b"") + field(3, b"") * 3)), TOO_LARGE, "over 4"),
        (field(1, series_bytes([UP, ("a", "1"), ("b", "2"), ("c", "3")])), MALFORMED, "over 3"),
        (field(1, series_bytes([UP, ("ninechars", "1")])), MALFORMED, "name over 8"),
        (field(1, series_bytes([UP, ("a", "x" * 11)])), MALFORMED, "'a' has a value over 10"),
    ],
)
def test_a_request_over_a_bound_is_refused(raw, error, reason):
    with pytest.raises(error, match=reason):
        protocol.stamp_tenant(compressed(raw), "acc-1", SMALL)


def test_a_large_series_of_empty_labels_is_refused_before_its_parse(monkeypatch):
    parsed = []
    monkeypatch.setattr(protocol.TimeSeries, "FromString", lambda payload: parsed.append(payload))
    empty_labels = field(1, b"") * 50_000  # 100 kB: far over the bound of 64 labels
    with pytest.raises(protocol.MalformedBodyError, match="over 64 labels"):
        protocol.stamp_tenant(compressed(field(1, empty_labels)), "acc-1", protocol.Bounds())
    assert parsed == []


# Measured in a fresh interpreter, so the peak RSS is this decode's and no other test's.
HOSTILE_DECODE = """
import resource, sys
import cramjam
from diproxy import protocol

# 3.9 million series of one label (17 bytes each): 63 MiB decoded, under the 64 MiB cap.
tiny = {tiny!r}
body = bytes(cramjam.snappy.compress_raw(tiny * 3_900_000))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    protocol.stamp_tenant(body, "acc-1", protocol.Bounds())
    print("accepted")
except protocol.BodyTooLargeError as error:
    print(error)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


def test_millions_of_tiny_series_are_refused_with_bounded_memory():
    tiny = field(1, field(1, field(1, b"__name__") + field(2, b"a")))
    assert len(tiny) * 3_900_000 > 63 * 2**20
    script = HOSTILE_DECODE.format(tiny=tiny)
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    said, grown = ran.stdout.splitlines()
    assert said == f"request holds over {protocol.Bounds().max_series} series"
    # The inflated body (the 64 MiB cap) and little else: no message per series.
    assert int(grown) < protocol.Bounds().max_decoded_bytes + 32 * 2**20
