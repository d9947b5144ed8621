"""Notifications: channels in slaplug.yaml, messages, delivery through apprise to real receivers.

Receivers are real servers on 127.0.0.1 (tests/receivers.py): aiosmtpd for e-mail, an HTTP
endpoint for the generic JSON webhook and, with apprise's service address pointed at it, for
Slack and PagerDuty.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from receivers import HttpReceiver, Mailbox

from slaplug.config import load_settings
from slaplug.connectors.redact import scrub
from slaplug.errors import ProblemsError
from slaplug.model import Action, ActionKind, EventKind, Ticket, TicketEvent
from slaplug.notify import Notifications
from slaplug.notify.channels import ChannelTarget, parse_channels
from slaplug.notify.deliver import DeliveryError, target_id
from slaplug.notify.message import Message, reference
from slaplug.rules.pack import RulePack
from slaplug.store import Store

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin

RULES = textwrap.dedent(
    """\
    calendars:
      office: {timezone: Europe/Berlin, hours: {mon-fri: ["09:00-17:00"]}}
    policies:
      - name: standard
        calendar: office
        targets:
          first_response: {normal: 1h}
    escalations:
      - name: breach
        when: {metric: first_response, breached: true}
        actions:
          - notify:
              channel: team-lead
              message: "Ticket {{ ticket.id }} missed its first response."
              repeat: 1h
              times: 3
    """
)


def write_config(tmp_path: Path, notify: str, rules: str = RULES) -> Path:
    (tmp_path / "rules.yaml").write_text(rules)
    cfg = tmp_path / "slaplug.yaml"
    cfg.write_text(
        f"store: sqlite:///{tmp_path / 'store.db'}\nrules: [rules.yaml]\nengine: python\n"
        + textwrap.dedent(notify)
    )
    return cfg


# -- configuration ----------------------------------------------------------------------------


def test_secrets_come_from_the_environment_and_are_masked_everywhere() -> None:
    env = {"HOOK_TOKEN": "hook-token-7f3a9c"}
    channels, problems = parse_channels(
        {"team-lead": ["json://127.0.0.1:9/hook/${HOOK_TOKEN}"]}, env
    )
    assert problems == []
    [target] = channels["team-lead"].targets
    assert target.url == "json://127.0.0.1:9/hook/hook-token-7f3a9c"
    assert "hook-token-7f3a9c" not in target.shown and "hook-token-7f3a9c" not in repr(target)
    assert "hook-token-7f3a9c" not in scrub(
        "error posting to json://127.0.0.1:9/hook/hook-token-7f3a9c"
    )


def test_channel_problems_name_the_file_line_and_what_to_do(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """\
        notify:
          team-lead: ["mailtos://u:${SMTP_PASSWORD}@smtp.acme.example?to=a@acme.example"]
          pager: {urls: ["json://127.0.0.1:9/p"], subject: "{{ ticket.secret }}"}
          chat: ["not a url"]
          "bad name!": []
        """,
    )
    with pytest.raises(ProblemsError) as err:
        load_settings(cfg, environ={})
    text = str(err.value)
    assert f"{cfg}:5:" in text and "SMTP_PASSWORD is not set" in text
    assert "is not a URL" in text
    assert "unknown field 'ticket.secret'" in text
    assert "channel name 'bad name!'" in text


def test_a_rule_notifying_an_unserved_channel_is_refused_at_its_line(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "notify: {other: []}\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "slaplug.cli",
            "rules",
            "check",
            str(tmp_path / "rules.yaml"),
            "--config",
            str(cfg),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    line = next(i for i, x in enumerate(RULES.splitlines(), 1) if "channel: team-lead" in x)
    assert f"rules.yaml:{line}:" in run.stderr
    assert "nothing delivers to channel 'team-lead'" in run.stderr
    # Declared, even with no services, is served: nothing is skipped by surprise.
    cfg.write_text(cfg.read_text().replace("{other: []}", "{team-lead: []}"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "slaplug.cli",
            "rules",
            "check",
            str(tmp_path / "rules.yaml"),
            "--config",
            str(cfg),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr


# -- delivery -------------------------------------------------------------------------------


def breached_ticket(replied_at: datetime | None = None) -> Ticket:
    events = [TicketEvent(EventKind.CREATED, T0)]
    if replied_at is not None:
        events.append(TicketEvent(EventKind.AGENT_REPLY, replied_at))
    return Ticket(
        id="42",
        connector="desk",
        created_at=T0,
        status="open",
        priority="normal",
        subject="Printer <b>on fire</b> {{ x }}",
        events=tuple(events),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as s:
        yield s


@pytest.fixture
def pack(tmp_path: Path) -> Iterator[RulePack]:
    (tmp_path / "rules.yaml").write_text(RULES)
    with RulePack.load([tmp_path / "rules.yaml"], engine="python") as p:
        yield p


def planned(pack: RulePack, ticket: Ticket, now: datetime) -> Action:
    [action] = [a for a in pack.assess(ticket, now).actions if a.kind is ActionKind.NOTIFY]
    return action


def test_a_notification_reaches_every_service_once_with_what_to_act_on(
    store: Store, pack: RulePack, tmp_path: Path
) -> None:
    env = {"HOOK_TOKEN": "hook-token-51c0de"}
    with Mailbox() as mailbox, HttpReceiver() as hook:
        channels, _ = parse_channels(
            {"team-lead": [mailbox.url(), hook.json_url("hook/${HOOK_TOKEN}")]}, env
        )
        now = T0 + timedelta(hours=2)
        ticket = breached_ticket()
        store.save_snapshots([ticket])
        action = planned(pack, ticket, now)
        notes = Notifications(store, pack, channels, clock=lambda: now)
        assert notes.deliver(action).status.value == "applied"
        assert notes.deliver(action).status.value == "already"  # a retry sends nothing

        [mail] = mailbox.received()
        [post] = hook.received()
    assert post["path"] == "/hook/hook-token-51c0de"
    text = post["body"]["message"]
    assert "Ticket 42 missed its first response." in text
    assert "first_response, cycle 1, policy standard: breached" in text
    # Deadline in the calendar's zone: 11:00 Berlin, one business hour after 10:00.
    assert "Mon 02 Mar 2026 11:00 CET (Europe/Berlin)" in text
    assert "Over by:" in text and "1h of business time" in text
    assert f"Ref:      {reference(action.key)}" in text
    assert post["body"]["title"] == "[SLA] desk #42: first_response breached"
    assert mail["Subject"] == "[SLA] desk #42: first_response breached"
    html_part = mail.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "Printer &lt;b&gt;on fire&lt;/b&gt;" in html and "<b>on fire" not in html


def test_a_failed_service_is_retried_without_resending_to_the_others(
    store: Store, pack: RulePack
) -> None:
    sent: list[str] = []

    def send(target: ChannelTarget, message: Message, dedup: str | None) -> None:
        if "down" in target.url and len([s for s in sent if "down" in s]) == 0:
            sent.append(target.url + " (refused)")
            raise DeliveryError(f"{target.shown}: 503")
        sent.append(target.url)

    channels, _ = parse_channels(
        {"team-lead": ["json://127.0.0.1:9/a", "json://127.0.0.1:9/down", "json://127.0.0.1:9/c"]},
        {},
    )
    now = T0 + timedelta(hours=2)
    ticket = breached_ticket()
    store.save_snapshots([ticket])
    action = planned(pack, ticket, now)
    notes = Notifications(store, pack, channels, send=send, clock=lambda: now)
    with pytest.raises(DeliveryError):
        notes.deliver(action)
    assert notes.deliver(action).status.value == "applied"
    assert sent == [
        "json://127.0.0.1:9/a",
        "json://127.0.0.1:9/down (refused)",
        "json://127.0.0.1:9/down",
        "json://127.0.0.1:9/c",
    ]
    assert store.sent_targets(action.key) == {target_id(t) for t in channels["team-lead"].targets}


def test_a_reminder_repeats_until_the_clock_is_achieved(store: Store, pack: RulePack) -> None:
    got: list[str] = []
    channels, _ = parse_channels({"team-lead": ["json://127.0.0.1:9/a"]}, {})
    clock = [T0 + timedelta(hours=2)]

    def send(target: ChannelTarget, message: Message, dedup: str | None) -> None:
        got.append(message.text)

    notes = Notifications(store, pack, channels, send=send, clock=lambda: clock[0])
    ticket = breached_ticket()
    store.save_snapshots([ticket])
    store.plan([planned(pack, ticket, clock[0])], now=clock[0])

    def pass_at(t: datetime) -> list[str]:
        clock[0] = t
        done = []
        for c in store.outbox_claim("desk", now=t):
            result = notes.deliver(c.action)
            store.complete(c.key, result.status.value, result.detail, now=t)
            done.append(f"{c.key.rsplit('~', 1)[-1]}:{result.status.value}")
        return done

    first = clock[0]
    assert pass_at(first) == [f"{planned(pack, ticket, first).key.rsplit('~', 1)[-1]}:applied"]
    assert pass_at(first + timedelta(minutes=30)) == []  # not yet an hour
    assert pass_at(first + timedelta(hours=1)) == ["r2:applied"]
    # The agent replies: first response is achieved (late), and the reminders stop.
    store.save_snapshots([breached_ticket(replied_at=first + timedelta(hours=1, minutes=30))])
    assert pass_at(first + timedelta(hours=2)) == ["r3:skipped"]
    assert pass_at(first + timedelta(hours=5)) == []
    assert len(got) == 2


def test_pagerduty_and_slack_get_the_message_and_pagerduty_the_dedup_key(
    monkeypatch: pytest.MonkeyPatch, store: Store, pack: RulePack
) -> None:
    import apprise.plugins.pagerduty as pd
    from apprise.plugins import slack

    # PagerDuty's Events API v2 answers 202 with {"status": "success", "message": "Event
    # processed", "dedup_key": ...} (developer.pagerduty.com, "Send an Alert Event"); a Slack
    # incoming webhook answers 200 with the text "ok" (api.slack.com, "Sending messages using
    # incoming webhooks").
    pd_reply = b'{"status": "success", "message": "Event processed", "dedup_key": "k"}'
    with HttpReceiver({"/v2/enqueue": (202, pd_reply), "/services": (200, b"ok")}) as receiver:
        # Stand-ins for events.pagerduty.com and hooks.slack.com: the same requests, on loopback.
        monkeypatch.setitem(
            pd.PAGERDUTY_API_LOOKUP, pd.PagerDutyRegion.US, f"{receiver.base}/v2/enqueue"
        )
        monkeypatch.setattr(slack.NotifySlack, "webhook_url", f"{receiver.base}/services")
        env = {"PD_KEY": "b" * 32, "PD_API": "a" * 20, "SLACK_C": "C" * 24}
        channels, problems = parse_channels(
            {
                "team-lead": [
                    "pagerduty://${PD_KEY}@${PD_API}",
                    "slack://T1JJ3T3L2/A1BRTD4JD/${SLACK_C}/#support-leads",
                ]
            },
            env,
        )
        assert problems == []
        now = T0 + timedelta(hours=2)
        ticket = breached_ticket()
        store.save_snapshots([ticket])
        action = planned(pack, ticket, now)
        assert (
            Notifications(store, pack, channels, clock=lambda: now).deliver(action).status.value
            == "applied"
        )
        requests: list[dict[str, Any]] = receiver.received()
    by_path = {r["path"]: r["body"] for r in requests}
    event = by_path["/v2/enqueue"]
    assert event["dedup_key"] == reference(action.key)
    assert "Ticket 42 missed its first response." in event["payload"]["summary"] + str(
        event["payload"].get("custom_details", "")
    )
    [slack_body] = [b for p, b in by_path.items() if p.startswith("/services")]
    assert "Ticket 42 missed its first response." in str(slack_body)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_teams_gets_an_adaptive_card_through_a_workflow(store: Store, pack: RulePack) -> None:
    # A Teams channel's Workflows webhook takes a POST of an adaptive card and answers 202
    # (learn.microsoft.com, "Create incoming webhooks with Workflows for Microsoft Teams").
    # apprise only posts over https: the stand-in on 127.0.0.1 has a throwaway certificate,
    # and verify=no accepts it.
    with HttpReceiver({"/workflows/": (202, b"")}, tls=True) as receiver:
        channels, problems = parse_channels(
            {"team-lead": [f"workflows://127.0.0.1:{receiver.port}/${{WF}}/${{SIG}}?verify=no"]},
            {"WF": "a" * 32, "SIG": "S" * 43},
        )
        assert problems == []
        now = T0 + timedelta(hours=2)
        ticket = breached_ticket()
        store.save_snapshots([ticket])
        action = planned(pack, ticket, now)
        assert (
            Notifications(store, pack, channels, clock=lambda: now).deliver(action).status.value
            == "applied"
        )
        [post] = receiver.received()
    assert post["path"].startswith(f"/workflows/{'a' * 32}/triggers/manual/paths/invoke")
    card = post["body"]["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    # Workflows take markdown: apprise escapes the plain text ("\\." for "."), Teams renders it.
    assert "Ticket 42 missed its first response" in json.dumps(card)


@pytest.mark.parametrize(
    ("plugin", "section", "ticket", "url"),
    [
        (
            "slaplug_zendesk",
            {"email": "a@b.example", "api_token_env": "TOKEN"},
            "286",
            "https://acme.example/agent/tickets/286",
        ),
        (
            "slaplug_jira",
            {"email": "a@b.example", "api_token_env": "TOKEN", "projects": ["SUP"]},
            "SUP-7",
            "https://acme.example/browse/SUP-7",
        ),
        ("slaplug_freshdesk", {"api_key_env": "TOKEN"}, "12", "https://acme.example/a/tickets/12"),
    ],
)
def test_messages_link_to_the_ticket_on_its_own_helpdesk(
    plugin: str, section: dict[str, Any], ticket: str, url: str
) -> None:
    module = pytest.importorskip(plugin, reason=f"{plugin} is not installed")
    [cls] = [
        c
        for c in vars(module).values()
        if isinstance(c, type)
        and c.__name__.endswith("Connector")
        and c.__module__.startswith(plugin)
    ]
    config = cls.Config.load(
        {"base_url": "https://acme.example/", **section},
        connector="x",
        environ={"TOKEN": "t0k3n-for-links"},
    )
    assert cls(config).ticket_url(ticket) == url


def test_the_documented_channels_and_rule_load(tmp_path: Path) -> None:
    """docs/notifications.md's slaplug.yaml and rules examples, loaded as a user would."""
    doc = (REPO / "docs" / "notifications.md").read_text(encoding="utf-8")
    config_yaml, rules_yaml = re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)[:2]
    (tmp_path / "rules.yaml").write_text(
        "policies:\n  - name: p\n    calendar: 24x7\n    targets: {resolution: {normal: 8h}}\n"
        + rules_yaml.split("\n", 1)[1]
    )
    (tmp_path / "slaplug.yaml").write_text("rules: [rules.yaml]\n" + config_yaml.split("\n", 1)[1])
    names = set(re.findall(r"\$\{([A-Z0-9_]+)\}", config_yaml))
    env = {n: f"{n.lower()}-value-0042" for n in names}
    settings = load_settings(tmp_path / "slaplug.yaml", environ=env)
    assert set(settings.notify) == {
        "team-lead",
        "support-manager",
        "on-call",
        "audit",
        "second-line-lead",
    }
    assert settings.notify["second-line-lead"].targets == ()
    with RulePack.load(settings.rules, engine="python") as rules:
        [write] = [w for w in rules.source.writes if w.kind is ActionKind.NOTIFY]
    assert write.name == "team-lead"
    assert all(v not in repr(settings.notify) for v in env.values())


