"""slaplug exceptions, grouped by what the caller should do.

* SlaplugError
  x ConfigError            fix configuration, rerun
    + CalendarError          a business calendar is malformed; ``.errors`` lists every problem
    + RuleError              a rules file is malformed; ``.problems`` carry file:line:col
  x TimeError              a naive datetime or an impossible time range was passed in
  x EngineError            the rules engine failed; the evaluation did not happen
"""

from __future__ import annotations

from collections.abc import Sequence
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
        return f"{prefix}{where}{self.message}"


class ProblemsError(ConfigError):
    """A configuration error carrying every problem found, not just the first."""

    __module__ = "slaplug"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class CalendarError(ProblemsError):
    """A business calendar declaration is malformed."""

    __module__ = "slaplug"


class RuleError(ProblemsError):
    """A rules file is malformed; each problem names file, line and column."""

    __module__ = "slaplug"


class TimeError(SlaplugError, ValueError):
    """A time argument cannot be used: naive datetime, or an end before a start."""

    __module__ = "slaplug"


class EngineError(SlaplugError):
    """The rules engine failed; no actions were planned for the ticket."""

    __module__ = "slaplug"
