"""The go-live rules: when an escalation level's threshold was crossed, the cutoff, done tickets.

The threshold time (`slaplug.golive.LevelThresholds.crossed_at`) is checked against an oracle
that knows nothing of it: the earliest instant at which the rules pack, evaluating the ticket
as it stood then, plans the action (found by bisection to the second).
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_store import pg_database, url  # noqa: F401  (fixtures: SQLite and PostgreSQL)
from tinydesk import TinyConnector

from slaplug import hookimpl
from slaplug.config import load_settings
from slaplug.errors import ConfigError, ProblemsError
from slaplug.golive import ThresholdTimes, is_done, parse_escalate_from
from slaplug.model import Action, EventKind, Ticket, TicketEvent
from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.store.golive import ALREADY_LIVE

# Mon 2 Nov 2026 .. Fri 6 Nov 2026; the calendar is open 09:00-17:00 UTC on weekdays.
MON = datetime(2026, 11, 2, tzinfo=UTC)
#: The go-live of the syncs against the fake Zendesk, pinned: the instant its account is built
#: against (``DEFAULT_END``, a Monday, 13:00 in Berlin). With the real clock, what the shipped
#: rules (Berlin business hours) held and wrote depended on the weekday and hour the test ran.
LIVE = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

RULES = """
calendars:
  office:
    timezone: UTC
    hours: {mon-fri: "09:00-17:00"}
policies:
  - name: sla
    calendar: office
    pause_statuses: [pending]
    targets:
      first_response: {urgent: 1h, normal: 8h}
      resolution: {urgent: 8h, normal: 16h}
escalations:
  - name: frt-breached
    when: {metric: first_response, breached: true}
    actions: [{add_tag: frt_breached}]
  - name: res-at-risk
    when: {metric: resolution, state: running, percent: {gte: 75}}
    actions: [{add_tag: at_risk}, {comment: "75 % used"}]
  - name: res-three-hours
    when: {metric: resolution, elapsed: {gte: 3h}}
    actions: [{add_tag: three_hours}]
  - name: res-last-hour
    when: {metric: resolution, state: running, remaining: {lte: 1h}}
    actions: [{add_tag: last_hour}]
  - name: res-breached
    when: {metric: resolution, breached: true}
    levels:
      - actions: [{add_tag: res_breached}]
      - when: {overdue: {gte: 2h}}
        actions: [{add_tag: res_overdue}]
"""


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> RulePack:
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    with RulePack.load([path], engine="python") as p:
        yield p


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Day 0 is Monday 2 Nov 2026."""
    return MON + timedelta(days=day, hours=hour, minutes=minute)


def history(
    events: Sequence[TicketEvent], *, priority: str = "normal", tid: str = "1"
) -> Ticket:
    """A ticket with all its events; `as_of` cuts it to what was known at a moment."""
    return Ticket(
        id=tid,
        connector="desk",
        created_at=events[0].at,
        status="open",
        priority=priority,
        events=tuple(events),
    )


def as_of(t: Ticket, when: datetime) -> Ticket:
    """The ticket as it stood at ``when``: later events dropped, status and priority then."""
    events = [e for e in t.events if e.at <= when]
    status, priority = "open", t.priority
    for e in events:
        if e.kind is EventKind.STATUS_CHANGED and e.value:
            status = e.value
        if e.kind is EventKind.PRIORITY_CHANGED and e.value:
            priority = e.value
    return replace(t, events=tuple(events), status=status, priority=priority)


def fired_first(pack: RulePack, t: Ticket, key: str, now: datetime) -> datetime:
    """The oracle: the earliest second at which evaluating the ticket then plans ``key``."""

    def plans(when: datetime) -> bool:
        return any(a.key == key for a in pack.assess(as_of(t, when), when).actions)

    lo, hi = t.created_at, now
    assert plans(hi) and not plans(lo)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if plans(mid):
            hi = mid
        else:
            lo = mid
    return hi


