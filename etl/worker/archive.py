"""The raw archive: every tenant-day extract, as Thanos answered it, in Parquet.

Why: a day can be re-costed (a formula fix, a transform fix, a lost ClickHouse) without
asking Thanos again (`k8scost replay`), and an operator can see exactly what a run was
given. What is kept is each query's answer of the three rounds as it came (one row per
sample or series: its labels as JSON, its value, or a series' raw times and values), not
the cost model's answers: those are derived at every load (etl/metroculus/derive.py), so
a fix of the transform replays onto archived days. Airflow tasks hand each other the URI
of an extract, never its data.

Layout under `RAW_ARCHIVE_URL` (`file:///dir` or `s3://bucket/prefix`):

    tenant=<id>/date=<YYYY-MM-DD>/extract=<UTC stamp>-<random>/<query name>.parquet
    tenant=<id>/date=<YYYY-MM-DD>/extract=<...>/manifest.json    written last
    tenant=<id>/date=<YYYY-MM-DD>/current.json                   the extract to replay

An extract directory is written once and never changed, so two runs of one
tenant-day (a backfill and a manual rerun) each write their own and cannot mix
files; `current.json`, one object replaced whole, names the last one published.
The manifest states the extract's `contract_version` (etl/metroculus/extract.py) and
each file's rows, bytes and SHA-256: the archive step checks the files are there at
their sizes without reading them, and the load checks each file's hash as it reads it,
so an extract is read back once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from etl.core.config import Settings
from etl.metroculus.extract import CONTRACT_VERSION, Result, Rounds
from etl.metroculus.promql import Sample, Series
from etl.storage.objects import s3_client

MANIFEST = "manifest.json"
CURRENT = "current.json"
# An extract written before the manifest had a version: the transformed answers.
FIRST_VERSION = 1
VECTOR, MATRIX = "vector", "matrix"


class ArchiveError(RuntimeError):
    """An extract is missing, incomplete, or does not match its manifest."""


class _Store(Protocol):
    """Bytes under one root: a local directory or an S3 prefix."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def size(self, key: str) -> int:
        """The object's size in bytes, without reading it."""
        ...


