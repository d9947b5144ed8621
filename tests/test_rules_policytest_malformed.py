"""A malformed policy test file exits 2 with problems at ``file:line:col``, never a traceback
or a misleading failure (QA2 #8): an expectation is checked before its case runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from slaplug.cli import main

REPO = Path(__file__).resolve().parents[1]

HEAD = """rules: [default.yaml]
cases:
  - name: urgent ticket
    at: 2026-03-02T10:30:00+01:00
    ticket: {id: "1", connector: zendesk, created_at: 2026-03-02T09:00:00+01:00, status: open, priority: urgent}
    expect:
"""


def run(tmp_path: Path, expect: str) -> tuple[int, str, str]:
    shutil.copy(REPO / "rules" / "default.yaml", tmp_path / "default.yaml")
    text = HEAD + expect
    (tmp_path / "t.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "test", str(tmp_path / "t.yaml")])
    return result.exit_code, result.output, text


def at(text: str, marker: str) -> str:
    i = text.index(marker)
    return f"{text.count(chr(10), 0, i) + 1}:{i - (text.rfind(chr(10), 0, i) + 1) + 1}"


def test_every_typo_in_an_expectation_is_a_problem_at_its_position(tmp_path: Path) -> None:
    code, out, text = run(
        tmp_path,
        "      measures:\n"
        "        - {policy: customer-sla, metric: first_response, elapsed: 1 hour}\n"
        "        - {policy: customer-sla, metrc: resolution, state: runing}\n"
        "        - {policy: custmer-sla, metric: resolutoin, deadline: tomorrow}\n"
        "      actions:\n"
        "        - {escalation: first-response-breached, level: 1, kind: add_tg}\n"
        "      action: []\n",
    )
    # Was: a traceback ending in ValueError, "measure {}: no such measure", "not planned".
    assert code == 2, out
    assert "Traceback" not in out
    t = "t.yaml"
    for marker, message in [
        ("1 hour", '"1 hour" is not a duration; write it like "4h"'),
        ("metrc", 'unknown key "metrc" of a measure; did you mean "metric"?'),
        ("runing", '"runing" is not a state; did you mean "running"?'),
        ("custmer-sla", 'no policy "custmer-sla" in the rules; did you mean "customer-sla"?'),
        ("resolutoin", '"resolutoin" is not a metric; did you mean "resolution"?'),
        ("tomorrow", '"tomorrow" is not a time; write it as ISO 8601'),
        ("add_tg", '"add_tg" is not an action kind; did you mean "add_tag"?'),
        ("action:", 'unknown key "action" in expect; did you mean "actions"?'),
    ]:
        assert f"{t}:{at(text, marker)}: " in out and message in out, (marker, out)
    assert "8 problem(s) found" in out


def test_a_well_formed_expectation_still_runs(tmp_path: Path) -> None:
    code, out, _ = run(
        tmp_path,
        "      measures:\n"
        "        - {policy: customer-sla, metric: resolution, state: running, elapsed: 1h30m}\n",
    )
    assert code == 0, out
    assert "1 passed, 0 failed" in out


def test_the_problems_docs_rules_testing_md_quotes_are_the_ones_said(tmp_path: Path) -> None:
    code, out, _ = run(
        tmp_path,
        "      measures:\n"
        "        - {policy: customer-sla, metric: first_response, elapsed: 1 hour}\n"
        "        - {policy: customer-sla, metrc: resolution}\n"
        "      actions:\n"
        "        - {escalation: first-response-breached, level: 1, kind: add_tg}\n",
    )
    assert code == 2, out
    page = (REPO / "docs" / "rules" / "testing.md").read_text(encoding="utf-8")
    quoted = [ln for ln in page.splitlines() if ln.startswith("rules/my.tests.yaml:")]
    assert len(quoted) == 3
    for line in quoted:
        assert line.split(": ", 1)[1] in out, line


def test_a_case_time_or_ticket_that_is_not_one_is_a_problem_at_its_position(
    tmp_path: Path,
) -> None:
    # Was "ticket: Invalid isoformat string" at column 1 for a bad `at`, and for an `at`
    # without an offset an error in Python's words ("pass an aware datetime, e.g.
    # datetime(...)") with no file or line.
    shutil.copy(REPO / "rules" / "default.yaml", tmp_path / "default.yaml")
    text = (
        "rules: [default.yaml]\ncases:\n"
        "  - name: a\n    at: tomorrow\n"
        '    ticket: {id: "1", created_at: 2026-03-02T09:00:00+01:00, status: open}\n'
        "    expect: {}\n"
        "  - name: b\n    at: 2026-03-02T10:30\n"
        '    ticket: {id: "1", created_at: 2026-03-02T09:00:00+01:00, status: open, priorty: low}\n'
        "    expect: {}\n"
        "  - name: c\n    at: 2026-03-02T10:30:00+01:00\n"
        '    ticket: {id: "1", created_at: "2026-03-02T09:00:00", status: open}\n'
        "    expect: {}\n"
    )
    (tmp_path / "t.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "test", str(tmp_path / "t.yaml")])
    assert result.exit_code == 2, result.output
    for marker, message in [
        ("tomorrow", '"tomorrow" is not a time with an offset; write it as ISO 8601'),
        ("2026-03-02T10:30\n", "is not a time with an offset"),
        ("priorty", 'unknown key "priorty" of a ticket; did you mean "priority"?'),
        ('{id: "1", created_at: "', "created_at: '2026-03-02T09:00:00' has no offset"),
    ]:
        assert f"t.yaml:{at(text, marker)}: " in result.output, (marker, result.output)
        assert message in result.output
    assert "3 problem(s) found" not in result.output and "4 problem(s) found" in result.output
