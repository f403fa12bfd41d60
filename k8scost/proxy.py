"""`k8scost diproxy` (serve the proxy, diproxy/) and `k8scost accounts token ID` (issue a
write token, diproxy/auth.py).

The proxy runs under the same gunicorn runner as the API (`etl.core.serve`: requests
read whole by an event loop, then served by threads): a write spends most of its time
waiting on the receiver, so threads keep a worker busy while another write waits. The
server takes a body as large as the proxy's own limit.
"""

from __future__ import annotations

import click

from diproxy.app import Limits, create_app
from diproxy.auth import rotate_token
from etl.core import serve
from etl.core.config import Settings
from etl.core.http1 import ServerLimits
from etl.storage.registry import open_database

DEFAULT_PORT = 8001


@click.command("diproxy")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True)
@click.pass_obj
def diproxy_command(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the remote-write proxy (POST /storage/api/v2/write) in front of THANOS_RECEIVE_URL."""
    limits = ServerLimits(max_body_bytes=Limits().max_body_bytes)
    serve.run(lambda: create_app(settings), host, port, workers, threads, limits)


@click.command("token")
@click.argument("account_id")
@click.pass_obj
def token_command(settings: Settings, account_id: str) -> None:
    """Print a new remote-write token for a kubernetes_cnr account; its old ones stop working."""
    database = open_database(settings.mongo_uri, settings.mongo_db)
    token, revoked = rotate_token(database, account_id)
    click.echo(token)
    if revoked:
        click.echo(f"revoked {revoked} previous token(s) of {account_id}", err=True)
