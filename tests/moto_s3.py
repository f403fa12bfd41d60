"""A moto S3 server on loopback and the AWS_* variables that point boto3 at it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto.server import ThreadedMotoServer

from devtools.localprom import free_port


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server for the block; its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def point_boto3_at(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Configure boto3 (in this process and its children) by AWS_* only, for `endpoint`."""
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
