"""Failed actions are said, listed and replayed after the fix (issue 16).

The unmapped-field scenario, through the command line and a fake Zendesk: a rule sets a custom
field the config does not map; the sync fails those actions, exits 4 and says what to do;
`outbox list --failed` shows them; after the mapping is added, `outbox retry --failed` and the
next sync apply every one of them once, and a further sync writes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from slaplug_zendesk.fake import FakeZendesk

from slaplug.store import Store

pytest.importorskip("slaplug_zendesk", reason="the Zendesk plugin is not installed")

#: The fake's "SLA status" text field (plugins/zendesk/slaplug_zendesk/fake/generate.py); its title
#: slugs to sla_status, so the name the rules use below is found only through `fields:`.
FIELD_ID = 360000000103
RULES = """\
policies:
  - name: p
    targets: {first_response: {"*": 1h}}
escalations:
  - name: frt-breached
    when: {metric: first_response, breached: true}
    actions:
      - set_field: {field: sla_resolution_status, value: breached}
"""


def cli(config: Path, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    # The real clock (no SLAPLUG_NOW): `outbox retry` makes actions due at its own "now".
    env = {**os.environ, "FAILED_ZD_TOKEN": token, "SLAPLUG_LOAD_PLUGINS": "slaplug-zendesk"}
    return subprocess.run(
        [sys.executable, "-m", "slaplug.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=240,
    )


def write_config(tmp_path: Path, fake: Any, fields: dict[str, int]) -> Path:
    (tmp_path / "rules.yaml").write_text(RULES)
    config = tmp_path / "slaplug.yaml"
    zendesk: dict[str, Any] = {
        "plugin": "zendesk",
        "base_url": fake.base_url,
        "email": fake.email,
        "api_token_env": "FAILED_ZD_TOKEN",
        "job_poll_interval": 0.02,
    }
    if fields:
        zendesk["fields"] = fields
    config.write_text(
        yaml.safe_dump(
            {
                "store": f"sqlite:///{tmp_path / 's.db'}",
                "rules": [str(tmp_path / "rules.yaml")],
                "engine": "python",
                "escalate_from": "2000-01-01",  # a backfill: the history's breaches escalate
                "connectors": {"zendesk": zendesk},
            }
        )
    )
    return config


def field_writes(fake: Any) -> dict[str, int]:
    """Accepted writes that set the field, per ticket: ``PUT tickets/{id}.json``
    ``{"ticket": {...}}`` or ``PUT tickets/update_many.json`` ``{"tickets": [{"id": ...}]}``,
    each with ``custom_fields: [{"id", "value"}]`` (Zendesk Tickets API, "Update Many
    Tickets"; the plugin's docs/connectors page cites it)."""
    out: dict[str, int] = {}
    for w in fake.writes:
        if not w.accepted or not isinstance(w.body, dict):
            continue
        one = w.body.get("ticket")
        items = w.body.get("tickets") or ([one] if isinstance(one, dict) else [])
        for t in items:
            tid = str(t.get("id") or w.path.rsplit("/", 1)[-1].split(".")[0])
            n = sum(1 for f in t.get("custom_fields") or () if f.get("id") == FIELD_ID)
            if n:
                out[tid] = out.get(tid, 0) + n
    return out


def test_an_unmapped_field_fails_loudly_and_retry_failed_applies_each_action_once(
    tmp_path: Path,
) -> None:
    with FakeZendesk.start(
        tickets=30, days=20, history="minimal", job_complete_after=0.05, job_polls=1
    ) as fake:
        config = write_config(tmp_path, fake, {})
        # Caught before writing: the dry run names the rule at file:line:col and exits 4.
        dry = cli(config, fake.api_token, "sync", "--dry-run")
        assert dry.returncode == 4, dry.stdout + dry.stderr
        assert "would fail:" in dry.stderr and f"{tmp_path / 'rules.yaml'}:8:" in dry.stderr
        assert "sla_resolution_status" in dry.stderr and fake.writes == []
        first = cli(config, fake.api_token, "sync", "--once", "--json")
        assert first.returncode == 4, first.stdout + first.stderr
        figures = json.loads(first.stdout.strip().splitlines()[-1])
        failed = figures["failed"]
        assert failed > 3 and figures["applied"] == 0
        assert f"{failed} action(s) failed for good" in first.stderr
        assert "slaplug outbox retry --failed" in first.stderr
        assert field_writes(fake) == {}

        listed = cli(config, fake.api_token, "outbox", "list", "--failed", "--json")
        assert listed.returncode == 0, listed.stderr
        doc = json.loads(listed.stdout)
        assert len(doc["failed"]) == failed and doc["ledger"] == {"failed": failed}
        assert {f["action"]["params"]["field"] for f in doc["failed"]} == {"sla_resolution_status"}
        assert all("map it under `fields:`" in f["detail"] for f in doc["failed"])
        text = cli(config, fake.api_token, "outbox", "list", "--failed").stdout
        assert text.count("FAILED zendesk:") == failed

        # The fix: map the field. Nothing happens by itself...
        config = write_config(tmp_path, fake, {"sla_resolution_status": FIELD_ID})
        again = cli(config, fake.api_token, "sync", "--once", "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout.strip().splitlines()[-1])["applied"] == 0
        # ... until the failed actions are retried.
        retried = cli(config, fake.api_token, "outbox", "retry", "--failed", "--json")
        assert retried.returncode == 0, retried.stderr
        assert json.loads(retried.stdout)["failed"] == failed
        fixed = cli(config, fake.api_token, "sync", "--once", "--json")
        assert fixed.returncode == 0, fixed.stderr
        after = json.loads(fixed.stdout.strip().splitlines()[-1])
        assert (after["applied"], after["failed"]) == (failed, 0)
        writes = field_writes(fake)
        assert len(writes) == failed and set(writes.values()) == {1}, writes

        last = cli(config, fake.api_token, "sync", "--once", "--json")
        assert last.returncode == 0
        assert json.loads(last.stdout.strip().splitlines()[-1])["api_writes"] == 0
        assert field_writes(fake) == writes
        with Store.open(f"sqlite:///{tmp_path / 's.db'}") as store:
            assert store.failed_actions() == []
            assert dict(store.outbox_stats().ledger) == {"applied": failed}
