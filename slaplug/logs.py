"""Logging for the long-running commands (``sync``, ``serve``, ``fake``): one setup, two formats.

Under cron, systemd or Kubernetes there is no terminal, so progress and warnings must be log
lines a collector can parse: ``key=value`` text (the default) or one JSON object per line.
Every line is passed through `scrub` (what `RedactingFilter` applies) as it is formatted, so a
token that reaches a log record (a plugin logging a request, an exception quoting a header) is
masked before it is written. The formatter scrubs its own output rather than the record: a
filter rewrites the record in place, which other handlers on the same logger (pytest's
capture, an application's own) would then see altered.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO, TypeVar

import click

from slaplug.connectors.redact import scrub

__all__ = ["LEVELS", "JsonFormatter", "KeyValueFormatter", "logging_options", "setup_logging"]

#: The accepted ``--log-level`` values, most severe first.
LEVELS = ("critical", "error", "warning", "info", "debug")

F = TypeVar("F", bound=Callable[..., Any])


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _quote(value: str) -> str:
    # logfmt: bare when it is one plain word, else double-quoted with escapes.
    if value and not any(c in value for c in ' "=\\\n\t'):
        return value
    return json.dumps(value, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """``time=... level=info logger=slaplug.sync msg="..."``: one line per record (logfmt).

    A message that already holds ``key=value`` pairs (the sync's progress lines) keeps them
    readable: it is quoted as one ``msg`` field, and collectors that parse logfmt find both.
    """

    def format(self, record: logging.LogRecord) -> str:
        """One logfmt line; a traceback follows on the lines after it."""
        line = (
            f"time={_timestamp(record)} level={record.levelname.lower()} "
            f"logger={record.name} msg={_quote(record.getMessage())}"
        )
        if record.exc_info or record.exc_text:
            text = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
            line += f" exc={_quote(text)}"
        return scrub(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``{"time", "level", "logger", "msg"[, "exc"]}``."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        doc: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            doc["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return scrub(json.dumps(doc, ensure_ascii=False))


def resolve_level(level: str | None, verbose: int) -> str:
    """The effective level name: ``--log-level`` wins, else ``info`` lowered by each ``-v``."""
    if level is not None:
        return level
    return "debug" if verbose > 0 else "info"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at each record (as `logging.lastResort` does).

    A command run in-process (click's test runner swaps the streams) must not leave a handler
    bound to a stream closed after it returned.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current sys.stderr


#: The name of the handler `setup_logging` installs, so that a second call replaces only it.
_NAME = "slaplug"


def setup_logging(
    level: str = "info", fmt: str = "text", *, stream: TextIO | None = None
) -> logging.Handler:
    """Route every ``slaplug`` (and plugin) log record to ``stream`` (stderr) in ``fmt``.

    Replaces the handlers of the root logger, so calling it twice does not double lines.

    Args:
        level: One of `LEVELS`.
        fmt: ``text`` (logfmt ``key=value``) or ``json`` (one object per line).
        stream: Where to write; standard error by default (standard output stays for the
            summary, which scripts read).

    Returns:
        The installed handler (tests read its filters).
    """
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    )
    # The formatters scrub secrets: on the root's handler, that covers every logger that
    # writes here, including third-party ones (urllib3 quoting a URL, uvicorn) and plugins'.
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    # Only the handler installed by an earlier call is replaced: others (pytest's capture,
    # an embedding application's) are not ours to remove.
    for old in [h for h in root.handlers if h.get_name() == _NAME]:
        root.removeHandler(old)
    handler.set_name(_NAME)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # urllib3 at debug prints every connection and request line; keep it at warning unless
    # asked for by name, so -v shows slaplug's own detail.
    logging.getLogger("urllib3").setLevel(max(logging.WARNING, root.level))
    # procrastinate (the distributed engine) logs every job's start and end, every periodic
    # deferral and every task registered at info: dozens of lines a minute from an idle worker.
    # slaplug logs its own line per job (``job NAME(ARG) done in ...``); procrastinate's
    # warnings and errors (a failed job's traceback) still show, and -v shows all of it.
    logging.getLogger("procrastinate").setLevel(
        logging.DEBUG if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    )
    return handler


def logging_options(func: F) -> F:
    """The logging options every long-running command takes: --log-level, -v, --log-format."""
    func = click.option(
        "--log-format",
        "log_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Log lines as key=value text, or one JSON object per line (for log collectors).",
    )(func)
    func = click.option(
        "-v",
        "--verbose",
        "verbose",
        count=True,
        help="More detail: debug lines (same as --log-level debug).",
    )(func)
    func = click.option(
        "--log-level",
        "log_level",
        type=click.Choice(list(LEVELS)),
        default=None,
        help="Least severe level logged (default: info).",
    )(func)
    return func
