"""What a connector class declares is what the runners do: capabilities and the status table.

Real HTTP against tinydesk, a real SQLite store; each connector here differs from tinydesk's
only by a class attribute.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tinydesk import TOKEN, WEBHOOK_SECRET, TinyConfig, TinyConnector, TinyFake

from slaplug.connectors import (
    DEFAULT_RESOLUTIONS,
    ApplyResult,
    Capability,
    Outcome,
    Resolution,
    TicketPage,
    sign,
)
from slaplug.errors import FatalAPIError, TicketNotFoundError
from slaplug.model import Action
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.sync import Sync
from slaplug.web.events import check

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BACKFILL = {"tiny": datetime(2000, 1, 1, tzinfo=UTC)}
RULES = """\
policies:
  - name: p
    targets: {first_response: {"*": 1h}}
escalations:
  - name: frt-breached
    when: {metric: first_response, breached: true}
    actions:
      - add_tag: sla_breached
"""


class Spy(TinyConnector):
    """Tinydesk's connector, counting the calls the runners make."""

    calls: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls = []

    def read_changed(self, cursor: str | None) -> Iterator[TicketPage]:
        self.calls.append("read_changed")
        return super().read_changed(cursor)

    def apply(
        self, actions: Sequence[Action], *, fresh: Collection[str] = frozenset()
    ) -> list[ApplyResult]:
        self.calls.append("apply")
        return super().apply(actions, fresh=fresh)

    def verify_webhook(self, headers: Any, body: bytes) -> None:
        self.calls.append("verify_webhook")
        super().verify_webhook(headers, body)


class ReadsOnly(Spy):
    capabilities = frozenset({Capability.READ, Capability.WEBHOOK})


class NoWebhooks(Spy):
    capabilities = frozenset({Capability.READ, Capability.WRITE_BACK})


class WritesOnly(Spy):
    capabilities = frozenset({Capability.WRITE_BACK})


class GoneMeansBroken(TinyConnector):
    """A platform whose 404 means a wrong base_url, not a deleted ticket."""

    resolutions: ClassVar[Mapping[int, Resolution]] = {
        **DEFAULT_RESOLUTIONS,
        404: Resolution(Outcome.FAIL, FatalAPIError, "no such API here; check base_url"),
    }


@pytest.fixture
def fake() -> Iterator[TinyFake]:
    with TinyFake() as f:
        yield f


def _connect(cls: type[TinyConnector], fake: TinyFake) -> Any:
    config = TinyConfig.load(
        {"base_url": fake.base_url, "api_token_env": "T", "webhook_secret_env": ["H"]},
        connector="tiny",
        environ={"T": TOKEN, "H": WEBHOOK_SECRET},
    )
    return cls(config, instance="tiny")


def _sync(tmp_path: Path, conn: TinyConnector) -> tuple[Any, list[str]]:
    (tmp_path / "rules.yaml").write_text(RULES)
    with (
        Store.open(f"sqlite:///{tmp_path / 's.db'}") as store,
        RulePack.load([tmp_path / "rules.yaml"], engine="python") as pack,
    ):
        summary = Sync(
            store, pack, {"tiny": conn}, clock=lambda: NOW, escalate_from=BACKFILL
        ).run_once()
        details = [d for _, d in _ledger(store)]
    return summary, details


def _ledger(store: Store) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from slaplug.store.schema import ledger

    with store.engine.connect() as c:
        return [(r.status, r.detail) for r in c.execute(select(ledger))]


def test_a_connector_without_write_back_is_never_asked_to_write(
    tmp_path: Path, fake: TinyFake
) -> None:
    with _connect(ReadsOnly, fake) as conn:
        summary, details = _sync(tmp_path, conn)
        assert "read_changed" in conn.calls and "apply" not in conn.calls
    assert summary.skipped == 5 and summary.applied == 0
    assert details == ["connector 'tiny' declares no write_back capability; nothing is written"] * 5
    assert all(t["tags"] == [] for t in fake.tickets.values())


def test_a_connector_without_read_is_never_read(tmp_path: Path, fake: TinyFake) -> None:
    with _connect(WritesOnly, fake) as conn:
        summary, _ = _sync(tmp_path, conn)
        assert conn.calls == []
    assert summary.tickets_read == 0


def test_a_connector_with_both_is_read_and_written(tmp_path: Path, fake: TinyFake) -> None:
    with _connect(NoWebhooks, fake) as conn:
        summary, _ = _sync(tmp_path, conn)
        assert conn.calls[0] == "read_changed" and "apply" in conn.calls
    assert summary.applied == 5


def test_the_webhook_door_refuses_a_connector_without_the_webhook_capability(
    fake: TinyFake,
) -> None:
    body = b'{"id": "d-1", "ticket_id": "1", "type": "ticket.updated"}'
    headers = {"X-Tiny-Signature": "sha256=" + sign(WEBHOOK_SECRET, body, encoding="hex")}
    with _connect(NoWebhooks, fake) as closed, _connect(ReadsOnly, fake) as open_:
        refused = check({"tiny": closed}, "tiny", headers, body)
        taken = check({"tiny": open_}, "tiny", headers, body)
        assert closed.calls == []  # its signature check never ran
        assert open_.calls == ["verify_webhook"]
    assert getattr(refused, "status", None) == 404
    assert not hasattr(taken, "status")  # checked: what to store


def test_a_status_table_declared_on_the_class_is_the_clients(fake: TinyFake) -> None:
    with _connect(GoneMeansBroken, fake) as conn, _connect(TinyConnector, fake) as plain:
        assert conn.http.resolutions is GoneMeansBroken.resolutions
        with pytest.raises(FatalAPIError, match="check base_url"):
            conn.read_ticket("999")
        with pytest.raises(TicketNotFoundError):
            plain.read_ticket("999")