def check_against_oracle(pack: RulePack, t: Ticket, now: datetime) -> dict[str, datetime]:
    """Every action planned at ``now``: its threshold time, checked against the oracle."""
    times = ThresholdTimes.for_pack(pack)
    a = pack.assess(as_of(t, now), now)
    found: dict[str, datetime] = {}
    for action in a.actions:
        crossed = times.crossed_at(action, a.measures)
        assert crossed is not None, action.key
        oracle = fired_first(pack, t, action.key, now)
        # The fact's percent is rounded to 0.01 %: 75 % of 16h holds 2.9s early.
        assert abs(crossed - oracle) <= timedelta(seconds=3), (action.key, crossed, oracle)
        found[f"{action.escalation}:{action.level}"] = crossed
    return found


# -- the threshold time -------------------------------------------------------------------------


def test_each_kind_of_threshold_is_dated_where_the_pack_first_plans_it(pack: RulePack) -> None:
    # Opened Monday 10:00, never answered, still open on Thursday evening: 16h resolution
    # target runs out Wednesday 10:00 (business hours only), first response Tuesday 10:00.
    t = history([TicketEvent(EventKind.CREATED, at(0, 10))])
    found = check_against_oracle(pack, t, at(3, 18))
    assert found["frt-breached:1"] == at(1, 10)
    assert found["res-three-hours:1"] == at(0, 13)
    assert found["res-breached:1"] == at(2, 10)
    assert found["res-breached:2"] == at(2, 12)  # overdue 2h
    # Running-only levels are off once breached: checked while still running.
    found = check_against_oracle(pack, t, at(2, 9, 30))
    assert found["res-at-risk:1"] == at(1, 14)  # 12h of 16h: Mon 7h + Tue 5h
    assert found["res-last-hour:1"] == at(1, 17)  # 15h used at Tuesday's close


def test_a_pause_moves_the_threshold_time(pack: RulePack) -> None:
    # Pending (a pause status) from Monday 12:00 to Tuesday 12:00: 3 business hours of
    # Monday and 3 of Tuesday do not count.
    t = history(
        [
            TicketEvent(EventKind.CREATED, at(0, 10)),
            TicketEvent(EventKind.STATUS_CHANGED, at(0, 12), "pending"),
            TicketEvent(EventKind.STATUS_CHANGED, at(1, 12), "open"),
        ]
    )
    found = check_against_oracle(pack, t, at(2, 16))
    assert found["res-three-hours:1"] == at(1, 13)  # 2h on Monday, 1h after the pause
    # 8h: Monday 2h + Tuesday 12:00-17:00 (5h) + Wednesday 09:00-10:00.
    assert found["frt-breached:1"] == at(2, 10)


def test_a_breach_caused_by_a_priority_change_is_dated_at_the_change(pack: RulePack) -> None:
    # Raised to urgent at 12:00 after 3h of a 1h (urgent) target: breached at the change,
    # later than start + target.
    t = history(
        [
            TicketEvent(EventKind.CREATED, at(0, 9)),
            # Connectors report the first priority as a change at creation.
            TicketEvent(EventKind.PRIORITY_CHANGED, at(0, 9), "normal"),
            TicketEvent(EventKind.PRIORITY_CHANGED, at(0, 12), "urgent"),
        ]
    )
    found = check_against_oracle(pack, t, at(0, 16))
    assert found["frt-breached:1"] == at(0, 12)


