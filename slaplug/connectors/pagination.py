"""Paginators: walk a platform's pages to the end, and never forever.

A paginator reads one decoded page and says where the next one is (`PageInfo`). `paginate`
drives it: it fetches, yields each page with the cursor to resume *after* it, and stops
when the paginator says so, raising `PaginationError` if the platform hands back a cursor
it already gave (a loop) or after ``max_pages``.

Example:
    >>> pages = {None: {"items": [1], "next": "b"}, "b": {"items": [2], "next": None}}
    >>> [p.data["items"] for p in paginate(pages.__getitem__, CursorPaginator("next"))]
    [[1], [2]]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from slaplug.errors import PaginationError

__all__ = [
    "CursorPaginator",
    "NextUrlPaginator",
    "Page",
    "PageInfo",
    "Paginator",
    "TokenPaginator",
    "paginate",
]

#: Far more than any incremental export needs; a safety net, not a budget.
DEFAULT_MAX_PAGES = 100_000


@dataclass(frozen=True)
class PageInfo:
    """Where to go after one page.

    Attributes:
        next: The token, cursor or URL of the next page; None when this page is the last.
        resume: The cursor to store so a later run resumes after this page (often the same
            as ``next``; Zendesk returns one even on its last page). None: keep the old one.
    """

    next: str | None
    resume: str | None


@dataclass(frozen=True)
class Page:
    """One decoded page and the cursor to resume after it."""

    data: Any
    resume: str | None


class Paginator(Protocol):
    """Reads a decoded page and says where the next one is."""

    def page_info(self, data: Any) -> PageInfo:
        """Return where to go after ``data``."""
        ...


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``"meta.after_cursor"``) in ``data``, or None."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


@dataclass(frozen=True)
class CursorPaginator:
    """A cursor in the body; the last page is the one without a cursor, or flagged as last.

    Args:
        cursor_path: Dotted path of the next cursor (``"after_cursor"``, ``"meta.after_cursor"``).
        done_path: Dotted path of a flag that is true on the last page (``"end_of_stream"``).
        more_path: Dotted path of a flag that is false on the last page (``"meta.has_more"``).
    """

    cursor_path: str
    done_path: str | None = None
    more_path: str | None = None

    def page_info(self, data: Any) -> PageInfo:
        """Return where to go after ``data``."""
        cursor = lookup(data, self.cursor_path) or None
        last = cursor is None
        if self.done_path is not None and lookup(data, self.done_path):
            last = True
        if self.more_path is not None and not lookup(data, self.more_path):
            last = True
        resume = None if cursor is None else str(cursor)
        return PageInfo(next=None if last else resume, resume=resume)


@dataclass(frozen=True)
class TokenPaginator(CursorPaginator):
    """A page token in the body, Jira style (``nextPageToken`` until ``isLast``)."""

    cursor_path: str = "nextPageToken"
    done_path: str | None = "isLast"


@dataclass(frozen=True)
class NextUrlPaginator:
    """The next page's full URL in the body (``next_page``, ``links.next``).

    The URL is also the resume cursor; pass it to `ApiClient.request`, which refuses URLs
    on another origin.
    """

    url_path: str = "next_page"

    def page_info(self, data: Any) -> PageInfo:
        """Return where to go after ``data``."""
        url = lookup(data, self.url_path) or None
        return PageInfo(next=url, resume=url)


def paginate(
    fetch: Callable[[str | None], Any],
    paginator: Paginator,
    start: str | None = None,
    *,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Iterator[Page]:
    """Fetch pages until the last one, yielding each with the cursor to resume after it.

    Args:
        fetch: Returns the decoded page for a token (None: the first page).
        paginator: Reads each page's `PageInfo`.
        start: The token of the first page (a stored cursor), or None.
        max_pages: Raise rather than fetch more pages than this.

    Yields:
        `Page`s in order; ``resume`` is the last cursor known so far.

    Raises:
        PaginationError: A cursor came back a second time, or ``max_pages`` was reached.
    """
    seen: set[str] = set() if start is None else {start}
    token, resume = start, start
    for count in range(1, max_pages + 1):
        data = fetch(token)
        info = paginator.page_info(data)
        resume = info.resume if info.resume is not None else resume
        yield Page(data, resume)
        if info.next is None:
            return
        if info.next in seen:
            raise PaginationError(
                f"the helpdesk returned cursor {info.next!r} again after {count} page(s); "
                "stopping instead of looping"
            )
        seen.add(info.next)
        token = info.next
    raise PaginationError(f"stopped after {max_pages} pages without reaching the last one")
