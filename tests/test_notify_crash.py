"""At most one duplicate notification per crash, none lost: `slaplug sync` SIGKILLed 20 times.

A real `slaplug sync --once` against the fake Zendesk delivers breach notifications to two
real receivers on 127.0.0.1 per channel (an SMTP mailbox and a JSON webhook). Twenty runs in a
row are each killed during delivery: alternately right after a send (before it is recorded:
the one case that may repeat a message) and right after it is recorded. A last run finishes.
Then every notification has reached every service, and the messages received twice are at
most the kills that struck between a send and its record.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from receivers import HttpReceiver, Mailbox
from slaplug_zendesk.fake import FakeZendesk

pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")

RULES = textwrap.dedent(
    """\
    policies:
      - name: standard
        calendar: 24x7
        targets:
          first_response: {urgent: 1h, high: 1h, normal: 1h, low: 1h}
    escalations:
      - name: first-response-missed
        when: {metric: first_response, breached: true}
        actions:
          - notify: {channel: team-lead, message: "Ticket {{ ticket.id }} missed its first response."}
    """
)
REF = re.compile(r"slaplug-[0-9a-f]{32}")


def _sync(config: Path, token: str, crash_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRASH_ZD_TOKEN": token, "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk"}
    env.pop("SLAPLUG_CRASH_AT", None)
    if crash_at:
        env["SLAPLUG_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "sync", "--once", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=240,
    )


def test_twenty_kills_during_delivery_repeat_at_most_one_message_each(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    store = tmp_path / "slaplug.db"
    now = datetime.now(UTC) - timedelta(days=4)
    with (
        FakeZendesk.start(
            now=now, tickets=100, days=6, job_complete_after=0.1, job_polls=1
        ) as fake,
        Mailbox() as mailbox,
        HttpReceiver() as hook,
    ):
        config = tmp_path / "slaplug.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "store": f"sqlite:///{store}",
                    "rules": ["rules.yaml"],
                    "engine": "python",
                    "connectors": {
                        "zendesk": {
                            "plugin": "zendesk",
                            "base_url": fake.base_url,
                            "email": fake.email,
                            "api_token_env": "CRASH_ZD_TOKEN",
                        }
                    },
                    "notify": {"team-lead": [mailbox.url(), hook.json_url("hook/${HOOK_SECRET}")]},
            # A backfill: the breaches are days old, which a default go-live records unwritten.
            "escalate_from": "2000-01-01",
                    # A killed sync's leases lapse after this; each rerun waits it out. Every kill
                    # counts as an attempt of the claimed batch: allow more than the kills.
                    "outbox": {"lease": "1s", "batch": 5, "max_attempts": 50},
                }
            )
        )
        os.environ["HOOK_SECRET"] = "hook-secret-c0ffee99"
        try:
            kills = {"notify-sent": 0, "notify-recorded": 0}
            logs = ""
            for i in range(20):
                point = "notify-sent" if i % 2 == 0 else "notify-recorded"
                run = _sync(config, fake.api_token, f"{point}:2")
                logs += run.stdout + run.stderr
                if run.returncode != -signal.SIGKILL:
                    break  # nothing left to deliver: fewer than two sends were pending
                kills[point] += 1
                time.sleep(1.2)  # the dead process's leases lapse
            final = _sync(config, fake.api_token, None)
            logs += final.stdout + final.stderr
            assert final.returncode == 0, final.stderr
        finally:
            del os.environ["HOOK_SECRET"]
        mail = mailbox.received()
        posts = hook.received()

    assert kills["notify-sent"] >= 5 and kills["notify-recorded"] >= 5, (kills, logs[-2000:])
    engine = sa.create_engine(f"sqlite:///{store}")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT key, status FROM ledger WHERE action LIKE '%\"notify\"%'")
        ).all()
        pending = conn.execute(sa.text("SELECT key, state, last_error FROM outbox")).all()
    engine.dispose()
    assert pending == [], (pending[:3], kills)
    assert rows and {status for _, status in rows} <= {"applied", "already"}

    from slaplug.notify.message import reference

    expected = {reference(key) for key, _ in rows}
    got_mail = Counter(
        m for msg in mail for m in REF.findall(msg.get_body(("plain",)).get_content())
    )
    got_hook = Counter(m for p in posts for m in REF.findall(p["body"]["message"]))
    # None lost: every notification reached both services.
    assert set(got_mail) == expected and set(got_hook) == expected
    # At most one duplicate per kill, and only kills between a send and its record repeat.
    duplicates = sum(n - 1 for n in got_mail.values()) + sum(n - 1 for n in got_hook.values())
    assert duplicates <= kills["notify-sent"], (duplicates, kills)
    # The webhook's secret never reaches the output or the store.
    assert "hook-secret-c0ffee99" not in logs
    assert b"hook-secret-c0ffee99" not in store.read_bytes()