@pytest.mark.parametrize("cutoff_hour", [9, 11, 13])
def test_the_cutoff_holds_exactly_the_thresholds_crossed_before_it(
    pack: RulePack, cutoff_hour: int
) -> None:
    t = history([TicketEvent(EventKind.CREATED, at(0, 10))])
    now = at(3, 18)
    cutoff = at(2, cutoff_hour)  # Wednesday; resolution breached at 10:00, overdue at 12:00
    times = ThresholdTimes.for_pack(pack)
    a = pack.assess(t, now)
    kept = {
        f"{x.escalation}:{x.level}"
        for x in a.actions
        if (c := times.crossed_at(x, a.measures)) is None or c >= cutoff
    }
    expected = {9: {"res-breached:1", "res-breached:2"}, 11: {"res-breached:2"}, 13: set()}
    assert kept == expected[cutoff_hour]
    # `before`, which the sync asks, agrees (and skips the arithmetic for later clocks).
    held = {f"{x.escalation}:{x.level}" for x in a.actions if times.before(x, a.measures, cutoff)}
    assert held == {f"{x.escalation}:{x.level}" for x in a.actions} - kept
    assert not any(times.before(x, a.measures, t.created_at) for x in a.actions)


def test_an_action_of_an_unknown_level_is_not_dated(pack: RulePack) -> None:
    t = history([TicketEvent(EventKind.CREATED, at(0, 10))])
    a = pack.assess(t, at(3, 18))
    stranger = replace(a.actions[0], escalation="not-in-this-pack")
    assert ThresholdTimes.for_pack(pack).crossed_at(stranger, a.measures) is None


# -- done tickets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "events", "done"),
    [
        ("solved", (), True),  # Zendesk
        ("closed", (), True),  # Zendesk, Freshdesk (5), Jira statuses mapped to closed
        ("resolved", (), True),  # Freshdesk (4)
        ("Solved", (), True),
        ("open", (EventKind.SOLVED,), False),  # the status wins over a stale history
        ("pending", (), False),
        ("hold", (), False),
        ("new", (), False),
        ("fixed", (EventKind.SOLVED,), True),  # a Jira "done" status outside the map
        ("fixed", (EventKind.SOLVED, EventKind.REOPENED), False),
        ("in review", (), False),
    ],
)
def test_done_means_solved_or_closed_on_each_platform(
    status: str, events: tuple[EventKind, ...], done: bool
) -> None:
    evs = [TicketEvent(EventKind.CREATED, at(0, 9))]
    evs += [TicketEvent(k, at(0, 10 + i)) for i, k in enumerate(events)]
    t = replace(history(evs), status=status)
    assert is_done(t) is done


# -- escalate_from ---------------------------------------------------------------------------------


def test_escalate_from_reads_dates_times_and_the_default() -> None:
    assert parse_escalate_from(None) is None
    assert parse_escalate_from("first-sync") is None
    assert parse_escalate_from(date(2026, 11, 1)) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_escalate_from("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_escalate_from("2026-11-01T08:00:00+01:00") == datetime(
        2026, 11, 1, 7, tzinfo=UTC
    )
    assert parse_escalate_from("2026-11-01T08:00:00Z") == datetime(2026, 11, 1, 8, tzinfo=UTC)
    with pytest.raises(ConfigError, match="no time zone; add one"):
        parse_escalate_from(datetime(2026, 11, 1, 8))
    with pytest.raises(ConfigError, match="no time zone"):
        parse_escalate_from("2026-11-01T08:00:00")
    with pytest.raises(ConfigError, match="neither first-sync nor an ISO 8601"):
        parse_escalate_from("yesterday")
    with pytest.raises(ConfigError, match=r"^--escalate-from: expected first-sync"):
        parse_escalate_from(42, where="--escalate-from")


class _TinyPlugin:
    @hookimpl
    def register_connectors(self, register):  # type: ignore[no-untyped-def]
        register(TinyConnector)


def _config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "rules.yaml").write_text("policies: []\n", encoding="utf-8")
    p = tmp_path / "slaplug.yaml"
    p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return p


