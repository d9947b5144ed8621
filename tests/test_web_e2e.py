"""End to end: a real `slaplug serve` (uvicorn) process, the fake Zendesk and fake Jira sending it
signed webhooks on ticket changes.

* A change on each helpdesk is written back to it within a second of the change.
* Duplicated and replayed deliveries are answered 200 and write nothing a second time.
* A worker process killed with SIGKILL holding a delivery is restarted and finishes it, while
  the server goes on acknowledging; a server killed with SIGKILL takes its workers with it,
  and finishes its inbox once restarted.

The fakes' clocks start four days back, so a ticket created "now" on them is days old to slaplug:
its first-response clock is breached and the shipped pack writes tags and a comment at once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from slaplug_jira.fake import FakeJira
from slaplug_zendesk.fake import FakeZendesk

pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")
pytest.importorskip("slaplug_jira", reason="the Jira plugin is not installed")
pytest.importorskip("uvicorn", reason="slaplug serve needs uvicorn")

REPO = Path(__file__).resolve().parent.parent
OLD_SECRET = "e2e-rotated-out-secret-0001"
NEW_SECRET = "e2e-current-secret-0002"
ENV = {
    "E2E_ZD_TOKEN": "fake-api-token",
    "E2E_JIRA_TOKEN": "fake-api-token",
    "E2E_HOOK_OLD": OLD_SECRET,
    "E2E_HOOK_NEW": NEW_SECRET,
    "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk,slaplug-jira",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Server:
    """A `slaplug serve` process and what it needs to restart."""

    config: Path
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, crash_at: str | None = None, *extra: str) -> None:
        env = {**os.environ, **ENV}
        env.pop("SLAPLUG_CRASH_AT", None)
        if crash_at:
            env["SLAPLUG_CRASH_AT"] = crash_at
        args = [sys.executable, "-m", "slaplug.cli", "serve", "--config", str(self.config)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*args, "--port", str(self.port), "--log-level", "info", *extra],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        _wait_for(self._healthy, 30, f"slaplug serve to answer /healthz (log: {self.log})")

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"slaplug serve exited: {self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def inbox(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.url}/healthz", timeout=5).json()["inbox"])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Setup:
    server: Server
    zendesk: FakeZendesk
    jira: FakeJira


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    # `slaplug serve` evaluates at the real time (no SLAPLUG_NOW there), so the fakes' clocks
    # run a week behind it: every urgent ticket they create has then been open for at least a
    # day of Berlin business hours (the shipped rules' calendar), past its 1h first response,
    # whatever the day. Four days were not enough over Easter or Christmas: on Easter Monday
    # 2026 at 18:00 in Berlin the four days before hold no business hour (measured with the
    # calendar for every half hour of 2026-2031: a week holds at least 30 hours).
    past = datetime.now(UTC) - timedelta(days=7)
    with (
        FakeZendesk.start(now=past, tickets=5, days=2, job_complete_after=0.05, job_polls=1) as zd,
        FakeJira.start(now=past, issues=3, days=2, bulk_polls=1) as jira,
    ):
        config = tmp_path / "slaplug.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "store": f"sqlite:///{tmp_path / 'slaplug.db'}",
                    "rules": [str(REPO / "rules" / "default.yaml")],
                    # The shipped rules notify these channels; declared empty, their messages are dropped.
                    "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
                    # A backfill: the fakes' clocks run a week behind, so to the default
                    # go-live (the server's start) their new tickets' thresholds are history.
                    "escalate_from": "2000-01-01",
                    "connectors": {
                        "zendesk": {
                            "plugin": "zendesk",
                            "base_url": zd.base_url,
                            "email": zd.email,
                            "api_token_env": "E2E_ZD_TOKEN",
                            "webhook_secret_env": ["E2E_HOOK_OLD", "E2E_HOOK_NEW"],
                            "fields": {"sla_resolution_status": 360000000103},
                            "job_poll_interval": 0.02,
                        },
                        "jira": {
                            "plugin": "jira",
                            "base_url": jira.base_url,
                            "email": jira.email,
                            "api_token_env": "E2E_JIRA_TOKEN",
                            "projects": ["SUP"],
                            "webhook_secret_env": ["E2E_HOOK_OLD", "E2E_HOOK_NEW"],
                            "fields": {"sla_resolution_status": "customfield_10050"},
                            "bulk_poll_interval": 0.02,
                        },
                    },
                    # A killed server's claims lapse after this; the restart test relies on it.
                    "outbox": {"lease": "1s"},
                }
            )
        )
        server = Server(config, _free_port(), tmp_path / "serve.log")
        try:
            server.start()
            yield Setup(server, zd, jira)
        finally:
            zd.configure_webhook(None)
            jira.configure_webhook(None)
            server.stop()


def _zendesk_writes(fake: FakeZendesk, ticket_id: int) -> list[dict[str, Any]]:
    """Accepted update bodies for one ticket (bulk bodies split per ticket)."""
    out = []
    for w in fake.writes:
        if not w.accepted:
            continue
        body = w.body if isinstance(w.body, dict) else {}
        for t in body.get("tickets", []):
            if int(t.get("id", 0)) == ticket_id:
                out.append(t)
        if "ticket" in body and f"/tickets/{ticket_id}" in w.path:
            out.append(body["ticket"])
    return out


def _jira_writes(fake: FakeJira, key: str, issue_id: str) -> list[Any]:
    return [
        w
        for w in fake.writes
        if w.accepted and (key in w.path or issue_id in w.path or key in json.dumps(w.body))
    ]


def _markers(bodies: list[Any]) -> list[str]:
    # Zendesk's comments carry "[slaplug 1a2b3c4d]", Jira's "[slaplug:1a2b...]" (16 hex digits).
    return re.findall(r"\[slaplug[ :][0-9a-f]{8,16}\]", json.dumps(bodies))


def test_zendesk_change_is_written_back_within_a_second_and_duplicates_write_nothing(
    setup: Setup,
) -> None:
    zd, server = setup.zendesk, setup.server
    # Every delivery is sent twice (a retry that crossed our answer), signed with the newer of
    # two rotated secrets.
    zd.configure_webhook(f"{server.url}/webhooks/zendesk", NEW_SECRET, duplicate_rate=1.0)
    changed = time.monotonic()
    ticket_id = int(
        zd.simulate("create", subject="Printer on fire", priority="urgent")["ticket"]["id"]
    )
    _wait_for(lambda: _zendesk_writes(zd, ticket_id), 1.0, "the write-back to Zendesk")
    assert time.monotonic() - changed < 1.0
    assert zd.wait_for_webhooks(10)
    statuses = sorted(d.status for d in zd.webhook_deliveries)  # type: ignore[type-var]
    assert set(statuses) == {200, 202}, statuses
    assert statuses.count(200) == statuses.count(202), "each duplicate answered 200"

    # A replay of a delivery already processed (same id), re-signed now: 200, nothing stored.
    first = zd.webhook_deliveries[0]
    replay = httpx.post(first.url, content=first.body, headers=dict(first.headers), timeout=5)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"

    # A new change on the same ticket: processed again, and the actions already written are
    # not written a second time.
    done_before = server.inbox().get("done", 0)
    zd.simulate("internal_note", ticket_id, body="looking into it")
    _wait_for(lambda: server.inbox().get("done", 0) > done_before, 10, "the second delivery")
    _wait_for(
        lambda: server.inbox().get("pending", 0) + server.inbox().get("leased", 0) == 0,
        10,
        "an empty inbox",
    )
    markers = _markers(_zendesk_writes(zd, ticket_id))
    assert markers and len(markers) == len(set(markers)), markers
    tags = [t for b in _zendesk_writes(zd, ticket_id) for t in b.get("additional_tags", [])]
    assert len(tags) == len(set(tags)), tags


def test_jira_change_is_written_back_within_a_second_and_duplicates_write_nothing(
    setup: Setup,
) -> None:
    jira, server = setup.jira, setup.server
    jira.configure_webhook(f"{server.url}/webhooks/jira", OLD_SECRET, duplicate_rate=1.0)
    changed = time.monotonic()
    issue = jira.simulate("create", summary="VPN down for everyone", priority="Highest")
    key, issue_id = str(issue["key"]), str(issue["id"])
    _wait_for(lambda: _jira_writes(jira, key, issue_id), 1.0, "the write-back to Jira")
    assert time.monotonic() - changed < 1.0
    assert jira.wait_for_webhooks(10)
    statuses = [d.status for d in jira.webhook_deliveries]
    assert sorted(set(statuses)) == [200, 202], statuses  # type: ignore[type-var]

    first = jira.webhook_deliveries[0]
    replay = httpx.post(first.url, content=first.body, headers=dict(first.headers), timeout=5)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"

    done_before = server.inbox().get("done", 0)
    jira.simulate("internal_note", key, body="on it")
    _wait_for(lambda: server.inbox().get("done", 0) > done_before, 10, "the next delivery")
    _wait_for(
        lambda: server.inbox().get("pending", 0) + server.inbox().get("leased", 0) == 0,
        10,
        "an empty inbox",
    )
    markers = _markers([w.body for w in _jira_writes(jira, key, issue_id)])
    assert markers and len(markers) == len(set(markers)), markers


def test_bad_signature_is_refused_401_and_unknown_connector_404(setup: Setup) -> None:
    url = setup.server.url
    body = b'{"webhookEvent": "jira:issue_updated", "issue": {"key": "SUP-1"}}'
    bad = httpx.post(f"{url}/webhooks/jira", content=body, headers={"X-Hub-Signature": "sha256=00"})
    assert bad.status_code == 401 and bad.json()["error"] == "bad_signature"
    assert NEW_SECRET not in bad.text and OLD_SECRET not in bad.text
    unknown = httpx.post(f"{url}/webhooks/freshdesk", content=body)
    assert unknown.status_code == 404 and set(unknown.json()) == {"error", "detail"}
    log = setup.server.log.read_text()
    assert NEW_SECRET not in log and OLD_SECRET not in log


def _workers(pid: int) -> list[int]:
    """The webhook worker processes `slaplug serve` ``pid`` started (Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"--worker-only" in cmdline.split(b"\0"):
                found.append(int(child))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_worker_killed_mid_delivery_is_restarted_and_finishes_it_while_acks_go_on(
    setup: Setup,
) -> None:
    zd, server = setup.zendesk, setup.server
    server.stop()
    # The worker process kills itself (SIGKILL) the moment it claims a delivery: the delivery
    # is stored and leased to a process that no longer exists. The web server lives on.
    server.start("inbox-claimed")
    assert server.proc is not None
    [first_worker] = _wait_for(lambda: _workers(server.proc.pid), 10, "the worker process")
    zd.configure_webhook(f"{server.url}/webhooks/zendesk", NEW_SECRET)
    ticket_id = int(
        zd.simulate("create", subject="Lost in a crash?", priority="urgent")["ticket"]["id"]
    )
    _wait_for(lambda: _gone(first_worker), 10, "the worker to kill itself")
    assert server.proc.poll() is None, "the web server must outlive its worker"
    other = int(
        zd.simulate("create", subject="During the restart", priority="urgent")["ticket"]["id"]
    )
    assert zd.wait_for_webhooks(10)
    assert {d.status for d in zd.webhook_deliveries} == {202}, "acknowledged while restarting"

    # Restarted (without the crash point); the lapsed lease makes the item claimable again.
    _wait_for(lambda: _zendesk_writes(zd, ticket_id), 15, "the restarted worker's write-back")
    _wait_for(lambda: _zendesk_writes(zd, other), 15, "the write-back of the next delivery")
    _wait_for(
        lambda: server.inbox().get("pending", 0) + server.inbox().get("leased", 0) == 0,
        15,
        "the inbox to be finished",
    )
    assert server.inbox().get("dead", 0) == 0
    for tid in (ticket_id, other):
        markers = _markers(_zendesk_writes(zd, tid))
        assert markers and len(markers) == len(set(markers)), markers
    assert "exited with signal 9; restarting it" in server.log.read_text()
    assert httpx.get(f"{server.url}/healthz", timeout=5).json()["worker"] is True


def test_server_killed_with_sigkill_takes_its_workers_and_finishes_its_inbox_after_a_restart(
    setup: Setup,
) -> None:
    zd, server = setup.zendesk, setup.server
    assert server.proc is not None
    [worker] = _wait_for(lambda: _workers(server.proc.pid), 10, "the worker process")
    server.proc.kill()
    server.proc.wait(10)
    # The worker sees its pipe to the server close and stops: no orphan runs unsupervised.
    _wait_for(lambda: _gone(worker), 10, "the orphaned worker to stop")

    # A server without workers stores deliveries; killed, it leaves them in the inbox.
    server.start(None, "--workers", "0")
    zd.configure_webhook(f"{server.url}/webhooks/zendesk", NEW_SECRET)
    ticket_id = int(
        zd.simulate("create", subject="Lost in a crash?", priority="urgent")["ticket"]["id"]
    )
    assert zd.wait_for_webhooks(10)
    assert server.inbox().get("pending", 0) >= 1
    server.proc.kill()
    server.proc.wait(10)
    assert _zendesk_writes(zd, ticket_id) == []

    server.start()
    _wait_for(lambda: _zendesk_writes(zd, ticket_id), 15, "the restarted server's write-back")
    _wait_for(
        lambda: server.inbox().get("pending", 0) + server.inbox().get("leased", 0) == 0,
        15,
        "the inbox to be finished",
    )
    assert server.inbox().get("dead", 0) == 0
    markers = _markers(_zendesk_writes(zd, ticket_id))
    assert markers and len(markers) == len(set(markers)), markers


def test_bench_webhooks_prints_the_figures_the_issue_asks_for() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "slaplug_bench_webhooks", REPO / "bench" / "webhooks.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    figures = bench.run(rate=20, seconds=1, duplicates=0.2, drain_timeout=30)
    assert {"p50_ms", "p99_ms", "rps", "lost", "doubled"} <= set(figures)
    assert figures["sent"] == 20 and figures["lost"] == 0 and figures["doubled"] == 0
