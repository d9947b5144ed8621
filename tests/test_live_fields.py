"""Live SLA fields: a helpdesk field that shows the real deadline and follows it.

The end-to-end test runs real syncs against the fake Zendesk (real HTTP) and checks, after
each step, the field's value on the fake and the exact number of writes it cost. The store
tests hold the outbox to its ordering promise: an older value never lands after a newer one.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_store import pg_database, url  # noqa: F401  (fixtures: SQLite and PostgreSQL)

from slaplug.errors import RuleError
from slaplug.model import ActionKind, MeasureState, Metric, SlaMeasure, Ticket
from slaplug.rules.compile import compile_files
from slaplug.rules.live import LiveFields, LiveValue, format_deadline, live_action
from slaplug.rules.pack import RulePack
from slaplug.store import Store

# A 24x7 calendar keeps the expected deadlines plain arithmetic: start + target + pauses.
RULES = """
policies:
  - name: support
    pause_statuses: [pending]
    targets:
      first_response: {urgent: 1h, "*": 8h}
      resolution: {urgent: 4h, "*": 24h}
    live_fields:
      resolution: sla_resolution_due
"""

#: The fake's "SLA status" text field (zendesk_generate.FIELD_SLA_STATUS): Zendesk has no
#: date-time field, and a text field takes the ISO 8601 instant as it is.
FIELD_ID = 360_000_000_103
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@contextlib.contextmanager
def _fake_zendesk(
    fields: dict[str, int],
) -> Iterator[tuple[Any, Any, Callable[[], datetime]]]:
    """A fake Zendesk whose clock starts at T0 with no tickets, a connector on it mapping
    ``fields``, and the fake's clock as a sync's clock."""
    zd = pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
    from slaplug_zendesk.fake import FakeZendesk  # the fake ships with the plugin

    with FakeZendesk.start(now=T0, tickets=0, days=1, job_complete_after=0.05, job_polls=1) as fake:
        config = zd.ZendeskConfig.load(
            {"base_url": fake.base_url, "email": fake.email, "api_token_env": "T",
             "fields": fields, "job_poll_interval": 0.02},
            connector="zendesk", environ={"T": fake.api_token},
        )

        def fake_now() -> datetime:
            return datetime.fromtimestamp(fake.now, UTC)

        with zd.ZendeskConnector(config, instance="zendesk") as conn:
            yield fake, conn, fake_now


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- end to end: a real sync against the fake Zendesk ----------------------------------------


def test_live_deadline_field_follows_a_pause_and_a_priority_change_with_one_write_each(
    tmp_path: Path,
) -> None:
    from slaplug.sync import Sync

    with _fake_zendesk({"sla_resolution_due": FIELD_ID}) as (fake, conn, fake_now), \
            Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
            RulePack.load([_write(tmp_path, RULES)], engine="python") as pack:
        job = Sync(store, pack, {"zendesk": conn}, clock=fake_now)
        job.run_once()  # go-live on an empty account
        created = fake.simulate("create", subject="Printer on fire", priority="normal")
        tid = int(created["ticket"]["id"])
        # The ticket's own time, in whole seconds: the fake's clock runs on meanwhile.
        opened = _parse(created["ticket"]["created_at"])

        def step(minutes: float) -> tuple[Any, int]:
            """Let time pass (exports hold back their last minute), sync, and return
            the summary and the writes the fake accepted for the ticket."""
            fake.advance(minutes * 60)
            before = len(_ticket_writes(fake, tid))
            summary = job.run_once()
            return summary, len(_ticket_writes(fake, tid)) - before

        def shown() -> Any:
            cfs = fake.ticket(tid)["custom_fields"]
            return next(cf["value"] for cf in cfs if cf["id"] == FIELD_ID)

        # 1. The new ticket shows its deadline: opened + 24h (one write), as a dry run
        # said beforehand without writing.
        fake.advance(60)
        dry = Sync(store, pack, {"zendesk": conn}, clock=fake_now, dry_run=True).run_once()
        assert (dry.live_writes, len(_ticket_writes(fake, tid))) == (1, 0)
        assert [a.params for a in dry.would_plan] == [
            {"field": "sla_resolution_due", "value": _iso(opened + timedelta(hours=24))}
        ]
        summary, writes = step(1)
        assert shown() == _iso(opened + timedelta(hours=24))
        assert (summary.live_writes, writes) == (1, 1)

        # 2. A sync that changes nothing writes nothing.
        summary, writes = step(2)
        assert (summary.live_writes, summary.planned, writes) == (0, 0, 0)
        assert summary.api_writes == 0

        # 3. Pending: the clock pauses and the deadline is unknown until it resumes, so
        # the field is emptied (one write).
        fake.simulate("status", tid, value="pending")
        paused_at = fake_now()
        summary, writes = step(2)
        assert shown() is None
        assert (summary.live_writes, writes) == (1, 1)
        summary, writes = step(90)  # still paused: nothing to write
        assert (summary.live_writes, writes) == (0, 0)

        # 4. Open again: the deadline moved by the pause (one write).
        fake.simulate("status", tid, value="open")
        pause = fake_now() - paused_at
        assert pause > timedelta(minutes=90)
        summary, writes = step(2)
        assert shown() == _iso(opened + timedelta(hours=24) + pause)
        assert (summary.live_writes, writes) == (1, 1)

        # 5. Urgent: re-targeted to 4h from the start, the pause still added (one write).
        fake.simulate("priority", tid, value="urgent")
        summary, writes = step(2)
        assert shown() == _iso(opened + timedelta(hours=4) + pause)
        assert (summary.live_writes, writes) == (1, 1)

        # 6. And again, nothing changed: no write.
        summary, writes = step(2)
        assert (summary.live_writes, writes) == (0, 0)

        # 7. Solved: no write on a done ticket; reopened: the new cycle's deadline.
        fake.simulate("status", tid, value="solved")
        summary, writes = step(2)
        assert (summary.live_writes, writes) == (0, 0)
        fake.simulate("requester_reply", tid, body="It is on fire again")
        reopened = _parse(fake.ticket(tid)["updated_at"])
        summary, writes = step(2)
        assert shown() == _iso(reopened + timedelta(hours=4))
        assert (summary.live_writes, writes) == (1, 1)

        # Five values in all, each one write, each key applied once.
        keys = _live_keys(store, str(tid))
        assert [status for _, status in keys] == ["applied"] * 5
        assert len(_ticket_writes(fake, tid)) == 5


#: The fake's "SLA breach at" date field (zendesk_generate.FIELD_SLA_BREACH_AT): Zendesk's
#: date fields take YYYY-MM-DD only and refuse the whole update otherwise (zenpy issue #425).
DATE_FIELD_ID = 360_000_000_104


@pytest.mark.parametrize("fmt", ["date", "instant"])
def test_live_deadline_in_a_zendesk_date_field_needs_the_date_format(
    tmp_path: Path, fmt: str
) -> None:
    from slaplug.sync import Sync

    rules = RULES.replace(
        "resolution: sla_resolution_due", f"resolution: {{field: sla_due_date, format: {fmt}}}"
    )
    with _fake_zendesk({"sla_due_date": DATE_FIELD_ID}) as (fake, conn, fake_now), \
            Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
            RulePack.load([_write(tmp_path, rules)], engine="python") as pack:
        job = Sync(store, pack, {"zendesk": conn}, clock=fake_now)
        job.run_once()  # go-live on an empty account
        created = fake.simulate("create", subject="Printer on fire", priority="normal")
        tid = int(created["ticket"]["id"])
        # The ticket's own time, in whole seconds: the fake's clock runs on meanwhile.
        opened = _parse(created["ticket"]["created_at"])
        fake.advance(120)
        job.run_once()
        cfs = fake.ticket(tid)["custom_fields"]
        shown = next(cf["value"] for cf in cfs if cf["id"] == DATE_FIELD_ID)
        refused = [w for w in fake.writes if not w.accepted]
        if fmt == "date":
            assert shown == (opened + timedelta(hours=24)).date().isoformat()
            assert [status for _, status in _live_keys(store, str(tid))] == ["applied"]
        else:
            # Not sent: Zendesk would refuse the whole update with a 422. The value
            # fails at once, saying what to change.
            assert shown is None
            assert refused == []
            assert [status for _, status in _live_keys(store, str(tid))] == ["failed"]
            from sqlalchemy import select

            from slaplug.store.schema import ledger

            with store.engine.connect() as c:
                detail = c.execute(
                    select(ledger.c.detail).where(ledger.c.slot.is_not(None))
                ).scalar_one()
            assert "YYYY-MM-DD" in detail and "format: date" in detail


@pytest.mark.parametrize("legacy", [False, True], ids=["cf_names", "names_without_cf"])
def test_live_deadline_in_a_freshdesk_date_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, legacy: bool
) -> None:
    """A live field written to a Freshdesk custom date field: ``custom_fields`` on the
    ticket update, the date as ``YYYY-MM-DD`` (Freshdesk API v2 reference: "Only dates in the
    format YYYY-MM-DD are accepted as input for custom date fields"), once. Under the
    account's own key: ``cf_sla_due_date``, or ``sla_due_date`` where the account's fields
    are named without ``cf_`` (fields made in 2015-2016: slaplug_freshdesk/fields.py)."""
    from slaplug.sync import Sync

    fd = pytest.importorskip("slaplug_freshdesk", reason="the Freshdesk plugin is not installed")
    from slaplug_freshdesk.fake import API_KEY, FakeFreshdesk  # ships with the plugin

    rules = RULES.replace(
        "resolution: sla_resolution_due", "resolution: {field: sla_due_date, format: date}"
    )
    monkeypatch.setenv("FD_KEY", API_KEY)
    now = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # after the fake's last change, before deadlines
    key = "sla_due_date" if legacy else "cf_sla_due_date"
    with FakeFreshdesk(legacy_field_names=legacy) as fake:
        config = fd.FreshdeskConfig(base_url=fake.base_url, api_key_env="FD_KEY")
        created = datetime.fromisoformat(fake.tickets[1]["created_at"].replace("Z", "+00:00"))
        with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
                RulePack.load([_write(tmp_path, rules)], engine="python") as pack, \
                fd.FreshdeskConnector(config, instance="freshdesk") as conn:
            summary = Sync(store, pack, {"freshdesk": conn}, clock=lambda: now).run_once()
            puts = [
                r for r in fake.received
                if r.method == "PUT" and r.path == "/api/v2/tickets/1"
            ]
            # Ticket 1 is open at medium priority: due 24 h after it was created (24x7).
            due = (created + timedelta(hours=24)).date().isoformat()
            assert [r.json() for r in puts] == [{"custom_fields": {key: due}}]
            assert fake.tickets[1]["custom_fields"][key] == due
            # Open tickets get one write each; the resolved one (3) none; nothing refused.
            assert summary.live_writes == sum(
                1 for t in fake.tickets.values() if t["status"] == 2
            )
            assert [status for _, status in _live_keys(store, "1")] == ["applied"]
            again = Sync(store, pack, {"freshdesk": conn}, clock=lambda: now).run_once()
            assert again.live_writes == 0


def _ticket_writes(fake: Any, tid: int) -> list[Any]:
    return [
        w for w in fake.writes
        if w.accepted and w.method == "PUT" and f"/tickets/{tid}" in w.path
    ]


def _live_keys(store: Store, tid: str) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from slaplug.store.schema import ledger

    with store.engine.connect() as c:
        rows = c.execute(
            select(ledger.c.key, ledger.c.status)
            .where(ledger.c.ticket_id == tid, ledger.c.slot.is_not(None))
            .order_by(ledger.c.seq)
        ).all()
    return [(r.key, r.status) for r in rows]


# -- the outbox: each value once, never an older one last --------------------------------------


def _value(tid: str, value: str | None, seq: int, connector: str = "desk") -> tuple[Any, str, int]:
    t = Ticket(id=tid, connector=connector, created_at=T0, status="open")
    return live_action(LiveValue(t, "sla_due", value, None), seq), "sla_due", seq


def test_a_newer_value_supersedes_a_waiting_older_one(url: str) -> None:  # noqa: F811
    with Store.open(url) as store:
        (k1,) = store.plan_live([_value("1", "2026-12-02T09:00:00Z", 1)], now=T0)
        (k2,) = store.plan_live([_value("1", "2026-12-02T11:00:00Z", 2)], now=T0)
        assert store.ledger_status(k1) == "superseded"
        claims = store.outbox_claim("desk", now=T0)
        assert [c.key for c in claims] == [k2]
        assert claims[0].action.params == {"field": "sla_due", "value": "2026-12-02T11:00:00Z"}
        # Planning the same value again (a re-run after a crash) queues nothing.
        assert store.plan_live([_value("1", "2026-12-02T11:00:00Z", 2)], now=T0) == []
        heads = store.live_heads("desk", ["1"])
        assert heads[("1", "sla_due")].seq == 2
        assert heads[("1", "sla_due")].value == "2026-12-02T11:00:00Z"


def test_a_newer_value_waits_while_an_older_one_is_in_flight(url: str) -> None:  # noqa: F811
    """A stale value landing after a newer one must not win: one write per field in flight."""
    with Store.open(url) as store:
        (k1,) = store.plan_live([_value("1", "A", 1)], now=T0)
        (held,) = store.outbox_claim("desk", now=T0, worker_id="w1")  # in flight with worker 1
        (k2,) = store.plan_live([_value("1", "B", 2), _value("2", "C", 1)], now=T0)[:1] or [""]
        assert store.ledger_status(k1) == "pending", "an in-flight write is left to finish"
        # Worker 2 gets ticket 2's value, not ticket 1's newer one while the older flies.
        (other,) = store.outbox_claim("desk", now=T0, worker_id="w2")
        assert other.action.ticket_id == "2"
        store.complete(other.key, "applied", now=T0)
        # The older one fails and comes back: it is superseded, never retried.
        assert store.outbox_fail(held.key, "503", now=T0) == "pending"
        later = T0 + timedelta(hours=2)
        claims = store.outbox_claim("desk", now=later, worker_id="w2")
        assert [c.action.params["value"] for c in claims] == ["B"]
        assert store.ledger_status(k1) == "superseded"
        assert k2.startswith("desk:1:live=sla_due:2:")


def test_a_failed_older_value_is_not_retried_after_a_newer_one(url: str) -> None:  # noqa: F811
    with Store.open(url) as store:
        (k1,) = store.plan_live([_value("1", "A", 1)], now=T0)
        (c,) = store.outbox_claim("desk", now=T0)
        store.complete(c.key, "failed", "no custom field", now=T0)
        (k2,) = store.plan_live([_value("1", "B", 2)], now=T0)
        assert store.ledger_status(k1) == "superseded"
        assert store.retry_failed(now=T0) == []
        assert [c.key for c in store.outbox_claim("desk", now=T0)] == [k2]


def test_two_planners_cannot_take_one_number(url: str) -> None:  # noqa: F811
    """The loser of a race for the next number queues nothing and has the ticket looked at
    again (it is due now), so the field ends on a value computed after the winner's."""
    with Store.open(url) as store:
        (k1,) = store.plan_live([_value("1", "A", 1)], now=T0)
        assert store.plan_live([_value("1", "B", 1)], now=T0) == []
        assert [d.ticket_id for d in store.due_before(T0 + timedelta(seconds=1), 10)] == ["1"]
        assert store.live_heads("desk", ["1"])[("1", "sla_due")].value == "A"
        assert store.ledger_status(k1) == "pending"


def test_a_ticket_s_live_history_lists_every_value_newest_first(url: str) -> None:  # noqa: F811
    """What `slaplug explain` shows: per field, each value with its ledger state."""
    with Store.open(url) as store:
        store.plan_live([_value("1", "A", 1), _value("2", "other ticket", 1)], now=T0)
        (c,) = [c for c in store.outbox_claim("desk", now=T0) if c.action.ticket_id == "1"]
        store.complete(c.key, "applied", now=T0 + timedelta(seconds=3))
        store.plan_live([_value("1", None, 2)], now=T0 + timedelta(minutes=1))
        store.plan_live([_value("1", "C", 3)], now=T0 + timedelta(minutes=2))
        (history,) = store.live_history("desk", "1").values()
        assert [(w.field, w.seq, w.value, w.status) for w in history] == [
            ("sla_due", 3, "C", "pending"),
            ("sla_due", 2, None, "superseded"),
            ("sla_due", 1, "A", "applied"),
        ]
        assert history[2].done_at == T0 + timedelta(seconds=3)
        assert (history[0].planned_at, history[0].done_at) == (T0 + timedelta(minutes=2), None)
        assert store.live_history("desk", "3") == {}


# -- what the field shows -------------------------------------------------------------------


def _measure(state: MeasureState, **kw: Any) -> SlaMeasure:
    base: dict[str, Any] = dict(
        policy="support", metric=Metric.RESOLUTION, cycle=1, state=state,
        target=timedelta(hours=4), start=T0, deadline=T0 + timedelta(hours=4),
        elapsed=timedelta(0), remaining=timedelta(hours=4), percent=0.0, breached_at=None,
        stopped_at=None, calendar="24x7", priority="urgent",
    )
    return SlaMeasure(**{**base, **kw})


def test_the_value_per_clock_state(tmp_path: Path) -> None:
    src = compile_files([_write(tmp_path, RULES + """
  - name: ola
    kind: ola
    targets: {resolution: {"*": 2h}}
    live_fields:
      resolution: {field: ola_due, format: local, paused: "paused"}
""")])
    live = LiveFields(src.policies, {"24x7": UTC})
    t = Ticket(id="1", connector="desk", created_at=T0, status="open")

    def show(*ms: SlaMeasure) -> dict[str, str | None]:
        return {v.field: v.value for v in live.values(t, ms)}

    running = _measure(MeasureState.RUNNING)
    assert show(running) == {"sla_resolution_due": "2026-12-01T13:00:00Z"}
    breached = _measure(MeasureState.BREACHED, breached_at=T0 + timedelta(hours=4))
    assert show(breached) == {"sla_resolution_due": "2026-12-01T13:00:00Z"}  # still due
    assert show(_measure(MeasureState.PAUSED, deadline=None)) == {"sla_resolution_due": None}
    met = _measure(MeasureState.ACHIEVED, stopped_at=T0 + timedelta(hours=1))
    assert show(met) == {"sla_resolution_due": None}
    # A reopened ticket shows its newest cycle.
    again = _measure(MeasureState.RUNNING, cycle=2, start=T0 + timedelta(days=1),
                     deadline=T0 + timedelta(days=1, hours=4))
    assert show(met, again) == {"sla_resolution_due": "2026-12-02T13:00:00Z"}
    ola = _measure(MeasureState.PAUSED, policy="ola", deadline=None)
    assert show(ola) == {"ola_due": "paused"}


def test_formats() -> None:
    from zoneinfo import ZoneInfo

    at = datetime(2026, 12, 7, 23, 30, 15, 999, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")
    assert format_deadline(at, "instant", berlin) == "2026-12-07T23:30:15Z"
    assert format_deadline(at, "local", berlin) == "2026-12-08T00:30:15+01:00"
    assert format_deadline(at, "date", berlin) == "2026-12-08"


# -- the rules language: checked like any other written field ---------------------------------


def test_a_live_field_is_listed_among_the_writes_at_its_line(tmp_path: Path) -> None:
    src = compile_files([_write(tmp_path, RULES)])
    (w,) = src.writes
    assert (w.kind, w.name, w.escalation) == (ActionKind.SET_FIELD, "sla_resolution_due",
                                              "policy support")
    assert (w.where.line, w.where.column) == (9, 19)


@pytest.mark.parametrize(
    ("extra", "message", "line"),
    [
        ("""
escalations:
  - name: stamp
    when: {breached: true}
    actions: [{set_field: {field: sla_resolution_due, value: late}}]
""", 'field "sla_resolution_due" is the live field of policy support', 14),
        ("""
  - name: team
    kind: ola
    targets: {resolution: {"*": 2h}}
    live_fields: {resolution: sla_resolution_due}
""", "an sla and an ola cannot share a live field", 14),
        ("""
  - name: other
    kind: ola
    targets: {resolution: {"*": 2h}}
    live_fields: {next_reply: next_due}
""", "next_reply has no target in this policy", 14),
        ("""
  - name: other
    kind: ola
    targets: {resolution: {"*": 2h}, first_response: {"*": 1h}}
    live_fields: {resolution: due, first_response: due}
""", 'field "due" already shows the resolution deadline', 14),
        ("""
  - name: other
    kind: ola
    targets: {resolution: {"*": 2h}}
    live_fields: {resolution: {field: due, format: datetime}}
""", "'instant', 'local' or 'date'", 14),
    ],
)
def test_live_field_mistakes_are_reported_at_their_line(
    tmp_path: Path, extra: str, message: str, line: int
) -> None:
    with pytest.raises(RuleError) as info:
        compile_files([_write(tmp_path, RULES + extra)])
    (problem,) = info.value.problems
    assert message in problem.message
    assert problem.line == line, problem


def test_a_store_from_before_live_fields_gains_their_columns(tmp_path: Path) -> None:
    """Step 7 adds ledger.slot and ledger.seq to an existing ledger, keeping its rows."""
    from sqlalchemy import delete, inspect, select, text

    from slaplug.store.migrations import migrate
    from slaplug.store.schema import ledger, schema_version

    old = f"sqlite:///{tmp_path / 'old.db'}"
    with Store.open(old) as s, s.engine.begin() as conn:  # make it look like version 5
        conn.execute(text("DROP INDEX ux_ledger_slot"))
        conn.execute(text("ALTER TABLE ledger DROP COLUMN seq"))
        conn.execute(text("ALTER TABLE ledger DROP COLUMN slot"))
        conn.execute(delete(schema_version).where(schema_version.c.version >= 6))
        conn.execute(text(
            "INSERT INTO ledger (key, connector, ticket_id, status, detail, action, planned_at) "
            "VALUES ('k', 'desk', '1', 'applied', '', '{}', '2026-12-01 09:00:00')"))
    with Store.open(old, migrate_schema=False) as s:
        # 6 (measures.rules_version, there already) and every later step run again: idempotent.
        assert migrate(s.engine)[:2] == [6, 7]
        columns = {c["name"] for c in inspect(s.engine).get_columns("ledger")}
        assert {"slot", "seq"} <= columns
        with s.engine.connect() as c:
            assert c.execute(select(ledger.c.key, ledger.c.slot)).all() == [("k", None)]
        assert s.plan_live([_value("1", "A", 1)], now=T0)


# -- slaplug doctor checks a live field like any other written field (a real process) ---------


def test_doctor_checks_a_live_field_on_the_helpdesk_at_its_rule(tmp_path: Path) -> None:
    import yaml

    from slaplug.testing.doctor import run_doctor

    pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
    from slaplug_zendesk.fake import FakeZendesk  # the fake ships with the plugin
    rules = _write(tmp_path, RULES)
    with FakeZendesk.start(tickets=1) as fake:

        def doctor(fields: dict[str, int]) -> Any:
            (tmp_path / "slaplug.yaml").write_text(yaml.safe_dump({
                "store": f"sqlite:///{tmp_path / 'store.db'}",
                "rules": [str(rules)],
                "connectors": {"zendesk": {
                    "plugin": "zendesk", "base_url": fake.base_url, "email": fake.email,
                    "api_token_env": "LIVE_ZD_TOKEN", "fields": fields, "timeout": 3,
                    "retry": {"max_attempts": 1},
                }},
            }))
            return run_doctor(tmp_path / "slaplug.yaml", {"LIVE_ZD_TOKEN": fake.api_token},
                              plugin="slaplug-zendesk")

        missing = doctor({})
        assert missing.code == 1
        check = missing.checks("zendesk")["field sla_resolution_due"]
        assert check["status"] == "fail"
        assert f"{rules}:9:19" in json_text(check)
        mapped = doctor({"sla_resolution_due": FIELD_ID})
        assert mapped.statuses("zendesk")["field sla_resolution_due"] == "ok"
        # A date field takes YYYY-MM-DD only (zenpy issue #425): the default `instant`
        # format there fails at the rule, saying what to change.
        dated = doctor({"sla_resolution_due": DATE_FIELD_ID})
        check = dated.checks("zendesk")["field sla_resolution_due"]
        assert check["status"] == "fail"
        assert "format: date" in json_text(check) and f"{rules}:9:19" in json_text(check)
        rules.write_text(
            RULES.replace(
                "resolution: sla_resolution_due",
                "resolution: {field: sla_resolution_due, format: date}",
            ),
            encoding="utf-8",
        )
        as_date = doctor({"sla_resolution_due": DATE_FIELD_ID})
        assert as_date.statuses("zendesk")["field sla_resolution_due"] == "ok"


def json_text(doc: Any) -> str:
    import json

    return json.dumps(doc)


# -- Jira: a date time picker field (the fake's "SLA breach at", customfield_10051) ------------
# On issue edit Jira takes only yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm there (Atlassian's "JIRA REST
# API examples": "2011-10-19T10:29:29.908+1100") and answers "Error parsing time: ..." to the
# instant format's "...T15:00:00Z" (recorded refusals cited at
# slaplug_jira.fake.writes.EDIT_TIME; the fake refuses them too), so the connector rewrites
# the deadline. Not yet tried against a real site (docs/rules/language.md says so).


def test_live_deadline_in_a_jira_date_time_field_follows_a_priority_change(
    tmp_path: Path,
) -> None:
    from slaplug.sync import Sync

    jira = pytest.importorskip("slaplug_jira", reason="the Jira plugin is not installed")
    from slaplug_jira.fake import FakeJira  # the fake ships with the plugin
    rules = _write(tmp_path, RULES)
    with FakeJira.start(now=T0, issues=0, bulk_polls=1) as fake:
        config = jira.JiraConfig.load(
            {"base_url": fake.base_url, "email": fake.email, "api_token_env": "T",
             "projects": ["SUP"], "bulk_poll_interval": 0.02,
             "fields": {"sla_resolution_due": "customfield_10051"}},
            connector="jira", environ={"T": fake.api_token},
        )

        def fake_now() -> datetime:
            return datetime.fromtimestamp(fake.now, UTC)

        with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
                RulePack.load([rules], engine="python") as pack, \
                jira.JiraConnector(config, instance="jira") as conn:
            job = Sync(store, pack, {"jira": conn}, clock=fake_now)
            job.run_once()
            key = fake.simulate("create", summary="VPN down", priority="Medium")["key"]
            # Written to the second, as format_deadline shows deadlines.
            opened = datetime.fromisoformat(fake.issue(key)["fields"]["created"]).replace(
                microsecond=0
            )

            def step() -> tuple[Any, int]:
                fake.advance(120)
                before = len([w for w in fake.writes if w.accepted])
                summary = job.run_once()
                return summary, len([w for w in fake.writes if w.accepted]) - before

            def shown() -> datetime:
                return datetime.fromisoformat(fake.issue(key)["fields"]["customfield_10051"])

            summary, writes = step()
            assert shown() == opened + timedelta(hours=24)
            assert (summary.live_writes, writes) == (1, 1)
            summary, writes = step()
            assert (summary.live_writes, writes) == (0, 0)
            fake.simulate("priority", key, value="Highest")
            summary, writes = step()
            assert shown() == opened + timedelta(hours=4)
            assert (summary.live_writes, writes) == (1, 1)
            summary, writes = step()
            assert (summary.live_writes, writes) == (0, 0)


# -- Jira: a date picker (the fake's "SLA due date", customfield_10057) -------------------------
# A date picker takes only yyyy-MM-dd on edit (Atlassian's "JIRA REST API examples":
# "customfield_10002": "2011-10-03"); anything else is 400 "Error parsing date string: ..."
# (sources at slaplug_jira.fake.writes.EDIT_DATE). Its changelog shows from/to 2026-12-02 and
# the date picker text 02/Dec/26 (slaplug_jira.fake.render.CHANGELOG_TIME_FORMAT).


def test_live_deadline_in_a_jira_date_picker_reads_back_from_history_as_the_field_shows(
    tmp_path: Path,
) -> None:
    from slaplug.model import EventKind
    from slaplug.sync import Sync

    jira = pytest.importorskip("slaplug_jira", reason="the Jira plugin is not installed")
    from slaplug_jira.fake import FakeJira  # the fake ships with the plugin

    rules = _write(tmp_path, RULES.replace(
        "resolution: sla_resolution_due", "resolution: {field: sla_resolution_due, format: date}"
    ))
    with FakeJira.start(now=T0, issues=0, bulk_polls=1) as fake:
        config = jira.JiraConfig.load(
            {"base_url": fake.base_url, "email": fake.email, "api_token_env": "T",
             "projects": ["SUP"], "bulk_poll_interval": 0.02,
             "fields": {"sla_resolution_due": "customfield_10057"}},
            connector="jira", environ={"T": fake.api_token},
        )

        def fake_now() -> datetime:
            return datetime.fromtimestamp(fake.now, UTC)

        with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
                RulePack.load([rules], engine="python") as pack, \
                jira.JiraConnector(config, instance="jira") as conn:
            job = Sync(store, pack, {"jira": conn}, clock=fake_now)
            job.run_once()
            key = fake.simulate("create", summary="VPN down", priority="Medium")["key"]
            opened = datetime.fromisoformat(fake.issue(key)["fields"]["created"])

            def step() -> tuple[Any, int]:
                fake.advance(120)
                before = len([w for w in fake.writes if w.accepted])
                summary = job.run_once()
                return summary, len([w for w in fake.writes if w.accepted]) - before

            def shown() -> Any:
                return fake.issue(key)["fields"]["customfield_10057"]

            summary, writes = step()
            assert shown() == (opened + timedelta(hours=24)).date().isoformat()  # 2026-12-02
            assert (summary.live_writes, writes) == (1, 1)
            # A priority change moves the deadline to the same day: nothing to write.
            fake.simulate("priority", key, value="High")
            summary, writes = step()
            assert (summary.live_writes, writes) == (0, 0)
            fake.simulate("priority", key, value="Highest")  # 4h: the day it was opened
            summary, writes = step()
            assert shown() == opened.date().isoformat()
            assert (summary.live_writes, writes) == (1, 1)
            assert not [w for w in fake.writes if not w.accepted]  # no refused edit

            # Read back: the history's values are the text the field shows, not 01/Dec/26.
            ticket = conn.read_ticket(key)
            changes = [
                (e.old, e.value) for e in ticket.events
                if e.kind is EventKind.FIELD_CHANGED and e.field == "fields.sla_resolution_due"
            ]
            assert changes == [(None, "2026-12-02"), ("2026-12-02", "2026-12-01")]
            assert ticket.fields["sla_resolution_due"] == changes[-1][1] == shown()


# -- slaplug explain shows each live field's writes ---------------------------------------------


def _synced(tmp_path: Path, tid: str, status: str = "open") -> tuple[Ticket, Path]:
    """A stored snapshot of zendesk ticket ``tid`` (opened at T0, normal priority) and a
    slaplug.yaml for it (no credential needed: explain calls no helpdesk)."""
    from slaplug.model import EventKind, TicketEvent

    t = Ticket(
        id=tid, connector="zendesk", created_at=T0, status=status, priority="normal",
        events=(TicketEvent(EventKind.CREATED, T0),), updated_at=T0,
    )
    config = tmp_path / "slaplug.yaml"
    config.write_text(
        f"store: sqlite:///{tmp_path / 's.db'}\nrules: [{_write(tmp_path, RULES)}]\n"
        "connectors:\n  zendesk: {plugin: zendesk, base_url: 'https://acme.zendesk.com', "
        "email: ops@acme.example, api_token_env: ZD_TOKEN}\n",
        encoding="utf-8",
    )
    return t, config


def _plan(store: Store, t: Ticket, value: str | None, seq: int, at: datetime) -> str:
    (key,) = store.plan_live(
        [(live_action(LiveValue(t, "sla_resolution_due", value, None), seq),
          "sla_resolution_due", seq)],
        now=at,
    )
    return key


def test_explain_shows_each_live_field_s_last_value_and_its_ledger_state(
    tmp_path: Path, slaplug_register: Any
) -> None:
    import json

    from click.testing import CliRunner

    from slaplug.cli import main

    slaplug_register(
        pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed"),
        name="zendesk",
    )
    t, config = _synced(tmp_path, "7")
    due = _iso(T0 + timedelta(hours=24))
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        store.save_snapshots([t], now=T0)
        first = _plan(store, t, "2026-12-01T21:00:00Z", 1, T0)
        (c,) = store.outbox_claim("zendesk", now=T0)
        store.complete(c.key, "applied", now=T0 + timedelta(seconds=5))
        _plan(store, t, "2026-12-01T23:00:00Z", 2, T0 + timedelta(minutes=10))
        _plan(store, t, due, 3, T0 + timedelta(minutes=20))  # supersedes number 2, unsent
        assert store.ledger_status(first) == "applied"
    at = (T0 + timedelta(hours=1)).isoformat()
    runner = CliRunner()
    out = runner.invoke(main, ["explain", "zendesk:7", "--config", str(config), "--at", at,
                               "--json"])
    assert out.exit_code == 0, out.output
    (field,) = json.loads(out.output)["live_fields"]
    assert (field["field"], field["now"], field["clock"], field["held"]) == (
        "sla_resolution_due", due, "support/resolution#1", False
    )
    assert [(w["seq"], w["value"], w["status"]) for w in field["writes"]] == [
        (3, due, "pending"),
        (2, "2026-12-01T23:00:00Z", "superseded"),
        (1, "2026-12-01T21:00:00Z", "applied"),
    ]
    assert field["writes"][1]["detail"] == "a newer value (number 3) of this live field replaced it"
    text = runner.invoke(main, ["explain", "zendesk:7", "--config", str(config), "--at", at])
    assert text.exit_code == 0, text.output
    shown = text.output.split("Live fields (what each should show now; the values planned "
                              "for it):\n")[1]
    assert shown.splitlines() == [
        f"  sla_resolution_due: now {due} (support/resolution#1)",
        f"    #3 {due}: pending (planned 2026-12-01T09:20:00+00:00)",
        "    #2 2026-12-01T23:00:00Z: superseded (planned 2026-12-01T09:10:00+00:00, "
        "2026-12-01T09:20:00+00:00): a newer value (number 3) of this live field replaced it",
        "    #1 2026-12-01T21:00:00Z: applied (planned 2026-12-01T09:00:00+00:00, "
        "2026-12-01T09:00:05+00:00)",
    ]
    # docs/status.md shows this very output (fixed times: T0 and --at), header to the end.
    page = (Path(__file__).resolve().parent.parent / "docs" / "status.md").read_text(
        encoding="utf-8"
    )
    header = "Live fields (what each should show now; the values planned for it):\n"
    assert page.count("```text\n" + header) == 1, "docs/status.md: the live fields example moved"
    documented = page.split("```text\n" + header)[1].split("```")[0]
    assert documented == shown


def test_explain_says_when_the_next_sync_writes_a_live_field_and_when_it_will_not(
    tmp_path: Path, slaplug_register: Any
) -> None:
    from click.testing import CliRunner

    from slaplug.cli import main

    slaplug_register(
        pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed"),
        name="zendesk",
    )
    t, config = _synced(tmp_path, "8")
    solved, _ = _synced(tmp_path, "9", status="solved")
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
        store.save_snapshots([t, solved], now=T0)
        _plan(store, solved, "2026-12-01T21:00:00Z", 1, T0)
    at = (T0 + timedelta(hours=1)).isoformat()

    def live(tid: str) -> list[str]:
        out = CliRunner().invoke(main, ["explain", f"zendesk:{tid}", "--config", str(config),
                                        "--at", at])
        assert out.exit_code == 0, out.output
        return out.output.split("the values planned for it):\n")[1].splitlines()

    # Never written yet: the next sync writes the deadline.
    assert live("8") == [
        f"  sla_resolution_due: now {_iso(T0 + timedelta(hours=24))} (support/resolution#1)",
        "    the next sync writes the value above",
    ]
    # Solved: left as it was, whatever the clock says.
    assert live("9")[1:] == [
        "    not written while the ticket is solved or closed",
        "    #1 2026-12-01T21:00:00Z: pending (planned 2026-12-01T09:00:00+00:00)",
    ]


# -- two rules versions: each cycle's field under the version in force when it started ---------

#: v1 and v2 differ in every way a live field shows: targets, and the zone of the calendar
#: that ``format: local`` writes the deadline in (the calendar keeps its name).
VERSIONED = """
calendars:
  desk: {{timezone: {zone}, hours: {{mon-sun: "00:00-24:00"}}}}
policies:
  - name: support
    calendar: desk
    targets:
      resolution: {{urgent: {urgent}, "*": {normal}}}
    live_fields:
      resolution: {{field: sla_resolution_due, format: local}}
"""


def test_a_live_field_follows_each_cycle_under_its_own_rules_version(tmp_path: Path) -> None:
    """v2 takes effect while the ticket's first cycle runs: the field keeps showing v1's
    deadline in v1's zone, also when the priority changes after the date; the cycle a
    reopening starts is under v2, its target and its zone. One write per value."""
    from zoneinfo import ZoneInfo

    from slaplug.rules.versions import RulesVersion, VersionedPack
    from slaplug.sync import Sync


    berlin, new_york = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    v1_path = _write(tmp_path, VERSIONED.format(zone="Europe/Berlin", urgent="4h", normal="24h"),
                     "v1.yaml")
    v2_path = _write(tmp_path, VERSIONED.format(zone="America/New_York", urgent="2h",
                                                normal="8h"), "v2.yaml")
    effective = T0 + timedelta(hours=2)

    def local(at: datetime, zone: ZoneInfo) -> str:
        return at.replace(microsecond=0).astimezone(zone).isoformat()

    with _fake_zendesk({"sla_resolution_due": FIELD_ID}) as (fake, conn, fake_now), \
            Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
            RulePack.load([v1_path], engine="python") as v1, \
            RulePack.load([v2_path], engine="python") as v2:
        rules = VersionedPack([RulesVersion("v1", None, v1),
                               RulesVersion("v2", effective, v2)])
        job = Sync(store, rules, {"zendesk": conn}, clock=fake_now)
        job.run_once()
        created = fake.simulate("create", subject="Printer on fire", priority="normal")
        tid = int(created["ticket"]["id"])
        # The ticket's own time, in whole seconds: the fake's clock runs on meanwhile.
        opened = _parse(created["ticket"]["created_at"])

        def step(minutes: float) -> tuple[Any, int]:
            fake.advance(minutes * 60)
            before = len(_ticket_writes(fake, tid))
            summary = job.run_once()
            return summary, len(_ticket_writes(fake, tid)) - before

        def shown() -> Any:
            cfs = fake.ticket(tid)["custom_fields"]
            return next(cf["value"] for cf in cfs if cf["id"] == FIELD_ID)

        # Before the date: v1's 24 hours, in Berlin time.
        fake.advance(60)
        summary, writes = step(1)
        assert shown() == local(opened + timedelta(hours=24), berlin)
        assert (summary.live_writes, writes) == (1, 1)

        # v2 takes effect: the running cycle keeps v1, so nothing moves, nothing is written.
        summary, writes = step(150)
        assert fake_now() > effective
        assert (summary.live_writes, writes) == (0, 0)

        # Urgent after the date: re-targeted by v1 (4 hours, Berlin), not v2 (2 hours).
        fake.simulate("priority", tid, value="urgent")
        summary, writes = step(2)
        assert shown() == local(opened + timedelta(hours=4), berlin)
        assert (summary.live_writes, writes) == (1, 1)

        # Solved (no write), then reopened: the new cycle started under v2, so v2's urgent
        # target and v2's zone.
        fake.simulate("status", tid, value="solved")
        summary, writes = step(2)
        assert (summary.live_writes, writes) == (0, 0)
        fake.simulate("requester_reply", tid, body="It is on fire again")
        reopened = _parse(fake.ticket(tid)["updated_at"])
        summary, writes = step(2)
        assert shown() == local(reopened + timedelta(hours=2), new_york)
        assert shown().endswith("-05:00")
        assert (summary.live_writes, writes) == (1, 1)
        summary, writes = step(2)
        assert (summary.live_writes, writes) == (0, 0)

        assert store.measure_versions(f"zendesk:{tid}") == {
            ("support", "resolution", 1): "v1",
            ("support", "resolution", 2): "v2",
        }
        history = store.live_history("zendesk", str(tid))["sla_resolution_due"]
        assert [(w.seq, w.status) for w in history] == [(3, "applied"), (2, "applied"),
                                                        (1, "applied")]
        assert len(_ticket_writes(fake, tid)) == 3