def test_escalate_from_in_the_file_globally_and_per_connector(
    tmp_path: Path, slaplug_register
) -> None:
    slaplug_register(_TinyPlugin(), name="undo-tiny-golive")
    p = _config(
        tmp_path,
        f"""
        rules: [rules.yaml]
        escalate_from: 2026-11-01
        connectors:
          a: {{plugin: {TinyConnector.name}, base_url: "http://127.0.0.1:9", api_token_env: T}}
          b:
            plugin: {TinyConnector.name}
            base_url: http://127.0.0.1:9
            api_token_env: T
            escalate_from: first-sync
          c:
            plugin: {TinyConnector.name}
            base_url: http://127.0.0.1:9
            api_token_env: T
            escalate_from: 2026-11-15T08:00:00+01:00
        """,
    )
    s = load_settings(p, environ={"T": "x"})
    assert s.escalate_from == {
        "a": datetime(2026, 11, 1, tzinfo=UTC),
        "b": None,
        "c": datetime(2026, 11, 15, 7, tzinfo=UTC),
    }
    p = _config(
        tmp_path,
        f"""
        rules: [rules.yaml]
        escalate_from: last week
        connectors:
          a:
            plugin: {TinyConnector.name}
            base_url: http://127.0.0.1:9
            api_token_env: T
            escalate_from: 2026-11-01 08:00:00
        """,
    )
    with pytest.raises(ProblemsError) as info:
        load_settings(p, environ={"T": "x"})
    found = [str(x) for x in info.value.problems]
    assert found == [
        f"{p}:2:16: escalate_from: 'last week' is neither first-sync nor an ISO 8601 date or "
        "time; write e.g. 2026-11-01 or 2026-11-01T08:00:00+01:00",
        f"{p}:8:20: connectors.a.escalate_from: 2026-11-01T08:00:00 has no time zone; add one, "
        "e.g. 2026-11-01T08:00:00Z or 2026-11-01T08:00:00+01:00",
    ]


# -- the go-live in the store ----------------------------------------------------------------------


def test_go_live_is_recorded_once_per_connector(url: str) -> None:  # noqa: F811
    with Store.open(url) as store:
        assert store.peek_go_live("desk") is None
        assert store.go_live("desk", now=at(0, 9)) == at(0, 9)
        assert store.go_live("desk", now=at(3, 9)) == at(0, 9)
        assert store.go_live("other", now=at(3, 9)) == at(3, 9)
    with Store.open(url) as store:  # kept across opens (and processes: it is a row)
        assert store.peek_go_live("desk") == at(0, 9)


def test_a_connector_that_synced_before_go_lives_existed_keeps_escalating(
    url: str,  # noqa: F811
) -> None:
    with Store.open(url) as store:
        store.commit_cursor("old", "cursor-1", now=at(0, 9))
        store.plan([_action("webhooks-only")], now=at(0, 9))
        assert store.go_live("old", now=at(3, 9)) == ALREADY_LIVE
        assert store.go_live("webhooks-only", now=at(3, 9)) == ALREADY_LIVE
        assert store.go_live("new", now=at(3, 9)) == at(3, 9)


def test_recorded_breaches_names_the_heads_already_breached(
    url: str,  # noqa: F811
    pack: RulePack,
) -> None:
    t = history([TicketEvent(EventKind.CREATED, at(0, 10))])
    running, late = pack.assess(t, at(0, 11)).measures, pack.assess(t, at(3, 18)).measures
    heads = {(t.key, m.policy, m.metric.value, m.cycle) for m in late}
    with Store.open(url) as store:
        store.record_measures(t.key, running, at=at(0, 11))
        assert store.recorded_breaches(heads) == set()
        store.record_measures(t.key, late, at=at(3, 18))
        assert store.recorded_breaches(heads) == heads
        assert store.recorded_breaches([]) == set()


def _action(connector: str) -> Action:
    from slaplug.model import ActionKind, Metric

    return Action(
        kind=ActionKind.ADD_TAG,
        params={"tag": "x"},
        connector=connector,
        ticket_id="1",
        key=f"{connector}:1:sla:resolution:1:e:1:1",
        escalation="e",
        level=1,
        policy="sla",
        metric=Metric.RESOLUTION,
        cycle=1,
    )


# -- a first sync over 60 days of a fake Zendesk -------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def _planned_keys(pack: RulePack, tickets: Sequence[Ticket], now: datetime) -> set[str]:
    return {x.key for a in pack.assess_many(tickets, now) for x in a.actions if not x.shadow}


