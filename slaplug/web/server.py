"""How ``slaplug serve`` runs uvicorn: time limits and a connection cap for slow clients.

uvicorn times out only the idle time between two requests (``timeout_keep_alive``), and the
first byte of the next request cancels even that. A client that opens a connection and sends
nothing, or sends its request a byte at a time, holds a descriptor for as long as it likes:
300 of them under a 256-descriptor limit kept every real delivery out (issue 14). An ASGI
middleware cannot help, since the app sees a request only once its head is parsed, so the
limits live in the HTTP protocol, which is what uvicorn's ``http=`` setting takes. It is the
usual fix for uvicorn (xorbitsai/inference#5213, "a request receipt deadline") and what Go's
``http.Server.ReadHeaderTimeout``/``ReadTimeout`` do.

`GuardedH11Protocol` is uvicorn's h11 protocol with:

* a **header timeout**: the request line and headers must arrive within ``header_timeout``
  seconds of the connection opening (or of the previous response, on a kept-alive one);
* a **body timeout**: the body must arrive within ``body_timeout`` seconds of the headers;
* a **connection cap**: past ``max_connections`` open connections, the one that has waited
  longest on its client (still sending its head or body, or idle between requests) is closed
  to make room; a connection whose request is being answered is never closed. When every
  connection is being answered, the new one is closed instead.

A connection that runs out of time is closed without an answer (as Go's server does): the
senders retry a connection that failed. Responses are not timed: slaplug answers in
milliseconds, and its slowest answer waits on its own store.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import resource
import socket
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "ACCEPT_BURST",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_KEEP_ALIVE",
    "KERNEL_BACKLOG",
    "MAX_HEADER_BYTES",
    "GuardedH11Protocol",
    "GuardedServer",
    "ServeLimits",
    "default_max_connections",
    "serve",
    "uvicorn_options",
]

log = logging.getLogger("slaplug.web")

#: Seconds for a request's line and headers. Zendesk and Jira send a request at once; ten
#: seconds leave room for a slow network and none for a client that dawdles on purpose.
DEFAULT_HEADER_TIMEOUT = 10.0
#: Seconds for a request's body once its headers are in (1 MiB at --max-body's default).
DEFAULT_BODY_TIMEOUT = 10.0
#: Seconds an idle kept-alive connection stays open (uvicorn's timeout_keep_alive).
DEFAULT_KEEP_ALIVE = 5
#: The largest request line plus headers, in bytes (h11's max_incomplete_event_size); past
#: it uvicorn answers 400. The platforms send well under 4 KiB of headers.
MAX_HEADER_BYTES = 16 * 1024

#: Connections accepted in one go: asyncio accepts up to its ``backlog`` per wake-up before
#: the protocol sees any of them. Small, so a flood overshoots the cap by little before it
#: is shed.
ACCEPT_BURST = 32
#: The kernel's queue of connections not yet accepted. asyncio listens with its accept burst
#: as the queue too, and a queue of 32 dropped the 33rd of a burst of connections (its sender
#: tried again a second later), so `GuardedServer` widens the queue alone once listening.
KERNEL_BACKLOG = 2048
#: Descriptors left for everything but client connections: the listening socket, the store's
#: pool and the inbox writer's engine, the workers' pipes, logs; and two accept bursts, the
#: overshoot while a flood is being shed (measured: with 192 of 256 the store could not
#: open its file during 300 slow clients).
_RESERVED_FDS = 64 + 2 * ACCEPT_BURST
_MAX_DEFAULT_CONNECTIONS = 4096

Phase = Literal["head", "body"]


def default_max_connections() -> int:
    """The connection cap to use when none is given: the process's descriptor limit
    (``ulimit -n``, soft) less 128 (`_RESERVED_FDS`), at most 4,096 and at least 16."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _MAX_DEFAULT_CONNECTIONS
    return max(16, min(_MAX_DEFAULT_CONNECTIONS, soft - _RESERVED_FDS))


