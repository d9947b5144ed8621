"""The connector's cursor: both incremental exports' positions in one opaque string.

Format (version 1)::

    zd1.<base64url, unpadded, of compact JSON {"t": ..., "e": ..., "s": [...]}>

* ``t``: Zendesk's ``after_cursor`` of the cursor-based ticket export
  (``/api/v2/incremental/tickets/cursor.json``), itself opaque; or ``null``: the next read
  restarts that export at ``start_time`` ``e`` (a read that stopped where the events did,
  see `slaplug_zendesk.read`).
* ``e``: Unix seconds to pass as ``start_time`` to the time-based ticket events export
  (``/api/v2/incremental/ticket_events.json``): its last ``end_time``.
* ``s``: ids of the audits at exactly second ``e`` already delivered. The time-based export
  starts *at* ``end_time`` inclusive, so those audits come again; they are skipped.

The kit's `CursorCodec` writes and reads the string. The version prefix lets a later
format be told apart; an unreadable cursor is a `ConfigError` that says to reset the
stored cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slaplug.connectors import CursorCodec

__all__ = ["MAX_SEEN", "ZendeskCursor"]

_CODEC = CursorCodec("zd1.", connector="Zendesk")
#: Audit ids remembered for the boundary second. Far more than one second usually holds;
#: beyond it the oldest are dropped and those audits may be delivered twice (harmless:
#: the store merges events as values).
MAX_SEEN = 1000


@dataclass(frozen=True)
class ZendeskCursor:
    """Where the two exports stand.

    Attributes:
        tickets: The ticket export's ``after_cursor``; None: restart it at ``events``.
        events: The events export's next ``start_time`` (Unix seconds).
        seen: Audit ids at second ``events`` already delivered.
    """

    tickets: str | None
    events: int
    seen: tuple[int, ...] = ()

    def encode(self) -> str:
        """The opaque string form (see the module docstring)."""
        return _CODEC.encode({"t": self.tickets, "e": self.events, "s": self.seen[-MAX_SEEN:]})

    @classmethod
    def decode(cls, text: str) -> ZendeskCursor:
        """Parse a cursor made by `encode`.

        Raises:
            ConfigError: The text is not a cursor of this connector.
        """
        return _CODEC.decode(text, cls._from_doc)

    @classmethod
    def _from_doc(cls, doc: dict[str, Any]) -> ZendeskCursor:
        tickets, events, seen = doc["t"], doc["e"], doc.get("s", [])
        if not isinstance(tickets, str | None) or not isinstance(events, int):
            raise ValueError("wrong types")
        return cls(tickets, events, tuple(int(i) for i in seen))
