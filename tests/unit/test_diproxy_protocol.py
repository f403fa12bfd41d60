"""The remote-write wire format: decoding limits, the tenant stamp, and pass-through of the rest."""

from __future__ import annotations

import struct

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


def test_decode_reads_a_hand_encoded_request_and_keeps_unknown_fields():
    exemplar = field(3, field(1, field(1, b"trace_id") + field(2, b"abc")))
    metadata = field(3, b"\x08\x01" + field(2, b"up"))
    raw = field(1, series_bytes([("__name__", "up"), ("job", "a")], exemplar)) + metadata
    request = protocol.decode(bytes(cramjam.snappy.compress_raw(raw)), 1 << 20)
    (series,) = request.timeseries
    assert [(label.name, label.value) for label in series.labels] == [
        ("__name__", "up"),
        ("job", "a"),
    ]
    assert series.samples[0].timestamp == 1_700_000_000_123
    assert series.samples[0].value == 2.5
    forwarded = bytes(cramjam.snappy.decompress_raw(protocol.encode(request)))
    assert exemplar in forwarded
    assert forwarded.endswith(metadata)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not snappy"),
        (b"plain text, not snappy", "not snappy"),
        (bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff\xff")), "not a remote-write"),
    ],
)
def test_decode_rejects_what_is_not_a_write_request(body, reason):
    with pytest.raises(protocol.MalformedBodyError, match=reason):
        protocol.decode(body, 1 << 20)


def test_decode_refuses_to_inflate_past_the_limit():
    announced_gib = varint(2**30) + b"\x00" * 8  # a snappy header claiming 1 GiB
    with pytest.raises(protocol.BodyTooLargeError, match="1073741824"):
        protocol.decode(announced_gib, 1 << 20)
    with pytest.raises(protocol.BodyTooLargeError):
        protocol.decode(bytes(cramjam.snappy.compress_raw(bytes(5000))), 4999)


def labels_of(series) -> list[tuple[str, str]]:
    return [(label.name, label.value) for label in series.labels]


def request_of(*label_lists: list[tuple[str, str]]):
    raw = b"".join(field(1, series_bytes(labels)) for labels in label_lists)
    return protocol.decode(bytes(cramjam.snappy.compress_raw(raw)), 1 << 20)


def test_stamp_adds_or_overwrites_the_tenant_and_keeps_labels_sorted():
    request = request_of(
        [("__name__", "node_total_hourly_cost"), ("node", "n1")],
        [("__name__", "up"), ("tenant_id", "someone-else"), ("zone", "b")],
        [("zone", "a"), ("__name__", "z_unsorted")],
        [("__name__", "kube_pod_labels"), ("pod", "p"), ("uid", "u"), ("zone", "c")],
    )
    stamped = protocol.stamp_tenant(request, "acc-1")
    assert stamped == protocol.Stamped(series=4, newest_sample_ms=1_700_000_000_123)
    assert [labels_of(series) for series in request.timeseries] == [
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
    request = request_of([("__name__", "ok")], labels)
    with pytest.raises(protocol.MalformedBodyError, match=f"series 1 .*{reason}"):
        protocol.stamp_tenant(request, "acc-1")


def test_a_request_without_series_has_no_newest_sample():
    assert protocol.stamp_tenant(protocol.WriteRequest(), "acc-1") == protocol.Stamped(0, None)
