"""Service credits: the worked example of docs/concepts/service-credits.md, by hand; tier edges,
caps, each exclusion; frozen periods stay frozen; a recalculation shows its difference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from slaplug.credits.compute import compute, objective_result
from slaplug.credits.freeze import result_from_dict, result_to_dict, settle
from slaplug.credits.model import Contract, Objective, Sample, Tier, Window
from slaplug.credits.periods import parse_period, periods_between
from slaplug.credits.source import ContractBook, rules_digest
from slaplug.errors import ConfigError, RuleError
from slaplug.model import EventKind, Metric, Ticket, TicketEvent
from slaplug.rules.compile import compile_files
from slaplug.rules.pack import RulePack
from slaplug.store import Store

BERLIN = ZoneInfo("Europe/Berlin")
OCT = parse_period("2026-10", BERLIN)
D = Decimal


def tiers(*rows: tuple[int, int, int]) -> tuple[Tier, ...]:
    return tuple(Tier(D(a), D(b), D(c)) for a, b, c in rows)


#: The worked example's contract (docs/concepts/service-credits.md, "The contract").
CONTRACT = Contract(
    name="enterprise",
    zone=BERLIN,
    period_kind="month",
    objectives=(
        Objective("urgent", Metric.RESOLUTION, D(100), tiers((95, 100, 10), (0, 95, 20))),
        Objective("low", Metric.RESOLUTION, D(90), tiers((80, 90, 5), (0, 80, 15))),
    ),
    fee=D(10000),
    currency="EUR",
    cap=D(20),
    excluded_tags=frozenset({"sla_excluded"}),
    customer_statuses=frozenset({"pending"}),
    maintenance=(
        Window(
            datetime(2026, 10, 10, 22, tzinfo=BERLIN),
            datetime(2026, 10, 11, 2, tzinfo=BERLIN),
            "database upgrade",
        ),
    ),
)


def sample(n: int, severity: str, decided: datetime, breached: bool, **kw) -> Sample:
    start = kw.pop("start", decided - timedelta(hours=6))
    return Sample(
        ticket_key=f"zendesk:{n}",
        url=f"https://acme.example/tickets/{n}",
        subject=f"ticket {n}",
        severity=severity,
        metric=Metric.RESOLUTION,
        policy="customer-sla",
        cycle=1,
        start=start,
        decided_at=decided,
        breached=breached,
        overdue=timedelta(hours=2) if breached else timedelta(0),
        **kw,
    )


def worked_example() -> list[Sample]:
    """The measures of the worked example, exactly as the docs list them."""
    day = datetime(2026, 10, 5, 12, tzinfo=BERLIN)
    s: list[Sample] = []
    # urgent resolution: 19 met in October ...
    s += [sample(100 + i, "urgent", day + timedelta(days=i), False) for i in range(19)]
    # ... 1 breached at 23:30 on 31 October, Berlin time (22:30 UTC, after summer time ended)
    s.append(sample(200, "urgent", datetime(2026, 10, 31, 22, 30, tzinfo=UTC), True))
    # ... 1 breached at 23:30 on 30 September, Berlin time (21:30 UTC): September's
    s.append(sample(201, "urgent", datetime(2026, 9, 30, 21, 30, tzinfo=UTC), True))
    # ... 1 breached on a ticket tagged sla_excluded
    s.append(sample(202, "urgent", day, True, tags=frozenset({"sla_excluded", "vip"})))
    # ... 1 breached, its clock started in the maintenance window (23:00 Berlin, 10 October)
    s.append(
        sample(
            203,
            "urgent",
            day + timedelta(days=6),
            True,
            start=datetime(2026, 10, 10, 23, tzinfo=BERLIN),
        )
    )
    # low resolution: 6 met, 1 met only once the time pending on the customer is taken off,
    # 3 breached
    s += [sample(300 + i, "low", day + timedelta(days=i), False) for i in range(6)]
    s.append(sample(306, "low", day, False, excused_by_customer=True))
    s += [sample(310 + i, "low", day + timedelta(days=i), True) for i in range(3)]
    # a normal-priority measure: no objective, never counted
    s.append(sample(400, "normal", day, True))
    return s


NOW = datetime(2026, 11, 5, 9, tzinfo=UTC)


def test_worked_example_by_hand() -> None:
    r = compute(CONTRACT, OCT, worked_example(), computed_at=NOW)
    urgent, low = r.objectives
    # urgent: 19 of 20 = 95 % exactly: in [95 %, 100 %), 10 %
    assert (urgent.counted, urgent.met, urgent.credit) == (20, 19, D(10))
    assert urgent.tier == Tier(D(95), D(100), D(10))
    # low: 7 of 10 = 70 %: in [0 %, 80 %), 15 %
    assert (low.counted, low.met, low.credit) == (10, 7, D(15))
    # 10 % + 15 % = 25 %, capped at 20 %: 20 % of 10 000 EUR = 2 000.00 EUR
    assert (r.credit_sum, r.credit, r.amount) == (D(25), D(20), D("2000.00"))
    assert [b.ticket_key for b in r.breaches] == [
        "zendesk:310",
        "zendesk:311",
        "zendesk:312",
        "zendesk:200",
    ]
    reasons = {e.ticket_key: e.reason for e in r.exclusions}
    assert reasons["zendesk:202"] == "ticket tagged sla_excluded"
    assert reasons["zendesk:203"].startswith("clock started in maintenance window")
    assert reasons["zendesk:306"].startswith("counted as met")
    assert r.why[0] == (
        "urgent resolution: 19 of 20 met = 95.00 %, below the target 100 %: "
        "tier [95 %, 100 %) → 10 %"
    )
    assert r.why[1] == (
        "low resolution: 7 of 10 met = 70.00 %, below the target 90 %: tier [0 %, 80 %) → 15 %"
    )
    assert r.why[2] == (
        "objectives owe 10 % + 15 % = 25 %, capped at 20 %; credit 20 % of the fee "
        "10000 EUR = 2000.00 EUR"
    )


def test_a_result_survives_its_json_form() -> None:
    r = compute(CONTRACT, OCT, worked_example(), computed_at=NOW)
    assert result_from_dict(result_to_dict(r)) == r


@pytest.mark.parametrize(
    ("counted", "met", "credit"),
    [
        (20, 20, 0),  # 100 %: target met
        (20, 19, 10),  # 95 % exactly: the lower bound is inclusive
        (39, 37, 20),  # 94.87 %: just below 95, the next tier
        (100, 95, 10),
        (1000, 949, 20),
        (0, 0, 0),  # nothing decided: nothing owed
    ],
)
def test_tier_bounds_are_half_open(counted: int, met: int, credit: int) -> None:
    assert objective_result(CONTRACT.objectives[0], counted, met).credit == D(credit)


def test_a_compliance_just_below_a_bound_is_shown_rounded_down() -> None:
    # 949/1000 = 94.9 %; 18999/20000 = 94.995 % must not read "95.00 %" in a lower tier
    r = objective_result(CONTRACT.objectives[0], 20000, 18999)
    assert "94.99 %" in r.why and r.credit == D(20)


def test_the_cap_limits_the_sum_and_no_cap_does_not() -> None:
    uncapped = Contract(**{**CONTRACT.__dict__, "cap": None})
    r = compute(uncapped, OCT, worked_example(), computed_at=NOW)
    assert (r.credit, r.amount) == (D(25), D("2500.00"))


@pytest.mark.parametrize(
    ("extra", "counted"),
    [
        (
            sample(
                9,
                "urgent",
                datetime(2026, 10, 20, tzinfo=BERLIN),
                True,
                tags=frozenset({"sla_excluded"}),
            ),
            0,
        ),
        (
            sample(
                9, "urgent", datetime(2026, 10, 20, tzinfo=BERLIN), True, tags=frozenset({"other"})
            ),
            1,
        ),
        # started inside the window (inclusive start)
        (
            sample(
                9,
                "urgent",
                datetime(2026, 10, 12, tzinfo=BERLIN),
                True,
                start=CONTRACT.maintenance[0].start,
            ),
            0,
        ),
        # started at the window's end: outside (exclusive end)
        (
            sample(
                9,
                "urgent",
                datetime(2026, 10, 12, tzinfo=BERLIN),
                True,
                start=CONTRACT.maintenance[0].end,
            ),
            1,
        ),
        # breached inside the window
        (sample(9, "urgent", datetime(2026, 10, 11, 1, tzinfo=BERLIN), True), 0),
        # met inside the window: a met target is not excluded
        (sample(9, "urgent", datetime(2026, 10, 11, 1, tzinfo=BERLIN), False), 1),
    ],
)
def test_each_exclusion(extra: Sample, counted: int) -> None:
    r = compute(CONTRACT, OCT, [extra], computed_at=NOW)
    assert r.objectives[0].counted == counted
    assert len(r.exclusions) == 1 - counted


def test_october_in_berlin_is_half_open_and_spans_the_dst_change() -> None:
    assert OCT.start == datetime(2026, 9, 30, 22, tzinfo=UTC)
    assert OCT.end == datetime(2026, 10, 31, 23, tzinfo=UTC)  # 25 hours in the 25th
    assert OCT.end not in OCT and OCT.start in OCT
    assert parse_period("2026-11", BERLIN).start == OCT.end
    assert parse_period("2026-Q4", BERLIN).end == datetime(2026, 12, 31, 23, tzinfo=UTC)
    assert [p.label for p in periods_between(OCT.start, NOW, BERLIN)] == ["2026-10", "2026-11"]
    with pytest.raises(ConfigError, match="not a period"):
        parse_period("October", BERLIN)


# -- rules: the contracts: section is checked at file:line:col -----------------------------------

PACK = """\
version: 1
policies:
  - name: customer-sla
    pause_statuses: {pauses}
    targets:
      resolution: {{urgent: {target}, low: 8h}}