def test_first_sync_over_60_days_writes_no_history_and_a_later_threshold_fires_once(
    tmp_path: Path,
) -> None:
    """The issue's go-live scenario, on the fake Zendesk's generated history (real HTTP).

    ``minimal`` histories (tickets opened, never answered) are the ones the issue's
    79,000-write first sync ran on; ``full`` ones are mostly answered in time.
    """
    from slaplug.store.schema import measure_heads
    from slaplug.sync import Sync

    with _fake_zendesk() as (fake, zd, config):
        t0 = LIVE  # where the fake's clock starts
        clock = [t0]
        with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
                RulePack.load([REPO / "rules" / "default.yaml"], engine="python") as pack, \
                zd.ZendeskConnector(config, instance="zendesk") as conn:
            job = Sync(store, pack, {"zendesk": conn}, clock=lambda: clock[0])

            # A dry run first: it says what the first sync will record and hold, writes nothing.
            dry = Sync(store, pack, {"zendesk": conn}, clock=lambda: t0, dry_run=True).run_once()
            assert store.peek_go_live("zendesk") is None, "a dry run recorded the go-live"

            first = job.run_once()
            assert store.peek_go_live("zendesk") == t0
            assert first.cutoffs == {"zendesk": t0.isoformat()}
            assert fake.writes == [] and first.api_writes == 0
            assert (first.planned, first.applied) == (0, 0)

            ids = [str(i) for i in fake.store.tickets]
            snapshots = list(store.load_snapshots("zendesk", ids).values())
            assert len(snapshots) == len(ids) == first.tickets_read
            # Every measure of the history is recorded, as the pack measures it at t0.
            expected = {
                (a.ticket.key, m.policy, m.metric.value, m.cycle): (m.state.value, m.breached)
                for a in pack.assess_many(snapshots, t0)
                for m in a.measures
            }
            with store.engine.connect() as c:
                recorded = {
                    (r.ticket_key, r.policy, r.metric, r.cycle): (r.state, r.breached)
                    for r in c.execute(measure_heads.select())
                }
            assert recorded == expected
            breached = sum(1 for _, b in expected.values() if b)
            # What the old first sync wrote: every escalation the history calls for.
            history_keys = _planned_keys(pack, snapshots, t0)
            # (measured: 559 breached clocks, 2,013 actions; 1,095 measures in all)
            assert breached > 50 and len(history_keys) > 200, "the history must mean something"
            assert first.past_breaches == breached
            assert first.held_before_cutoff + first.held_done == len(history_keys)
            assert first.held_done > 0 and first.held_before_cutoff > 0
            # The dry run's counters said the same beforehand.
            assert (dry.past_breaches, dry.held_before_cutoff, dry.held_done, dry.planned) == (
                first.past_breaches, first.held_before_cutoff, first.held_done, 0
            )

            # After go-live: a new urgent ticket, and a week passes (every first-response
            # target runs out, whatever weekday this runs on).
            new_id = str(fake.simulate("create", subject="After go-live", priority="urgent")
                         ["ticket"]["id"])
            fake.advance(7 * 86400)  # exports hold back their last minute: time must pass
            clock[0] = datetime.fromtimestamp(fake.now, UTC)
            later = job.run_once()
            assert later.applied > 0
            ledger_keys = _ledger_keys(store)
            assert history_keys.isdisjoint(ledger_keys), "a threshold from before go-live fired"
            assert any(k.startswith(f"zendesk:{new_id}:customer-sla:first_response:1:"
                                    "first-response-breached:1:") for k in ledger_keys)
            written_tickets = {w.ticket_id for w in later.written}
            done = {t.id for t in store.load_snapshots("zendesk", written_tickets).values()
                    if is_done(t)}
            assert done == set(), "an escalation was written on a solved or closed ticket"
            frt = next(k for k in ledger_keys if k.startswith(  # the level's comment
                f"zendesk:{new_id}:customer-sla:first_response:1:first-response-breached:1:comment="))
            assert store.ledger_status(frt) == "applied"

            writes_before = len(fake.writes)
            again = job.run_once()
            assert (again.planned, again.applied) == (0, 0)
            assert len(fake.writes) == writes_before, "the same moment wrote twice"
    # The new ticket's own updates: ``PUT tickets/{id}.json`` ``{"ticket": {...}}`` or its item
    # ``{"id": ...}`` of ``PUT tickets/update_many.json`` ``{"tickets": [...]}`` (Zendesk Tickets
    # API, "Update Many Tickets"). Not the id as a substring of any body: another ticket's
    # marker (16 random hex digits: a new secret per store) held "501" in 3 of 18 runs.
    updates = [
        t
        for w in fake.writes
        if w.accepted and isinstance(w.body, dict)
        for t in (
            [w.body["ticket"]] if w.path.endswith(f"/tickets/{new_id}.json") else
            [t for t in w.body.get("tickets") or () if str(t.get("id")) == new_id]
        )
    ]
    comments = [t for t in updates if "First response target" in json.dumps(t.get("comment"))]
    assert len(comments) == 1, comments