# -- digests ------------------------------------------------------------------------------


def test_a_daily_digest_lists_clocks_at_risk_earliest_first_once_a_day(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "notify: {team-lead: []}\nconnectors: {}\n")
    now = T0 + timedelta(hours=1, minutes=30)  # 11:30 Berlin
    tickets = [
        breached_ticket(),  # created 10:00, 1h target: breached at 11:00
        Ticket(
            id="43",
            connector="desk",
            created_at=now - timedelta(minutes=20),
            status="open",
            priority="normal",
            subject="Due soon",
            events=(TicketEvent(EventKind.CREATED, now - timedelta(minutes=20)),),
        ),
        Ticket(
            id="44",
            connector="desk",
            created_at=T0,
            status="open",
            priority="normal",
            subject="Answered",
            events=(
                TicketEvent(EventKind.CREATED, T0),
                TicketEvent(EventKind.AGENT_REPLY, T0 + timedelta(minutes=5)),
            ),
        ),
    ]
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.save_snapshots(tickets)
    with Mailbox() as mailbox:
        cfg.write_text(cfg.read_text().replace("team-lead: []", f'team-lead: ["{mailbox.url()}"]'))
        args = [
            sys.executable,
            "-m",
            "slaplug.cli",
            "notify",
            "digest",
            "team-lead",
            "--config",
            str(cfg),
            "--within",
            "1h",
            "--at",
            now.isoformat(),
        ]
        first = subprocess.run(args, capture_output=True, text=True, check=False)
        again = subprocess.run(args, capture_output=True, text=True, check=False)
        mail = mailbox.received()
    assert first.returncode == 0, first.stderr
    assert "2 clock(s) listed" in first.stdout
    assert again.returncode == 0 and "went out already" in again.stdout
    [digest] = mail
    assert digest["Subject"] == "[SLA digest] 1 breached, 1 due within 1h"
    text = digest.get_body(preferencelist=("plain",)).get_content()
    assert text.index("desk #42") < text.index("desk #43")  # breached first, then due soon
    assert "#44" not in text  # its clock stopped: answered in time
