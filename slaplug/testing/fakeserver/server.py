"""The HTTP side of every fake: requests, responses, routing, the clock and the server thread.

A fake is an ``app``: a callable from :class:`Request` to :class:`Response`, served by
:class:`ServerThread` on 127.0.0.1. Only the standard library is used, so the fakes add no
dependency to slaplug.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "App",
    "FakeClock",
    "HttpError",
    "Request",
    "Response",
    "Router",
    "ServerThread",
    "iso_z",
    "parse_iso_z",
]

log = logging.getLogger(__name__)


def iso_z(ts: float) -> str:
    """Format a Unix time as ISO 8601 UTC with a ``Z`` and whole seconds, as helpdesks do."""
    t = time.gmtime(ts)
    # Not strftime's %Y: glibc does not pad years before 1000, and ISO 8601 has four digits.
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"


def parse_iso_z(value: str) -> int:
    """Parse ``2026-03-02T12:00:00Z`` (or with ``+00:00``) to Unix seconds.

    Raises:
        ValueError: if the text is not such a time.
    """
    text = value.strip().replace("+00:00", "Z")
    if text.endswith("Z") and "." in text:  # fractional seconds: helpdesks compare whole seconds
        text = text.split(".", 1)[0] + "Z"
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


_YMD = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_calendar_date(value: object) -> bool:
    """Whether ``value`` is a real calendar date written ``YYYY-MM-DD`` and nothing else:
    what Zendesk's and Freshdesk's date custom fields take (each fake cites its sources)."""
    if not isinstance(value, str) or not _YMD.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


class FakeClock:
    """The fake's idea of "now": real time plus an offset that tests can move.

    A clock that keeps ticking (rather than a frozen one) lets a user watch the fake live;
    :meth:`advance` lets a test step past rules such as Zendesk's one-minute export lag
    without sleeping.
    """

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0 if start is None else start - time.time()

    def now(self) -> float:
        """Return the fake's current Unix time."""
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward (or back, if negative) and return the new time."""
        with self._lock:
            self._offset += seconds
            return time.time() + self._offset

    def set(self, ts: float) -> None:
        """Make ``now()`` equal ``ts``; the clock keeps ticking from there."""
        with self._lock:
            self._offset = ts - time.time()


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request as an app sees it."""

    method: str
    path: str
    #: First value of each query parameter.
    query: Mapping[str, str]
    #: Header names lower-cased.
    headers: Mapping[str, str]
    body: bytes
    #: Every value of each query parameter, for APIs that repeat one (Jira's ``fields=``).
    query_lists: Mapping[str, list[str]] = field(default_factory=dict)

    def json(self) -> Any:
        """Decode the body as JSON.

        Raises:
            HttpError: 400 if the body is not JSON.
        """
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise HttpError(
                400, {"error": "InvalidJSON", "description": "The request body is not valid JSON"}
            ) from None


@dataclass
class Response:
    """What an app answers. ``body`` is JSON-able, raw bytes, or None for no body."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: For an injected fault: serve the request first, then answer this instead (the
    #: platform applied the write and the answer was lost). Never sent on the wire.
    after_apply: bool = False
    #: A one-off fault queued by ``inject``: sent with the body and headers it was given.
    queued: bool = False

    def encode(self) -> bytes:
        """Serialise the body (JSON unless it is already bytes)."""
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        self.headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode()


class HttpError(Exception):
    """Raised inside an app to answer with an error status and body."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> Response:
        """This error as a :class:`Response`."""
        return Response(self.status, self.body, dict(self.headers))


Handler = Callable[..., Response]


class Router:
    """Method + regex routing. Handlers get the request then the path's named groups."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Route ``method`` on paths fully matching ``pattern`` to ``handler``."""
        self._routes.append((method, re.compile(pattern), handler))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """Return the handler and path parameters, or None when no route matches."""
        for route_method, pattern, handler in self._routes:
            m = pattern.fullmatch(path)
            if m and route_method == method:
                return handler, m.groupdict()
        return None

    def knows_path(self, path: str) -> bool:
        """True if some method is routed for ``path`` (to answer 405 rather than 404)."""
        return any(p.fullmatch(path) for _, p, _ in self._routes)


# -- The server thread ---------------------------------------------------------------------

App = Callable[[Request], Response]


class _Server(ThreadingHTTPServer):
    # Join handler threads on close, after their sockets are shut down (see stop()), so a
    # ``with`` block leaves no threads behind.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive: a client paging 50 times reuses one socket.
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30

    # Buffer the response so headers and body leave in one segment; written separately,
    # the client's delayed ACK adds ~40 ms to every keep-alive request.
    wbufsize = -1

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        lists = parse_qs(parts.query, keep_blank_values=True)
        query = {k: v[0] for k, v in lists.items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, parts.path, query, headers, body, lists)
        try:
            resp = self.server.app(req)
        except HttpError as exc:
            resp = exc.response()
        except Exception:  # a bug in the fake must answer, not hang the client
            log.exception("fake server error on %s %s", self.command, self.path)
            resp = Response(500, {"error": "InternalError", "description": "fake server bug"})
        payload = resp.encode()
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    # BaseHTTPRequestHandler looks handlers up by these names.
    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _dispatch  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class ServerThread:
    """Serves an app on ``host:port`` from a background thread.

    Port 0 picks a free port; :attr:`base_url` tells which. :meth:`stop` closes open
    keep-alive connections too, so it returns promptly and leaves no thread running.
    """

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), app)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """``http://host:port``, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Start serving (again: nothing)."""
        if not self._thread.is_alive():
            self._thread.start()

    def stop(self) -> None:
        """Stop serving, close connections and join every thread."""
        if not self._thread.is_alive():  # never started: only the socket to close
            self._server.server_close()
            return
        self._server.shutdown()
        with self._server.connections_lock:
            conns: Iterable[socket.socket] = list(self._server.connections)
        for conn in conns:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=5)
