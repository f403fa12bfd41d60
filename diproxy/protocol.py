"""The Prometheus remote-write 1.0 body: a snappy-compressed (block format) protobuf WriteRequest.

Only the messages the proxy reads are declared, a subset of the public spec's messages
(same names, field numbers and types):

    message WriteRequest { repeated TimeSeries timeseries = 1; }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
                           repeated bytes exemplars = 3; repeated bytes histograms = 4; }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }

Exemplars and native histograms are messages in the spec; declared as bytes (the same
wire form) they are counted without being parsed and re-encoded unchanged. Whatever
else a sender puts in a request (metadata) is copied as sent. None of those fields
carries series labels, so the tenant label rewrite covers every series.
The descriptor is built here rather than compiled by protoc: four messages do not justify
a compiler at build time or a generated module in the tree.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

import cramjam
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

TENANT_LABEL = "tenant_id"
METRIC_NAME_LABEL = "__name__"
_PACKAGE = "prometheus"
_Field = descriptor_pb2.FieldDescriptorProto
# message -> [(field name, number, scalar type or message name, repeated)]
_SUBSET: dict[str, list[tuple[str, int, int | str, bool]]] = {
    "WriteRequest": [("timeseries", 1, "TimeSeries", True)],
    "TimeSeries": [
        ("labels", 1, "Label", True),
        ("samples", 2, "Sample", True),
        ("exemplars", 3, _Field.TYPE_BYTES, True),
        ("histograms", 4, _Field.TYPE_BYTES, True),
    ],
    "Label": [("name", 1, _Field.TYPE_STRING, False), ("value", 2, _Field.TYPE_STRING, False)],
    "Sample": [("value", 1, _Field.TYPE_DOUBLE, False), ("timestamp", 2, _Field.TYPE_INT64, False)],
}


class MalformedBodyError(ValueError):
    """The body is not a snappy-compressed remote-write WriteRequest with valid series."""


class BodyTooLargeError(ValueError):
    """The body, or what it decompresses to, or its count of series or samples, is over a limit."""


@dataclass(frozen=True)
class Bounds:
    """What one write may hold, checked while it is read, so a hostile body costs little.

    What a decoder pays for is the count of protobuf messages, not the byte size: 63 MiB
    of one-label series are millions of messages. So series are parsed one at a time,
    each checked before the next is read, and a series too large to parse freely has
    its fields counted on the wire first. `max_samples` counts samples, exemplars and
    histograms together, as Prometheus' `max_samples_per_send` does. Defaults and their
    sources: docs/ingestion.md.
    """

    max_decoded_bytes: int = 64 * 2**20
    max_series: int = 20_000
    max_samples: int = 50_000
    max_labels: int = 64
    max_label_name_chars: int = 1024
    max_label_value_chars: int = 4096


_LABELS_FIELD = 1  # in TimeSeries, as the series field is in WriteRequest
_VARINT, _LENGTH_DELIMITED = 0, 2
_FIXED_SIZES = {1: 8, 5: 4}  # wire types 64-bit and 32-bit
_NOT_A_REQUEST = "body is not a remote-write WriteRequest"
# A series up to this size is parsed before it is counted: it holds at most a few
# thousand fields, while counting every series on the wire would triple the proxy's CPU.
_PARSE_FREELY_BYTES = 16 * 2**10


def _message_classes() -> dict[str, type[Message]]:
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="k8scost/remote_write_subset.proto", package=_PACKAGE, syntax="proto3"
    )
    for message_name, fields in _SUBSET.items():
        message = file_proto.message_type.add(name=message_name)
        for field_name, number, kind, repeated in fields:
            field = message.field.add(
                name=field_name,
                number=number,
                label=_Field.LABEL_REPEATED if repeated else _Field.LABEL_OPTIONAL,
            )
            if isinstance(kind, str):
                field.type, field.type_name = _Field.TYPE_MESSAGE, f".{_PACKAGE}.{kind}"
            else:
                field.type = kind
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in _SUBSET
    }


_CLASSES = _message_classes()
WriteRequest = _CLASSES["WriteRequest"]
TimeSeries = _CLASSES["TimeSeries"]
Label = _CLASSES["Label"]


def inflate(body: bytes, max_decoded_bytes: int) -> bytes:
    """The WriteRequest bytes in `body`; the size snappy announces is checked before inflating."""
    try:
        announced = cramjam.snappy.decompress_raw_len(body)
        if announced > max_decoded_bytes:
            raise BodyTooLargeError(
                f"body decompresses to {announced} bytes, over the limit of {max_decoded_bytes}"
            )
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as error:
        raise MalformedBodyError(f"body is not snappy block-compressed: {error}") from error


def encode(request: Message) -> bytes:
    """The wire form of a WriteRequest."""
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


@dataclass(frozen=True)
class Stamped:
    """The write to forward (snappy), its count of series, and its newest sample (ms), if any."""

    body: bytes
    series: int
    newest_sample_ms: int | None


def stamp_tenant(body: bytes, tenant_id: str, bounds: Bounds) -> Stamped:
    """Make `tenant_id` the one tenant label of every series of `body`, whatever the sender wrote.

    The request is walked field by field: each series is counted on the wire, parsed
    alone, checked, stamped and written back; every other field (metadata) is copied as
    sent. A series without a metric name, with an empty label name, or with a label name
    twice is malformed. Labels leave sorted by name, as the spec requires of senders.
    """
    raw = inflate(body, bounds.max_decoded_bytes)
    out = bytearray()
    series_count = samples = 0
    newest: int | None = None
    for number, wire_type, start, payload, end in _fields(raw, 0, len(raw)):
        if number != _LABELS_FIELD or wire_type != _LENGTH_DELIMITED:
            out += raw[start:end]
            continue
        if series_count == bounds.max_series:
            raise BodyTooLargeError(f"request holds over {bounds.max_series} series")
        series_bytes = raw[payload:end]
        if len(series_bytes) > _PARSE_FREELY_BYTES:
            _count_fields(series_count, series_bytes, bounds, samples)
        series = _parse_series(series_count, series_bytes, bounds)
        samples += len(series.samples) + len(series.exemplars) + len(series.histograms)
        if samples > bounds.max_samples:
            raise BodyTooLargeError(f"request holds over {bounds.max_samples} samples")
        _stamp_series(series_count, series, tenant_id)
        if series.samples:
            latest = max(sample.timestamp for sample in series.samples)
            newest = latest if newest is None else max(newest, latest)
        encoded = series.SerializeToString()
        out += _varint(_LABELS_FIELD << 3 | _LENGTH_DELIMITED) + _varint(len(encoded)) + encoded
        series_count += 1
    return Stamped(bytes(cramjam.snappy.compress_raw(bytes(out))), series_count, newest)


def _count_fields(index: int, payload: bytes, bounds: Bounds, samples_before: int) -> None:
    """Refuse a large series whose labels or samples are over `bounds`, before its parse.

    Counted on the wire and stopped at the first field over a bound, so a series of
    millions of empty fields costs a few thousand steps. Samples, exemplars and
    histograms are what is not a label.
    """
    labels = samples = 0
    for number, *_ in _fields(payload, 0, len(payload)):
        if number == _LABELS_FIELD:
            labels += 1
            if labels > bounds.max_labels:
                raise MalformedBodyError(f"series {index} has over {bounds.max_labels} labels")
        else:
            samples += 1
            if samples_before + samples > bounds.max_samples:
                raise BodyTooLargeError(f"request holds over {bounds.max_samples} samples")


def _parse_series(index: int, payload: bytes, bounds: Bounds) -> Message:
    """Series number `index`, parsed, with its labels within `bounds`."""
    try:
        series = TimeSeries.FromString(payload)
    except DecodeError as error:
        raise MalformedBodyError(f"series {index} is not a TimeSeries: {error}") from error
    if len(series.labels) > bounds.max_labels:
        raise MalformedBodyError(f"series {index} has over {bounds.max_labels} labels")
    if len(payload) <= min(bounds.max_label_name_chars, bounds.max_label_value_chars):
        return series  # no string in it can be longer (a character takes a byte or more)
    for label in series.labels:
        if len(label.name) > bounds.max_label_name_chars:
            raise MalformedBodyError(
                f"series {index} has a label name over {bounds.max_label_name_chars} characters"
            )
        if len(label.value) > bounds.max_label_value_chars:
            raise MalformedBodyError(
                f"series {index} label {label.name!r} has a value over "
                f"{bounds.max_label_value_chars} characters"
            )
    return series


def _fields(raw: bytes, at: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(number, wire type, start, payload start, end) of each field of a message in raw[at:end]."""
    while at < end:
        start = at
        key, at = _read_varint(raw, at)
        number, wire_type = key >> 3, key & 7
        if wire_type == _LENGTH_DELIMITED:
            length, at = _read_varint(raw, at)
            payload, at = at, at + length
        elif wire_type == _VARINT:
            payload = at
            _, at = _read_varint(raw, at)
        elif wire_type in _FIXED_SIZES:
            payload, at = at, at + _FIXED_SIZES[wire_type]
        else:
            raise MalformedBodyError(f"{_NOT_A_REQUEST}: wire type {wire_type}")
        if number == 0 or at > end:
            raise MalformedBodyError(f"{_NOT_A_REQUEST}: a field is cut short")
        yield number, wire_type, start, payload, at


