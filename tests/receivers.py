"""Real receivers on 127.0.0.1 for notification tests: an SMTP server and an HTTP endpoint.

The SMTP server is aiosmtpd's (the maintained asyncio SMTP server of the aio-libs project);
the HTTP receiver stands in for Slack, Teams, PagerDuty and generic JSON webhooks, recording
every request. Both collect what they received, thread-safely, for the test to read.
"""

from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        with self._lock:
            self.messages.append(msg)
        return "250 OK"

    def url(self, to: str = "lead@acme.example") -> str:
        """An apprise ``mailto://`` URL that delivers here (plain SMTP: it is loopback)."""
        return f"mailto://127.0.0.1:{self.port}?from=slaplug@acme.example&to={to}&mode=insecure"

    def received(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.messages)

    def __enter__(self) -> Mailbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


class HttpReceiver:
    """An HTTP server on 127.0.0.1 recording every POST: path, headers and JSON body."""

    def __init__(self, replies: dict[str, tuple[int, bytes]] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        #: The answer by path prefix, as the service documents it; default 200 with JSON.
        self.replies = replies or {}
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw or b"null")
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with outer._lock:
                    outer.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                status, reply = next(
                    (r for prefix, r in outer.replies.items() if self.path.startswith(prefix)),
                    (200, b"{}"),
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def json_url(self, path: str = "hook") -> str:
        """An apprise ``json://`` URL (a generic JSON webhook) that posts here."""
        return f"json://127.0.0.1:{self.port}/{path}"

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.requests)

    def __enter__(self) -> HttpReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
