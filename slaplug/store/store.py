"""`Store`: the one object the sync job and the webhook worker hold."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import URL
from sqlalchemy.exc import OperationalError

from slaplug.errors import ConfigError
from slaplug.store._base import StoreSettings
from slaplug.store.access import AccessMixin
from slaplug.store.activity import ActivityMixin
from slaplug.store.budgets import BudgetsMixin
from slaplug.store.credits import CreditsMixin
from slaplug.store.engine import make_engine
from slaplug.store.golive import GoLiveMixin
from slaplug.store.inbox import InboxMixin
from slaplug.store.install import InstallMixin
from slaplug.store.live import LiveMixin
from slaplug.store.measures import MeasuresMixin
from slaplug.store.migrations import migrate
from slaplug.store.notifications import NotificationsMixin
from slaplug.store.outbox import OutboxMixin
from slaplug.store.quarantine import QuarantineMixin
from slaplug.store.tickets import TicketsMixin

__all__ = ["Store"]


class Store(
    TicketsMixin,
    OutboxMixin,
    MeasuresMixin,
    InboxMixin,
    CreditsMixin,
    InstallMixin,
    NotificationsMixin,
    GoLiveMixin,
    QuarantineMixin,
    LiveMixin,
    AccessMixin,
    ActivityMixin,
    BudgetsMixin,
):
    """slaplug's durable state, in SQLite or PostgreSQL.

    Every method runs its own transaction and is safe to call from several threads and
    processes at once. Open one with `Store.open`; close it with `close` or a ``with`` block.

    Times passed in must be timezone-aware; times read back are in UTC.
    """

    @classmethod
    def open(
        cls,
        url: str | URL | None = None,
        *,
        settings: StoreSettings | None = None,
        migrate_schema: bool = True,
        busy_timeout_s: float = 30.0,
        pool_size: int = 5,
        max_overflow: int = 10,
    ) -> Store:
        """Connect to a store and bring its schema up to date.

        Args:
            url: ``sqlite:///path/to/slaplug.db`` (the default is ``sqlite:///slaplug.db``) or
                ``postgresql://user:password@host:5432/db``.
            settings: Retry, backoff and lease settings.
            migrate_schema: Apply pending migrations (on by default; safe with several
                processes starting at once).
            busy_timeout_s: SQLite: how long to wait for another process's write.
            pool_size: PostgreSQL: connections kept open.
            max_overflow: PostgreSQL: extra connections under load.

        Raises:
            ConfigError: The URL is malformed, its driver is not installed, the database
                cannot be reached or opened, or its schema is newer than this slaplug.
        """
        engine = make_engine(
            url, busy_timeout_s=busy_timeout_s, pool_size=pool_size, max_overflow=max_overflow
        )
        if migrate_schema:
            try:
                migrate(engine)
            except OperationalError as exc:
                engine.dispose()
                shown = engine.url.render_as_string(hide_password=True)
                raise ConfigError(
                    f"cannot open the store at {shown}: {exc.orig}; check the URL, that the "
                    "server runs and accepts this user, or that the file's directory exists"
                ) from exc
            except BaseException:
                engine.dispose()
                raise
        return cls(engine, settings)

    def close(self) -> None:
        """Close the store's connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
