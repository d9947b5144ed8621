"""A ticket slaplug cannot process is quarantined with the reason; every other ticket goes on.

Issue 14.6: a lone UTF-16 surrogate in a ticket's text (``"\\ud800"`` is valid JSON: RFC 8259
section 8.2 allows unpaired surrogate escapes, and Python's ``json`` decodes them) made
``snapshot_hash`` raise, so every sync stopped at that page; a ticket dated 9999-12-31 or
0001-01-01 failed its whole webhook batch and raised in ``explain``.

The tickets are served by the Zendesk fake over real HTTP: its ``subject`` and
``created_at`` are the fields of the Tickets API (zenpy's
``specification/zendesk/tickets.json``; ``created_at`` is ISO 8601 UTC, read-only).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from slaplug_zendesk.fake import FakeZendesk

from slaplug.cli import main
from slaplug.explain import explain
from slaplug.rules.pack import RulePack
from slaplug.serialize import TicketFormatError, ticket_from_dict
from slaplug.store import Store
from slaplug.sync import Summary, Sync
from slaplug.web.worker import Worker

zd = pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
REPO = Path(__file__).resolve().parent.parent

Y9999 = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp())
Y0001 = int(datetime(1, 1, 1, tzinfo=UTC).timestamp())


#: The instant the tests run at: a Wednesday afternoon, so the generated account's business-hours
#: clocks (Berlin calendar) have run and crossed thresholds whatever the real date (a real
#: ``now`` on a Sunday noon left nothing to plan).
NOW = datetime(2026, 12, 2, 15, tzinfo=UTC)

#: A backfill: these tests are about writing, which a default go-live holds for history.
BACKFILL = {"zendesk": datetime(2000, 1, 1, tzinfo=UTC)}

@pytest.fixture
def pack() -> Iterator[RulePack]:
    with RulePack.load([REPO / "rules" / "default.yaml"], engine="python") as p:
        yield p


@pytest.fixture
def hostile() -> Iterator[tuple[FakeZendesk, dict[str, str]]]:
    """A Zendesk fake whose account holds three tickets slaplug cannot process."""
    with FakeZendesk.start(now=NOW - timedelta(days=1), tickets=40, days=6) as fake:
        surrogate = fake.simulate("create", subject="printer \ud800 on fire", priority="high")
        fake.clock.advance(120)  # past the incremental export's one-minute lag
        ids = sorted(fake.store.tickets)
        with fake.lock:
            fake.store.tickets[ids[3]].created_at = Y9999
            fake.store.tickets[ids[7]].created_at = Y0001
        yield fake, {
            str(surrogate["ticket"]["id"]): "subject holds a lone UTF-16 surrogate",
            str(ids[3]): "created_at is 9999-12-31",
            str(ids[7]): "created_at is 0001-01-01",
        }


def _connector(fake: FakeZendesk) -> Any:
    config = zd.ZendeskConfig.load(
        {"base_url": fake.base_url, "email": fake.email, "api_token_env": "T",
         "fields": {"sla_resolution_status": 360000000103}, "job_poll_interval": 0.02,
         "retry": {"jitter": 0, "backoff_initial": 0.01, "max_attempts": 2}},
        connector="zendesk", environ={"T": fake.api_token},
    )
    return zd.ZendeskConnector(config, instance="zendesk")


def test_a_sync_quarantines_the_bad_tickets_and_processes_the_rest(
    tmp_path: Path, pack: RulePack, hostile: tuple[FakeZendesk, dict[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, bad = hostile
    now = NOW
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, _connector(fake) as conn:
        job = Sync(store, pack, {"zendesk": conn}, clock=lambda: now, escalate_from=BACKFILL)
        with caplog.at_level(logging.WARNING, logger="slaplug.sync"):
            first = job.run_once()
        assert first.quarantined == 3
        held = {q.ticket_id: q for q in store.quarantined()}
        assert set(held) == set(bad)
        for ticket_id, why in bad.items():
            assert why in held[ticket_id].reason, held[ticket_id].reason
            assert "fix" in held[ticket_id].reason
            assert held[ticket_id].stage == "check"
        assert "quarantined" in caplog.text
        # Every other ticket went through: snapshot saved, measured.
        others = {str(i) for i in fake.store.tickets} - set(bad)
        assert set(store.load_snapshots("zendesk", others)) == others
        assert first.tickets_read >= len(others) and first.planned > 0
        # The next pass goes on too; a changed ticket is read again and stays held.
        fake.simulate("agent_reply", int(next(iter(bad))))
        fake.clock.advance(120)
        later = now + timedelta(minutes=5)
        job.clock = lambda: later
        job.run_once()
        assert {q.ticket_id for q in store.quarantined()} == set(bad)


def test_a_fixed_ticket_leaves_the_quarantine(
    tmp_path: Path, pack: RulePack, hostile: tuple[FakeZendesk, dict[str, str]]
) -> None:
    fake, bad = hostile
    dated = next(t for t, why in bad.items() if "9999" in why)
    now = NOW
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, _connector(fake) as conn:
        job = Sync(store, pack, {"zendesk": conn}, clock=lambda: now, escalate_from=BACKFILL)
        job.run_once()
        assert dated in {q.ticket_id for q in store.quarantined()}
        with fake.lock:
            fake.store.tickets[int(dated)].created_at = int(now.timestamp()) - 3 * 86400
        fake.simulate("internal_note", int(dated))  # a change, so the export serves it again
        fake.clock.advance(120)
        later = now + timedelta(minutes=5)
        job.clock = lambda: later
        job.run_once()
        assert dated not in {q.ticket_id for q in store.quarantined()}
        assert store.load_snapshot("zendesk", dated) is not None


def test_a_webhook_batch_goes_on_past_the_bad_tickets(
    tmp_path: Path, pack: RulePack, hostile: tuple[FakeZendesk, dict[str, str]]
) -> None:
    fake, bad = hostile
    good = [str(i) for i in sorted(fake.store.tickets) if str(i) not in bad][:5]
    now = NOW
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, _connector(fake) as conn:
        for n, ticket_id in enumerate([*bad, *good]):
            # The event-subscribed envelope (Zendesk's "Webhooks: ticket events" reference).
            body = {"id": f"d-{n}", "type": "zen:event-type:ticket.priority_changed",
                    "subject": f"zen:ticket:{ticket_id}", "detail": {"id": ticket_id}}
            assert store.inbox_put("zendesk", f"d-{n}", {}, json.dumps(body).encode(), now=now)
        worker = Worker(store, pack, {"zendesk": conn}, batch=50, clock=lambda: now)
        assert worker.drain() == len(bad) + len(good)
        assert store.inbox_stats() == {"done": len(bad) + len(good)}
        assert {q.ticket_id for q in store.quarantined()} == set(bad)
        assert set(store.load_snapshots("zendesk", good)) == set(good)


def test_explain_names_the_bad_date_instead_of_raising(pack: RulePack) -> None:
    for created in ("9999-12-31T00:00:00Z", "0001-01-01T00:00:00+05:00"):
        ticket = ticket_from_dict({"id": "7", "created_at": created, "status": "open"})
        with pytest.raises(TicketFormatError, match=r"created_at is .*outside the times"):
            explain(pack, ticket, datetime(2026, 3, 2, tzinfo=UTC))


def test_explain_cli_reports_a_surrogate_as_a_message(tmp_path: Path) -> None:
    ticket = tmp_path / "t.json"
    # The escape is written as JSON text: valid JSON, not valid Unicode once decoded.
    ticket.write_text('{"id": "7", "created_at": "2026-03-02T09:00:00Z", "status": "open", '
                      '"subject": "a \\ud800 b"}')
    result = CliRunner().invoke(
        main, ["explain", "--rules", str(REPO / "rules" / "default.yaml"), "--ticket", str(ticket)]
    )
    assert result.exit_code == 2, result.output
    assert "subject holds a lone UTF-16 surrogate" in result.output
    assert "Traceback" not in result.output


def test_an_evaluation_that_raises_quarantines_only_that_ticket(
    tmp_path: Path, pack: RulePack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback for failures no check foresaw: the batch is retried ticket by ticket."""
    real = pack.assess_many

    def picky(tickets: Any, now: datetime) -> Any:
        if any(t.id == "13" for t in tickets):
            raise ArithmeticError("boom on 13")
        return real(tickets, now)

    monkeypatch.setattr(pack, "assess_many", picky)
    tickets = [
        ticket_from_dict({"id": str(i), "connector": "z", "created_at": "2026-03-02T09:00:00Z",
                          "status": "open", "priority": "high"})
        for i in range(10, 16)
    ]
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        job = Sync(store, pack, {}, clock=lambda: now)
        summary = Summary()
        job._evaluate(tickets, summary, BACKFILL["zendesk"])  # the step both runners share
        assert summary.quarantined == 1
        (held,) = store.quarantined()
        assert (held.ticket_id, held.stage) == ("13", "evaluate")
        assert "ArithmeticError: boom on 13" in held.reason
        assert summary.planned > 0, "the other five were evaluated and planned"

        # A failure every ticket shares is not the tickets' fault: it is raised.
        monkeypatch.setattr(pack, "assess_many", lambda tickets, now: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            job._evaluate(tickets, Summary(), BACKFILL["zendesk"])
        assert len(store.quarantined()) == 1


def test_a_ticket_the_connector_cannot_read_is_quarantined_by_the_worker(
    tmp_path: Path, pack: RulePack, hostile: tuple[FakeZendesk, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, bad = hostile
    good = [str(i) for i in sorted(fake.store.tickets) if str(i) not in bad][:3]
    now = NOW
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, _connector(fake) as conn:
        real = conn.read_ticket

        def strict(ticket_id: str) -> Any:
            if ticket_id == good[0]:  # as a connector whose parser meets a value it cannot read
                raise ValueError("Invalid isoformat string: '1-01-01T00:00:00Z'")
            return real(ticket_id)

        monkeypatch.setattr(conn, "read_ticket", strict)
        for n, ticket_id in enumerate(good):
            body = {"id": f"d-{n}", "type": "zen:event-type:ticket.status_changed",
                    "subject": f"zen:ticket:{ticket_id}", "detail": {"id": ticket_id}}
            store.inbox_put("zendesk", f"d-{n}", {}, json.dumps(body).encode(), now=now)
        Worker(store, pack, {"zendesk": conn}, clock=lambda: now).drain()
        assert store.inbox_stats() == {"done": 3}
        (held,) = store.quarantined()
        assert (held.ticket_id, held.stage) == (good[0], "read")
        assert "ValueError: Invalid isoformat" in held.reason


def test_quarantine_list_prints_and_exports_json(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store.open(f"sqlite:///{db}") as store:
        store.quarantine([("zendesk", "7\ud800", "check", "subject holds a lone surrogate")],
                         now=datetime(2026, 3, 2, tzinfo=UTC))
    config = tmp_path / "slaplug.yaml"
    config.write_text(f"store: sqlite:///{db}\nrules: [{REPO / 'rules' / 'default.yaml'}]\n")
    runner = CliRunner()
    text = runner.invoke(main, ["quarantine", "list", "--config", str(config)])
    assert text.exit_code == 0, text.output
    assert "zendesk:7\\ud800  check" in text.output and "lone surrogate" in text.output
    as_json = runner.invoke(main, ["quarantine", "list", "--config", str(config), "--json"])
    assert as_json.exit_code == 0, as_json.output
    (row,) = json.loads(as_json.output)
    assert row["ticket_id"] == "7\\ud800" and row["stage"] == "check" and row["times"] == 1


def test_assess_cli_names_the_bad_ticket_instead_of_a_traceback(tmp_path: Path) -> None:
    tickets = tmp_path / "t.json"
    tickets.write_text(json.dumps([
        {"id": "1", "created_at": "2026-03-02T09:00:00Z", "status": "open"},
        {"id": "2", "created_at": "9999-12-31T00:00:00Z", "status": "open"},
    ]))
    result = CliRunner().invoke(
        main, ["assess", "--rules", str(REPO / "rules" / "default.yaml"), "--tickets", str(tickets),
               "--engine", "python"]
    )
    assert result.exit_code == 2, result.output
    assert "t.json[1]: created_at is 9999-12-31" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
