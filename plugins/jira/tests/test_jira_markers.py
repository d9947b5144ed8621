"""Comment markers a requester cannot forge (issue 14, item 2, Jira part).

A marker used to be an unkeyed hash of the action's key, searched in every comment: a
requester who typed the right ``[slaplug:...]`` lines into the description or a public
reply, plus one lost answer, made slaplug record every comment on that issue as already
posted. Now a marker is keyed (`MarkerKey`, a per-install secret) and counts only in the
API user's own comments (``author.accountId`` equals ``/myself``'s), internal ones for an
internal note. The tests plant the markers a requester would need, both the old unkeyed
ones and the keyed ones (as if the secret had leaked), so they fail on the old code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from jira_support import AGENT, API, action, calls, comment, issue, make_connector, user
from slaplug_jira import JiraConfig, JiraConnector
from slaplug_jira.fake import FakeJira

from slaplug.connectors import ApplyStatus, Connector
from slaplug.connectors.markers import MarkerKey
from slaplug.model import Action, ActionKind

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def keyed(connector: Connector, a: Action) -> str:
    return f"[slaplug:{connector.marker_key.digest(a.key, 16)}]"


def planted(connector: Connector, *actions: Action) -> str:
    """Every marker a requester could type for ``actions``: the old unkeyed form and the
    keyed one."""
    lines = []
    for a in actions:
        lines.append(f"[slaplug:{hashlib.sha256(a.key.encode()).hexdigest()[:16]}]")
        lines.append(keyed(connector, a))
    return "\n\n".join(lines)


@pytest.fixture
def site() -> Iterator[tuple[FakeJira, JiraConnector, str]]:
    with FakeJira.start(now=NOW, issues=0) as fake:
        user_email, token = fake.auth
        config = JiraConfig.load(
            {
                "base_url": fake.base_url,
                "email": user_email,
                "api_token_env": "FAKE_JIRA_TOKEN",
                "retry": {"jitter": 0, "backoff_initial": 0.5},
                "bulk_edit_min_issues": 0,
            },
            connector="jira",
            environ={"FAKE_JIRA_TOKEN": token},
        )
        assert isinstance(config, JiraConfig)
        with JiraConnector(config) as connector:
            connector.http.sleep = lambda seconds: None
            me = fake.set_user(fake.email)
            yield fake, connector, me


def own_notes(fake: FakeJira, key: str, me: str, marker: str) -> list[Any]:
    """The API user's comments on ``key`` that end with ``marker``."""
    with fake.lock:
        found = fake.store.issue(key)
        assert found is not None
        return [
            c
            for c in fake.store.comments[found.id]
            if c.author == me and c.body.rstrip().endswith(marker)
        ]


def test_a_requesters_markers_and_a_lost_answer_still_post_the_note_exactly_once(site) -> None:
    fake, connector, me = site
    note = action(ActionKind.COMMENT, {"body": "Resolution SLA breached.", "public": False})
    key = fake.simulate("create", summary="VPN down", description=planted(connector, note))["key"]
    note = action(ActionKind.COMMENT, {"body": "Resolution SLA breached.", "public": False}, key)
    fake.simulate("create", summary="decoy")  # another issue, untouched
    # The requester's description and public reply carry every marker they could compute.
    fake.simulate("customer_reply", key, body="Any news?\n\n" + planted(connector, note))
    fake.set_faults(
        1.0, statuses=(502,), methods=["POST"], path_pattern="/comment$", after_apply=True, times=1
    )

    (result,) = connector.apply([note])

    assert fake.faults_injected == {502: 1}  # the answer to the one POST was lost
    assert result.status in (ApplyStatus.APPLIED, ApplyStatus.ALREADY), result.detail
    assert len(own_notes(fake, key, me, keyed(connector, note))) == 1
    posts = [w for w in fake.writes if w.path.endswith("/comment")]
    assert [w.accepted for w in posts] == [True]  # posted once, not resent
    # Applying again finds the note and writes nothing.
    fake.clear_records()
    assert connector.apply([note])[0].status is ApplyStatus.ALREADY
    assert fake.writes == []


def test_another_agents_copy_of_the_marker_does_not_count(site) -> None:
    fake, connector, me = site
    key = fake.simulate("create", summary="VPN down")["key"]
    note = action(ActionKind.COMMENT, {"body": "Breached.", "public": False}, key)
    fake.simulate("internal_note", key, body="Pasted: " + keyed(connector, note))
    assert connector.apply([note])[0].status is ApplyStatus.APPLIED
    assert len(own_notes(fake, key, me, keyed(connector, note))) == 1


