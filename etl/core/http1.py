"""One HTTP/1.1 request read whole, within limits and deadlines, before any worker thread sees it.

The parsing is h11's; this module adds what a server in front of a thread pool needs:
a deadline for the head and one for the body (a client sending a byte a second holds a
coroutine, never a thread), the size limits (request line, header fields, body), and
the answer to each refusal as a problem document, the JSON shape of every error of
the API (api/problems.py): `status`, `title`, `detail`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import h11
from werkzeug.http import HTTP_STATUS_CODES

READ_CHUNK = 64 * 2**10


@dataclass(frozen=True)
class ServerLimits:
    """What the server accepts before the app runs; the API's OpenAPI document lists them.

    The request line and field sizes are nginx's `large_client_header_buffers` (8 KiB)
    and gunicorn's field default; the head timeout bounds a whole head, as nginx's
    `client_header_timeout` does, so a trickling client cannot keep a connection forever.
    """

    max_request_line_bytes: int = 8190
    max_header_fields: int = 100
    max_header_field_bytes: int = 8190
    max_head_bytes: int = 64 * 2**10
    max_body_bytes: int = 2**20
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 1000


class Refusal(Exception):
    """A request the server answers itself, with a problem document, then closes."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


# Error answers are never cached and never sniffed, like the API's authenticated answers.
PROBLEM_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]


def problem_body(status: int, detail: str) -> bytes:
    """The problem document of `status`."""
    title = HTTP_STATUS_CODES.get(status, "Error")
    return json.dumps({"status": status, "title": title, "detail": detail}).encode()


def problem(status: int, detail: str) -> bytes:
    """A whole HTTP/1.1 answer carrying a problem document; the connection closes after it.

    Written as bytes, not through h11: after a protocol error h11 may refuse to send.
    """
    body = problem_body(status, detail)
    fields = [*PROBLEM_HEADERS, (b"content-length", str(len(body)).encode())]
    head = [f"HTTP/1.1 {status} {HTTP_STATUS_CODES.get(status, 'Error')}".encode("latin-1")]
    head += [name + b": " + value for name, value in [*fields, (b"connection", b"close")]]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def read_request(
    conn: h11.Connection,
    reader: asyncio.StreamReader,
    limits: ServerLimits,
    send: Callable[[bytes], object],
) -> tuple[h11.Request, bytes] | None:
    """The next request on the connection and its body; None once the client is gone.

    A client that waits for `100 Continue` before its body (curl, for bodies over 1 KiB)
    gets it through `send` once its head is accepted. Raises Refusal for what breaks a
    limit or the protocol, TimeoutError on a deadline.
    """
    async with asyncio.timeout(limits.header_timeout_s):
        request = await _read_head(conn, reader, limits)
    if request is None:
        return None
    _check_fields(request, limits)
    declared = _header(request, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise Refusal(413, f"body of {int(declared)} bytes is over {limits.max_body_bytes}")
    if conn.they_are_waiting_for_100_continue:
        send(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
    async with asyncio.timeout(limits.body_timeout_s):
        body = await _read_body(conn, reader, limits)
    return request, body


async def _read_head(
    conn: h11.Connection, reader: asyncio.StreamReader, limits: ServerLimits
) -> h11.Request | None:
    line_bytes, line_done = 0, False
    pending = conn.trailing_data[0]  # a pipelined request may already be buffered
    while True:
        if not line_done:
            end = pending.find(b"\n")
            line_done = end >= 0
            line_bytes += end if line_done else len(pending)
            if line_bytes > limits.max_request_line_bytes + 1:
                raise Refusal(414, f"request line over {limits.max_request_line_bytes} bytes")
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as error:
            raise _refusal(error, limits) from error
        if isinstance(event, h11.Request):
            return event
        if isinstance(event, h11.ConnectionClosed):
            return None
        pending = await reader.read(READ_CHUNK)
        if not pending and conn.their_state is h11.IDLE and not conn.trailing_data[0]:
            return None  # closed between requests: nothing to answer
        conn.receive_data(pending)


def _refusal(error: h11.RemoteProtocolError, limits: ServerLimits) -> Refusal:
    if error.error_status_hint == 431:
        return Refusal(431, f"request head over {limits.max_head_bytes} bytes")
    return Refusal(error.error_status_hint, f"malformed request: {error}")


def _check_fields(request: h11.Request, limits: ServerLimits) -> None:
    if len(request.headers) > limits.max_header_fields:
        raise Refusal(431, f"over {limits.max_header_fields} header fields")
    for name, value in request.headers:
        if len(name) + len(value) > limits.max_header_field_bytes:
            raise Refusal(
                431, f"header field {name.decode()!r} over {limits.max_header_field_bytes}"
            )


async def _read_body(
    conn: h11.Connection, reader: asyncio.StreamReader, limits: ServerLimits
) -> bytes:
    body = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as error:
            raise _refusal(error, limits) from error
        if isinstance(event, h11.Data):
            body += event.data
            if len(body) > limits.max_body_bytes:
                raise Refusal(413, f"body is over {limits.max_body_bytes} bytes")
        elif isinstance(event, h11.EndOfMessage):
            return bytes(body)
        elif event is h11.NEED_DATA:
            data = await reader.read(READ_CHUNK)
            if not data:
                raise Refusal(400, "the client closed the connection inside the body")
            conn.receive_data(data)


def _header(request: h11.Request, name: bytes) -> bytes | None:
    return next((value for key, value in request.headers if key == name), None)


def environ(
    request: h11.Request, body: bytes, client: tuple[str, int], server: tuple[str, int]
) -> dict[str, Any]:
    """The WSGI environ (PEP 3333) of a request read whole.

    A header whose name holds `_` is dropped: WSGI spells `-` as `_`, so it could pass
    for another header (nginx drops them too).
    """
    target = request.target
    if not target.startswith(b"/"):  # absolute form: http://host/path?query
        split = urlsplit(target)
        target = (split.path or b"/") + (b"?" + split.query if split.query else b"")
    path, _, query = target.partition(b"?")
    env: dict[str, Any] = {
        "REQUEST_METHOD": request.method.decode("ascii"),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "RAW_URI": target.decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{request.http_version.decode('ascii')}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in request.headers:
        if b"_" in name or name in (b"content-length", b"transfer-encoding"):
            continue
        key = name.decode("latin-1").upper().replace("-", "_")
        key = key if key == "CONTENT_TYPE" else f"HTTP_{key}"
        text = value.decode("latin-1")
        env[key] = f"{env[key]},{text}" if key in env else text
    return env