@dataclass(frozen=True)
class ServeLimits:
    """The limits `GuardedH11Protocol` enforces (see the module docstring).

    Attributes:
        header_timeout: Seconds for a request's line and headers.
        body_timeout: Seconds for its body, from the end of its headers.
        max_connections: Open connections at most; None for `default_max_connections`.
        keep_alive: Seconds an idle kept-alive connection stays open.
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int | None = None
    keep_alive: int = DEFAULT_KEEP_ALIVE

    def __post_init__(self) -> None:
        if self.header_timeout <= 0 or self.body_timeout <= 0:
            raise ValueError("header and body timeouts must be positive seconds")
        if self.max_connections is not None and self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.keep_alive < 1:
            raise ValueError("keep_alive must be at least 1 second")

    @property
    def connections(self) -> int:
        """The connection cap in force."""
        return self.max_connections or default_max_connections()


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header and body timeouts and a connection cap.

    Use a subclass made by `uvicorn_options` (it sets `limits`); uvicorn builds one instance
    per connection.
    """

    limits: ClassVar[ServeLimits] = ServeLimits()
    #: Connections closed by the limits, by reason (per class: `uvicorn_options` makes one).
    closed: ClassVar[dict[str, int]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: Phase | None = None
        self._since = 0.0
        self._deadline: asyncio.TimerHandle | None = None

    # -- uvicorn's protocol, with the phase followed after every step --------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._follow()
        self._enforce_cap()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_phase(None)
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    # -- the limits ----------------------------------------------------------------------------

    def _follow(self) -> None:
        """Arm the timer of the phase the client is in: its head, its body, or none."""
        phase: Phase | None = None
        if self.transport is not None and not self.transport.is_closing():
            state = self.conn.their_state
            if state is h11.IDLE:
                phase = "head"
            elif state is h11.SEND_BODY:
                phase = "body"
        self._set_phase(phase)

    def _set_phase(self, phase: Phase | None) -> None:
        if phase == self._phase:
            return
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        self._since = self.loop.time()
        if phase is not None:
            limits = self.limits
            timeout = limits.header_timeout if phase == "head" else limits.body_timeout
            self._deadline = self.loop.call_later(timeout, self._expire, phase)

    def _expire(self, phase: Phase) -> None:
        self._deadline = None
        if self._phase != phase or self.transport.is_closing():
            return
        what = "its request headers" if phase == "head" else "its request body"
        self._close(f"{phase}_timeout", f"did not send {what} in time")

    def _waiting(self) -> bool:
        return self._phase is not None and not self.transport.is_closing()

    def _enforce_cap(self) -> None:
        cap = self.limits.connections
        if len(self.connections) <= cap:  # the usual case, without a look at each connection
            return
        open_ = [
            c
            for c in self.connections
            if isinstance(c, GuardedH11Protocol) and not c.transport.is_closing()
        ]
        if len(open_) <= cap:
            return
        waiting = [c for c in open_ if c is not self and c._waiting()]
        if not waiting:
            self._close("cap", "arrived with every connection busy being answered")
            return
        oldest = min(waiting, key=lambda c: c._since)
        oldest._close("cap", f"was the longest waiting on its client with {cap} connections open")

    def _close(self, reason: str, why: str) -> None:
        type(self).closed[reason] = type(self).closed.get(reason, 0) + 1
        client = "%s:%d" % self.client if self.client else "a client"  # noqa: UP031
        log.debug("closed the connection of %s: it %s", client, why)
        self._set_phase(None)
        self.transport.close()


def uvicorn_options(limits: ServeLimits) -> dict[str, Any]:
    """The keyword arguments of `uvicorn.run`/`uvicorn.Config` that apply ``limits``.

    uvicorn's ``limit_concurrency`` is deliberately not used: it answers 503 to every request
    once that many connections are open, counting the slow ones, so a few hundred slow
    clients would turn each real delivery into a 503. The cap here closes a slow client
    instead.
    """
    # The cap resolved once (the descriptor limit is read now, not on every connection).
    limits = dataclasses.replace(limits, max_connections=limits.connections)
    protocol = type("SlaplugH11Protocol", (GuardedH11Protocol,), {"limits": limits, "closed": {}})
    return {
        "http": protocol,
        "timeout_keep_alive": limits.keep_alive,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "backlog": min(ACCEPT_BURST, limits.connections),
    }


class GuardedServer(uvicorn.Server):
    """uvicorn's server, with the kernel's listen queue widened to `KERNEL_BACKLOG` once it
    listens (the accept burst stays `ACCEPT_BURST`)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does, then widen the listen queue of every listening socket."""
        await super().startup(sockets)
        for server in getattr(self, "servers", []):
            for sock in server.sockets:
                # listen() again on a listening socket only changes its queue (Linux, BSD).
                # On a duplicate: asyncio's socket wrapper does not offer listen().
                with (
                    contextlib.suppress(OSError),
                    socket.fromfd(sock.fileno(), sock.family, sock.type) as dup,
                ):
                    dup.listen(KERNEL_BACKLOG)


def serve(app: Any, *, host: str, port: int, log_level: str, options: dict[str, Any]) -> None:
    """Run ``app`` on uvicorn until stopped (SIGTERM, Ctrl-C).

    Args:
        app: The ASGI app.
        host: Interface to bind.
        port: Port to listen on.
        log_level: uvicorn's log level.
        options: From `uvicorn_options` (its protocol's ``closed`` counts go to the app's
            metrics, so the same options must be used here).
    """
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, **options
    )
    with contextlib.suppress(KeyboardInterrupt):
        GuardedServer(config).run()