@contextmanager
def _fake_zendesk() -> Iterator[tuple[Any, Any, Any]]:
    """A fake Zendesk with 60 days of history up to `LIVE`, the plugin module and a connector
    config."""
    from slaplug_zendesk.fake import FakeZendesk

    zd = pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
    with FakeZendesk.start(
        now=LIVE, tickets=500, days=60, history="minimal", job_complete_after=0.05, job_polls=1
    ) as fake:
        config = zd.ZendeskConfig.load(
            {"base_url": fake.base_url, "email": fake.email, "api_token_env": "T",
             "fields": {"sla_resolution_status": 360000000103}, "job_poll_interval": 0.02},
            connector="zendesk", environ={"T": fake.api_token},
        )
        yield fake, zd, config


def test_a_backfill_writes_the_history_as_before_go_lives_existed(tmp_path: Path) -> None:
    """An explicit escalate_from before the history: its open tickets are escalated."""
    from slaplug.sync import Sync

    with _fake_zendesk() as (fake, zd, config):
        t0 = LIVE
        with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
                RulePack.load([REPO / "rules" / "default.yaml"], engine="python") as pack, \
                zd.ZendeskConnector(config, instance="zendesk") as conn:
            backfill = {"zendesk": datetime(2000, 1, 1, tzinfo=UTC)}
            first = Sync(
                store, pack, {"zendesk": conn}, clock=lambda: t0, escalate_from=backfill
            ).run_once()
            assert first.cutoffs == {"zendesk": "2000-01-01T00:00:00+00:00"}
            assert store.peek_go_live("zendesk") == t0  # recorded all the same
            snapshots = list(store.load_snapshots("zendesk", [str(i) for i in fake.store.tickets])
                             .values())
            open_keys = {
                x.key for a in pack.assess_many(snapshots, t0) if not is_done(a.ticket)
                for x in a.actions
            }
            assert first.held_before_cutoff == 0 and first.planned == len(open_keys) > 100
            assert fake.writes and first.applied > 0
            assert first.held_done > 0  # solved and closed tickets: held even in a backfill


def _ledger_keys(store: Store) -> set[str]:
    from slaplug.store.schema import ledger

    with store.engine.connect() as c:
        return {r.key for r in c.execute(ledger.select())}


# -- the command line ------------------------------------------------------------------------------


def _cli(config: Path, token: str, *args: str, now: datetime) -> Any:
    import subprocess
    import sys

    env = {**os.environ, "GOLIVE_ZD_TOKEN": token, "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk",
           "SLAPLUG_NOW": now.isoformat()}
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "sync", "--once", "--config", str(config), *args],
        capture_output=True, text=True, check=False, env=env, timeout=240,
    )


