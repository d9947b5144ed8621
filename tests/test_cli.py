"""The command line, as a user runs it: real processes, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AT = "2026-03-04T15:00:00+01:00"


def slaplug(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", *args], capture_output=True, text=True, check=False, cwd=REPO
    )


def test_explain_json_shows_timeline_state_and_escalations() -> None:
    run = slaplug("explain", "--rules", "rules/default.yaml", "--ticket", "examples/ticket-1003.json",
                  "--at", AT, "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["policies"] == ["customer-sla", "second-line-ola"]
    ola = next(c for c in doc["clocks"] if c["policy"] == "second-line-ola")
    assert ola["state"] == "breached"
    assert ola["breached_at"] == "2026-03-04T10:00:00+01:00"
    kinds = [seg["kind"] for seg in ola["timeline"]]
    assert kinds[:3] == ["closed", "counted", "closed"]  # opens 09:00, lunch 12-13
    assert {a["escalation"] for a in doc["actions"]} == {
        "resolution-half-used", "resolution-at-risk", "second-line-ola-breached"
    }


def test_explain_text_names_holidays_crossed(tmp_path: Path) -> None:
    ticket = tmp_path / "t.json"
    ticket.write_text(json.dumps({
        "id": "5", "connector": "jira", "created_at": "2026-12-23T17:00:00+01:00",
        "status": "open", "priority": "normal",
    }))
    run = slaplug("explain", "--rules", "rules/default.yaml", "--ticket", str(ticket),
                  "--at", "2026-12-28T10:00:00+01:00")
    assert run.returncode == 0, run.stderr
    assert "closed: holiday 2026-12-24, 2026-12-25, 2026-12-26" in run.stdout


def test_assess_prints_states_and_planned_escalations() -> None:
    run = slaplug("assess", "--rules", "rules/default.yaml", "--tickets", "examples/tickets.json", "--at", AT)
    assert run.returncode == 0, run.stderr
    assert "zendesk:1002  customer-sla     resolution        1  paused" in run.stdout
    assert "Escalations planned: 20" in run.stdout
    assert "Ticket 1001 is 17h 45m past its resolution SLA." in run.stdout


def test_bad_ticket_file_is_exit_2_naming_the_field(tmp_path: Path) -> None:
    ticket = tmp_path / "t.json"
    ticket.write_text(json.dumps({"id": "1", "created_at": "2026-03-02T09:00:00", "status": "open"}))
    run = slaplug("explain", "--rules", "rules/default.yaml", "--ticket", str(ticket))
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "created_at: '2026-03-02T09:00:00' has no offset" in run.stderr


def test_malformed_json_ticket_names_line_and_column(tmp_path: Path) -> None:
    ticket = tmp_path / "t.json"
    ticket.write_text('{"id": "1",\n  "status": }')
    run = slaplug("explain", "--rules", "rules/default.yaml", "--ticket", str(ticket))
    assert run.returncode == 2
    assert f"{ticket}:2:13:" in run.stderr


def test_time_without_offset_is_refused() -> None:
    run = slaplug("assess", "--rules", "rules/default.yaml", "--tickets", "examples/tickets.json",
                  "--at", "2026-03-04T15:00")
    assert run.returncode == 2
    assert "has no offset" in run.stderr


def test_explain_names_a_ticket_file_by_its_id_and_file(tmp_path: Path) -> None:
    # Was "Ticket file:9 ''": a connector the file never named and an empty subject (QA2 #16).
    ticket = tmp_path / "t.json"
    ticket.write_text(json.dumps({"id": "9", "created_at": "2026-03-02T09:00:00+01:00",
                                  "status": "open", "priority": "normal"}))
    run = slaplug("explain", "--rules", "rules/default.yaml", "--ticket", str(ticket), "--at", AT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == f"Ticket 9 from {ticket}, no subject (open, priority normal)"
    run = slaplug("explain", "--rules", "rules/default.yaml", "--ticket", "examples/ticket-1003.json",
                  "--at", AT)
    assert run.stdout.splitlines()[0] == (
        "Ticket zendesk:1003 from examples/ticket-1003.json 'SSO login loops after password reset' "
        "(open, priority high)"
    )
