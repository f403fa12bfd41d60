"""The S3 client factory (the raw archive and the cloud-bill importer read S3 through it)
and the one writer of report files to S3 or the local disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import boto3

from etl.core.config import Settings


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client; unset options fall back to boto3's own (AWS_ENDPOINT_URL, ...)."""
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
    )


def write_object(settings: Settings, uri: str, body: bytes) -> None:
    """Write `body` to `s3://bucket/key` (through `s3_client`) or `file:///path`
    (parent folders made): where the showback reports land (api/showback.py)."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        s3_client(settings).put_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"), Body=body)
    elif parsed.scheme == "file":
        path = Path(unquote(parsed.path))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    else:
        raise ValueError(f"{uri!r}: only s3:// and file:// destinations are written")
