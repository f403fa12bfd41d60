"""The gunicorn worker of `k8scost api` and `k8scost diproxy`: an event loop reads, threads serve.

gunicorn's threaded worker (gthread) hands a connection to a thread as soon as its
first byte arrives, and the thread then reads the request, so a client sending its
headers a byte a second holds a thread, and as many such clients as threads stop the
server for everyone. Here one asyncio loop per worker process reads every request whole
(etl/core/http1.py: limits, head and body deadlines), and only a complete request goes
to the thread pool (`--threads`), where the WSGI app runs as before: slow clients cost
a coroutine each, up to `max_connections`. Protocol errors (414, 431, a malformed head)
are answered as problem documents, never gunicorn's HTML pages, and no response names
the server.

The answer is built whole in the thread and written by the loop, so a slow reader
does not hold a thread either. gunicorn still runs the master: forking, restarts,
signals, the `timeout` heartbeat (sent by the loop) and its logs.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from typing import Any

import h11
from gunicorn.workers.base import Worker

from etl.core import http1

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
HEARTBEAT_S = 1.0
# Hop-by-hop fields are the connection's (h11 frames the answer), not the app's; and no
# answer names the server software.
DROPPED_FIELDS = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"server"})
Answer = tuple[int, bytes, list[tuple[bytes, bytes]], list[bytes]]


class HttpWorker(Worker):
    """A gunicorn worker class (`worker_class="etl.core.httpworker.HttpWorker"`)."""

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.limits: http1.ServerLimits = getattr(self.app, "limits", http1.ServerLimits())
        self.executor = ThreadPoolExecutor(self.cfg.threads, thread_name_prefix="request")
        self.connections: set[asyncio.Task] = set()
        self.busy: set[asyncio.Task] = set()  # connections inside a request, not waiting for one
        servers = [
            await asyncio.start_server(self._connection, sock=listener.sock, limit=http1.READ_CHUNK)
            for listener in self.sockets
        ]
        while self.alive and os.getppid() == self.ppid:
            self.notify()
            await asyncio.sleep(HEARTBEAT_S)
        for server in servers:
            server.close()
        for idle in self.connections - self.busy:
            idle.cancel()  # waiting for a request that may never come
        if self.busy:
            await asyncio.wait(self.busy, timeout=self.cfg.graceful_timeout)
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.connections.add(task)
        try:
            if len(self.connections) > self.limits.max_connections:
                writer.write(http1.problem(503, "too many connections, retry later"))
            else:
                await self._serve_connection(reader, writer)
            await writer.drain()
        except (ConnectionError, TimeoutError):
            pass  # the client went away or was too slow to read its answer
        except h11.LocalProtocolError as error:  # the app's answer cannot be framed as it is
            self.log.error("could not send an answer: %s", error)
        finally:
            writer.close()
            self.connections.discard(task)
            self.busy.discard(task)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head_bytes)
        client = writer.get_extra_info("peername") or ("", 0)
        server = writer.get_extra_info("sockname") or ("", 0)
        task = asyncio.current_task()
        while self.alive:
            try:
                read = await http1.read_request(conn, reader, self.limits, writer.write)
            except http1.Refusal as refusal:
                writer.write(http1.problem(refusal.status, refusal.detail))
                return
            except TimeoutError:
                if conn.their_state is not h11.IDLE or conn.trailing_data[0]:
                    writer.write(http1.problem(408, "the request did not arrive in time"))
                return
            if read is None:
                return
            request, body = read
            if task is not None:
                self.busy.add(task)
            started = time.monotonic()
            environ = http1.environ(request, body, client[:2], server[:2])
            answer = await asyncio.get_running_loop().run_in_executor(
                self.executor, self._call_app, environ
            )
            self._send(conn, writer, request, answer)
            async with asyncio.timeout(self.limits.body_timeout_s):
                await writer.drain()
            self._log_access(environ, request, answer, started)
            self.busy.discard(task)
            if conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()

    def _call_app(self, environ: dict[str, Any]) -> Answer:
        """Run the WSGI app in a pool thread; its answer, whole."""
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None) -> Callable:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started.update(status=status, headers=headers)
            return chunks.append

        chunks: list[bytes] = []
        try:
            result: Iterable[bytes] = self.wsgi(environ, start_response)
            try:
                chunks.extend(chunk for chunk in result if chunk)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:
            self.log.exception("Error handling request %s", environ.get("RAW_URI"))
            return _problem_answer(500, "the server failed to answer this request")
        code, _, reason = started["status"].partition(" ")
        headers = [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in started["headers"]
        ]
        return int(code), reason.encode("latin-1"), headers, chunks

    def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        answer: Answer,
    ) -> None:
        status, reason, headers, chunks = answer
        kept = [(name, value) for name, value in headers if name.lower() not in DROPPED_FIELDS]
        names = {name.lower() for name, _ in kept}
        if b"date" not in names:
            kept.append((b"Date", formatdate(usegmt=True).encode()))
        if b"content-length" not in names and status not in (204, 304):
            kept.append((b"Content-Length", str(sum(map(len, chunks))).encode()))
        writer.write(conn.send(h11.Response(status_code=status, headers=kept, reason=reason)))
        if request.method != b"HEAD":
            for chunk in chunks:
                writer.write(conn.send(h11.Data(data=chunk)))
        writer.write(conn.send(h11.EndOfMessage()))

    def _log_access(
        self, environ: dict[str, Any], request: h11.Request, answer: Answer, started: float
    ) -> None:
        if not self.cfg.accesslog:
            return
        size = sum(map(len, answer[3]))
        line = f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}"
        atoms = {
            "h": environ["REMOTE_ADDR"],
            "r": line,
            "s": answer[0],
            "b": size if size and request.method != b"HEAD" else "-",
            "M": round((time.monotonic() - started) * 1000),
        }
        self.log.access_log.info(ACCESS_LOG_FORMAT, atoms)


def _problem_answer(status: int, detail: str) -> Answer:
    return status, b"", list(http1.PROBLEM_HEADERS), [http1.problem_body(status, detail)]
