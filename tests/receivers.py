"""Real receivers on 127.0.0.1 for notification tests: an SMTP server and an HTTP endpoint.

The SMTP server is `slaplug.testing.mailbox.Mailbox` (aiosmtpd, as the demo uses it); the HTTP
receiver stands in for Slack, Teams, PagerDuty and generic JSON webhooks, recording
every request. Both collect what they received, thread-safely, for the test to read.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from slaplug.testing.mailbox import Mailbox

__all__ = ["HttpReceiver", "Mailbox"]


class HttpReceiver:
    """An HTTP server on 127.0.0.1 recording every POST: path, headers and JSON body."""

    def __init__(
        self, replies: dict[str, tuple[int, bytes]] | None = None, *, tls: bool = False
    ) -> None:
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
        if tls:  # for services apprise only reaches over https (Teams workflows)
            self._server.socket = _tls_context().wrap_socket(self._server.socket, server_side=True)

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


def _tls_context() -> ssl.SSLContext:
    """A server context with a throwaway self-signed certificate for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        import pytest

        pytest.skip("openssl is not installed: cannot make a certificate for the https stand-in")
    folder = Path(tempfile.mkdtemp(prefix="slaplug-tls-"))
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    shutil.rmtree(folder)
    return ctx
