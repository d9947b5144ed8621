"""Turning a store URL into a configured SQLAlchemy engine.

SQLite gets WAL mode, a busy timeout and explicit transactions (``BEGIN IMMEDIATE`` for
writes); PostgreSQL gets psycopg 3 and a pool. Anything else is a `ConfigError` that says
what to write or install instead.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import ConnectionPoolEntry

from slaplug.errors import ConfigError

__all__ = ["DEFAULT_URL", "WRITE", "make_engine", "parse_url"]

#: The embedded default: a SQLite file in the working directory.
DEFAULT_URL = "sqlite:///slaplug.db"

#: Execution option marking a connection whose next transaction writes. On SQLite it then
#: starts with ``BEGIN IMMEDIATE``, taking the write lock up front: a deferred transaction
#: that reads and later writes can fail with "database is locked" without waiting, because
#: its snapshot is stale; an immediate one waits for the busy timeout instead.
WRITE = "slaplug_write"

_POSTGRES_HINT = "install PostgreSQL support with: pip install 'slaplug[postgres]' (psycopg 3)"


def parse_url(url: str | URL | None) -> URL:
    """Check a store URL and fill in the driver.

    ``postgresql://`` and ``postgres://`` URLs get the psycopg 3 driver (SQLAlchemy's own
    default for them is psycopg2, which slaplug does not depend on).

    Raises:
        ConfigError: The URL is malformed or names a database other than SQLite or PostgreSQL.
    """
    raw = DEFAULT_URL if url is None else url
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            f"store URL {raw!r} is not a URL; use e.g. sqlite:///slaplug.db or "
            "postgresql://user:password@host:5432/slaplug"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"store URL {parsed.render_as_string(hide_password=True)!r}: slaplug stores in "
            "SQLite (sqlite:///path/to/slaplug.db) or PostgreSQL "
            f"(postgresql://user:password@host:5432/db), not in {backend!r}"
        )
    if backend == "sqlite" and parsed.get_driver_name() != "pysqlite":
        raise ConfigError(f"store URL {raw!r}: use the built-in sqlite driver (sqlite:///...)")
    return parsed


def make_engine(
    url: str | URL | None = None,
    *,
    busy_timeout_s: float = 30.0,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_recycle_s: int = 1800,
    echo: bool = False,
) -> Engine:
    """Create the engine for a store URL.

    Args:
        url: ``sqlite:///path.db`` or ``postgresql://user:password@host:port/db``; None for
            `DEFAULT_URL`.
        busy_timeout_s: SQLite: how long a writer waits for another process's write lock.
        pool_size: PostgreSQL: connections kept open.
        max_overflow: PostgreSQL: extra connections allowed under load.
        pool_recycle_s: PostgreSQL: reconnect connections older than this (idle timeouts in
            proxies and load balancers would otherwise break them silently).
        echo: Log every statement (debugging).

    Raises:
        ConfigError: A bad URL, or the PostgreSQL driver is not installed.
    """
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, echo=echo, connect_args={"timeout": busy_timeout_s})
            _configure_sqlite(engine, busy_timeout_s)
        else:
            engine = create_engine(
                parsed,
                echo=echo,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_pre_ping=True,  # a restarted server must not fail the next sync
                pool_recycle=pool_recycle_s,
            )
    except (ImportError, NoSuchModuleError) as exc:
        raise ConfigError(
            f"store URL {parsed.render_as_string(hide_password=True)!r} needs a driver that is "
            f"not installed ({exc}); {_POSTGRES_HINT}"
        ) from None
    return engine


def _set_wal(cur: Any, busy_timeout_s: float) -> None:
    # Switching a file to WAL needs it to itself. When two processes open a brand-new file
    # at once, SQLite answers "database is locked" here at once, without calling the busy
    # handler, so wait for the other process ourselves (once the file is WAL, it stays WAL).
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _configure_sqlite(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module, which would otherwise
        # BEGIN lazily, before the first write only; `_on_begin` issues BEGIN itself.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            # WAL: readers never block the writer, and the writer never blocks readers.
            _set_wal(cur, busy_timeout_s)
            # FULL: a committed cursor or ledger row survives a power cut, not only a crash.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
