"""A helpdesk that is down or slow, over real sockets on 127.0.0.1 (no mocks).

Refused connections fail at once with one short line; a server that never answers gives up
within the retry budget (``max_wait``), its read timeouts counted in, and says that the budget
ended the retries; a slow answer is logged when it comes.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from slaplug.connectors.http import ApiClient, RetryPolicy, UnreachableError
from slaplug.errors import FatalAPIError, RetriableAPIError


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: connecting is refused


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def test_a_refused_connection_fails_at_once_with_one_short_line() -> None:
    port = _closed_port()
    client = ApiClient(f"http://127.0.0.1:{port}/api/v2", connector="zd")
    waits: list[float] = []
    client.sleep = waits.append
    started = time.monotonic()
    with pytest.raises(UnreachableError) as exc:
        client.get_json("incremental/tickets.json", params={"ids": ",".join(map(str, range(100)))})
    assert time.monotonic() - started < 2
    assert waits == [] and client.stats.calls == 1  # not retried
    assert isinstance(exc.value, FatalAPIError)  # the sync stops: exit 3, not 2
    message = str(exc.value)
    assert message == (
        f"connector 'zd': cannot reach http://127.0.0.1:{port}: connection refused (nothing "
        "listens there); check base_url and that the helpdesk is up"
    )
    assert "HTTPConnectionPool" not in message and "ids=" not in message


def test_messages_never_show_credentials_written_in_the_url() -> None:
    # Configs refuse them (connectors/config.py); a client built in code may still get them.
    port = _closed_port()
    secret = "urlpass-LEAK-42"
    client = ApiClient(
        f"http://admin:{secret}@127.0.0.1:{port}/api", connector="zd", secrets=["tok-LEAK-7"]
    )
    with pytest.raises(UnreachableError) as exc:
        client.get_json("tickets.json")
    assert f"cannot reach http://127.0.0.1:{port}:" in str(exc.value)
    with pytest.raises(FatalAPIError) as other:
        client.get_json(f"http://admin:{secret}@elsewhere.example/x")
    for message in (str(exc.value), str(other.value)):
        assert secret not in message and "admin" not in message
    # A dump of the client (a debugger, a log of vars()) does not show the scrub list.
    assert "tok-LEAK-7" not in repr(vars(client)) and list(client.secrets) == ["tok-LEAK-7"]


def test_a_host_name_that_does_not_resolve_fails_at_once() -> None:
    client = ApiClient("http://slaplug-no-such-host.invalid/api", connector="zd")
    client.sleep = lambda seconds: None
    with pytest.raises(UnreachableError, match="host name does not resolve"):
        client.get_json("tickets.json")
    assert client.stats.calls == 1


def test_a_server_that_never_answers_gives_up_within_the_budget(silent_server: int) -> None:
    policy = RetryPolicy(max_attempts=5, max_wait=1.0, backoff_initial=0.05, jitter=0)
    client = ApiClient(
        f"http://127.0.0.1:{silent_server}/api", connector="zd", timeout=0.3, retry=policy
    )
    started = time.monotonic()
    with pytest.raises(RetriableAPIError) as exc:
        client.get_json("tickets.json")
    elapsed = time.monotonic() - started
    # Each try waits its 0.3 s timeout; no retry starts that could not end within 1 s.
    assert elapsed <= 1.0 + 0.25, elapsed
    assert client.stats.calls == 2
    assert "no answer within 0.3 s" in str(exc.value)
    assert "HTTPConnectionPool" not in str(exc.value)
    # Attempt 2 of 5 was the last: the message says the time budget, not the count, ended it.
    assert str(exc.value).endswith(
        "(gave up after 2 attempts: the 1 s retry budget (retry.max_wait) ran out)"
    ), exc.value


class _Handler(BaseHTTPRequestHandler):
    """Answers every GET after ``delay`` seconds with ``status`` (a stand-in helpdesk)."""

    status = 200
    delay = 0.0

    def do_GET(self) -> None:
        time.sleep(self.delay)
        body = b"{}" if self.status < 400 else b'{"error": "unavailable"}'
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _serving(status: int, delay: float) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"status": status, "delay": delay})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


def test_retries_stopped_by_the_time_budget_say_so_not_the_attempt_count() -> None:
    # 503 every time; waits 1 s, then 2 s: the second does not fit in 1.5 s.
    policy = RetryPolicy(max_attempts=5, max_wait=1.5, backoff_initial=1.0, jitter=0)
    with _serving(503, 0.0) as url:
        client = ApiClient(url, connector="zd", retry=policy)
        client.sleep = lambda seconds: None
        with pytest.raises(RetriableAPIError) as exc:
            client.get_json("tickets.json")
    assert client.stats.calls == 2
    assert str(exc.value).endswith(
        "(gave up after 2 attempts: the 1.5 s retry budget (retry.max_wait) ran out)"
    ), exc.value


def test_retries_stopped_by_the_attempt_count_say_so() -> None:
    policy = RetryPolicy(max_attempts=2, max_wait=60, backoff_initial=0.01, jitter=0)
    with _serving(503, 0.0) as url:
        client = ApiClient(url, connector="zd", retry=policy)
        with pytest.raises(RetriableAPIError) as exc:
            client.get_json("tickets.json")
    assert str(exc.value).endswith("(gave up after 2 attempts: retry.max_attempts is 2)")


def test_a_slow_answer_is_logged_as_it_happens(caplog: pytest.LogCaptureFixture) -> None:
    with _serving(200, 0.3) as url:
        client = ApiClient(url, connector="zd", timeout=5)
        client.slow_after = 0.2
        with caplog.at_level(logging.WARNING, logger="slaplug.connectors"):
            client.get_json("tickets.json")
            client.slow_after = 10.0
            client.get_json("tickets.json")
    [slow] = [r.getMessage() for r in caplog.records if "slow" in r.getMessage()]
    assert slow.startswith("connector 'zd': GET /api/tickets.json took 0.")
    assert slow.endswith("s (read timeout 5 s): the helpdesk is slow")