@dataclass(frozen=True)
class _LocalStore:
    root: Path

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside, then rename: a reader never sees half a file, and
        # current.json is replaced atomically.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)

    def get(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            raise ArchiveError(f"{self.root / key} does not exist") from None

    def size(self, key: str) -> int:
        try:
            return (self.root / key).stat().st_size
        except FileNotFoundError:
            raise ArchiveError(f"{self.root / key} does not exist") from None


@dataclass(frozen=True)
class _S3Store:
    client: Any
    bucket: str
    prefix: str

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ArchiveError(f"s3://{self.bucket}/{self._key(key)} does not exist") from None
            raise

    def size(self, key: str) -> int:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ArchiveError(f"s3://{self.bucket}/{self._key(key)} does not exist") from None
            raise


def _store(settings: Settings, url: str) -> _Store:
    parts = urlsplit(url)
    if parts.scheme == "file":
        return _LocalStore(Path(parts.path))
    if parts.scheme == "s3":
        return _S3Store(s3_client(settings), parts.netloc, parts.path.strip("/"))
    raise ValueError(f"archive URL {url!r}: expected file:///dir or s3://bucket/prefix")


def day_url(settings: Settings, tenant_id: str, day: date) -> str:
    """Where a tenant-day's extracts live."""
    return f"{settings.raw_archive_url.rstrip('/')}/tenant={tenant_id}/date={day.isoformat()}"


def _labels(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


def _to_parquet(result: Result) -> tuple[str, bytes]:
    """(kind, Parquet bytes) of one query's raw answer."""
    if result and isinstance(result[0], Series):
        kind = MATRIX
        columns = {
            "labels": pa.array([_labels(one.labels) for one in result], pa.string()),
            "times": pa.array(
                [np.asarray(one.times, float) for one in result], pa.list_(pa.float64())
            ),
            "values": pa.array(
                [np.asarray(one.values, float) for one in result], pa.list_(pa.float64())
            ),
        }
    else:
        kind = VECTOR
        columns = {
            "labels": pa.array([_labels(one.labels) for one in result], pa.string()),
            "value": pa.array([one.value for one in result], pa.float64()),
        }
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return kind, sink.getvalue()


def _from_parquet(kind: str, data: bytes) -> Result:
    columns = pq.read_table(io.BytesIO(data)).to_pydict()
    labels = [json.loads(text) for text in columns["labels"]]
    if kind == MATRIX:
        return [
            Series(one, np.asarray(times, float), np.asarray(values, float))
            for one, times, values in zip(labels, columns["times"], columns["values"], strict=True)
        ]
    return [Sample(one, value) for one, value in zip(labels, columns["value"], strict=True)]


def write_extract(
    settings: Settings,
    tenant_id: str,
    day: date,
    rounds: Rounds,
    source: dict[str, Any],
    run_id: str,
) -> str:
    """Write the rounds' answers as a new extract (Parquet per query, manifest last);
    returns its URI."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    url = f"{day_url(settings, tenant_id, day)}/extract={stamp}-{secrets.token_hex(4)}"
    store = _store(settings, url)
    queries = {}
    for name, result in rounds.items():
        kind, data = _to_parquet(result)
        store.put(f"{name}.parquet", data)
        queries[name] = {
            "file": f"{name}.parquet",
            "kind": kind,
            "rows": len(result),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    manifest = {
        "contract_version": CONTRACT_VERSION,
        "tenant_id": tenant_id,
        "date": day.isoformat(),
        "run_id": run_id,
        "extracted_at": int(time.time()),
        "source": source,
        "queries": queries,
    }
    store.put(MANIFEST, json.dumps(manifest, indent=1).encode())
    return url


def read_manifest(settings: Settings, extract_url: str) -> dict[str, Any]:
    """The manifest of an extract of this contract version; ArchiveError if the extract
    was never completed or was written under another version."""
    manifest = json.loads(_store(settings, extract_url).get(MANIFEST))
    version = manifest.get("contract_version", FIRST_VERSION)
    if version != CONTRACT_VERSION:
        raise ArchiveError(
            f"extract {extract_url} holds contract version {version}, and this k8scost reads "
            f"contract version {CONTRACT_VERSION} only: extract the day from Thanos again "
            "(`k8scost run`) while Thanos still holds it"
        )
    return manifest


def read_extract(settings: Settings, extract_url: str) -> Rounds:
    """The rounds' answers of an extract as they were written (query name -> answer), each
    file checked against its manifest's size and hash as it is read."""
    store = _store(settings, extract_url)
    manifest = read_manifest(settings, extract_url)
    rounds = {}
    for name, entry in manifest["queries"].items():
        data = store.get(entry["file"])
        if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ArchiveError(
                f"extract {extract_url}: {entry['file']} ({len(data)} bytes) is not the file "
                f"written ({entry['bytes']} bytes, SHA-256 {entry['sha256']})"
            )
        rounds[name] = _from_parquet(entry["kind"], data)
    return rounds


def verify_extract(
    settings: Settings, extract_url: str, expected_queries: Iterable[str]
) -> dict[str, Any]:
    """Check that the extract is complete (a manifest of this contract version naming every
    expected query, each file there at its size) without reading the files; returns the
    manifest. Their content is checked by hash when the load reads them."""
    manifest = read_manifest(settings, extract_url)
    missing = sorted(set(expected_queries) - set(manifest["queries"]))
    if missing:
        raise ArchiveError(f"extract {extract_url} lacks the queries {', '.join(missing)}")
    store = _store(settings, extract_url)
    wrong = [
        f"{entry['file']}: {size} bytes, manifest says {entry['bytes']}"
        for entry in manifest["queries"].values()
        if (size := store.size(entry["file"])) != entry["bytes"]
    ]
    if wrong:
        raise ArchiveError(f"extract {extract_url} does not match its manifest: {'; '.join(wrong)}")
    return manifest


def publish(settings: Settings, extract_url: str) -> None:
    """Make the extract the one its tenant-day replays from."""
    day, _, extract = extract_url.rpartition("/")
    pointer = {"extract": extract, "published_at": int(time.time())}
    _store(settings, day).put(CURRENT, json.dumps(pointer).encode())


def current_extract(settings: Settings, tenant_id: str, day: date) -> str:
    """The URI of the tenant-day's published extract; ArchiveError if there is none."""
    url = day_url(settings, tenant_id, day)
    try:
        pointer = json.loads(_store(settings, url).get(CURRENT))
    except ArchiveError:
        raise ArchiveError(
            f"no archived extract for tenant {tenant_id} on {day} under {url}"
        ) from None
    return f"{url}/{pointer['extract']}"
