"""``slaplug status`` and ``slaplug explain CONNECTOR:ID`` as users run them: real processes
over a store filled by a real sync of the fake Zendesk and Jira (`status_data`).

Piped, status prints plain aligned text; on a terminal (a pty here) a rich table with colours
and links. Ticket text (markup, HTML, terminal escapes) prints inert either way.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest
from status_data import RULES, VIEW_AT, Install, synced_install

from slaplug.rules.pack import RulePack
from slaplug.store import Store
from slaplug.views import ClockQuery, explain_synced, measure_clocks, row_to_dict, select

pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
pytest.importorskip("slaplug_jira", reason="the Jira plugin is not installed")

AT = VIEW_AT.isoformat()
#: What the urgent ticket's subject must print as: the escape's ESC replaced, markup and
#: HTML as typed.
INERT_SUBJECT = "?[2JCheckout down [bold red]now[/bold red] <script>"


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    with synced_install(tmp_path_factory.mktemp("cli-status")) as inst:
        yield inst


def env_for(install: Install) -> dict[str, str]:
    # No credentials: status and explain read the store only.
    env = {k: v for k, v in os.environ.items() if k not in install.env and k != "NO_COLOR"}
    env.pop("SLAPLUG_LOAD_PLUGINS", None)
    # As in production: the test harness's lease floor unset (offline settings once read an
    # unset variable as a placeholder value and refused it).
    env.pop("SLAPLUG_MIN_LEASE", None)
    return env


def slaplug(install: Install, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", *args, "--config", str(install.config)],
        capture_output=True, text=True, env=env_for(install), timeout=120, check=False,
    )  # fmt: skip


def on_a_tty(install: Install, *args: str) -> str:
    """Run slaplug with stdout on a pseudo-terminal 220 columns wide; return what it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 220, 0, 0))
    env = {**env_for(install), "TERM": "xterm-256color", "COLUMNS": "220"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "slaplug.cli", *args, "--config", str(install.config)],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def expected(install: Install) -> list[dict]:
    """Every clock measured in this process, as JSON rows, for comparison with the CLI's."""
    with Store.open(install.store_url) as store, RulePack.load([RULES], engine="python") as pack:
        return [row_to_dict(r) for r in select(measure_clocks(store, pack, VIEW_AT), ClockQuery(include_closed=True))]


def idents(rows: list[dict]) -> list[tuple]:
    return [(r["ticket"], r["policy"], r["metric"], r["cycle"]) for r in rows]


def test_status_piped_prints_plain_aligned_text_least_time_left_first(install, expected) -> None:
    run = slaplug(install, "status", "--at", AT)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "\x1b" not in out, "no escape sequence when stdout is not a terminal"
    lines = out.splitlines()
    assert lines[0].startswith("SLA status at 2026-11-04 15:30 UTC: ")
    assert "1 breached, 3 at risk" in lines[0]
    assert lines[1] == "Breaches: 1 today, 3 this period (2026-11)"
    header = next(i for i, line in enumerate(lines) if line.startswith("TICKET"))
    rows = lines[header + 1 : lines.index("", header)]
    open_rows = [r for r in expected if r["open"]]
    assert [r.split()[0] for r in rows] == [r["ticket"] for r in open_rows]
    # Aligned: every column starts where its heading does.
    for name in ("STATE", "TIME LEFT", "DUE", "SUBJECT"):
        col = lines[header].index(name)
        assert all(r[col - 2 : col] == "  " and r[col] != " " for r in rows), name
    first = rows[0]
    assert first.startswith(f"zendesk:{install.new_ids['urgent']}  breached  -30m")
    assert INERT_SUBJECT in first


def test_status_on_a_terminal_is_a_rich_table_with_links(install) -> None:
    out = on_a_tty(install, "status", "--at", AT, "--state", "breached,at-risk")
    assert "┏" in out and "┃" in out, "a rich table"
    assert "\x1b[1;31mbreached" in out, "breached in bold red"
    urgent = install.new_ids["urgent"]
    # An OSC 8 hyperlink to the ticket's page on the helpdesk.
    assert "\x1b]8;id=" in out and f";{install.zendesk.base_url}/agent/tickets/{urgent}\x1b\\" in out
    assert f";{install.jira.base_url}/browse/SUP-" in out
    assert INERT_SUBJECT in out
    assert "\x1b[2J" not in out, "the subject's escape sequence must not reach the terminal"


def test_status_json_filters_and_sorts_as_asked(install, expected) -> None:
    run = slaplug(
        install, "status", "--at", AT, "--json", "--connector", "zendesk",
        "--state", "at-risk", "--state", "paused",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["schema"] == 1 and doc["query"]["connectors"] == ["zendesk"]
    assert doc["query"]["states"] == ["at_risk", "paused"]
    want = [r for r in expected if r["open"] and r["connector"] == "zendesk" and r["state"] in ("at_risk", "paused")]
    assert want and idents(doc["clocks"]) == idents(want)
    assert doc["clocks"] == want
    group = next(r["group"] for r in expected if r["open"] and r["group"])
    org = next(r["organization"] for r in expected if r["open"] and r["organization"])
    run = slaplug(
        install, "status", "--at", AT, "--json", "--team", group, "--customer", org,
        "--policy", "customer-sla", "--all", "--limit", "3",
    )  # fmt: skip
    doc = json.loads(run.stdout)
    want = [
        r for r in expected
        if r["group"] == group and r["organization"] == org and r["policy"] == "customer-sla"
    ]  # fmt: skip
    assert len(want) > 3 and doc["matched"] == len(want)
    assert idents(doc["clocks"]) == idents(want[:3])


def test_status_refuses_unknown_names_with_what_to_write(install) -> None:
    run = slaplug(install, "status", "--connector", "zendsk")
    assert run.returncode == 2
    assert "no connector named 'zendsk'" in run.stderr and "configured: jira, zendesk" in run.stderr
    assert "Traceback" not in run.stderr


def test_explain_names_a_synced_ticket_by_connector_and_id(install) -> None:
    urgent = install.new_ids["urgent"]
    run = slaplug(install, "explain", f"zendesk:{urgent}", "--at", AT)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"Ticket zendesk:{urgent} ")
    assert lines[1] == f"Link: {install.zendesk.base_url}/agent/tickets/{urgent}"
    assert "customer-sla / first_response (cycle 1): BREACHED" in run.stdout
    # The form the demo used to suggest names the same ticket.
    again = slaplug(install, "explain", "--ticket", f"zendesk:{urgent}", "--at", AT)
    assert again.returncode == 0 and again.stdout == run.stdout
    as_json = slaplug(install, "explain", f"zendesk:{urgent}", "--at", AT, "--json")
    with Store.open(install.store_url) as store, RulePack.load([RULES], engine="python") as pack:
        same = explain_synced(store, pack, "zendesk", urgent, VIEW_AT)
    assert json.loads(as_json.stdout) == same


def test_explain_of_a_ticket_not_in_the_store_says_what_to_do(install, tmp_path: Path) -> None:
    run = slaplug(install, "explain", "zendesk:99999")
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "error: ticket zendesk:99999 is not in the store: run `slaplug sync` to read it from "
        "the helpdesk, or check the id (`slaplug status --connector zendesk --all` lists the "
        "synced tickets)"
    )
    run = slaplug(install, "explain", "--ticket", str(tmp_path / "missing.json"), "--rules", str(RULES))
    assert run.returncode == 2 and "cannot read" in run.stderr and "CONNECTOR:ID" in run.stderr
    assert "Traceback" not in run.stderr
