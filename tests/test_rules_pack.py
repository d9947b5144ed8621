"""The rules pack end to end: policies chosen, clocks measured, actions planned, on both engines."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from slaplug.model import MeasureState
from slaplug.rules.pack import RulePack
from slaplug.rules.policytest import run_policy_tests
from slaplug.serialize import action_to_dict, measure_to_dict, ticket_from_dict
from slaplug.testing.synthetic import synthetic_tickets

REPO = Path(__file__).resolve().parent.parent
PACK = REPO / "rules" / "default.yaml"
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture(scope="module")
def packs():
    with RulePack.load([PACK], engine="durable") as durable, RulePack.load([PACK], engine="python") as python:
        yield durable, python


def summary(pack: RulePack, tickets):
    return [
        (
            a.ticket.id,
            a.policies,
            [measure_to_dict(m) for m in a.measures],
            sorted(action_to_dict(x)["key"] for x in a.actions),
        )
        for a in pack.assess_many(tickets, NOW)
    ]


def test_durable_and_python_engines_plan_the_same_actions(packs) -> None:
    # Many facts in one batch share their content once reduced to the fields the rules use;
    # the durable_rules wrapper must still match each one on its own.
    durable, python = packs
    tickets = synthetic_tickets(400, NOW, seed=7)
    got, want = summary(durable, tickets), summary(python, tickets)
    assert [g[1] for g in got] == [w[1] for w in want], "policies chosen differ"
    assert got == want
    assert sum(len(w[3]) for w in want) > 100  # the comparison is not vacuous


@pytest.mark.parametrize("engine", ["durable", "python"])
def test_shipped_pack_passes_its_policy_tests(engine: str) -> None:
    results = run_policy_tests(REPO / "rules" / "default.tests.yaml", engine=engine)
    assert len(results) >= 7
    assert [r.failures for r in results if not r.passed] == []


def test_idempotency_keys_are_unique_and_stable(packs) -> None:
    durable, _ = packs
    tickets = synthetic_tickets(200, NOW, seed=3)
    first = [a.key for x in durable.assess_many(tickets, NOW) for a in x.actions]
    again = [a.key for x in durable.assess_many(tickets, NOW) for a in x.actions]
    assert first == again
    assert len(first) == len(set(first))
    key = first[0].split(":")
    assert len(key) == 8  # connector, ticket, policy, metric, cycle, escalation, level, action


def test_first_matching_sla_policy_wins_and_olas_are_added(packs) -> None:
    durable, _ = packs
    doc = {"id": "9", "connector": "zendesk", "created_at": "2026-03-02T09:00:00+01:00",
           "status": "open", "priority": "high", "group": "second-line"}
    a = durable.assess(ticket_from_dict(doc), NOW)
    assert a.policies == ("customer-sla", "second-line-ola")
    doc["group"] = "first-line"
    assert durable.assess(ticket_from_dict(doc), NOW).policies == ("customer-sla",)


def test_evaluate_plans_from_given_measures(packs) -> None:
    durable, _ = packs
    (ticket,) = synthetic_tickets(1, NOW, seed=11)
    a = durable.assess(ticket, NOW)
    assert durable.evaluate(ticket, a.measures, NOW) == list(a.actions)


def test_explanation_names_the_rule_and_the_values_that_matched(packs) -> None:
    durable, _ = packs
    doc = {"id": "9", "connector": "zendesk", "created_at": "2026-03-02T09:00:00+01:00",
           "status": "open", "priority": "urgent"}
    a = durable.assess(ticket_from_dict(doc), datetime(2026, 3, 2, 10, 30, tzinfo=ZoneInfo("Europe/Berlin")))
    (tag,) = [x for x in a.actions if x.kind.value == "add_tag"]
    assert tag.explanation["escalation"] == "first-response-breached"
    assert tag.explanation["matched"] == {"policy_kind": "sla", "metric": "first_response", "breached": True}
    (comment,) = [x for x in a.actions if x.kind.value == "comment"]
    assert comment.params["body"] == (
        "First response target of 1h missed on 2026-03-02 10:00 CET (urgent priority)."
    )


def test_shadow_escalations_are_planned_marked_and_logged(tmp_path: Path, caplog) -> None:
    rules = tmp_path / "shadow.yaml"
    rules.write_text(
        "policies:\n  - name: p\n    targets: {resolution: {'*': 1h}}\n"
        "escalations:\n  - name: try-me\n    shadow: true\n    when: {breached: true}\n"
        "    actions: [{add_tag: experiment}]\n",
        encoding="utf-8",
    )
    doc = {"id": "1", "connector": "zendesk", "created_at": "2026-03-02T09:00:00+01:00", "status": "open"}
    with caplog.at_level(logging.INFO, logger="slaplug.rules"), RulePack.load([rules], engine="python") as pack:
        a = pack.assess(ticket_from_dict(doc), NOW)
    (action,) = a.actions
    assert action.shadow is True
    assert "shadow: try-me level 1 would add_tag {'tag': 'experiment'} on zendesk:1" in caplog.text


def test_stop_when_cancels_running_clocks(packs) -> None:
    durable, _ = packs
    doc = {"id": "6", "connector": "zendesk", "created_at": "2026-03-03T14:00:00+01:00",
           "updated_at": "2026-03-03T15:00:00+01:00", "status": "open", "priority": "low", "tags": ["no_sla"]}
    a = durable.assess(ticket_from_dict(doc), NOW)
    assert {m.state for m in a.measures} == {MeasureState.CANCELLED}
    assert not any(m.breached for m in a.measures)


def test_next_due_is_the_next_threshold_a_running_clock_crosses(packs) -> None:
    durable, _ = packs
    doc = {"id": "1", "connector": "zendesk", "created_at": "2026-03-02T09:00:00+01:00",
           "status": "open", "priority": "high",
           "events": [{"kind": "agent_reply", "at": "2026-03-02T09:30:00+01:00"}]}
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 2, 12, 0, tzinfo=berlin)
    a = durable.assess(ticket_from_dict(doc), now)
    # resolution (high, 20h) has 3h counted: 50 % (10h) comes after 6h Monday + 1h Tuesday.
    assert durable.next_due(a.measures, now) == datetime(2026, 3, 3, 9, 0, tzinfo=berlin)
    later = datetime(2026, 3, 4, 18, 0, tzinfo=berlin)  # 29h counted: past 100 %, overdue 9h
    a = durable.assess(ticket_from_dict(doc), later)
    assert durable.next_due(a.measures, later) is None  # 4h overdue mark passed; nothing ahead


def test_paused_clocks_have_no_due_time(packs) -> None:
    durable, _ = packs
    doc = {"id": "1", "connector": "zendesk", "created_at": "2026-03-02T09:00:00+01:00",
           "status": "pending", "priority": "high",
           "events": [{"kind": "agent_reply", "at": "2026-03-02T09:30:00+01:00"},
                      {"kind": "status_changed", "at": "2026-03-02T09:30:00+01:00", "value": "pending"}]}
    now = datetime(2026, 3, 2, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    a = durable.assess(ticket_from_dict(doc), now)
    assert durable.next_due(a.measures, now) is None


@pytest.mark.parametrize("engine", ["durable", "python"])
def test_templates_render_each_levels_own_values(tmp_path: Path, engine: str) -> None:
    # Both levels match the same breached measure; each comment names its own level, and
    # braces and unknown custom fields in the text survive rendering as written.
    rules = tmp_path / "levels.yaml"
    rules.write_text(
        "policies:\n  - name: p\n    targets: {resolution: {'*': 1h}}\n"
        "escalations:\n  - name: chain\n    when: {breached: true}\n    levels:\n"
        "      - actions:\n"
        "          - comment: 'L{{ escalation.level }} of {{ escalation.name }} {x} "
        "[{{ ticket.fields.missing }}] {{ measure.target }} {{ ticket.id }}'\n"
        "      - actions:\n"
        "          - notify: {channel: c, message: 'L{{ escalation.level }} {{ measure.overdue }}'}\n"
        "          - set_field: {field: f, value: 'at {{ measure.breached_at }}'}\n",
        encoding="utf-8",
    )
    doc = {"id": "7", "connector": "zendesk", "created_at": "2026-03-19T09:00:00+01:00", "status": "open"}
    with RulePack.load([rules], engine=engine) as pack:
        a = pack.assess(ticket_from_dict(doc), NOW)
    got = {x.kind.value: dict(x.params) for x in a.actions}
    assert got == {
        "comment": {"body": "L1 of chain {x} [] 1h 7", "public": False},
        "notify": {"channel": "c", "message": "L2 26h"},
        "set_field": {"field": "f", "value": "at 2026-03-19 09:00 UTC"},
    }


def test_planned_actions_are_independent_and_picklable(packs) -> None:
    import pickle

    _, python = packs
    actions = [a for x in python.assess_many(synthetic_tickets(50, NOW, seed=2), NOW) for a in x.actions]
    tags = [a for a in actions if a.kind.value == "add_tag"]
    assert len(tags) >= 2
    assert pickle.loads(pickle.dumps(actions)) == actions
    tags[0].params["tag"] = "changed"  # type: ignore[index]
    assert all(a.params["tag"] != "changed" for a in tags[1:])
