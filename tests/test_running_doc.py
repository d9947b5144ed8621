"""docs/operations/running.md, run as written: every ``slaplug`` command of its shell blocks and
its cron line, in a session with no terminal (as cron and systemd start them), against a fake
Zendesk. Each must end with a documented exit code, no traceback, and the log lines the page
promises on standard error.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from lines import Lines
from slaplug_zendesk.fake import FakeZendesk
from slaplug_zendesk.fake.data import Group

pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "operations" / "running.md"
SLAPLUG = str(Path(sys.executable).parent / "slaplug")
#: The name the page's ``--connector`` example uses.
CONNECTOR = "zendesk-eu"
PROGRESS = re.compile(
    r'^time=\S+ level=info logger=slaplug\.sync msg="progress connector=zendesk-eu tickets_read=\d+',
    re.MULTILINE,
)


def _commands() -> list[str]:
    """The ``slaplug ...`` lines of the page's ``sh`` blocks, comments dropped, each once."""
    blocks = re.findall(r"```sh\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    lines = [ln.split("#", 1)[0].strip() for b in blocks for ln in b.splitlines()]
    return list(dict.fromkeys(ln for ln in lines if ln.startswith("slaplug ")))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("srv-slaplug")
    with FakeZendesk.start(
        now=datetime.now(UTC) - timedelta(days=4), tickets=120, days=14, job_complete_after=0.05
    ) as fake:
        with fake.lock:  # the group the shipped rules assign to, as a real account would have
            fake.store.groups[204] = Group(204, "escalations")
        (folder / "slaplug.yaml").write_text(
            yaml.safe_dump(
                {
                    "store": f"sqlite:///{folder / 'slaplug.db'}",
                    "rules": [str(REPO / "rules" / "default.yaml")],
                    "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
                    "connectors": {
                        CONNECTOR: {
                            "plugin": "zendesk",
                            "base_url": fake.base_url,
                            "email": fake.email,
                            "api_token_env": "ZENDESK_API_TOKEN",
                            "fields": {"sla_resolution_status": 360000000103},
                        }
                    },
                }
            )
        )
        # What cron gives a job: a bare PATH, no terminal, nothing else of the user's shell.
        env = {"PATH": "/usr/bin:/bin", "ZENDESK_API_TOKEN": fake.api_token, "HOME": str(folder)}
        yield folder, env


def _run(command: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [SLAPLUG, *command.split()[1:]]
    return subprocess.run(
        argv, cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        start_new_session=True, timeout=240, check=False,
    )


def test_the_page_has_the_commands_this_test_runs() -> None:
    commands = _commands()
    assert "slaplug sync --once" in commands and "slaplug sync --every 60s" in commands
    assert any("--plan" in c for c in commands) and "slaplug doctor" in commands


@pytest.mark.parametrize("command", [c for c in _commands() if "--every" not in c])
def test_each_command_runs_without_a_terminal(
    command: str, setup: tuple[Path, dict[str, str]]
) -> None:
    folder, env = setup
    done = _run(command, folder, env)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    if command.startswith("slaplug sync"):
        dry = "--dry-run" in command
        assert PROGRESS.search(done.stderr), done.stderr
        assert ("dry_run_done " if dry else "sync_done ") in done.stderr
        if "--json" in command:
            assert json.loads(done.stdout.splitlines()[-1])["dry_run"] is dry
        else:
            assert done.stdout.startswith("Dry run: nothing written" if dry else "Sync done")
    if "--plan" in command:
        plan = folder / command.split("--plan", 1)[1].split(maxsplit=1)[0]
        assert all(json.loads(line)["key"] for line in plan.read_text().splitlines())


def test_sync_every_runs_until_sigterm_without_a_terminal(
    setup: tuple[Path, dict[str, str]],
) -> None:
    folder, env = setup
    with subprocess.Popen(
        [SLAPLUG, "sync", "--every", "60s"], cwd=folder,
        env={**env, "PYTHONFAULTHANDLER": "1"}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    ) as proc:
        assert proc.stderr is not None and proc.stdout is not None
        err_lines, out_lines = Lines(proc.stderr), Lines(proc.stdout)
        assert err_lines.wait_for("next pass in 60s", timeout=120), err_lines.text()
        os.kill(proc.pid, signal.SIGTERM)  # systemctl stop
        try:
            # systemd waits TimeoutStopSec (90 s by default) before it kills.
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            # Stuck: PYTHONFAULTHANDLER makes SIGABRT print every thread's stack first.
            os.kill(proc.pid, signal.SIGABRT)
            proc.wait(timeout=30)
            pytest.fail(f"sync --every did not stop within 90 s of SIGTERM:\n{err_lines.text()}")
        out, err = out_lines.text(), err_lines.text()
    assert proc.returncode == 130, err  # SuccessExitStatus=130 in the page's unit
    assert "interrupted after 1 complete pass(es)" in err and "Traceback" not in err
    assert out.startswith("Sync done")


def test_the_cron_line_logs_progress_and_the_summary(setup: tuple[Path, dict[str, str]]) -> None:
    folder, env = setup
    [cron] = re.findall(r"^\* \* \* \* \*  (.*)$", PAGE.read_text(encoding="utf-8"), re.MULTILINE)
    log = folder / "slaplug.log"
    line = (
        cron.replace("/srv/slaplug", str(folder))
        .replace(".venv/bin/slaplug", SLAPLUG)
        .replace("/var/log/slaplug.log", str(log))
    )
    done = subprocess.run(
        ["/bin/sh", "-c", line], env=env, stdin=subprocess.DEVNULL, start_new_session=True,
        timeout=240, check=False,
    )
    assert done.returncode == 0
    text = log.read_text()
    assert PROGRESS.search(text) and "sync_done " in text and "Sync done" in text, text
