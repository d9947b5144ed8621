"""Rules that passed ``rules check`` yet did nothing, or failed in pydantic's words (QA pass 2).

Each problem stands at the ``file:line:col`` of the value at fault and says what to write.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slaplug.errors import Problem, RuleError
from slaplug.rules.compile import compile_files

POLICY = "policies:\n  - name: p\n    targets: {resolution: {%s: 8h}}\n"
CONTRACT = (
    "contracts:\n  - name: c\n    fee: 100\n    objectives:\n"
    "      - {severity: %s, metric: resolution, target: 95, tiers: [{below: 95, credit: 5}]}\n"
)


def problems(tmp_path: Path, text: str) -> list[Problem]:
    p = tmp_path / "rules.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError) as info:
        compile_files([p])
    return info.value.problems


def at(text: str, marker: str) -> tuple[int, int]:
    i = text.index(marker)
    return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1


@pytest.mark.parametrize(
    ("target", "severity", "fragment"),
    [
        # The "*" target measures every priority, so any severity used to pass: the
        # objective then counted nothing and no credit was ever owed (QA2 #10).
        ('"*"', "urgnet", 'unknown severity "urgnet"; did you mean "urgent"?'),
        ('"*"', "critical", 'unknown severity "critical"; it would never count a measure'),
        ("urgent", "Urgent", 'unknown severity "Urgent"; did you mean "urgent"?'),
    ],
)
def test_a_contract_severity_no_helpdesk_delivers_is_a_problem(
    tmp_path: Path, target: str, severity: str, fragment: str
) -> None:
    text = POLICY % target + CONTRACT % severity
    [problem] = problems(tmp_path, text)
    assert (problem.line, problem.column) == at(text, severity + ",")
    assert fragment in problem.message
    assert "priorities: (e.g. priorities: [P1, P2])" in problem.message


def test_a_declared_priority_is_a_valid_severity(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text("priorities: [critical]\n" + POLICY % '"*"' + CONTRACT % "critical")
    assert [c.name for c in compile_files([p]).contracts] == ["c"]


def test_a_broken_policy_is_not_also_blamed_on_the_contract(tmp_path: Path) -> None:
    # The policy fails to validate: the contract was told no policy measures resolution
    # ("policies: none"), pointing away from the one real problem (QA2 #11).
    text = (
        "policies:\n  - name: p\n    targets: {resolution: {urgent: 8x}}\n"
        + CONTRACT % "urgent"
        + "  - name: d\n    policies: [p]\n    fee: 1\n    objectives:\n"
        "      - {severity: urgent, metric: resolution, target: 95, tiers: [{below: 95, credit: 5}]}\n"
    )
    found = problems(tmp_path, text)
    assert [(x.line, x.column) for x in found] == [at(text, "8x")], found
    assert '"8x" is not a duration' in found[0].message


def test_a_valid_policy_that_does_not_measure_the_objective_is_still_said(tmp_path: Path) -> None:
    text = (
        "policies:\n  - name: p\n    targets: {first_response: {urgent: 8h}}\n"
        + CONTRACT % "urgent"
    )
    [problem] = problems(tmp_path, text)
    assert "no policy of this contract measures resolution (policies: p)" in problem.message


@pytest.mark.parametrize(
    ("escalation", "marker"),
    [
        ("    actions: []\n", "[]"),
        ("    levels:\n      - actions: [{add_tag: x}]\n      - actions: []\n", "[]\n"),
    ],
    ids=["one-level", "second-level"],
)
def test_a_level_without_actions_is_a_problem(tmp_path: Path, escalation: str, marker: str) -> None:
    # It passed rules check and silently did nothing (QA2 #13).
    text = "escalations:\n  - name: e\n    when: {breached: true}\n" + escalation
    [problem] = problems(tmp_path, text)
    assert (problem.line, problem.column) == at(text, marker)
    assert "no actions: this level would do nothing; give it at least one action" in (
        problem.message
    )


CAL = "calendars:\n  a:\n    timezone: UTC\n    hours: {mon-fri: '09:00-17:00'}\n"


@pytest.mark.parametrize(
    ("text", "marker", "message"),
    [
        # Were pydantic's "Input should be a valid date or datetime, invalid character in
        # year", "... input is too short", "Input should be a valid dictionary or instance of
        # HolidaySpec", "Input should be a valid list" (QA2 #12).
        (
            CAL + "    holidays: {dates: [25/12/2026]}\n",
            "25/12/2026",
            '"25/12/2026" is not a date; write it as YYYY-MM-DD, e.g. 2026-12-25',
        ),
        (
            CAL + "    holidays: {dates: [12-25]}\n",
            "12-25",
            '"12-25" is not a date; write it as YYYY-MM-DD',
        ),
        (
            CAL + "    holidays: [2026-12-25]\n",
            "[2026",
            "holidays is a mapping, not a list; write it like "
            "holidays: {country: DE, dates: [2026-12-25]}",
        ),
        (
            CAL + "    holidays: {dates: 2026-12-25}\n",
            "2026-12-25}",
            "dates is a list; write [2026-12-25]",
        ),
        (
            "policies:\n  - name: p\n    pause_statuses: pending\n"
            "    targets: {resolution: {urgent: 8h}}\n",
            "pending",
            "pause_statuses is a list; write [pending]",
        ),
        (
            "calendars:\n  a:\n    timezone: UTC\n    hours: {mon: ['09:00-12:00', 13]}\n",
            "13]",
            '13 is not a window; write it as "HH:MM-HH:MM", e.g. "09:00-17:30"',
        ),
        (
            "escalations:\n  - name: e\n    when: {breached: true}\n    actions: {add_tag: x}\n",
            "{add_tag",
            'actions is a list, not a mapping; start each item on its own line with "- "',
        ),
        (
            CONTRACT % "urgent"
            + "    exclusions: {maintenance: [{start: tomorrow, end: 2026-10-11}]}\n",
            "tomorrow",
            '"tomorrow" is not a date and time; write it as YYYY-MM-DDTHH:MM',
        ),
        (
            "policies:\n  - name: p\n    targets: {resolution: 8h}\n",
            "8h",
            'the resolution targets are a mapping of priorities to durations, not "8h"; '
            'write it like resolution: {urgent: 8h, "*": 24h}',
        ),
        (
            "escalations:\n  - name: e\n    when: {breached: true}\n    actions: [add_tag]\n",
            "add_tag]",
            'an action is a one-key mapping, e.g. - add_tag: sla_breached; "add_tag" is not one',
        ),
        (
            (CONTRACT % "urgent").replace("target: 95", "target: abc"),
            "abc",
            '"abc" is not a percentage; write it like 95 or 99.5%',
        ),
    ],
    ids=[
        "holiday-dmy",
        "holiday-md",
        "holidays-list",
        "dates-scalar",
        "pause-statuses-scalar",
        "window-number",
        "actions-mapping",
        "maintenance-start",
        "targets-scalar",
        "action-scalar",
        "percent-text",
    ],
)
def test_a_value_of_the_wrong_shape_says_what_to_write(
    tmp_path: Path, text: str, marker: str, message: str
) -> None:
    found = problems(tmp_path, text)
    assert found[0].message.startswith(message), found[0].message
    assert (found[0].line, found[0].column) == at(text, marker)
    assert not any("Input should" in p.message for p in found), found
