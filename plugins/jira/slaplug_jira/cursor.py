"""The connector's cursor: an ``updated`` watermark and what was delivered at its edge.

Format (version 1)::

    jira1.<base64url, unpadded, of compact JSON {"w": <ms or null>, "s": ["KEY@ms", ...]}>

* ``w``: the watermark, the largest ``fields.updated`` delivered so far, in Unix
  milliseconds (UTC); null before anything was read.
* ``s``: ``issue key @ updated ms`` of the issues delivered with an ``updated`` inside the
  overlap window before ``w``. The next read starts the window earlier than ``w`` (JQL
  dates have minute precision), so those issues come again unchanged and are skipped;
  an issue changed since has a new ``updated`` and is delivered.

Jira's own ``nextPageToken`` only pages within one query and expires after 7 days, so it
is never stored. The kit's `CursorCodec` writes and reads the string; an unreadable
cursor is a `ConfigError` that says to reset it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slaplug.connectors import CursorCodec

__all__ = ["MAX_SEEN", "JiraCursor", "seen_key", "seen_ms"]

_CODEC = CursorCodec("jira1.", connector="Jira")
#: Entries remembered for the overlap window. Beyond it the oldest are dropped and those
#: issues may be delivered twice (harmless: a re-read ticket replaces its snapshot).
MAX_SEEN = 5000


@dataclass(frozen=True)
class JiraCursor:
    """Where the incremental read stands.

    Attributes:
        watermark: Largest ``updated`` delivered, in Unix milliseconds; None at first.
        seen: ``KEY@ms`` of the issues delivered inside the overlap window.
    """

    watermark: int | None = None
    seen: tuple[str, ...] = ()

    def encode(self) -> str:
        """The opaque string form (see the module docstring)."""
        return _CODEC.encode({"w": self.watermark, "s": self.seen[-MAX_SEEN:]})

    @classmethod
    def decode(cls, text: str) -> JiraCursor:
        """Parse a cursor made by `encode`.

        Raises:
            ConfigError: The text is not a cursor of this connector.
        """
        return _CODEC.decode(text, cls._from_doc)

    @classmethod
    def _from_doc(cls, doc: dict[str, Any]) -> JiraCursor:
        watermark, seen = doc["w"], doc.get("s", [])
        if watermark is not None and not isinstance(watermark, int):
            raise ValueError("watermark is not an integer")
        if not isinstance(seen, list) or not all(isinstance(s, str) for s in seen):
            raise ValueError("seen is not a list of strings")
        return cls(watermark, tuple(seen))


def seen_key(issue_key: str, updated_ms: int) -> str:
    """The ``seen`` entry of one delivered issue version."""
    return f"{issue_key}@{updated_ms}"


def seen_ms(entry: str) -> int:
    """The ``updated`` milliseconds of a ``seen`` entry."""
    return int(entry.rpartition("@")[2])
