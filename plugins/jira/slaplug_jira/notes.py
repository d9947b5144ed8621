"""slaplug's own comments on an issue: the marker each carries, and which comments count.

A comment slaplug posts ends with a marker paragraph, ``[slaplug:<16 hex>]``, the HMAC of
the action's idempotency key under the connector's `MarkerKey` (a per-install secret), so a
retry whose answer was lost can see the comment is there and not post it twice. Anyone can
type text into an issue, so a marker counts only in a comment that

* was written by the connector's own API user (``author.accountId`` equals ``accountId`` of
  ``GET /rest/api/3/myself``; Jira sets ``author`` itself, it is read-only in the OAS
  ``Comment`` schema),
* ends with it (the marker is the last paragraph slaplug writes; a quote elsewhere in a
  comment does not count), and
* for an internal note, is internal, as slaplug posts it: JSM's ``jsdPublic: false``, the
  ``sd.public.comment`` property ``{"internal": true}`` (reference §2.2), or a ``visibility``
  restriction (OAS ``Comment.visibility``). Outside JSM every comment reads
  ``jsdPublic: true`` (OAS ``Comment.jsdPublic``: "Defaults to true ... [when] the project
  isn't a Jira Service Desk project"), so there the property decides, read with
  ``GET /rest/api/3/issue/{key}/comment/{id}?expand=properties`` (OAS ``getComment``) for
  the rare own comment that carries the marker but not its properties.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from slaplug.connectors import ApiClient
from slaplug.connectors.markers import MarkerKey
from slaplug_jira.adf import adf_text
from slaplug_jira.events import SD_PUBLIC_COMMENT
from slaplug_jira.myself import Myself

__all__ = ["MARKER_DIGITS", "OwnNotes", "comment_marker", "internal_flag"]

#: Hex digits of the HMAC in a marker (64 bits: not guessable, short enough to read past).
MARKER_DIGITS = 16


def comment_marker(key: MarkerKey, action_key: str) -> str:
    """The marker a comment carries for `Action.key`: keyed, stable, no key in clear."""
    return f"[slaplug:{key.digest(action_key, MARKER_DIGITS)}]"


def internal_flag(comment: Mapping[str, Any]) -> bool | None:
    """True if the comment is hidden from customers, False if it is not, None if this
    answer does not say (no ``properties`` to read the ``sd.public.comment`` flag from)."""
    if comment.get("jsdPublic") is False or comment.get("visibility"):
        return True
    props = comment.get("properties")
    if not isinstance(props, list):
        return None
    return any(
        isinstance(p, Mapping)
        and p.get("key") == SD_PUBLIC_COMMENT
        and isinstance(p.get("value"), Mapping)
        and p["value"].get("internal") is True
        for p in props
    )


class OwnNotes:
    """Finds the comments the connector itself posted for an action.

    Args:
        http: The connector's client.
        myself: The API user (its ``accountId``).
        marker_key: Returns the connector's current `MarkerKey` (the runtime may replace
            it after the connector is built, so it is looked up at each use).
    """

    def __init__(
        self, http: ApiClient, myself: Myself, marker_key: Callable[[], MarkerKey]
    ) -> None:
        self.http = http
        self.myself = myself
        self.marker_key = marker_key

    def marker(self, action_key: str) -> str:
        """The marker for `Action.key` under the current key."""
        return comment_marker(self.marker_key(), action_key)

    def posted(
        self,
        issue_key: str,
        comments: Iterable[Mapping[str, Any]],
        marker: str,
        *,
        internal: bool,
    ) -> bool:
        """Whether one of ``comments`` is the connector's own note ending in ``marker``
        (internal, when ``internal``)."""
        me = self.myself.account_id
        if not me:
            return False
        for c in comments:
            author = c.get("author")
            if not isinstance(author, Mapping) or author.get("accountId") != me:
                continue
            if not adf_text(c.get("body")).rstrip().endswith(marker):
                continue
            if not internal:
                return True
            flag = internal_flag(c)
            if flag is None and c.get("id") is not None:
                full = self.http.get_json(
                    f"rest/api/3/issue/{issue_key}/comment/{c['id']}",
                    params={"expand": "properties"},
                )
                flag = internal_flag(full if isinstance(full, Mapping) else {})
            if flag:
                return True
        return False
