"""The store's tables, as SQLAlchemy Core `Table`s on one `MetaData`.

This module describes the schema at its newest version. `slaplug.store.migrations` creates it
on a fresh database and brings older databases up to it; a change here needs a migration step
there (see docs/operations/store.md).

Times are stored in UTC (`UtcDateTime`); JSON documents are stored as text in their canonical
form (sorted keys, no spaces), so that a content hash over the text is stable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from slaplug.errors import TimeError

__all__ = [
    "SCHEMA_VERSION",
    "UtcDateTime",
    "access_tokens",
    "credit_periods",
    "cursors",
    "due",
    "inbox",
    "install",
    "ledger",
    "measure_heads",
    "measures",
    "metadata",
    "notification_sends",
    "outbox",
    "quarantine",
    "request_budgets",
    "schema_version",
    "snapshots",
]

#: The version `schema.py` describes; `migrations.MIGRATIONS` ends at it.
SCHEMA_VERSION = 9


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC and read back as aware UTC.

    PostgreSQL keeps it as ``timestamptz``; SQLite as ISO text without an offset, which sorts
    and compares correctly only because every value is converted to UTC first.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise TimeError(f"{value.isoformat()} has no time zone; the store keeps aware times")
        value = value.astimezone(UTC)
        # SQLite's driver would write the offset into the text and break ordering.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

#: One row per migration applied; the highest ``version`` is the schema's version.
schema_version = Table(
    "slaplug_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

#: Where each connector's incremental read resumes.
cursors = Table(
    "cursors",
    metadata,
    Column("connector", String(200), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

#: The last normalized state of each ticket, with its event history (`ticket_to_dict` JSON).
snapshots = Table(
    "snapshots",
    metadata,
    Column("connector", String(200), primary_key=True),
    Column("ticket_id", String(200), primary_key=True),
    Column("body", Text, nullable=False),
    #: sha256 of ``body``: equal hashes mean an unchanged ticket, so nothing to write.
    Column("content_hash", String(64), nullable=False),
    Column("ticket_updated_at", UtcDateTime),
    Column("saved_at", UtcDateTime, nullable=False),
)

#: Each open ticket's next threshold time: found again when it passes, with no API read.
due = Table(
    "due",
    metadata,
    Column("connector", String(200), primary_key=True),
    Column("ticket_id", String(200), primary_key=True),
    Column("due_at", UtcDateTime, nullable=False),
    #: `tickets.due_bucket` of the row (version 8): the ``due(bucket)`` job's share.
    Column("bucket", Integer),
    #: The worker re-evaluating the ticket now, and until when (version 8): a due row is
    #: claimed like an outbox row, so two processes never both evaluate it.
    Column("lease_owner", String(200)),
    Column("lease_until", UtcDateTime),
    Index("ix_due_due_at", "due_at"),
    Index("ix_due_bucket", "bucket", "due_at"),
)

#: Every idempotency key ever planned, and what became of it. A key is reserved here when it is
#: planned (status ``pending``) and never deleted once applied, so it is never planned again.
ledger = Table(
    "ledger",
    metadata,
    Column("key", String(500), primary_key=True),
    Column("connector", String(200), nullable=False),
    Column("ticket_id", String(200), nullable=False),
    #: pending, or the final outcome: applied, already, skipped, failed, or superseded (a
    #: live field's value replaced by a newer one before it was written).
    Column("status", String(20), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    #: The action's JSON form (`slaplug.store.codec.action_to_json`).
    Column("action", Text, nullable=False),
    Column("planned_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime),
    #: For a live field's write (`slaplug.store.live`): ``live:<field>``, and the value's
    #: number in that field's history. NULL for every other action.
    Column("slot", String(300)),
    Column("seq", Integer),
    Index("ix_ledger_ticket", "connector", "ticket_id"),
    # One value per number: two planners racing on one field cannot both take the next one.
    Index("ux_ledger_slot", "connector", "ticket_id", "slot", "seq", unique=True),
    # The dashboard's "what was written" pages newest first (added in version 9).
    Index("ix_ledger_done_at", "done_at"),
)

#: The work still to do for pending ledger keys: scheduling, leases, errors, dead letters.
outbox = Table(
    "outbox",
    metadata,
    Column("key", String(500), primary_key=True),
    Column("connector", String(200), nullable=False),
    Column("ticket_id", String(200), nullable=False),
    #: pending (waiting for next_try_at), leased (a worker holds it until lease_until), dead.
    Column("state", String(10), nullable=False),
    #: Claims so far; a claim whose worker died counts too, so a crash loop ends as a dead letter.
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_until", UtcDateTime),
    Column("last_error", Text),
    Column("dead_at", UtcDateTime),
    Index("ix_outbox_claim", "connector", "state", "next_try_at"),
)

#: The latest state of each measure (per ticket, policy, metric and cycle), to detect changes.
measure_heads = Table(
    "measure_heads",
    metadata,
    Column("ticket_key", String(400), primary_key=True),
    Column("policy", String(200), primary_key=True),
    Column("metric", String(40), primary_key=True),
    Column("cycle", Integer, primary_key=True, autoincrement=False),
    Column("state", String(20), nullable=False),
    Column("breached", Boolean, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

#: The history of measures, one row per change of state, breach or cycle (credits, reports).
measures = Table(
    "measures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_key", String(400), nullable=False),
    Column("policy", String(200), nullable=False),
    Column("metric", String(40), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("breached", Boolean, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    #: The measure's JSON form (`slaplug.serialize.measure_to_dict`).
    Column("body", Text, nullable=False),
    #: The label of the rules version that measured it (effective-dated rules); NULL when
    #: the rules declare no versions, and on rows recorded before schema version 6.
    Column("rules_version", String(200)),
    # (at, id): `measures_between` pages through a period in this order, by keyset.
    Index("ix_measures_at", "at", "id"),
    Index("ix_measures_ticket", "ticket_key"),
)

#: Webhook deliveries, stored before answering 202 and de-duplicated by delivery id.
inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("connector", String(200), nullable=False),
    Column("delivery_id", String(300), nullable=False),
    #: The request headers as a JSON object (already redacted by the caller if need be).
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    #: pending, leased, done or dead.
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_until", UtcDateTime),
    Column("last_error", Text),
    Column("done_at", UtcDateTime),
    Column("dead_at", UtcDateTime),
    UniqueConstraint("connector", "delivery_id", name="uq_inbox_delivery"),
    Index("ix_inbox_claim", "state", "next_try_at"),
)

#: Frozen credit results of closed periods, one row per computation (added in version 2).
#: Append-only: revision 1 is the first freeze, each explicit recalculation adds the next, so
#: the result a customer was shown is never overwritten.
credit_periods = Table(
    "credit_periods",
    metadata,
    Column("contract", String(200), primary_key=True),
    Column("period", String(20), primary_key=True),
    Column("revision", Integer, primary_key=True, autoincrement=False),
    Column("computed_at", UtcDateTime, nullable=False),
    #: Why this revision exists: "frozen" or the recalculation's reason.
    Column("reason", Text, nullable=False),
    #: The `PeriodResult` as canonical JSON (`slaplug.credits.freeze.result_to_dict`).
    Column("body", Text, nullable=False),
)

#: Values that belong to this installation, made once and never changed (added in version 3):
#: ``marker_secret``, the key of the markers that end slaplug's notes
#: (`slaplug.connectors.markers`); ``go_live:<connector>``. One kind of row does change:
#: ``cutoff:<connector>``, the go-live cutoff last in force (`slaplug.store.golive`).
install = Table(
    "install",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

#: Each service a notification was sent to, recorded right after that one send (version 4), so
#: a crash repeats at most the send in flight, never the ones before it.
notification_sends = Table(
    "notification_sends",
    metadata,
    #: The notify action's idempotency key (or a digest's own key).
    Column("key", String(500), primary_key=True),
    #: Which of the channel's services: a hash of its URL as written, secrets unresolved.
    Column("target", String(64), primary_key=True),
    Column("sent_at", UtcDateTime, nullable=False),
    # The dashboard's "what was notified", newest first (added in version 9).
    Index("ix_notification_sends_sent_at", "sent_at"),
)

#: Tickets slaplug cannot process (added in version 5): text that is not valid Unicode, a date
#: out of range, an evaluation that raised. Set aside with the reason so every other ticket
#: goes on; a ticket leaves when a later read of it is processed (it was fixed, or slaplug was).
quarantine = Table(
    "quarantine",
    metadata,
    Column("connector", String(200), primary_key=True),
    #: The ticket id, with any character that is not valid Unicode written as an escape.
    Column("ticket_id", String(200), primary_key=True),
    #: Where it failed: read, check, enrich or evaluate.
    Column("stage", String(20), nullable=False),
    #: What is wrong and what to fix, naming the field.
    Column("reason", Text, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    #: How many times it was set aside (each read or delivery that met it).
    Column("times", Integer, nullable=False, default=1),
    Index("ix_quarantine_last_seen", "last_seen"),
)

#: Each connector's request budget (added in version 8): a token bucket shared by every
#: worker and process through the store (`slaplug.store.budgets`), so adding workers never
#: pushes a helpdesk past its documented rate limit.
request_budgets = Table(
    "request_budgets",
    metadata,
    #: ``connector`` or ``connector:bucket`` (a platform's endpoint with its own limit).
    Column("name", String(300), primary_key=True),
    #: Tokens left at ``updated_at``; refilled at the budget's rate, up to its burst.
    Column("tokens", Float, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    #: Requests granted so far (monitoring) and requests that had to wait.
    Column("granted", Integer, nullable=False, default=0),
    Column("waited", Integer, nullable=False, default=0),
)

#: Credentials of the web pages (added in version 9): the dashboard's manager tokens and each
#: customer's page token. Only a hash of each token is kept; the token itself is shown once,
#: when issued. A revoked token keeps its row (``revoked_at``) so a list shows what was revoked.
access_tokens = Table(
    "access_tokens",
    metadata,
    #: The token's public id (its first part), used to list and revoke it.
    Column("id", String(32), primary_key=True),
    #: ``manager`` (the dashboard) or ``customer`` (one customer's page).
    Column("scope", String(20), nullable=False),
    #: For a customer token: the contract whose figures it shows.
    Column("contract", String(200), nullable=False, default=""),
    #: For a customer token: only this organization's tickets ("" for the whole contract).
    Column("organization", String(200), nullable=False, default=""),
    Column("label", String(200), nullable=False, default=""),
    #: sha256 of the token's secret part, hex.
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Index("ix_access_tokens_subject", "scope", "contract", "organization"),
)