def test_dry_run_says_what_the_first_sync_will_record_and_hold(tmp_path: Path) -> None:
    import yaml

    with _fake_zendesk() as (fake, _, _):
        config = tmp_path / "slaplug.yaml"
        config.write_text(yaml.safe_dump({
            "store": f"sqlite:///{tmp_path / 's.db'}",
            "rules": [str(REPO / "rules" / "default.yaml")],
            # The shipped rules notify these channels; declared empty, their messages are dropped.
            "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
            "engine": "python",
            "connectors": {"zendesk": {
                "plugin": "zendesk", "base_url": fake.base_url, "email": fake.email,
                "api_token_env": "GOLIVE_ZD_TOKEN",
                "fields": {"sla_resolution_status": 360000000103}, "job_poll_interval": 0.02,
            }},
        }))
        now = LIVE
        bad = _cli(config, fake.api_token, "--escalate-from", "last week", now=now)
        assert bad.returncode == 2
        assert "--escalate-from: 'last week' is neither first-sync nor an ISO 8601" in bad.stderr

        dry = _cli(config, fake.api_token, "--dry-run", now=now)
        # The dry run checks every write of the rules against the helpdesk (issue 16): the
        # shipped rules assign to a group the fake lacks, named at its file:line:col.
        assert dry.returncode == 4, dry.stderr
        assert "would fail:" in dry.stderr and "no Zendesk group 'escalations'" in dry.stderr
        # Named by its connector, not by a status "would fail" says already.
        would = [ln for ln in dry.stderr.splitlines() if ln.startswith("would fail:")]
        assert all(ln.startswith("would fail: zendesk ") for ln in would), would
        out = dry.stdout
        assert f"go-live: cutoff zendesk {now.isoformat()} (nothing is written" in out
        past = re.search(r"(\d+) breaches from before the cutoff would be recorded, not escalated",
                         out)
        held = re.search(r"(\d+) actions would be held back: (\d+) escalation levels crossed",
                         out)
        done = re.search(r"(\d+) actions would be held back: ticket solved or closed", out)
        assert past and held and done, out
        assert int(past.group(1)) > 50 and int(held.group(1)) > int(held.group(2)) > 50

        real = _cli(config, fake.api_token, "--json", now=now)
        assert real.returncode == 0, real.stderr
        figures = json.loads(real.stdout.strip().splitlines()[-1])
        assert figures["cutoffs"] == {"zendesk": now.isoformat()}
        assert (figures["past_breaches"], figures["held_before_cutoff"], figures["held_done"]) == (
            int(past.group(1)), int(held.group(1)), int(done.group(1))
        )
        assert figures["planned"] == figures["api_writes"] == 0 and fake.writes == []


class _BreachRecorder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def on_breach(self, ticket, measure):  # type: ignore[no-untyped-def]
        self.seen.append(ticket.key)


def test_a_webhook_before_any_sync_goes_live_too(tmp_path: Path, slaplug_register) -> None:
    """`Sync.process` (the webhook worker's path) records the go-live and holds the history;
    plugins' on_breach hears of no breach from before it."""
    from slaplug.sync import Sync

    rec = _BreachRecorder()
    slaplug_register(rec, name="undo-golive-breaches")

    with _fake_zendesk() as (fake, zd, config):
        t0 = LIVE
        with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store, \
                RulePack.load([REPO / "rules" / "default.yaml"], engine="python") as pack, \
                zd.ZendeskConnector(config, instance="zendesk") as conn:
            tickets = [conn.read_ticket(str(i)) for i in list(fake.store.tickets)[:40]]
            assert _planned_keys(pack, tickets, t0), "these tickets must call for escalations"
            done = Sync(store, pack, {"zendesk": conn}, clock=lambda: t0).process(
                "zendesk", tickets
            )
            assert store.peek_go_live("zendesk") == t0
            assert (done.planned, done.applied, done.api_writes) == (0, 0, 0)
            assert done.past_breaches > 0 and done.held_before_cutoff + done.held_done > 0
    assert fake.writes == [] and rec.seen == []
