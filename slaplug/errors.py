"""slaplug exceptions, grouped by what the caller should do.

* SlaplugError
  x ConfigError            fix configuration, rerun
    + CalendarError          a business calendar is malformed; ``.errors`` lists every problem
    + RuleError              a rules file is malformed; ``.problems`` carry file:line:col
    + MissingCredentialError a credential's environment variable is unset where it is needed
    + PluginError            a plugin failed to load or registered a taken name; names the plugins
    + AuthenticationError    401/403: fix the credentials; names the connector and the env var
  x TimeError              a naive datetime or an impossible time range was passed in
  x EngineError            the rules engine failed; the evaluation did not happen
  x ConnectorError         a helpdesk API call failed; ``.connector``, ``.status``
    + FatalAPIError          stop this connector for this run (AuthenticationError is one)
      + PaginationError        a paginated read would never end (repeated cursor, no progress)
    + RetriableAPIError      back off and retry later; ``.retry_after`` in seconds, or None
    + SkippableAPIError      log, skip this ticket, carry on with the others
      + TicketNotFoundError    404 on one ticket
      + InvalidTicketError     422: the platform rejected the change as invalid
    + ConflictError          409: re-read the ticket, re-evaluate, then write again
  x WebhookError           reply to the sender with ``.status`` (400 malformed, 401 bad signature)
  x UnknownTicketError     the store holds no snapshot of this ticket: sync it, or check the id
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


class SlaplugError(Exception):
    """Base class for everything slaplug raises on purpose."""

    __module__ = "slaplug"


class ConfigError(SlaplugError):
    """Configuration is wrong: fix it and run again."""

    __module__ = "slaplug"


@dataclass(frozen=True)
class Problem:
    """One problem found in a configuration or rules file.

    Attributes:
        message: What is wrong and what to do about it.
        where: The field path inside the document, e.g. ``calendars.office.hours.mon[0]``.
        file: The file the problem is in, when the input came from a file.
        line: 1-based line, when known.
        column: 1-based column, when known.
    """

    message: str
    where: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        prefix = ""
        if self.file is not None:
            prefix = f"{self.file}:{self.line or 1}:{self.column or 1}: "
        elif self.line is not None:
            prefix = f"{self.line}:{self.column or 1}: "
        where = f"{self.where}: " if self.where else ""
        return printable(f"{prefix}{where}{self.message}")


def printable(text: str) -> str:
    """``text`` with control characters (a NUL, a terminal escape) written as escapes.

    Problems quote what a file holds; a file can hold anything, and a terminal or a log
    must show it, not obey it.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class ProblemsError(ConfigError):
    """A configuration error carrying every problem found, not just the first."""

    __module__ = "slaplug"

    def __init__(self, problems: Sequence[Problem]) -> None:
        #: In reading order, as a compiler lists them: files in the order they first appear,
        #: then by line and column (a problem of a whole file first); found order otherwise.
        self.problems: tuple[Problem, ...] = tuple(sorted(problems, key=_reading_order(problems)))
        super().__init__("\n".join(str(p) for p in self.problems))


def _reading_order(problems: Sequence[Problem]) -> Callable[[Problem], tuple[int, int, int]]:
    files: dict[str | None, int] = {}
    for p in problems:
        files.setdefault(p.file, len(files))
    return lambda p: (files[p.file], p.line or 0, p.column or 0)


class CalendarError(ProblemsError):
    """A business calendar declaration is malformed."""

    __module__ = "slaplug"


class RuleError(ProblemsError):
    """A rules file is malformed; each problem names file, line and column."""

    __module__ = "slaplug"


class MissingCredentialError(ProblemsError):
    """A credential is needed (a helpdesk call, a webhook's signature) and its environment
    variable is not set. Each problem names the variable, the connector and the setting's
    ``file:line``; set the variable and run again."""

    __module__ = "slaplug"


