"""`CursorCodec`: a connector's cursor as one opaque, versioned string.

A cursor often holds more than one value (two export positions, a watermark and what was
delivered at its edge). The codec writes a JSON object as::

    <prefix><base64url, unpadded, of compact JSON>      e.g. zd1.eyJ0IjoiVDAiLCJlIjo1fQ

The prefix carries a version (``zd1.``, ``jira1.``): a later format takes a new prefix and
the connector can still tell, and read, the old one. Anything unreadable (another
connector's cursor, a truncated one, a wrong shape) is a `ConfigError` naming the
connector and saying to reset its stored cursor::

    CODEC = CursorCodec("zd1.", connector="Zendesk")
    text = CODEC.encode({"t": "T0", "e": 5})
    doc = CODEC.decode(text, lambda d: (d["t"], int(d["e"])))
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from slaplug.errors import ConfigError

__all__ = ["MAX_CURSOR_CHARS", "CursorCodec"]

T = TypeVar("T")

#: The longest cursor encoded or decoded. Cursors are stored in one database row and
#: decoded at every sync; a connector remembering thousands of ids still stays far below
#: (Jira's 5000 ``KEY@ms`` entries: about 240 000 characters).
MAX_CURSOR_CHARS = 1_000_000
#: How much of an unreadable cursor a message quotes.
_QUOTED = 40


class CursorCodec:
    """Encodes and decodes one connector's cursors.

    Args:
        prefix: The versioned prefix, e.g. ``"zd1."``: letters and digits ending with a dot.
        connector: The platform's name, for messages (``"Zendesk"``).
        max_chars: The longest cursor accepted either way.
    """

    def __init__(self, prefix: str, *, connector: str, max_chars: int = MAX_CURSOR_CHARS) -> None:
        if not (prefix.endswith(".") and prefix[:-1].isalnum() and prefix.isascii()):
            raise ValueError(f"cursor prefix {prefix!r} must be letters and digits then a dot")
        self.prefix = prefix
        self.connector = connector
        self.max_chars = max_chars

    def encode(self, doc: Mapping[str, Any]) -> str:
        """The opaque string of ``doc`` (JSON-serialisable, keys in the order given).

        Raises:
            ValueError: The cursor would be longer than ``max_chars``: the connector
                remembers too much (cap what it keeps), as it could never be read back.
        """
        raw = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
        text = self.prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if len(text) > self.max_chars:
            raise ValueError(
                f"{self.connector} cursor of {len(text)} characters is longer than "
                f"{self.max_chars}; keep fewer entries in it"
            )
        return text

    @overload
    def decode(self, text: str) -> dict[str, Any]: ...
    @overload
    def decode(self, text: str, build: Callable[[dict[str, Any]], T]) -> T: ...
    def decode(
        self, text: str, build: Callable[[dict[str, Any]], T] | None = None
    ) -> dict[str, Any] | T:
        """The object encoded in ``text``, or what ``build`` makes of it.

        Args:
            text: A cursor made by `encode` with the same prefix.
            build: Checks the object and turns it into the connector's cursor type.
                Raise ``ValueError``, ``KeyError`` or ``TypeError`` for a wrong shape:
                the codec turns each into the same `ConfigError`.

        Returns:
            ``build(doc)``, or the ``dict`` itself without ``build``.

        Raises:
            ConfigError: The text is not a readable cursor of this connector; the message
                names the connector, quotes the start of the text and says to reset it.
        """
        try:
            doc = self._object(text)
            return doc if build is None else build(doc)
        except (ValueError, KeyError, TypeError) as exc:
            raise self.unreadable(text, exc) from None

    def unreadable(self, text: str, reason: object) -> ConfigError:
        """The error for a cursor that cannot be read, for checks made after `decode`."""
        quoted = text[:_QUOTED] if isinstance(text, str) else text
        return ConfigError(
            f"stored {self.connector} cursor {quoted!r} is not readable ({reason}); "
            "reset the connector's cursor to read everything again"
        )

    def _object(self, text: str) -> dict[str, Any]:
        if not isinstance(text, str):
            raise TypeError(f"a cursor is a string, not {type(text).__name__}")
        if len(text) > self.max_chars:
            raise ValueError(f"longer than {self.max_chars} characters")
        if not text.startswith(self.prefix):
            raise ValueError(f"no {self.prefix} prefix")
        body = text[len(self.prefix) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except binascii.Error as exc:
            raise ValueError(f"not base64url: {exc}") from None
        doc = json.loads(raw)  # a JSONDecodeError / UnicodeDecodeError is a ValueError
        if not isinstance(doc, dict):
            raise ValueError(f"holds a JSON {type(doc).__name__}, not an object")
        return doc
