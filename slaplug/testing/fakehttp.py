"""A minimal fake-server base for connector tests: real HTTP on 127.0.0.1, from memory.

Public, so a plugin outside this repository can test against a fake of its platform without
copying this module (the Freshdesk plugin and the suite's own self-test both use it).

Subclass `FakeHelpdesk` and implement `handle`; the base records every request, counts
accepted writes and answers injected faults first (or, for a lost answer injected with
``after_apply=True``, serves the request and then answers the fault). It implements the
`slaplug.testing.FakeControl` protocol that `ConnectorSuite` drives.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeHelpdesk", "FakeRequest", "Reply"]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class FakeRequest:
    """A request the fake received.

    Attributes:
        method: HTTP method.
        path: The path, without the query.
        query: Query parameters (each a list, as ``parse_qs`` returns them).
        headers: Request headers.
        body: The raw body.
    """

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    def param(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Reply:
    """What the fake answers: a status, a JSON (or raw bytes) body and headers."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


class FakeHelpdesk:
    """Base class of fake helpdesk servers. Subclass and implement `handle`.

    Attributes:
        requests: Every request received, faults included, in order.
        write_count: Writes (non-GET requests) answered with a 2xx: what the platform "saw".
    """

    def __init__(self) -> None:
        self.requests: list[FakeRequest] = []
        self.write_count = 0
        self._faults: deque[Reply] = deque()
        self._lost: deque[Reply] = deque()  # answers to lose, write by write
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- to implement ---------------------------------------------------------------------

    def handle(self, request: FakeRequest) -> Reply:
        """Answer one request (faults are answered before this is called)."""
        raise NotImplementedError

    # -- control --------------------------------------------------------------------------

    def inject(
        self,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        after_apply: bool = False,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` instead of handling them.

        Args:
            status: The status to answer (429, 401, 503...).
            headers: Headers to send with it (``{"Retry-After": "3"}``).
            body: A JSON body to send with it.
            times: How many requests in a row get it.
            after_apply: Lose answers instead: handle each of the next ``times`` *writes*
                (non-GET requests; reads are served normally) so it is applied and counted
                in `write_count`, then answer ``status`` (a 5xx) in place of the real
                reply, as a gateway that timed out on a processed request does.

        Raises:
            ValueError: ``after_apply`` with a status below 500 (a 4xx such as 429 says
                the request was not processed).
        """
        if after_apply and status < 500:
            raise ValueError("after_apply faults must be 5xx")
        queue = self._lost if after_apply else self._faults
        with self._lock:
            queue.extend([Reply(status, body, dict(headers or {}))] * times)

    @property
    def request_count(self) -> int:
        """Requests received so far, faults included."""
        return len(self.requests)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if self._server is None:
            raise RuntimeError("the fake is not started; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeHelpdesk:
        """Serve on ``host:port`` (default: a free port of 127.0.0.1), in a daemon thread."""
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHelpdesk:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch -------------------------------------------------------------------------

    def _dispatch(self, request: FakeRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            fault = self._faults.popleft() if self._faults else None
            lost = None
            if fault is None and request.method not in _READS and self._lost:
                lost = self._lost.popleft()
        if fault is not None:
            return fault
        reply = self.handle(request)
        if request.method not in _READS and 200 <= reply.status < 300:
            with self._lock:
                self.write_count += 1
        return reply if lost is None else lost


def _handler_for(fake: FakeHelpdesk) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # header and body go out as two writes: no 40 ms stalls

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = FakeRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers=dict(self.headers.items()),
                body=self.rfile.read(length) if length else b"",
            )
            try:
                reply = fake._dispatch(request)
            except Exception as exc:  # a bug in the fake: answer 500 rather than hang
                reply = Reply(500, {"error": f"fake crashed: {exc!r}"})
            payload = (
                reply.body
                if isinstance(reply.body, bytes)
                else b""
                if reply.body is None
                else json.dumps(reply.body).encode()
            )
            self.send_response(reply.status)
            headers = {"Content-Type": "application/json", **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 - stdlib names

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: test output is for failures."""

    return Handler