class TimeError(SlaplugError, ValueError):
    """A time argument cannot be used: naive datetime, or an end before a start."""

    __module__ = "slaplug"


class EngineError(SlaplugError):
    """The rules engine failed; no actions were planned for the ticket."""

    __module__ = "slaplug"


class PluginError(ConfigError):
    """A plugin could not be loaded, or registered a name another plugin already took.

    The message names every plugin involved, so the fix (uninstall one, or narrow
    ``SLAPLUG_LOAD_PLUGINS``) is obvious.
    """

    __module__ = "slaplug"


class ConnectorError(SlaplugError):
    """A call to a helpdesk's API failed. Subclasses say what the caller should do next.

    Attributes:
        connector: The configured connector's name (``"zendesk-eu"``).
        status: The HTTP status, or None when no response arrived (timeout, connection).
    """

    __module__ = "slaplug"

    def __init__(self, message: str, *, connector: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.connector = connector
        self.status = status


class FatalAPIError(ConnectorError):
    """Retrying will not help: stop this connector for this run and report."""

    __module__ = "slaplug"


class AuthenticationError(FatalAPIError, ConfigError):
    """The helpdesk rejected the credentials (401) or their permissions (403).

    Also a `ConfigError`: the fix is in the configuration or the environment variable
    that holds the credential, never in a retry.
    """

    __module__ = "slaplug"


class PaginationError(FatalAPIError):
    """A paginated read would not end: the platform returned a cursor it had returned before."""

    __module__ = "slaplug"


class RetriableAPIError(ConnectorError):
    """A transient failure (429, 5xx, timeout, connection): back off and try again.

    Raised once the connector kit's own retries are used up, so the caller (the outbox, the
    next sync) can reschedule.

    Attributes:
        retry_after: Seconds the platform asked us to wait (``Retry-After``), or None.
    """

    __module__ = "slaplug"

    def __init__(
        self,
        message: str,
        *,
        connector: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, connector=connector, status=status)
        self.retry_after = retry_after


class SkippableAPIError(ConnectorError):
    """This one ticket cannot be read or written: log it, skip it, carry on with the rest."""

    __module__ = "slaplug"


class TicketNotFoundError(SkippableAPIError):
    """The ticket does not exist (any more) on the platform (404)."""

    __module__ = "slaplug"


class InvalidTicketError(SkippableAPIError):
    """The platform rejected the change as invalid for this ticket (422)."""

    __module__ = "slaplug"


class ConflictError(ConnectorError):
    """The ticket changed under us (409): re-read it, re-evaluate, and write again."""

    __module__ = "slaplug"


def helpdesk_message(exc: ConnectorError) -> str:
    """The message of a helpdesk error that stopped a connector's work (or a command).

    A 404 is "skip this ticket" where one ticket is missing; one that stops a connector came
    from a list or export endpoint, which exists on every account: the connector's base_url
    does not point at the API.
    """
    text = str(exc)
    if isinstance(exc, TicketNotFoundError):
        text = text.replace(
            "not found; skipping this ticket",
            "not found: the helpdesk has no such API path; check the connector's base_url "
            "(the account's root URL, without an API path)",
        )
    return text


class WebhookError(SlaplugError):
    """A webhook delivery is refused; reply to the sender with ``.status``.

    Attributes:
        status: The HTTP status to answer: 400 for a malformed body, 401 for a bad signature.
            4xx other than 408/409/425/429 tell senders such as Jira not to retry.
    """

    __module__ = "slaplug"

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class UnknownTicketError(SlaplugError):
    """The store holds no snapshot of the ticket asked for: it was never synced, or the id or
    connector is wrong. The message says which, and what to run.

    Attributes:
        connector: The connector named.
        ticket_id: The ticket id named.
    """

    __module__ = "slaplug"

    def __init__(self, message: str, *, connector: str, ticket_id: str) -> None:
        super().__init__(message)
        self.connector = connector
        self.ticket_id = ticket_id
