"""The store's versioned schema: a version table and ordered, idempotent steps.

`migrate` runs in one transaction, under a lock that makes a second process starting at the
same moment wait and then find nothing left to do: PostgreSQL's transaction-scoped advisory
lock, SQLite's ``BEGIN IMMEDIATE`` write lock. Both databases roll DDL back with the
transaction, so a migration that fails half-way leaves the schema as it was.

A fresh database gets the newest schema straight from `slaplug.store.schema` and every step
recorded as applied; steps run only on databases made by an older slaplug. So a change to
the schema is two edits: the table in ``schema.py`` and a step here that makes the same
change to an existing database, written to be harmless if run twice (check before you alter).

Alembic would bring autogeneration and downgrades, but also a second configuration (an
``env.py``, a script directory shipped as package data) and a dependency, and it would still
need the lock above for two processes starting at once; a list of functions is enough for a
handful of tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, bindparam, func, inspect, select, text

from slaplug.errors import ConfigError
from slaplug.store.engine import WRITE
from slaplug.store.schema import (
    SCHEMA_VERSION,
    access_tokens,
    credit_periods,
    due,
    install,
    ledger,
    measures,
    metadata,
    notification_sends,
    quarantine,
    request_budgets,
    schema_version,
)

__all__ = ["MIGRATIONS", "Migration", "current_version", "migrate"]

#: The advisory lock that serializes migrations on PostgreSQL ("slaplug" in ASCII).
_PG_LOCK_KEY = 0x736C61706C7567


@dataclass(frozen=True)
class Migration:
    """One step of the schema's history.

    Attributes:
        version: The version the step brings the schema to; steps run in this order.
        description: What it changes, recorded in the version table.
        apply: The step itself, run inside the migration's transaction. It must be idempotent.
    """

    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)


def _v2_credit_periods(conn: Connection) -> None:
    credit_periods.create(conn, checkfirst=True)


def _v3_install(conn: Connection) -> None:
    install.create(conn, checkfirst=True)


def _v4_notification_sends(conn: Connection) -> None:
    notification_sends.create(conn, checkfirst=True)


def _v5_quarantine(conn: Connection) -> None:
    quarantine.create(conn, checkfirst=True)


def _v8_distributed(conn: Connection) -> None:
    """Due rows get a bucket and a lease; request budgets get their table."""
    from slaplug.store.tickets import due_bucket  # noqa: PLC0415  (tickets imports the schema)

    have = {col["name"] for col in inspect(conn).get_columns(due.name)}
    for name, sql_type in (
        ("bucket", "INTEGER"),
        ("lease_owner", "VARCHAR(200)"),
        ("lease_until", "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"),
    ):
        if name not in have:
            conn.execute(text(f"ALTER TABLE {due.name} ADD COLUMN {name} {sql_type}"))
    rows = conn.execute(
        select(due.c.connector, due.c.ticket_id).where(due.c.bucket.is_(None))
    ).all()
    if rows:
        conn.execute(
            due.update()
            .where(due.c.connector == bindparam("c"), due.c.ticket_id == bindparam("t"))
            .values(bucket=bindparam("b")),
            [{"c": r.connector, "t": r.ticket_id, "b": due_bucket(r.connector, r.ticket_id)} for r in rows],
        )
    for index in due.indexes:
        if index.name == "ix_due_bucket":
            index.create(conn, checkfirst=True)
    request_budgets.create(conn, checkfirst=True)


def _v6_measure_versions(conn: Connection) -> None:
    columns = {c["name"] for c in inspect(conn).get_columns(measures.name)}
    if "rules_version" not in columns:
        conn.execute(text("ALTER TABLE measures ADD COLUMN rules_version VARCHAR(200)"))


def _v7_live_slots(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns(ledger.name)}
    for column in (ledger.c.slot, ledger.c.seq):
        if column.name not in have:
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {ledger.name} ADD COLUMN {column.name} {kind}"))
    index = next(i for i in ledger.indexes if i.name == "ux_ledger_slot")
    index.create(conn, checkfirst=True)


def _v9_access_tokens(conn: Connection) -> None:
    access_tokens.create(conn, checkfirst=True)
    # The dashboard's newest-first lists, on tables made by older versions (idempotent).
    for table, name in (
        (ledger, "ix_ledger_done_at"),
        (notification_sends, "ix_notification_sends_sent_at"),
    ):
        index = next(i for i in table.indexes if i.name == name)
        index.create(conn, checkfirst=True)


#: Every step, oldest first; the last one's version is `schema.SCHEMA_VERSION`.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "cursors, snapshots, due, ledger, outbox, measures, inbox", _v1_initial),
    Migration(2, "credit_periods: frozen service-credit results", _v2_credit_periods),
    Migration(3, "install: per-install values such as the note markers' secret", _v3_install),
    Migration(4, "notification_sends: each service a notification reached", _v4_notification_sends),
    Migration(5, "quarantine: tickets set aside with the reason", _v5_quarantine),
    Migration(6, "measures.rules_version: the rules version of each measure", _v6_measure_versions),
    Migration(7, "ledger.slot, ledger.seq: live fields' values in order", _v7_live_slots),
    Migration(8, "due leases and buckets; request_budgets shared by workers", _v8_distributed),
    Migration(9, "access_tokens: dashboard and customer page credentials", _v9_access_tokens),
)


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database, 0 for an empty database."""
    if not inspect(conn).has_table(schema_version.name):
        return 0
    return int(
        conn.execute(select(func.coalesce(func.max(schema_version.c.version), 0))).scalar_one()
    )


def migrate(engine: Engine, *, now: datetime | None = None) -> list[int]:
    """Bring the store's schema up to date; safe to call from several processes at once.

    Args:
        engine: An engine from `slaplug.store.engine.make_engine` (its SQLite set-up makes
            this transaction take the write lock first).
        now: The time to record; defaults to the current time.

    Returns:
        The versions applied now, oldest first; empty when the schema was already current.

    Raises:
        ConfigError: The database was migrated by a newer slaplug than this one.
    """
    assert MIGRATIONS[-1].version == SCHEMA_VERSION
    at = now or datetime.now(UTC)
    with engine.connect() as conn:
        conn.execution_options(**{WRITE: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            version = current_version(conn)
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"the store's schema is version {version}, newer than this slaplug knows "
                    f"({SCHEMA_VERSION}); upgrade slaplug before using this store"
                )
            pending = [m for m in MIGRATIONS if m.version > version]
            if version == 0:
                # A fresh database: build the newest schema at once, then stamp every step.
                metadata.create_all(conn, checkfirst=True)
            else:
                for step in pending:
                    step.apply(conn)
            if pending:
                conn.execute(
                    schema_version.insert(),
                    [
                        {"version": m.version, "description": m.description, "applied_at": at}
                        for m in pending
                    ],
                )
    return [m.version for m in pending]
