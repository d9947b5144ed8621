"""slaplug's durable state: cursors, snapshots, due index, ledger, outbox, measures, inbox.

SQLAlchemy Core over SQLite (the embedded default) or PostgreSQL (several processes).
See docs/operations/store.md.
"""

from slaplug.store._base import StoreSettings
from slaplug.store.engine import DEFAULT_URL
from slaplug.store.inbox import InboxEntry, InboxItem
from slaplug.store.measures import MeasureRecord
from slaplug.store.migrations import migrate
from slaplug.store.outbox import FINAL_STATUSES, Claim, DeadLetter, OutboxStats
from slaplug.store.store import Store
from slaplug.store.tickets import DueTicket

__all__ = [
    "DEFAULT_URL",
    "FINAL_STATUSES",
    "Claim",
    "DeadLetter",
    "DueTicket",
    "InboxEntry",
    "InboxItem",
    "MeasureRecord",
    "OutboxStats",
    "Store",
    "StoreSettings",
    "migrate",
]
