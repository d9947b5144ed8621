"""Pieces every fake helpdesk server shares: the server thread, a movable clock, fault
injection, write recording and a signed webhook sender.

Nothing here knows about Zendesk or Jira. A fake is an ``app``: a callable from
:class:`Request` to :class:`Response`, served by :class:`ServerThread` on 127.0.0.1.
Only the standard library is used, so the fakes add no dependency to slaplug.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import logging
import random
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import parse_qs, urlsplit

import click

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


# -- Faults --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultPolicy:
    """Which requests get an injected error, and which error.

    A request is *eligible* when its method is in ``methods`` (or ``methods`` is None) and
    ``path_pattern`` (a regex, searched) matches its path (or is None). Each eligible
    request draws once from a ``random.Random(seed)``: the same sequence of requests gets
    the same faults on every run.

    With ``after_apply`` the fault is a *lost answer*: the request is served as usual (a
    write is applied, a bulk job queued) and the client then gets the 5xx instead of the
    real answer, as when a gateway times out on a request the platform went on to process.
    Only 5xx statuses may be lost answers (a 429 means the request was not processed).

    ``times`` stops the policy after that many faults (None: no limit), for "lose exactly
    the first answer" tests.
    """

    rate: float = 0.0
    statuses: tuple[int, ...] = (429,)
    retry_after: int = 1
    methods: frozenset[str] | None = None
    path_pattern: str | None = None
    seed: int = 0
    after_apply: bool = False
    times: int | None = None

    def to_json(self) -> dict[str, Any]:
        """This policy as JSON (for the admin surface)."""
        return {
            "rate": self.rate,
            "statuses": list(self.statuses),
            "retry_after": self.retry_after,
            "methods": sorted(self.methods) if self.methods is not None else None,
            "path_pattern": self.path_pattern,
            "seed": self.seed,
            "after_apply": self.after_apply,
            "times": self.times,
        }


class FaultInjector:
    """Decides, per request, whether to answer with an injected 429/5xx."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.policy = FaultPolicy()
        self._rng = random.Random(0)
        self._pattern: re.Pattern[str] | None = None
        #: Injected faults so far, by status.
        self.injected: Counter[int] = Counter()
        self._left: int | None = None  # faults the policy may still inject

    def configure(self, policy: FaultPolicy) -> None:
        """Replace the policy and restart its random sequence from ``policy.seed``.

        Raises:
            ValueError: for a rate outside [0, 1] or no statuses.
        """
        if not 0.0 <= policy.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {policy.rate}")
        if policy.rate and not policy.statuses:
            raise ValueError("fault statuses must not be empty")
        if policy.after_apply and any(s < 500 for s in policy.statuses):
            raise ValueError(
                "after_apply faults must be 5xx: a 4xx such as 429 says the request was not "
                "processed, so it cannot follow an applied write"
            )
        with self._lock:
            self.policy = policy
            self._rng = random.Random(policy.seed)
            self._pattern = re.compile(policy.path_pattern) if policy.path_pattern else None
            self._left = policy.times

    def reset(self) -> None:
        """No more faults; the injected counts are kept."""
        self.configure(FaultPolicy())

    def decide(self, method: str, path: str) -> Response | None:
        """Return the fault response for this request, or None to serve it normally.

        A fault with ``after_apply`` set is answered only after the request was served.
        """
        with self._lock:
            p = self.policy
            if p.rate <= 0.0 or self._left == 0:
                return None
            if p.methods is not None and method not in p.methods:
                return None
            if self._pattern is not None and not self._pattern.search(path):
                return None
            if self._rng.random() >= p.rate:
                return None
            status = p.statuses[self._rng.randrange(len(p.statuses))]
            self.injected[status] += 1
            if self._left is not None:
                self._left -= 1
        if p.after_apply:
            # A gateway's answer to a request it forwarded and then lost: no Retry-After.
            lost = {
                "error": "InternalError",
                "description": "Injected by the fake server after applying the request",
            }
            return Response(status, lost, after_apply=True)
        # Zendesk sends Retry-After in seconds on 429 and on 503 alike (reference §3).
        body = {
            "error": "APIRateLimitExceeded" if status == 429 else "ServiceUnavailable",
            "description": "Injected by the fake server's fault policy",
        }
        return Response(status, body, {"Retry-After": str(p.retry_after)})


# -- Recording -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteRecord:
    """One write request the fake received, whatever became of it."""

    method: str
    path: str
    query: Mapping[str, str]
    #: The parsed JSON body (None when empty or not JSON).
    body: Any
    #: Fake-clock Unix time when it arrived.
    time: float
    status: int
    #: True when the platform applied (or queued) it: a 2xx answer.
    accepted: bool
    #: True when the answer was an injected fault (with ``accepted`` too: a lost answer,
    #: the write was applied and the client got the fault instead).
    faulted: bool = False

    def to_json(self) -> dict[str, Any]:
        """This record as JSON (for ``GET /_fake/writes``)."""
        return {
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "body": self.body,
            "time": iso_z(self.time),
            "status": self.status,
            "accepted": self.accepted,
            "faulted": self.faulted,
        }


