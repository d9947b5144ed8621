"""A local mailbox: an SMTP server on 127.0.0.1 that keeps what it receives.

The demo delivers its notifications here and shows them; tests read what arrived. It is
aiosmtpd's server (the maintained asyncio SMTP server of the aio-libs project), plain SMTP
on loopback only.
"""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

__all__ = ["Mailbox"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """An SMTP server on 127.0.0.1; use it as a context manager.

    Attributes:
        port: The port it listens on.
    """

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller  # noqa: PLC0415 - only when one is started

        self._messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self.port = _free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """aiosmtpd's hook: keep the message, answer 250."""
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        with self._lock:
            self._messages.append(msg)
        return "250 OK"

    def url(self, to: str = "lead@example.com", sender: str = "slaplug@example.com") -> str:
        """An apprise ``mailto://`` URL that delivers here (plain SMTP: loopback only)."""
        return f"mailto://127.0.0.1:{self.port}?from={sender}&to={to}&mode=insecure"

    def received(self) -> list[EmailMessage]:
        """The messages received so far, oldest first."""
        with self._lock:
            return list(self._messages)

    def __enter__(self) -> Mailbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
