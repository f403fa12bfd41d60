"""The S3 client factory: the raw archive and the cloud-bill importer read S3 through it."""

from __future__ import annotations

from typing import Any

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