def _read_varint(raw: bytes, at: int) -> tuple[int, int]:
    """The varint at raw[at] and where the next field starts."""
    value = shift = 0
    while shift < 64 and at < len(raw):
        byte = raw[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return value, at
        shift += 7
    raise MalformedBodyError(f"{_NOT_A_REQUEST}: a varint is cut short or too long")


def _varint(value: int) -> bytes:
    """protobuf's varint: 7 bits a byte, low bits first, the high bit set on all but the last."""
    groups = [value >> shift & 0x7F for shift in range(0, max(value.bit_length(), 1), 7)]
    return bytes([*(group | 0x80 for group in groups[:-1]), groups[-1]])


def _stamp_series(index: int, series: Message, tenant_id: str) -> None:
    """Validate and stamp one series in place.

    Senders sort labels, so the tenant's place is found by bisection and the labels after
    it shift by one; rebuilding every series instead costs three times as much CPU.
    """
    labels = series.labels
    names = [label.name for label in labels]
    if any(later <= earlier for earlier, later in pairwise(names)):
        names = _sort_labels(index, series)
    if names and not names[0]:
        raise MalformedBodyError(f"series {index} has a label with an empty name")
    at = bisect_left(names, METRIC_NAME_LABEL)
    if at == len(names) or names[at] != METRIC_NAME_LABEL or not labels[at].value:
        raise MalformedBodyError(f"series {index} has no metric name ({METRIC_NAME_LABEL})")
    at = bisect_left(names, TENANT_LABEL)
    if at < len(names) and names[at] == TENANT_LABEL:
        labels[at].value = tenant_id
        return
    labels.add()
    for moved in range(len(names), at, -1):
        labels[moved].name, labels[moved].value = labels[moved - 1].name, labels[moved - 1].value
    labels[at].name, labels[at].value = TENANT_LABEL, tenant_id


def _sort_labels(index: int, series: Message) -> list[str]:
    """Rewrite a series' labels sorted by name; returns the names. Duplicates are malformed."""
    pairs = sorted((label.name, label.value) for label in series.labels)
    for (name, _), (next_name, _) in pairwise(pairs):
        if name == next_name:
            raise MalformedBodyError(f"series {index} has label {name!r} twice")
    del series.labels[:]
    series.labels.extend(Label(name=name, value=value) for name, value in pairs)
    return [name for name, _ in pairs]