class RequestCounter:
    """Thread-safe counts of requests by kind (``read``, ``write``, ``poll``, ``fault``...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        """Count one request of ``kind``."""
        with self._lock:
            self._counts[kind] += 1

    def snapshot(self) -> dict[str, int]:
        """The counts so far (a copy)."""
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        """Forget all counts."""
        with self._lock:
            self._counts.clear()


# -- Webhooks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One HTTP attempt at delivering a webhook."""

    event_id: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    attempt: int
    duplicate: bool
    status: int | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        """This attempt as JSON (for ``GET /_fake/webhooks``)."""
        return {
            "event_id": self.event_id,
            "url": self.url,
            "headers": dict(self.headers),
            "body": self.body.decode(),
            "attempt": self.attempt,
            "duplicate": self.duplicate,
            "status": self.status,
            "error": self.error,
        }


#: Signs a body: returns the headers to send with it (signature, timestamp, ...).
Signer = Callable[[bytes], dict[str, str]]
#: Headers that depend on the delivery, not the body: called with the event id and the
#: attempt number (1 for the first), e.g. Jira's delivery id and retry count.
AttemptHeaders = Callable[[str, int], dict[str, str]]


class WebhookSender:
    """Posts webhook bodies from a background thread, at least once.

    Each body is signed afresh at every attempt (a real sender does the same, so a receiver
    must not treat a new signature as a new event). With ``duplicate_rate`` > 0 some
    bodies are delivered twice on purpose, for tests of de-duplication; the choice comes
    from a seeded RNG, so it is the same on every run.

    A failed attempt is retried when the connection fails, on 5xx, and on the statuses in
    ``retry_statuses`` (Zendesk: 429; Jira also 408, 409 and 425).
    """

    def __init__(
        self,
        url: str,
        signer: Signer,
        *,
        duplicate_rate: float = 0.0,
        seed: int = 0,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
        timeout: float = 10.0,
        attempt_headers: AttemptHeaders | None = None,
        retry_statuses: Iterable[int] = (429,),
    ) -> None:
        self.url = url
        self._signer = signer
        self._attempt_headers = attempt_headers
        self._retry_statuses = frozenset(retry_statuses)
        self._duplicate_rate = duplicate_rate
        self._rng = random.Random(seed)
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._timeout = timeout
        self._cond = threading.Condition()
        self._queue: list[tuple[str, bytes]] = []
        self._busy = False
        self._stopping = False
        #: Every attempt made so far, in order.
        self.deliveries: list[Delivery] = []
        self._thread = threading.Thread(target=self._run, name="fake-webhook-sender", daemon=True)
        self._thread.start()

    def send(self, event_id: str, body: bytes) -> None:
        """Queue one body for delivery (plus, by chance, a duplicate)."""
        with self._cond:
            self._queue.append((event_id, body))
            if self._duplicate_rate and self._rng.random() < self._duplicate_rate:
                self._queue.append((event_id + "#dup", body))
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until everything queued was attempted; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self) -> None:
        """Stop the sender thread (queued bodies not yet sent are dropped)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=self._timeout + 1)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                event_id, body = self._queue.pop(0)
                self._busy = True
            try:
                self._deliver(event_id, body)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _deliver(self, tagged_id: str, body: bytes) -> None:
        duplicate = tagged_id.endswith("#dup")
        event_id = tagged_id.removesuffix("#dup")
        for attempt in range(1, self._max_attempts + 1):
            headers = {"Content-Type": "application/json", "User-Agent": "slaplug-fake"}
            headers.update(self._signer(body))  # the platform's own headers win
            if self._attempt_headers is not None:
                headers.update(self._attempt_headers(event_id, attempt))
            status: int | None = None
            error: str | None = None
            req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                    status = int(resp.status)
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (OSError, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.deliveries.append(
                Delivery(event_id, self.url, headers, body, attempt, duplicate, status, error)
            )
            # Retry connection failures, 5xx and the platform's retry statuses; any other
            # answer means the receiver took it or said no.
            if status is not None and status < 500 and status not in self._retry_statuses:
                return
            with self._cond:
                if self._stopping:
                    return
            time.sleep(self._retry_delay * attempt)


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
        """Start serving."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close connections and join every thread."""
        self._server.shutdown()
        with self._server.connections_lock:
            conns: Iterable[socket.socket] = list(self._server.connections)
        for conn in conns:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=5)


# -- running a fake from the command line ------------------------------------------------------