contracts:
  - name: enterprise
    match: {{organization: acme}}
    timezone: Europe/Berlin
    freeze_after: 0h
    fee: 10000
    currency: EUR
    cap: 20%
    objectives:
      - severity: urgent
        metric: resolution
        target: 100%
        tiers:
          - {{at_least: 95%, below: 100%, credit: 10%}}
          - {{below: 95%, credit: 20%}}
    exclusions:
      customer_pauses: [pending]
"""


def write_pack(
    tmp_path: Path, target: str = "2h", pauses: str = "[]", name: str = "p.yaml"
) -> Path:
    path = tmp_path / name
    path.write_text(PACK.format(target=target, pauses=pauses), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("tiers_yaml", "message"),
    [
        ("[{at_least: 90%, below: 100%, credit: 10%}, {below: 95%, credit: 20%}]", "overlap"),
        ("[{at_least: 95%, below: 100%, credit: 10%}, {below: 90%, credit: 20%}]", "gap"),
        ("[{at_least: 95%, below: 99%, credit: 10%}, {below: 95%, credit: 20%}]", "gap"),
        (
            "[{at_least: 95%, below: 100%, credit: 10%}, {at_least: 5, below: 95%, credit: 20%}]",
            "gap",
        ),
        (
            "[{at_least: 95%, below: 100%, credit: 10%}, {below: 95%, credit: 30%}]",
            "cap 20 % is below",
        ),
    ],
)
def test_tiers_that_overlap_leave_gaps_or_exceed_the_cap_are_refused(
    tmp_path: Path, tiers_yaml: str, message: str
) -> None:
    text = write_pack(tmp_path).read_text()
    start = text.index("        tiers:")
    end = text.index("    exclusions:")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text[:start] + f"        tiers: {tiers_yaml}\n" + text[end:], encoding="utf-8")
    with pytest.raises(RuleError, match=message) as err:
        compile_files([bad])
    assert "bad.yaml:" in str(err.value) and "contracts[0]" in str(err.value)


def test_unknown_metric_calendar_and_zone_are_refused(tmp_path: Path) -> None:
    text = write_pack(tmp_path).read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("metric: resolution", "metric: resolve"), encoding="utf-8")
    with pytest.raises(RuleError, match=r"bad.yaml:17:17: .*unknown metric; use one of"):
        compile_files([bad])
    bad.write_text(
        text.replace("timezone: Europe/Berlin", "timezone: Europe/Berlni\n    calendar: office"),
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as err:
        compile_files([bad])
    assert 'unknown calendar "office"' in str(err.value)
    assert '"Europe/Berlni" is not an IANA time zone' in str(err.value)


def test_the_shipped_pack_has_checked_contracts() -> None:
    src = compile_files([Path(__file__).parent.parent / "rules" / "default.yaml"])
    assert [c.name for c in src.contracts] == ["enterprise", "standard"]


# -- from stored tickets: customer pauses, frozen periods, recalculation -------------------------

T = datetime(2026, 10, 6, 9, tzinfo=UTC)


def ticket(n: int, hours: float, pending: float = 0.0, org: str = "acme") -> Ticket:
    """An urgent ticket solved after ``hours``, of which ``pending`` waiting on the customer."""
    events = [TicketEvent(EventKind.CREATED, T)]
    if pending:
        events += [
            TicketEvent(EventKind.STATUS_CHANGED, T + timedelta(minutes=10), "pending"),
            TicketEvent(EventKind.STATUS_CHANGED, T + timedelta(minutes=10, hours=pending), "open"),
        ]
    events.append(TicketEvent(EventKind.SOLVED, T + timedelta(hours=hours)))
    return Ticket(
        id=str(n),
        connector="zd",
        created_at=T,
        status="solved",
        priority="urgent",
        organization=org,
        url=f"https://zd.example/{n}",
        events=tuple(events),
        updated_at=T + timedelta(hours=hours),
    )


TICKETS = [ticket(i, 1) for i in range(18)] + [
    ticket(18, 3),  # breached: 3h against 2h
    ticket(19, 3, pending=1.5),  # 3h, 1.5h pending: breached for the policy, met for the contract
    ticket(20, 9, org="initech"),  # another customer: no contract matches
]


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 's.db'}") as s:
        s.save_snapshots(TICKETS, now=T)
        yield s


def run(store: Store, path: Path, now: datetime = NOW, **kw):
    with RulePack.load([path], engine="python") as pack:
        return settle(
            store, ContractBook(pack), "2026-10", now=now, digest=rules_digest([path]), **kw
        )


def test_customer_pauses_are_taken_off_the_contracts_clock(store: Store, tmp_path: Path) -> None:
    (s,) = run(store, write_pack(tmp_path), now=datetime(2026, 10, 20, tzinfo=UTC))
    o = s.result.objectives[0]
    assert (o.counted, o.met, o.credit) == (20, 19, D(10))  # 95 %: ticket 19 counted as met
    assert [e.ticket_key for e in s.result.exclusions] == ["zd:19"]
    assert not s.result.frozen  # October is still open on the 20th


def test_a_closed_period_is_frozen_and_stays_frozen_after_a_policy_edit(
    store: Store, tmp_path: Path
) -> None:
    (first,) = run(store, write_pack(tmp_path))
    assert first.result.revision == 1 and first.result.credit == D(10)
    # The policy gets stricter: 1h target. The frozen October does not move.
    stricter = write_pack(tmp_path, target="30m", name="p2.yaml")
    (again,) = run(store, stricter)
    assert again.result == first.result
    assert store.credit_period("enterprise", "2026-10").revision == 1


def test_a_recalculation_is_explicit_and_shows_its_difference(store: Store, tmp_path: Path) -> None:
    (first,) = run(store, write_pack(tmp_path))
    stricter = write_pack(tmp_path, target="30m", name="p2.yaml")
    (recalc,) = run(store, stricter, recalculate=True, reason="target fixed to 30m")
    assert recalc.result.revision == 2 and recalc.result.recalculation_of == 1
    assert recalc.previous == first.result
    assert recalc.result.credit == D(20)
    assert (
        "urgent resolution: 19/20 (95.00 %) -> 0/20 (0.00 %); credit 10 % -> 20 %" in recalc.changes
    )
    assert "credit 10 % -> 20 % (1000.00 EUR -> 2000.00 EUR)" in recalc.changes
    assert "breach added: zd:0 resolution cycle 1" in recalc.changes
    row = store.credit_period("enterprise", "2026-10", revision=1)
    assert row is not None and row.reason == "frozen"  # the old revision is kept


def test_a_recalculation_that_changes_nothing_stores_no_new_revision(
    store: Store, tmp_path: Path
) -> None:
    (first,) = run(store, write_pack(tmp_path))
    (again,) = run(store, write_pack(tmp_path), recalculate=True, reason="checking")
    assert again.result == first.result and again.previous is again.result
    assert again.changes == ()
    assert store.credit_period("enterprise", "2026-10", revision=2) is None


def test_an_open_period_cannot_be_recalculated(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not closed"):
        run(store, write_pack(tmp_path), now=datetime(2026, 10, 20, tzinfo=UTC), recalculate=True)


def test_an_unknown_contract_is_named(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no contract named .nope.*enterprise"):
        run(store, write_pack(tmp_path), only="nope")


def test_the_docs_show_what_the_worked_example_prints() -> None:
    from dataclasses import replace

    from slaplug.credits.statement import statement_for

    doc = (Path(__file__).parent.parent / "docs" / "concepts" / "service-credits.md").read_text()
    r = compute(CONTRACT, OCT, worked_example(), computed_at=NOW)
    assert statement_for(replace(r, revision=1)).text in doc


def test_a_version_1_store_gains_the_credit_periods_table(tmp_path: Path) -> None:
    from sqlalchemy import delete, inspect

    from slaplug.store.migrations import MIGRATIONS, migrate
    from slaplug.store.schema import metadata, schema_version

    url = f"sqlite:///{tmp_path / 'old.db'}"
    first = {"slaplug_schema_version", "cursors", "snapshots", "due", "ledger", "outbox"}
    first |= {"measure_heads", "measures", "inbox"}  # version 1's tables; the rest came later
    later = [name for name in metadata.tables if name not in first]
    with Store.open(url) as s, s.engine.begin() as conn:  # make it look like version 1
        for name in later:
            metadata.tables[name].drop(conn)
        conn.execute(delete(schema_version).where(schema_version.c.version >= 2))
    with Store.open(url, migrate_schema=False) as s:
        assert migrate(s.engine) == [m.version for m in MIGRATIONS if m.version >= 2]
        assert all(inspect(s.engine).has_table(name) for name in later)
        assert migrate(s.engine) == []