def test_the_api_users_own_public_reply_does_not_count_for_an_internal_note(site) -> None:
    fake, connector, me = site
    key = fake.simulate("create", summary="VPN down")["key"]
    note = action(ActionKind.COMMENT, {"body": "Breached.", "public": False}, key)
    fake.simulate("agent_reply", key, author=me, body="Quoting:\n\n" + keyed(connector, note))
    assert connector.apply([note])[0].status is ApplyStatus.APPLIED
    internal = [c for c in own_notes(fake, key, me, keyed(connector, note)) if not c.public]
    assert len(internal) == 1


def test_a_public_comment_action_finds_its_own_public_comment(site) -> None:
    fake, connector, me = site
    key = fake.simulate("create", summary="VPN down")["key"]
    reply = action(ActionKind.COMMENT, {"body": "We are on it.", "public": True}, key)
    assert connector.apply([reply])[0].status is ApplyStatus.APPLIED
    assert connector.apply([reply])[0].status is ApplyStatus.ALREADY
    assert len(own_notes(fake, key, me, keyed(connector, reply))) == 1


def test_the_marker_uses_the_key_the_runtime_sets_after_construction(site) -> None:
    fake, connector, me = site
    key = fake.simulate("create", summary="VPN down")["key"]
    note = action(ActionKind.COMMENT, {"body": "Breached.", "public": False}, key)
    install = MarkerKey(b"the store's install secret")
    connector.marker_key = install
    connector.apply([note])
    expected = "[slaplug:" + install.digest(note.key, 16) + "]"
    assert len(own_notes(fake, key, me, expected)) == 1


# -- replayed documented payloads (responses) ---------------------------------------------


def test_a_customers_public_comment_with_the_marker_does_not_stop_the_post(rsps) -> None:
    jira = make_connector()
    note = action(ActionKind.COMMENT, {"body": "Breached.", "public": False})
    forged = comment("7", user("qm:customer", "customer"), "2026-03-02T09:00:00.000+0000")
    forged["body"] = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]}
        for line in planted(jira, note).split("\n\n")
    ]}  # fmt: skip
    rsps.get(f"{API}/issue/SUP-1", json=issue("SUP-1", "10001", comments=(forged,)))
    rsps.post(f"{API}/issue/SUP-1/comment", status=201, json=comment("9", user(AGENT), "x"))
    assert jira.apply([note])[0].status is ApplyStatus.APPLIED
    assert len(calls(rsps, "POST", "/issue/SUP-1/comment")) == 1


def test_outside_jsm_an_own_notes_internal_flag_is_read_from_its_properties(rsps) -> None:
    # The OAS getComment example (its author is AGENT, /myself's accountId here), with the
    # visibility restriction left out, a body ending in the marker, and jsdPublic: true as
    # Jira shows every comment outside JSM (OAS Comment.jsdPublic).
    jira = make_connector()
    note = action(ActionKind.COMMENT, {"body": "Breached.", "public": False})
    example: dict[str, Any] = {
        "author": {
            "accountId": "5b10a2844c20165700ede21g",
            "active": False,
            "displayName": "Mia Krystof",
            "self": "https://your-domain.atlassian.net/rest/api/3/user?accountId=5b10a2844c20165700ede21g",
        },
        "body": {
            "type": "doc",
            "version": 1,
            "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "Breached."}]},
                {"type": "paragraph", "content": [{"type": "text", "text": keyed(jira, note)}]},
            ],
        },
        "created": "2021-01-17T12:34:00.000+0000",
        "id": "10000",
        "self": "https://your-domain.atlassian.net/rest/api/3/issue/10010/comment/10000",
        "updated": "2021-01-18T23:45:00.000+0000",
        "jsdPublic": True,
    }
    assert example["author"]["accountId"] == AGENT
    rsps.get(f"{API}/issue/SUP-1", json=issue("SUP-1", "10001", comments=(example,)))
    rsps.get(
        f"{API}/issue/SUP-1/comment/10000",
        json={**example, "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]},
        match=[responses.matchers.query_param_matcher({"expand": "properties"})],
    )
    assert jira.apply([note])[0].status is ApplyStatus.ALREADY
    assert not calls(rsps, "POST", "/comment")

    # Without the property it is a public comment: the internal note is posted.
    rsps.replace(responses.GET, f"{API}/issue/SUP-1/comment/10000", json=example)
    rsps.post(f"{API}/issue/SUP-1/comment", status=201, json=comment("9", user(AGENT), "x"))
    assert jira.apply([note])[0].status is ApplyStatus.APPLIED