#: Set by SIGTERM once `run_command` installed its handler; `serve_until_stopped` waits on it.
_STOP = threading.Event()


def _install_stop_handler() -> None:
    """Route SIGTERM to `_STOP` before the fake starts, so it is never killed by it.

    A fake announces ``... listening on URL`` once it serves; a harness may send SIGTERM the
    moment it reads that line. A handler installed after the announcement (in
    `serve_until_stopped`) left a window in which SIGTERM killed the process (exit -15)
    instead of stopping it (exit 0): a race seen on loaded machines.
    """
    _STOP.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: _STOP.set())


def serve_until_stopped(stop_server: Callable[[], None]) -> None:
    """Block until Ctrl-C or SIGTERM, then call ``stop_server``.

    SIGTERM (from a test harness or a container) stops as cleanly as Ctrl-C. The handler is
    installed by `run_command` before the fake starts; installed here too for callers that
    do not go through it.
    """
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        _install_stop_handler()
    stop = _STOP
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop_server()


def run_command(command: click.Command, argv: Sequence[str] | None, prog_name: str) -> int:
    """Run a fake's click command with ``argv`` and return its exit code instead of exiting."""
    _install_stop_handler()  # before the fake announces it is listening
    try:
        command.main(
            args=list(argv) if argv is not None else None,
            prog_name=prog_name,
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:  # --help
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        return 1
    return 0


# -- what both fakes record and expose ----------------------------------------------------------


def write_record(
    req: Request, now: float, status: int, faulted: bool, applied: int | None = None
) -> WriteRecord:
    """The `WriteRecord` of one request: its body parsed as JSON where it is JSON.

    ``applied`` is the status the platform really answered when a lost-answer fault replaced
    it (``status`` is then the fault's).
    """
    try:
        body: Any = json.loads(req.body) if req.body else None
    except ValueError:
        body = req.body.decode(errors="replace")
    real = status if applied is None else applied
    return WriteRecord(
        req.method, req.path, dict(req.query), body, now, status, 200 <= real < 300, faulted
    )


class AdminApp(Protocol):
    """What the shared admin handlers need of a fake's app."""

    base_url: str
    clock: FakeClock
    faults: FaultInjector
    requests: RequestCounter
    writes: list[WriteRecord]
    sender: WebhookSender | None


class FakeAdmin:
    """The ``/_fake/...`` handlers every fake has: writes, request counts, faults, clock,
    webhook deliveries. A fake subclasses it for its own routes and its error body."""

    def __init__(self, app: AdminApp) -> None:
        self.app = app

    def bad_request(self, message: str) -> HttpError:
        """The platform's 400 for a malformed admin request."""
        return HttpError(400, {"error": message})

    def register(self, router: Router) -> None:
        """Add the shared admin routes to ``router``."""
        a = router.add
        a("GET", r"/_fake/writes", self.writes)
        a("DELETE", r"/_fake/writes", self.clear_writes)
        a("GET", r"/_fake/requests", self.request_counts)
        a("GET", r"/_fake/faults", self.get_faults)
        a("POST", r"/_fake/faults", self.set_faults)
        a("DELETE", r"/_fake/faults", self.reset_faults)
        a("GET", r"/_fake/clock", self.clock)
        a("POST", r"/_fake/clock", self.clock)
        a("GET", r"/_fake/webhooks", self.webhooks)

    def writes(self, req: Request) -> Response:
        """``GET /_fake/writes``: every write request received."""
        return Response(200, {"writes": [w.to_json() for w in self.app.writes]})

    def clear_writes(self, req: Request) -> Response:
        """``DELETE /_fake/writes``."""
        self.app.writes.clear()
        return Response(204)

    def request_counts(self, req: Request) -> Response:
        """``GET /_fake/requests``: counts by kind and injected faults by status."""
        return Response(
            200,
            {
                "requests": self.app.requests.snapshot(),
                "faults_injected": {str(k): v for k, v in self.app.faults.injected.items()},
            },
        )

    def get_faults(self, req: Request) -> Response:
        """``GET /_fake/faults``."""
        return Response(200, {"faults": self.app.faults.policy.to_json()})

    def set_faults(self, req: Request) -> Response:
        """``POST /_fake/faults`` with the keyword arguments of the fake's ``set_faults``."""
        body = req.json() or {}
        try:
            self.app.faults.configure(
                FaultPolicy(
                    rate=float(body.get("rate", 0.0)),
                    statuses=tuple(int(s) for s in body.get("statuses", (429,))),
                    retry_after=int(body.get("retry_after", 1)),
                    methods=frozenset(m.upper() for m in body["methods"])
                    if body.get("methods")
                    else None,
                    path_pattern=body.get("path_pattern"),
                    seed=int(body.get("seed", 0)),
                    after_apply=bool(body.get("after_apply", False)),
                    times=int(body["times"]) if body.get("times") is not None else None,
                )
            )
        except (TypeError, ValueError) as exc:
            raise self.bad_request(str(exc)) from None
        return Response(200, {"faults": self.app.faults.policy.to_json()})

    def reset_faults(self, req: Request) -> Response:
        """``DELETE /_fake/faults``."""
        self.app.faults.reset()
        return Response(200, {"faults": self.app.faults.policy.to_json()})

    def clock(self, req: Request) -> Response:
        """``GET``/``POST /_fake/clock`` (``{"advance": seconds}`` or ``{"set": "ISO"}``)."""
        body = (req.json() or {}) if req.method == "POST" else {}
        try:
            if "advance" in body:
                self.app.clock.advance(float(body["advance"]))
            if "set" in body:
                self.app.clock.set(parse_iso_z(str(body["set"])))
        except (TypeError, ValueError) as exc:
            raise self.bad_request(str(exc)) from None
        now = self.app.clock.now()
        return Response(200, {"now": iso_z(now), "unix": int(now)})

    def webhooks(self, req: Request) -> Response:
        """``GET /_fake/webhooks``: every delivery attempt."""
        deliveries = list(self.app.sender.deliveries) if self.app.sender else []
        return Response(200, {"deliveries": [d.to_json() for d in deliveries]})


class RunningApp(AdminApp, Protocol):
    """What `RunningFake` needs of a fake's app, beyond the admin handlers' needs."""

    lock: threading.RLock

    def configure_webhook(self, config: Any) -> None:
        """Start sending webhooks with ``config``, or stop with None."""


class RunningFake:
    """The test-facing side every fake shares: life cycle, clock, recorded traffic, faults and
    webhook deliveries. A fake subclasses it and adds its platform's reads and activity."""

    def __init__(self, app: RunningApp, server: ServerThread) -> None:
        self._app = app
        self._server = server
        self.base_url = server.base_url
        self.clock: FakeClock = app.clock
        self.lock = app.lock
        self._stopped = False

    def stop(self) -> None:
        """Stop the server and the webhook sender; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._server.stop()
        self._app.configure_webhook(None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def now(self) -> float:
        """The fake clock's current Unix time (seconds)."""
        return self._app.clock.now()

    def advance(self, seconds: float) -> float:
        """Move the fake clock forward (exports lag a minute; JQL dates are minute-precise)."""
        return self._app.clock.advance(seconds)

    @property
    def writes(self) -> list[WriteRecord]:
        """Every write request received (accepted, rejected or faulted), in order."""
        with self.lock:
            return list(self._app.writes)

    @property
    def requests(self) -> dict[str, int]:
        """Requests by kind: ``read``, ``write``, ``poll``, ``fault`` (answered by an injected
        fault, also counted in its kind), ``admin``; the fake's docs say what each counts."""
        return self._app.requests.snapshot()

    def clear_records(self) -> None:
        """Forget recorded writes and request counts."""
        with self.lock:
            self._app.writes.clear()
        self._app.requests.clear()

    def set_faults(
        self,
        rate: float,
        statuses: Sequence[int] = (429, 503),
        retry_after: int = 1,
        *,
        methods: Sequence[str] | None = None,
        path_pattern: str | None = None,
        seed: int = 0,
        after_apply: bool = False,
        times: int | None = None,
    ) -> None:
        """Answer a fraction ``rate`` of API requests with one of ``statuses`` (with a
        ``Retry-After: retry_after`` header, and the platform's own headers and body).
        Deterministic for a given ``seed``.

        Args:
            methods: Only these HTTP methods (e.g. ``["PUT"]``); None for all.
            path_pattern: Only paths matching this regex (searched); None for all.
            after_apply: Lose the answer instead: serve the request (apply the write, queue
                the job), then answer the 5xx from ``statuses`` (no ``Retry-After``).
            times: Stop after this many faults; None for no limit.

        Raises:
            ValueError: ``after_apply`` with a status below 500.
        """
        self._app.faults.configure(
            FaultPolicy(
                rate,
                tuple(statuses),
                retry_after,
                frozenset(m.upper() for m in methods) if methods else None,
                path_pattern,
                seed,
                after_apply,
                times,
            )
        )

    def reset_faults(self) -> None:
        """Stop injecting faults."""
        self._app.faults.reset()

    @property
    def faults_injected(self) -> dict[int, int]:
        """Injected faults so far, by status."""
        return dict(self._app.faults.injected)

    @property
    def webhook_deliveries(self) -> list[Delivery]:
        """Every webhook delivery attempt so far."""
        sender = self._app.sender
        return list(sender.deliveries) if sender else []

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until every queued webhook was attempted; False on timeout."""
        sender = self._app.sender
        return sender.wait_idle(timeout) if sender else True
