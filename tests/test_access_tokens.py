"""Web page credentials: stored hashed, checked, revoked, migrated; configured; issued by CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, inspect, select, text
from test_store import pg_database, store, url  # noqa: F401 - fixtures

from slaplug.cli import main
from slaplug.config import load_settings
from slaplug.connectors.redact import scrub
from slaplug.errors import ProblemsError
from slaplug.store import Store
from slaplug.store.access import parse_token
from slaplug.store.migrations import migrate
from slaplug.store.schema import access_tokens, schema_version

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules" / "default.yaml"


def test_a_token_is_stored_hashed_and_checked_exactly(store: Store) -> None:  # noqa: F811
    record, token = store.issue_token(
        "customer", contract="enterprise", organization="Acme Corp", label="portal"
    )
    scope, token_id, secret = parse_token(token) or ("", "", "")
    assert (scope, token_id) == ("customer", record.id)
    with store.engine.connect() as conn:
        dumped = " ".join(str(v) for row in conn.execute(select(access_tokens)) for v in row)
    assert secret not in dumped and token not in dumped  # only its sha256 is kept
    found = store.check_token(token)
    assert found is not None and (found.contract, found.organization) == ("enterprise", "Acme Corp")
    assert secret not in repr(found)
    wrong = token[:-1] + ("0" if token[-1] != "0" else "1")
    as_manager = token.replace("slpc_", "slpm_", 1)  # the same secret claimed for another scope
    for bad in (wrong, as_manager, token + "0", "", "slpc_x_y", token.upper()):
        assert store.check_token(bad) is None, bad
    assert store.revoke_tokens(ids=[record.id]) == [record.id]
    assert store.revoke_tokens(ids=[record.id]) == []  # already revoked
    assert store.check_token(token) is None
    listed = store.list_tokens("customer")
    assert [t.id for t in listed] == [record.id] and listed[0].revoked_at is not None


def test_rotating_revokes_one_subject_only(store: Store) -> None:  # noqa: F811
    _, acme1 = store.issue_token("customer", contract="enterprise", organization="Acme Corp")
    _, globex = store.issue_token("customer", contract="enterprise", organization="Globex")
    _, whole = store.issue_token("customer", contract="enterprise")
    new, acme2 = store.issue_token("customer", contract="enterprise", organization="Acme Corp")
    gone = store.revoke_tokens(
        scope="customer", contract="enterprise", organization="Acme Corp", keep=new.id
    )
    assert len(gone) == 1
    assert store.check_token(acme1) is None and store.check_token(acme2) is not None
    assert store.check_token(globex) is not None and store.check_token(whole) is not None
    with pytest.raises(ValueError, match="name the tokens"):
        store.revoke_tokens()


def test_an_older_store_gains_access_tokens_and_the_activity_indexes(tmp_path: Path) -> None:
    path = f"sqlite:///{tmp_path / 'old.db'}"
    added = {"ix_ledger_done_at", "ix_notification_sends_sent_at"}
    with Store.open(path) as s, s.engine.begin() as conn:  # make it look like the one before
        access_tokens.drop(conn)
        for name in added:
            conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(delete(schema_version).where(schema_version.c.version == 9))
    with Store.open(path, migrate_schema=False) as s:
        assert migrate(s.engine) == [9]
        inspector = inspect(s.engine)
        assert inspector.has_table("access_tokens")
        have = {
            ix["name"] for t in ("ledger", "notification_sends") for ix in inspector.get_indexes(t)
        }
        assert added <= have
        assert migrate(s.engine) == []
        assert s.check_token(s.issue_token("manager")[1]) is not None


def _config(tmp_path: Path, dashboard: str) -> Path:
    p = tmp_path / "slaplug.yaml"
    p.write_text(
        f"store: sqlite:///{tmp_path / 'slaplug.db'}\nrules: [{RULES}]\n"
        "notify: {team-lead: [], support-manager: [], second-line-lead: []}\n" + dashboard,
        encoding="utf-8",
    )
    return p


def test_the_manager_token_is_read_from_the_environment_only(tmp_path: Path) -> None:
    token = "a-long-manager-token-for-tests-0001"
    p = _config(tmp_path, "dashboard:\n  manager_token: ${DASH_TOKEN}\n  refresh: 30s\n")
    settings = load_settings(p, environ={"DASH_TOKEN": token})
    assert settings.dashboard.manager_token == token and settings.dashboard.refresh_s == 30
    assert token not in repr(settings)
    assert token not in scrub(f"Authorization: Bearer {token}")  # registered for redaction
    cases = {
        "dashboard:\n  manager_token: plain-token-in-the-file-0001\n": "write the token as ${ENV_VAR}",
        "dashboard:\n  manager_token: ${NOT_SET_ANYWHERE}\n": "NOT_SET_ANYWHERE is not set",
        "dashboard:\n  manager_token: ${DASH_TOKEN}\n": "shorter than 16 characters",
        "dashboard:\n  refresh: 1s\n": "refresh",
        "dashboard:\n  public_url: sla.example.com\n": "public_url is a URL",
        "dashboard:\n  colour: red\n": 'unknown key "colour"',
    }
    for body, message in cases.items():
        with pytest.raises(ProblemsError) as err:
            load_settings(_config(tmp_path, body), environ={"DASH_TOKEN": "short"})
        shown = str(err.value.problems[0])
        assert message in shown and re.search(r"slaplug\.yaml:\d+:\d+", shown), shown
        assert "plain-token-in-the-file" not in shown


def test_cli_issues_lists_and_revokes_tokens(tmp_path: Path) -> None:
    p = _config(tmp_path, "dashboard:\n  public_url: https://sla.example.com/\n")
    run = CliRunner().invoke
    bad = run(main, ["customers", "token", "issue", "--config", str(p), "--contract", "nope"])
    assert bad.exit_code == 2 and "no contract named 'nope'" in bad.output
    assert "enterprise, standard" in bad.output
    ok = run(
        main,
        ["customers", "token", "issue", "--config", str(p), "--contract", "enterprise",
         "--organization", "Acme Corp", "--label", "portal"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    link = re.search(r"link:  (https://sla\.example\.com/customer/(slpc_\S+))", ok.output)
    assert link is not None
    token = link.group(2)
    with Store.open(f"sqlite:///{tmp_path / 'slaplug.db'}") as s:
        assert s.check_token(token) is not None
    listed = run(main, ["customers", "token", "list", "--config", str(p)])
    assert (
        "enterprise, organization Acme Corp  active" in listed.output and "portal" in listed.output
    )
    assert token.split("_")[2] not in listed.output
    manager = run(main, ["dashboard", "token", "issue", "--config", str(p), "--label", "ana"])
    manager_id = re.search(r"issued (\w+)", manager.output)
    assert manager.exit_code == 0 and manager_id is not None and "slpm_" in manager.output
    unknown = run(main, ["dashboard", "token", "revoke", "--config", str(p), "ffffffffffff"])
    assert unknown.exit_code == 2 and "no manager token with id" in unknown.output
    # A customer's id is not a manager token's: revoking it as one is refused.
    customer_id = token.split("_")[1]
    crossed = run(main, ["dashboard", "token", "revoke", "--config", str(p), customer_id])
    assert crossed.exit_code == 2
    done = run(main, ["dashboard", "token", "revoke", "--config", str(p), manager_id.group(1)])
    assert done.exit_code == 0 and "revoked 1 token(s)" in done.output
    assert "revoked" in run(main, ["dashboard", "token", "list", "--config", str(p)]).output
    gone = run(
        main, ["customers", "token", "revoke", "--config", str(p), "--contract", "enterprise"]
    )
    assert "revoked 1 token(s)" in gone.output
    with Store.open(f"sqlite:///{tmp_path / 'slaplug.db'}") as s:
        assert s.check_token(token) is None


def test_the_activity_lists_are_newest_first_and_bounded(store: Store) -> None:  # noqa: F811
    from datetime import UTC, datetime, timedelta

    from slaplug.model import Action, ActionKind, Metric

    t0 = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)

    def action(i: int, kind: ActionKind = ActionKind.ADD_TAG) -> Action:
        params = {"channel": "team-lead"} if kind is ActionKind.NOTIFY else {"tag": f"t{i}"}
        return Action(
            kind=kind, params=params, connector="zd", ticket_id=str(i % 3), key=f"zd:{i}:k",
            escalation="e", level=1, policy="p", metric=Metric.RESOLUTION, cycle=1,
        )  # fmt: skip

    actions = [action(i) for i in range(5)] + [action(5, ActionKind.NOTIFY)]
    store.plan(actions, now=t0)
    for i, a in enumerate(actions[:-1]):
        store.complete(a.key, "applied", now=t0 + timedelta(minutes=i))
    store.record_sent("zd:5:k", "f" * 64, now=t0 + timedelta(minutes=9))
    store.record_sent("digest:team-lead:2026-11-04", "e" * 64, now=t0 + timedelta(minutes=10))
    recent = store.recent_actions(limit=3)
    assert [a.key for a in recent] == ["zd:4:k", "zd:3:k", "zd:2:k"]
    assert recent[0].params == {"tag": "t4"} and recent[0].status == "applied"
    mine = store.ticket_actions("zd", "2")
    assert [a.key for a in mine] == ["zd:2:k", "zd:5:k"]
    assert mine[1].outbox_state == "pending" and len(mine[1].sends) == 1
    sends = store.recent_sends(limit=5)
    assert [(s.ticket_id, s.channel) for s in sends] == [(None, None), ("2", "team-lead")]
