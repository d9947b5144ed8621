"""Keep secrets out of logs, error messages and reprs.

Two layers, because either alone leaks:

* `scrub` replaces every *known* secret value (registered with `add_secret` when a
  connector's configuration resolves its credentials) and the value of any
  ``Authorization``-like header or ``Bearer``/``Basic`` credential it can recognise.
* `RedactingFilter` runs `scrub` over every log record passing through a logger or handler,
  so a plugin that logs a request by mistake still logs no token.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Iterable, Mapping

__all__ = ["REDACTED", "RedactingFilter", "add_secret", "known_secrets", "redact_headers", "scrub"]

#: What a secret is replaced with; the same mask pydantic's ``SecretStr`` prints.
REDACTED = "**********"

#: Headers whose values are credentials whatever they contain.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)

# Shorter values would mask ordinary words ("abc" inside "abcdef"); real tokens are longer.
_MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()

# "Authorization: Basic abc", "'authorization': 'Bearer abc'", "Bearer abc" in free text.
_HEADER_VALUE = re.compile(
    r"(?i)(?P<name>(?:proxy-)?authorization|x-api-key|x-auth-token|cookie)"
    r"(?P<sep>['\"]?\s*[:=]\s*['\"]?)(?P<value>[^'\"\r\n,}]+)"
)
_SCHEME_VALUE = re.compile(
    r"(?i)\b(?P<scheme>bearer|basic|token)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})"
)


def add_secret(value: str) -> None:
    """Register a secret value so that `scrub` masks it from now on.

    Also registers the forms it is commonly sent in (base64 of ``value`` alone), so an
    ``Authorization`` header that escaped the header rule is still masked.

    Args:
        value: The secret (an API token, a webhook signing secret). Values shorter than
            4 characters are ignored: masking them would mangle ordinary text.
    """
    if len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.add(value)
        _secrets.add(base64.b64encode(value.encode()).decode())


def known_secrets() -> frozenset[str]:
    """The secret values registered so far (for tests that check nothing leaked)."""
    with _lock:
        return frozenset(_secrets)


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """Return ``text`` with every secret replaced by `REDACTED`.

    Args:
        text: Any text about to be logged, raised or shown.
        extra: Secret values to mask in addition to the registered ones.

    Returns:
        The text with known secret values, credential header values and
        ``Bearer``/``Basic``/``Token`` credentials masked.

    Example:
        >>> scrub("GET /x Authorization: Bearer abcdefgh12345678")
        'GET /x Authorization: **********'
    """
    with _lock:
        values = set(_secrets)
    values.update(v for v in extra if len(v) >= _MIN_SECRET_LENGTH)
    # Longest first, so a secret containing another is masked whole.
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    text = _HEADER_VALUE.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)
    return _SCHEME_VALUE.sub(lambda m: f"{m['scheme']} {REDACTED}", text)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of ``headers`` with credential headers masked, for logs and errors.

    Args:
        headers: Request or response headers.

    Returns:
        A plain dict; sensitive headers (``Authorization``, ``Cookie``, ...) show `REDACTED`.
    """
    return {
        k: REDACTED if k.lower() in SENSITIVE_HEADERS else scrub(str(v)) for k, v in headers.items()
    }


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from every record it sees.

    Attach it to a handler (it then covers every logger writing there) or to a logger
    (records logged directly through it). It never drops a record.

    Args:
        extra: Secret values to mask in addition to the registered ones.
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        super().__init__()
        self._extra = tuple(extra)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the record's message, scrub it, and keep the record."""
        # Render first: a secret can hide in the args as well as in the format string.
        message = record.getMessage()
        cleaned = scrub(message, self._extra)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters cache the traceback here; format it now so it is scrubbed too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, self._extra)
        return True
