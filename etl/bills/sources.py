"""Where a bill is read from: one file, a folder, or an S3 prefix of a partitioned export.

The providers deliver FOCUS exports as many files: AWS Data Exports writes
`<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/<export>-00001.csv.gz` (or
`.snappy.parquet`) beside a `metadata/.../Manifest.json`; Azure Cost Management
partitions a large export into CSV, CSV.gz or Parquet parts in one blob folder
with a manifest; BigQuery writes a FOCUS view to Cloud Storage as numbered
shards through a wildcard URI. So a source is every `.csv`, `.csv.gz` and
`.parquet` file under the path, in name order, and nothing else (manifests,
`_SUCCESS` markers and the like are skipped). S3 objects are read through boto3
with the settings' S3 options (else boto3's own: `AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`...), one object at a time into a temporary file that is
removed after it is read, so the disk holds one object, never the export.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from etl.core.config import Settings
from etl.storage.objects import s3_client

BILL_SUFFIXES = (".csv", ".csv.gz", ".parquet")


class MalformedBillError(ValueError):
    """The bill is not loadable as FOCUS; the message says where and why."""


def kind_of(name: str) -> str:
    """`parquet`, `csv.gz` or `csv` (the default: a single file of any name is CSV)."""
    lowered = name.lower()
    if lowered.endswith(".parquet"):
        return "parquet"
    return "csv.gz" if lowered.endswith(".gz") else "csv"


def _is_bill_file(name: str) -> bool:
    return name.lower().endswith(BILL_SUFFIXES)


@dataclass(frozen=True)
class BillFile:
    """One file of a bill: its name in messages, its size, and how to get it locally."""

    name: str
    size: int
    path: Path | None = None  # a local file
    s3: tuple[Any, str, str] | None = None  # (client, bucket, key)

    @property
    def kind(self) -> str:
        return kind_of(self.name)

    @contextmanager
    def local(self) -> Iterator[Path]:
        """A local path of the file, downloaded first (and removed after) for S3."""
        if self.path is not None:
            yield self.path
            return
        assert self.s3 is not None
        client, bucket, key = self.s3
        suffix = ".parquet" if self.kind == "parquet" else f".{self.kind}"
        with tempfile.NamedTemporaryFile(suffix=suffix) as copy:
            client.download_fileobj(bucket, key, copy)
            copy.flush()
            yield Path(copy.name)


def _local_files(root: Path) -> list[BillFile]:
    if root.is_file():
        return [BillFile(root.name, root.stat().st_size, path=root)]
    if not root.is_dir():
        raise MalformedBillError(f"{root}: no such file or folder")
    found = sorted(path for path in root.rglob("*") if path.is_file() and _is_bill_file(path.name))
    return [BillFile(str(path.relative_to(root)), path.stat().st_size, path=path) for path in found]


def _s3_files(settings: Settings, url: str) -> list[BillFile]:
    parts = urlsplit(url)
    bucket, prefix = parts.netloc, parts.path.lstrip("/")
    client = s3_client(settings)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    objects = [item for page in pages for item in page.get("Contents", [])]
    return [
        BillFile(
            item["Key"].removeprefix(prefix).lstrip("/") or item["Key"],
            item["Size"],
            s3=(client, bucket, item["Key"]),
        )
        for item in sorted(objects, key=lambda item: item["Key"])
        if _is_bill_file(item["Key"])
    ]


def bill_files(settings: Settings, source: str) -> list[BillFile]:
    """The files of a source (`FILE`, `DIR` or `s3://bucket/prefix/`), in name order."""
    files = (
        _s3_files(settings, source) if source.startswith("s3://") else _local_files(Path(source))
    )
    if not files:
        raise MalformedBillError(f"{source}: no {', '.join(BILL_SUFFIXES)} file found")
    return files
