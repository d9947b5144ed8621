"""A credential is needed where a helpdesk is called or a webhook verified, nowhere else.

Commands that only read the store run with every token unset; ``sync`` needs only the synced
connectors' API tokens (no webhook secret); a missing one is still an error naming the
variable and its ``file:line``, raised before anything is sent (QA finding #4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from slaplug_zendesk.fake import FakeZendesk

from slaplug.cli import main
from slaplug.config import load_settings
from slaplug.errors import MissingCredentialError
from slaplug.plugins import get_connectors

pytest.importorskip("slaplug_zendesk.fake", reason="the Zendesk plugin is not installed")
pytest.importorskip("slaplug_jira", reason="the Jira plugin is not installed")

REPO = Path(__file__).resolve().parent.parent
#: A pinned instant (a Wednesday afternoon): nothing here depends on the real clock.
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
ZD_TOKEN, JIRA_TOKEN, ZD_HOOK = "CW_ZD_TOKEN", "CW_JIRA_TOKEN", "CW_ZD_HOOK"
UNSET: dict[str, str | None] = {ZD_TOKEN: None, JIRA_TOKEN: None, ZD_HOOK: None}


@pytest.fixture(autouse=True)
def _plugins(slaplug_register: Callable[..., str]) -> None:
    import slaplug_jira
    import slaplug_zendesk

    slaplug_register(slaplug_zendesk, name="zendesk")
    slaplug_register(slaplug_jira, name="jira")


def _configure(tmp_path: Path, zendesk_url: str = "http://127.0.0.1:9") -> Path:
    doc: dict[str, Any] = {
        "store": f"sqlite:///{tmp_path / 'store.db'}",
        "rules": [str(REPO / "rules" / "default.yaml")],
        "notify": {"team-lead": [], "support-manager": [], "second-line-lead": []},
        "escalate_from": "2000-01-01",
        "connectors": {
            "zendesk": {
                "plugin": "zendesk",
                "base_url": zendesk_url,
                "email": "admin@fake-zendesk.test",
                "api_token_env": ZD_TOKEN,
                "webhook_secret_env": [ZD_HOOK],
                "fields": {"sla_resolution_status": 360000000103},
            },
            "jira": {
                "plugin": "jira",
                "base_url": "http://127.0.0.1:9",
                "email": "admin@fake-jira.test",
                "api_token_env": JIRA_TOKEN,
                "projects": ["SUP"],
            },
        },
    }
    config = tmp_path / "slaplug.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return config


def _run(*args: str, env: dict[str, str | None]) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _line_of(config: Path, text: str) -> int:
    lines = config.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.mark.parametrize(
    "command",
    [
        ["outbox", "list"],
        ["outbox", "list", "--failed"],
        ["inbox", "list"],
        ["quarantine", "list"],
        ["rules", "check"],
        ["notify", "digest", "team-lead", "--at", NOW.isoformat()],
        ["status", "--at", NOW.isoformat()],
    ],
    ids=" ".join,
)
def test_store_commands_run_with_every_credential_unset(tmp_path: Path, command: list[str]) -> None:
    config = _configure(tmp_path)
    run = _run(*command, "--config", str(config), env=UNSET)
    assert run.exit_code == 0, run.output
    assert "is not set" not in run.output


@pytest.mark.parametrize(
    "command",
    [
        ["outbox", "list"],
        ["outbox", "retry", "--all"],
        ["inbox", "list"],
        ["inbox", "retry", "--all"],
        ["inbox", "purge"],
        ["quarantine", "list"],
        ["rules", "check"],
    ],
    ids=" ".join,
)
def test_store_commands_need_no_notify_secret_either(tmp_path: Path, command: list[str]) -> None:
    config = _configure(tmp_path)
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["notify"]["team-lead"] = ["mailtos://ops:${CW_SMTP_PASSWORD}@mail.example?to=a@b.example"]
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    run = _run(*command, "--config", str(config), env={**UNSET, "CW_SMTP_PASSWORD": None})
    assert run.exit_code == 0, run.output
    assert "is not set" not in run.output


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    with FakeZendesk.start(now=NOW, tickets=6, days=3, job_complete_after=0.1) as running:
        yield running


def test_sync_of_one_connector_needs_its_token_only(tmp_path: Path, fake: FakeZendesk) -> None:
    config = _configure(tmp_path, fake.base_url)
    # Neither the webhook secret (only serve verifies webhooks) nor Jira's token is set.
    env = {**UNSET, ZD_TOKEN: fake.api_token, "SLAPLUG_NOW": NOW.isoformat()}
    run = _run(
        "sync", "--once", "--dry-run", "--connector", "zendesk", "--config", str(config), env=env
    )
    # The pass ran (exit 4 only says the generated account lacks a group the rules assign).
    assert run.exit_code in (0, 4), run.output
    assert "Dry run: nothing written" in run.output and "6 tickets read" in run.output
    assert "is not set" not in run.output


def test_sync_names_every_unset_token_it_needs_at_its_line(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    config = _configure(tmp_path, fake.base_url)
    env = {**UNSET, "SLAPLUG_NOW": NOW.isoformat()}
    run = _run("sync", "--once", "--dry-run", "--config", str(config), env=env)
    assert run.exit_code == 2, run.output
    zd, jira = _line_of(config, ZD_TOKEN), _line_of(config, JIRA_TOKEN)
    assert f"{config}:{zd}:" in run.output and f"{ZD_TOKEN} is not set" in run.output
    assert f"{config}:{jira}:" in run.output and f"{JIRA_TOKEN} is not set" in run.output
    assert ZD_HOOK not in run.output  # sync never verifies a webhook
    assert not fake.requests, "nothing is sent before the check"


def test_serve_refuses_to_start_without_the_webhook_secret(tmp_path: Path) -> None:
    config = _configure(tmp_path)
    env = {**UNSET, ZD_TOKEN: "zd-token-0042", JIRA_TOKEN: "jira-token-0042"}
    run = _run("serve", "--config", str(config), "--port", "0", env=env)
    assert run.exit_code == 2, run.output
    line = _line_of(config, ZD_HOOK)
    assert f"{config}:{line}:" in run.output and f"{ZD_HOOK} is not set" in run.output


def test_a_call_with_an_unset_token_raises_naming_it_and_sends_nothing(
    tmp_path: Path, fake: FakeZendesk
) -> None:
    config = _configure(tmp_path, fake.base_url)
    settings = load_settings(config, environ={})
    cs = settings.connectors["zendesk"]
    # Built for its links (status, a digest), the connector needs no token...
    with get_connectors()[cs.plugin](cs.config, instance="zendesk") as conn:
        assert conn.ticket_url("1")
        # ...but a call to the helpdesk does: the error names the variable and its line.
        with pytest.raises(MissingCredentialError) as exc:
            conn.read_ticket("1")
    line = _line_of(config, ZD_TOKEN)
    assert str(exc.value).startswith(f"{config}:{line}:")
    assert f"environment variable {ZD_TOKEN} is not set" in str(exc.value)
    assert not fake.requests
    with pytest.raises(MissingCredentialError, match=ZD_HOOK):
        cs.config.secrets("webhook_secret")
