"""Reading one request whole before a thread serves it: limits, deadlines, the WSGI environ."""

from __future__ import annotations

import asyncio
import json

import h11
import pytest

from etl.core import http1

LIMITS = http1.ServerLimits(
    max_request_line_bytes=64,
    max_header_fields=4,
    max_header_field_bytes=40,
    max_head_bytes=512,
    max_body_bytes=10,
    header_timeout_s=0.2,
    body_timeout_s=0.2,
)


def read(
    *chunks: bytes, eof: bool = True, limits: http1.ServerLimits = LIMITS, sent: list | None = None
):
    """read_request over a stream that holds `chunks` (then EOF, or nothing more); what
    the server sends on the way lands in `sent`."""
    sent = [] if sent is None else sent

    async def run():
        reader = asyncio.StreamReader()
        for chunk in chunks:
            reader.feed_data(chunk)
        if eof:
            reader.feed_eof()
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_head_bytes)
        first = await http1.read_request(conn, reader, limits, sent.append)
        if first is None:
            return []
        conn.send(h11.Response(status_code=204, headers=[]))
        conn.send(h11.EndOfMessage())
        conn.start_next_cycle()
        return [first, await http1.read_request(conn, reader, limits, sent.append)]

    return asyncio.run(run())


def test_a_request_and_a_pipelined_one_are_read_with_their_bodies():
    first, second = read(
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
        b"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
    )
    assert (first[0].target, first[1]) == (b"/a", b"abc")
    assert (second[0].target, second[1]) == (b"/b", b"xy")


def test_a_client_that_expects_100_continue_gets_it_before_its_body_is_read():
    sent: list[bytes] = []
    head = b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
    first, _ = read(head, b"abc", sent=sent)
    assert first[1] == b"abc"
    assert sent == [b"HTTP/1.1 100 \r\n\r\n"]


def test_a_closed_connection_between_requests_is_no_request():
    assert read(b"") == []


@pytest.mark.parametrize(
    ("raw", "status", "detail"),
    [
        (b"GET /" + b"a" * 80 + b" HTTP/1.1\r\n", 414, "request line over 64"),
        (b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X: y\r\n" * 4 + b"\r\n", 431, "over 4 header fields"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + b"v" * 40 + b"\r\n\r\n", 431, "'x-long'"),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 100, 431, "head over 512 bytes"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nBad Name: y\r\n\r\n", 400, "malformed request"),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", 413, "11 bytes is over 10"),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n" + b"z" * 11,
            413,
            "body is over 10",
        ),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab", 400, "inside the body"),
    ],
    ids=[
        "line",
        "count",
        "field",
        "head",
        "space-in-name",
        "declared-body",
        "chunked-body",
        "cut-body",
    ],
)
def test_what_breaks_a_limit_is_refused_with_its_status(raw, status, detail):
    with pytest.raises(http1.Refusal, match=detail) as refused:
        read(raw)
    assert refused.value.status == status


def test_a_head_or_a_body_that_does_not_arrive_in_time_is_given_up():
    with pytest.raises(TimeoutError):
        read(b"GET / HTTP/1.1\r\nHo", eof=False)
    with pytest.raises(TimeoutError):
        read(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab", eof=False)


def test_a_problem_answer_is_json_and_closes_the_connection():
    head, _, body = http1.problem(431, "too big").partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 431 Request Header Fields Too Large"
    assert "content-type: application/json" in lines
    assert "connection: close" in lines
    assert f"content-length: {len(body)}" in lines
    assert json.loads(body) == {
        "status": 431,
        "title": "Request Header Fields Too Large",
        "detail": "too big",
    }


def test_the_environ_decodes_the_path_and_drops_headers_spelled_with_underscores():
    request = h11.Request(
        method="GET",
        target="/a%20b/c?x=1&y=%2F",
        headers=[
            ("Host", "h"),
            ("X-Forwarded-For", "1.1.1.1"),
            ("X_Forwarded_For", "6.6.6.6"),
            ("Accept", "a"),
            ("Accept", "b"),
            ("Content-Type", "text/csv"),
        ],
    )
    env = http1.environ(request, b"body", ("10.0.0.1", 5555), ("127.0.0.1", 8000))
    assert env["PATH_INFO"] == "/a b/c"
    assert env["QUERY_STRING"] == "x=1&y=%2F"
    assert env["HTTP_X_FORWARDED_FOR"] == "1.1.1.1"
    assert env["HTTP_ACCEPT"] == "a,b"
    assert env["CONTENT_TYPE"] == "text/csv"
    assert env["CONTENT_LENGTH"] == "4"
    assert env["wsgi.input"].read() == b"body"
    assert (env["REMOTE_ADDR"], env["SERVER_PORT"]) == ("10.0.0.1", "8000")
