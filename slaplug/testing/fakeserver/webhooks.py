"""A webhook sender that signs and posts bodies at least once, from a background thread."""

from __future__ import annotations

import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["AttemptHeaders", "Delivery", "Signer", "WebhookSender"]


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
