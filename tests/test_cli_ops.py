"""Operating `slaplug sync` as cron and systemd do: real processes, no terminal, real signals.

Exit codes (docs/cli.md, `slaplug.exitcodes`), logging options and structured lines, Ctrl-C
and SIGTERM, and the ``--every`` interval, each through ``python -m slaplug.cli`` against a
fake Zendesk on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from lines import Lines
from slaplug_zendesk.fake import FakeZendesk

pytest.importorskip("slaplug_zendesk.write", reason="the Zendesk plugin is not installed")

REPO = Path(__file__).resolve().parent.parent
TOKEN_ENV = "OPS_ZD_TOKEN"
#: The syncs' "now" (``SLAPLUG_NOW``), pinned: a Friday, 13:00 in Berlin. The shipped rules
#: measure Berlin business hours, so with the real clock what a sync planned depended on the
#: weekday and hour the test ran, and a threshold crossed between two runs of one test (the
#: dry runs compared with each other) changed their plans. The fake's clock starts four days
#: earlier, at the instant its account is built against (``DEFAULT_END``, a Monday noon UTC).
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)


def _configure(tmp_path: Path, base_url: str, email: str, **extra: Any) -> Path:
    config = tmp_path / "slaplug.yaml"
    doc: dict[str, Any] = {
        "store": f"sqlite:///{tmp_path / 'store.db'}",
        "rules": [str(REPO / "rules" / "default.yaml")],
        "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
        "engine": "durable",
        "escalate_from": "2000-01-01",
        "connectors": {
            "zendesk": {
                "plugin": "zendesk",
                "base_url": base_url,
                "email": email,
                "api_token_env": TOKEN_ENV,
                "fields": {"sla_resolution_status": 360000000103},
                "page_size": 20,
                "job_poll_interval": 0.05,
            }
        },
        "outbox": {"batch": 5},
        **extra,
    }
    config.write_text(yaml.safe_dump(doc))
    return config


def _env(token: str) -> dict[str, str]:
    env = {
        **os.environ,
        TOKEN_ENV: token,
        "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk",
        "SLAPLUG_NOW": NOW.isoformat(),
    }
    env.pop("SLAPLUG_CRASH_AT", None)
    return env


def _argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "slaplug.cli", *args]


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    with FakeZendesk.start(
        now=NOW - timedelta(days=4), tickets=120, days=14, job_complete_after=0.1, job_polls=1
    ) as running:
        yield running


def _leased(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "store.db") as db:
        return int(db.execute("select count(*) from outbox where state = 'leased'").fetchone()[0])


# -- exit codes --------------------------------------------------------------------------------


def test_a_helpdesk_that_refuses_connections_exits_3_not_the_config_code(
    tmp_path: Path,
) -> None:
    # Nothing listens on port 9 of 127.0.0.1 ("discard", never served in a test box).
    config = _configure(
        tmp_path,
        "http://127.0.0.1:9",
        "ops@example.com",
        connectors={
            "zendesk": {
                "plugin": "zendesk",
                "base_url": "http://127.0.0.1:9",
                "email": "ops@example.com",
                "api_token_env": TOKEN_ENV,
                "fields": {"sla_resolution_status": 360000000103},
                "retry": {"max_attempts": 2, "max_wait": 1, "backoff_initial": 0.1, "jitter": 0},
            }
        },
    )
    done = subprocess.run(
        _argv("sync", "--once", "--config", str(config)),
        capture_output=True,
        text=True,
        env=_env("x" * 20),
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    # One line for the cause (no retry lines, no urllib3 text), after what was done.
    # Its only connector: no "other connectors" to name.
    assert lines[-2] == (
        "zendesk: stopped by its helpdesk; 0 claimed actions released, 0 actions pending in "
        "the outbox for the next sync, nothing done is lost"
    ), lines
    assert lines[-1] == (
        "error: connector 'zendesk': cannot reach http://127.0.0.1:9: connection refused "
        "(nothing listens there); check base_url and that the helpdesk is up"
    )
    assert "HTTPConnectionPool" not in done.stderr and "retrying" not in done.stderr


def test_a_wrong_url_prefix_stops_with_a_base_url_message_not_a_ticket_skip(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    config = _configure(tmp_path, fake.base_url + "/helpdesk", fake.email)
    done = subprocess.run(
        _argv("sync", "--once", "--config", str(config)),
        capture_output=True,
        text=True,
        env=_env(fake.api_token),
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert "skipping this ticket" not in done.stderr
    assert "check the connector's base_url" in done.stderr
    assert "zendesk: stopped by its helpdesk; 0 claimed actions released" in done.stderr


def test_a_configuration_error_still_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "slaplug.yaml"
    config.write_text("store: [not, a, url]\n")
    done = subprocess.run(
        _argv("sync", "--once", "--config", str(config)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr


def test_a_sync_whose_actions_failed_exits_4(tmp_path: Path, fake: FakeZendesk) -> None:
    # Reads succeed; every write (Zendesk updates tickets with PUT) is answered 503, and one
    # attempt is all the budget allows, so the pass finishes with its actions left to retry.
    config = _configure(tmp_path, fake.base_url, fake.email)
    doc = yaml.safe_load(config.read_text())
    doc["connectors"]["zendesk"]["retry"] = {"max_attempts": 1}
    config.write_text(yaml.safe_dump(doc))
    fake.set_faults(1.0, (503,), methods=["PUT"])
    done = subprocess.run(
        _argv("sync", "--once", "--json", "--config", str(config)),
        capture_output=True,
        text=True,
        env=_env(fake.api_token),
        timeout=240,
        check=False,
    )
    assert done.returncode == 4, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["applied"] == 0
    assert summary["failed"] + summary["dead_lettered"] + summary["retried_later"] > 0


# -- logging -----------------------------------------------------------------------------------


def test_sync_without_a_terminal_logs_key_value_progress_and_a_summary_line(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    # Pipes, as under cron: no terminal, so progress must come as log lines.
    config = _configure(tmp_path, fake.base_url, fake.email)
    done = subprocess.run(
        _argv("sync", "--once", "--config", str(config)),
        capture_output=True,
        text=True,
        env=_env(fake.api_token),
        timeout=240,
        check=False,
    )
    # 4: the fake account has no group 'escalations' for the shipped rules to assign to.
    assert done.returncode in (0, 4), done.stderr
    progress = [ln for ln in done.stderr.splitlines() if 'msg="progress connector=zendesk' in ln]
    assert progress, done.stderr
    assert progress[0].startswith("time=") and " level=info logger=slaplug.sync " in progress[0]
    assert 'msg="sync_done tickets_read=120 ' in done.stderr
    assert "Sync done" in done.stdout


def test_log_format_json_gives_one_object_per_line_and_verbose_leaks_no_token(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    config = _configure(tmp_path, fake.base_url, fake.email)
    done = subprocess.run(
        _argv("sync", "--once", "-v", "--log-format", "json", "--config", str(config)),
        capture_output=True,
        text=True,
        env=_env(fake.api_token),
        timeout=240,
        check=False,
    )
    assert done.returncode in (0, 4), done.stderr
    docs = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert {d["level"] for d in docs} >= {"info"}
    assert any(d["msg"].startswith("progress connector=zendesk") for d in docs)
    assert fake.api_token not in done.stderr + done.stdout


@pytest.mark.parametrize("command", [["serve", "--help"], ["fake", "--help"], ["sync", "--help"]])
def test_every_long_running_command_takes_the_same_logging_options(command: list[str]) -> None:
    out = subprocess.run(_argv(*command), capture_output=True, text=True, timeout=60, check=True)
    for option in ("--log-level", "-v, --verbose", "--log-format [text|json]"):
        assert option in out.stdout, (command, option)


def test_the_log_handler_redacts_registered_secrets() -> None:
    import io
    import logging

    from slaplug.connectors.redact import REDACTED, add_secret
    from slaplug.logs import setup_logging

    add_secret("s3cr3t-token-value")
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging("info", "text", stream=stream)
        logging.getLogger("some.plugin").info("sent Authorization: %s", "s3cr3t-token-value")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert "s3cr3t-token-value" not in stream.getvalue()
    assert REDACTED in stream.getvalue()


# -- Ctrl-C and SIGTERM ------------------------------------------------------------------------


@contextmanager
def _started(
    config: Path, token: str, *args: str, pause_at: str | None = None
) -> Iterator[tuple[subprocess.Popen[str], Lines, Lines]]:
    """``slaplug sync ARGS`` running, with its standard error and output being read.

    ``pause_at`` names a crash point (`slaplug.crashpoints`) where the sync waits, saying
    ``paused at NAME``, until it is signalled: the signal lands at that step, however slow or
    fast the machine.
    """
    env = _env(token)
    if pause_at is not None:
        env["SLAPLUG_PAUSE_AT"] = pause_at
    # A session of its own, so the signal goes to the whole process group as a terminal's
    # Ctrl-C does: the rules engine's child process gets it too.
    with subprocess.Popen(
        _argv("sync", *args, "--config", str(config)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    ) as proc:
        try:
            yield proc, Lines(proc.stderr), Lines(proc.stdout)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_ctrl_c_during_sync_once_releases_the_batch_and_exits_130(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    config = _configure(tmp_path, fake.base_url, fake.email)
    # Stopped with a batch claimed from the outbox (leased to this sync) and not yet applied.
    with _started(config, fake.api_token, "--once", pause_at="claimed") as (proc, err, out):
        assert err.wait_for("paused at claimed", 120), err.text()
        assert _leased(tmp_path) > 0
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=60)
        stderr = err.text()
        assert code == 130, stderr + out.text()
    assert "Traceback" not in stderr and "Aborted!" not in stderr
    [line] = [ln for ln in stderr.splitlines() if ln.startswith("interrupted")]
    released = re.search(r"(\d+) claimed action\(s\) released", line)
    assert released and int(released.group(1)) > 0, line
    assert _leased(tmp_path) == 0  # the next sync need not wait out the leases


def test_a_helpdesk_failing_mid_batch_releases_the_batch_and_exits_3(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    config = _configure(tmp_path, fake.base_url, fake.email)
    with _started(config, fake.api_token, "--once", pause_at="claimed") as (proc, err, out):
        assert err.wait_for("paused at claimed", 120), err.text()
        assert _leased(tmp_path) > 0
        fake.set_faults(1.0, [401], 1)  # the credentials are revoked while the batch is held
        os.kill(proc.pid, signal.SIGUSR1)  # go on: the apply meets the 401
        code = proc.wait(timeout=60)
        stderr = err.text()
        assert code == 3, stderr + out.text()
    [line] = [ln for ln in stderr.splitlines() if ln.startswith("zendesk: stopped")]
    released = re.search(r"(\d+) claimed actions? released", line)
    assert released and int(released.group(1)) > 0, line
    assert _leased(tmp_path) == 0  # the next sync need not wait out the leases
    assert "Traceback" not in stderr


def test_sigterm_during_sync_every_stops_cleanly_with_130(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    config = _configure(tmp_path, fake.base_url, fake.email)
    with _started(config, fake.api_token, "--every", "10s") as (proc, err, out):
        assert err.wait_for("sync_done", 120), err.text()
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=60)
        stderr, stdout = err.text(), out.text()
    assert code == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted after 1 complete pass(es)" in stderr
    assert "Sync done" in stdout


def test_ctrl_c_while_sync_every_waits_prints_no_traceback(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    config = _configure(tmp_path, fake.base_url, fake.email)
    with _started(config, fake.api_token, "--every", "10s") as (proc, err, _out):
        # Said just before the wait between passes: the engine's child is idle.
        assert err.wait_for("next pass in 10s", 120), err.text()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=60)
        stderr = err.text()
    assert code == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr


# -- --every -----------------------------------------------------------------------------------


def _sync_every(tmp_path: Path, *args: str, **extra: Any) -> subprocess.CompletedProcess[str]:
    config = _configure(tmp_path, "http://127.0.0.1:9", "ops@example.com", **extra)
    return subprocess.run(
        _argv("sync", *args, "--config", str(config)),
        capture_output=True,
        text=True,
        env=_env("x" * 20),
        timeout=60,
        check=False,
    )


def test_every_in_words_is_refused_with_the_accepted_forms(tmp_path: Path) -> None:
    done = _sync_every(tmp_path, "--every", "1 minute")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "--every" in done.stderr and "90s, 10m, 1h" in done.stderr


@pytest.mark.parametrize("value", ["0s", "1s", "9s"])
def test_every_below_the_floor_is_refused(tmp_path: Path, value: str) -> None:
    done = _sync_every(tmp_path, "--every", value)
    assert done.returncode == 2, done.stderr
    assert "10s floor" in done.stderr


def test_every_without_a_value_reads_sync_every_from_the_configuration(tmp_path: Path) -> None:
    # A 5s sync.every is below the floor: the error proves the configured value was read.
    done = _sync_every(tmp_path, "--every", sync={"every": "5s"})
    assert done.returncode == 2, done.stderr
    assert "sync.every" in done.stderr and "'5s'" in done.stderr


# -- serve -------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """``slaplug serve`` with one webhook worker, in a session of its own (a terminal's
    Ctrl-C reaches its process group), and its stderr read line by line; killed if a test
    leaves it running."""
    config = _configure(tmp_path, "http://127.0.0.1:9", "ops@example.com")
    doc = yaml.safe_load(config.read_text())
    doc["connectors"]["zendesk"]["webhook_secret_env"] = "OPS_ZD_SECRET"
    config.write_text(yaml.safe_dump(doc))
    env = {**_env("x" * 20), "OPS_ZD_SECRET": "y" * 20}
    argv = _argv("serve", "--config", str(config), "--port", str(_free_port()), "--workers", "1")
    with subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    ) as proc:
        err = Lines(proc.stderr)
        Lines(proc.stdout)
        try:
            yield proc, err
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_on_ctrl_c_or_sigterm_without_a_traceback_and_exits_130(
    tmp_path: Path, signum: int
) -> None:
    with _serving(tmp_path) as (proc, err):
        assert err.wait_for("Uvicorn running", 120), err.text()
        os.killpg(proc.pid, signum)  # the whole group: the worker process gets it too
        code = proc.wait(timeout=60)
        stderr = err.text()
    assert code == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert "stopped:" in stderr


def test_ctrl_c_while_serve_starts_its_worker_reaches_only_the_server(tmp_path: Path) -> None:
    # The worker is still importing when the server says it started it: a Ctrl-C sent to the
    # terminal's process group then must not reach it (it would die with a traceback before
    # its handler exists); the server stops it once drained.
    with _serving(tmp_path) as (proc, err):
        assert err.wait_for("webhook worker 0 started (pid", 120), err.text()
        [pid] = re.findall(r"webhook worker 0 started \(pid (\d+)\)", "".join(err.lines))
        assert os.getpgid(int(pid)) != proc.pid  # not in the group a terminal signals
        assert err.wait_for("Uvicorn running", 120), err.text()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=60)
        stderr = err.text()
    assert code == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)  # stopped with the server, not left behind


# -- dry run -----------------------------------------------------------------------------------


def test_dry_run_json_carries_the_whole_plan_and_counts_no_writes(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    config = _configure(tmp_path, fake.base_url, fake.email)
    done = subprocess.run(
        _argv("sync", "--once", "--dry-run", "--json", "--config", str(config)),
        capture_output=True,
        text=True,
        env=_env(fake.api_token),
        timeout=240,
        check=False,
    )
    # 4: the dry run's write checks find the group 'escalations' the fake lacks.
    assert done.returncode in (0, 4), done.stderr
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert doc["dry_run"] is True and doc["planned"] > 0
    assert len(doc["would_plan"]) == doc["planned"] and doc["would_plan_truncated"] is False
    first = doc["would_plan"][0]
    assert {"connector", "ticket_id", "key", "kind", "params", "level"} <= set(first)
    assert doc["api_writes"] == 0  # nothing was written, whatever the HTTP methods
    assert fake.writes == []
    text = subprocess.run(
        _argv("sync", "--once", "--dry-run", "--config", str(config)),
        capture_output=True,
        text=True,
        env=_env(fake.api_token),
        timeout=240,
        check=False,
    )
    listed = [ln for ln in text.stdout.splitlines() if ln.startswith("    zendesk:")]
    assert len(listed) == doc["planned"], text.stdout
    assert "{" not in "".join(listed)  # params as key=value, not a Python dict
    # The whole plan in a file, one JSON object a line, however long it is.
    plan = tmp_path / "plan.jsonl"
    filed = subprocess.run(
        _argv("sync", "--once", "--dry-run", "--plan", str(plan), "--config", str(config)),
        capture_output=True,
        text=True,
        env=_env(fake.api_token),
        timeout=240,
        check=False,
    )
    assert filed.returncode in (0, 4), filed.stderr
    rows = [json.loads(line) for line in plan.read_text().splitlines()]
    assert [r["key"] for r in rows] == [a["key"] for a in doc["would_plan"]]
    assert fake.writes == []
    refused = subprocess.run(
        _argv("sync", "--once", "--plan", str(plan), "--config", str(config)),
        capture_output=True,
        text=True,
        env=_env(fake.api_token),
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2 and "add --dry-run" in refused.stderr, refused.stderr


def test_sync_every_outlives_a_helpdesk_outage(tmp_path: Path) -> None:
    # Nothing listens on port 9: each pass fails at once; the loop says so and carries on.
    config = _configure(tmp_path, "http://127.0.0.1:9", "ops@example.com")
    with _started(config, "x" * 20, "--every", "10s") as (proc, err, _out):
        assert err.wait_for("next pass in 10s", 60), err.text()
        assert proc.poll() is None  # still running
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        stderr = err.text()
    assert "cannot reach http://127.0.0.1:9: connection refused" in stderr
    assert "Traceback" not in stderr
