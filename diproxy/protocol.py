"""The Prometheus remote-write 1.0 body: a snappy-compressed (block format) protobuf WriteRequest.

Only the messages the proxy reads are declared, a subset of the public spec's messages
(same names, field numbers and types):

    message WriteRequest { repeated TimeSeries timeseries = 1; }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }

protobuf keeps whatever else a sender puts in a request (metadata, exemplars, native
histograms) as unknown fields and re-encodes it unchanged, so it is forwarded as sent.
None of those fields carries series labels, so the tenant label rewrite covers every series.
The descriptor is built here rather than compiled by protoc: four messages do not justify
a compiler at build time or a generated module in the tree.
"""

from __future__ import annotations

from bisect import bisect_left
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
    "TimeSeries": [("labels", 1, "Label", True), ("samples", 2, "Sample", True)],
    "Label": [("name", 1, _Field.TYPE_STRING, False), ("value", 2, _Field.TYPE_STRING, False)],
    "Sample": [("value", 1, _Field.TYPE_DOUBLE, False), ("timestamp", 2, _Field.TYPE_INT64, False)],
}


class MalformedBodyError(ValueError):
    """The body is not a snappy-compressed remote-write WriteRequest with valid series."""


class BodyTooLargeError(ValueError):
    """The body, or what it decompresses to, is over the proxy's limit."""


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
Label = _CLASSES["Label"]


def decode(body: bytes, max_decoded_bytes: int) -> Message:
    """The WriteRequest in `body`; the size snappy announces is checked before inflating."""
    try:
        announced = cramjam.snappy.decompress_raw_len(body)
        if announced > max_decoded_bytes:
            raise BodyTooLargeError(
                f"body decompresses to {announced} bytes, over the limit of {max_decoded_bytes}"
            )
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as error:
        raise MalformedBodyError(f"body is not snappy block-compressed: {error}") from error
    request = WriteRequest()
    try:
        request.ParseFromString(raw)
    except DecodeError as error:
        raise MalformedBodyError(f"body is not a remote-write WriteRequest: {error}") from error
    return request


def encode(request: Message) -> bytes:
    """The wire form of a WriteRequest."""
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


@dataclass(frozen=True)
class Stamped:
    """What the tenant rewrite saw: series count and the newest sample (ms), if any."""

    series: int
    newest_sample_ms: int | None


def stamp_tenant(request: Message, tenant_id: str) -> Stamped:
    """Make `tenant_id` the one tenant label of every series, whatever the sender wrote.

    A series without a metric name, with an empty label name, or with a label name twice
    is malformed. Labels leave sorted by name, as the spec requires of senders.
    """
    newest: int | None = None
    for index, series in enumerate(request.timeseries):
        _stamp_series(index, series, tenant_id)
        if series.samples:
            latest = max(sample.timestamp for sample in series.samples)
            newest = latest if newest is None else max(newest, latest)
    return Stamped(len(request.timeseries), newest)


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
