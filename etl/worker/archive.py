"""The raw archive: every tenant-day extract, as Thanos answered it, in Parquet.

Why: a day can be re-costed (a formula fix, a lost ClickHouse) without asking
Thanos again (`k8scost replay`), and an operator can see exactly what a run was
given. Airflow tasks hand each other the URI of an extract, never its data.

Layout under `RAW_ARCHIVE_URL` (`file:///dir` or `s3://bucket/prefix`):

    tenant=<id>/date=<YYYY-MM-DD>/extract=<UTC stamp>-<random>/<query name>.parquet
    tenant=<id>/date=<YYYY-MM-DD>/extract=<...>/manifest.json    written last
    tenant=<id>/date=<YYYY-MM-DD>/current.json                   the extract to replay

An extract directory is written once and never changed, so two runs of one
tenant-day (a backfill and a manual rerun) each write their own and cannot mix
files; `current.json`, one object replaced whole, names the last one published.
The format is generic over the answers (query name -> frame), whatever queries
`etl.metroculus.queries` runs.
"""

from __future__ import annotations

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

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from etl.core.config import Settings
from etl.metroculus.queries import Answers
from etl.storage.objects import s3_client

MANIFEST = "manifest.json"
CURRENT = "current.json"


class ArchiveError(RuntimeError):
    """An extract is missing, incomplete, or does not match its manifest."""


class _Store(Protocol):
    """Bytes under one root: a local directory or an S3 prefix."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...


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


def _to_parquet(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


def _from_parquet(data: bytes) -> pd.DataFrame:
    return pq.read_table(io.BytesIO(data)).to_pandas()


def write_extract(
    settings: Settings,
    tenant_id: str,
    day: date,
    answers: Answers,
    source: dict[str, Any],
    run_id: str,
) -> str:
    """Write the answers as a new extract (Parquet per query, manifest last); returns its URI."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    url = f"{day_url(settings, tenant_id, day)}/extract={stamp}-{secrets.token_hex(4)}"
    store = _store(settings, url)
    queries = {}
    for name, frame in answers.items():
        store.put(f"{name}.parquet", _to_parquet(frame))
        queries[name] = {"file": f"{name}.parquet", "rows": len(frame)}
    manifest = {
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
    """The manifest of an extract; ArchiveError if the extract was never completed."""
    return json.loads(_store(settings, extract_url).get(MANIFEST))


def read_extract(settings: Settings, extract_url: str) -> Answers:
    """The answers of an extract, as they were written (query name -> frame)."""
    store = _store(settings, extract_url)
    manifest = json.loads(store.get(MANIFEST))
    return {
        name: _from_parquet(store.get(entry["file"])) for name, entry in manifest["queries"].items()
    }


def verify_extract(
    settings: Settings, extract_url: str, expected_queries: Iterable[str]
) -> dict[str, Any]:
    """Read the extract back whole and check it against its manifest; returns the manifest."""
    manifest = read_manifest(settings, extract_url)
    missing = sorted(set(expected_queries) - set(manifest["queries"]))
    if missing:
        raise ArchiveError(f"extract {extract_url} lacks the queries {', '.join(missing)}")
    answers = read_extract(settings, extract_url)
    wrong = [
        f"{name}: {len(answers[name])} rows, manifest says {entry['rows']}"
        for name, entry in manifest["queries"].items()
        if len(answers[name]) != entry["rows"]
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
