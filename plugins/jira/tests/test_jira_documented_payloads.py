"""Documented Jira answers replayed through the connector with ``responses``.

Every canned answer here is a response example of the Jira Cloud platform OpenAPI, verbatim
(oas_examples.json, checked against the spec by test_contract.py), or a recorded answer
cited where it is used. Beside the fake-based tests, these hold the connector to shapes the
fake's authors did not write. The examples for the search, the issue and the bulk changelog
are not replayed: they carry none of the fields the connector asks for (``updated``,
``status``), so those answers are held to the spec's schemas by test_contract.py instead.
"""

from __future__ import annotations

from typing import Any

import responses
from jira_support import (
    AGENT,
    API,
    action,
    calls,
    issue,
    make_connector,
    oas_example,
    sent,
)

from slaplug.connectors import ApplyStatus
from slaplug.model import ActionKind, EventKind


def test_get_transitions_example_the_transition_into_closed_is_chosen(rsps) -> None:
    # getTransitions 200: "Close Issue" (id 2) leads to In Progress, "QA Review" (id 711)
    # to Closed.
    jira = make_connector()
    rsps.get(f"{API}/issue/SUP-1", json=issue("SUP-1", "10001"))
    rsps.get(f"{API}/issue/SUP-1/transitions", json=oas_example("getTransitions 200"))
    rsps.post(f"{API}/issue/SUP-1/transitions", status=204)
    (result,) = jira.apply([action(ActionKind.SET_STATUS, {"status": "closed"})])
    assert result.status is ApplyStatus.APPLIED
    (post,) = calls(rsps, "POST", "/transitions")
    assert sent(post) == {"transition": {"id": "711"}}


def test_bulk_edit_examples_submit_then_progress_complete(rsps) -> None:
    # submitBulkEdit 201 {"taskId": "10641"}; getBulkOperationProgress 200: COMPLETE with
    # processedAccessibleIssues [10001, 10002] (numbers, as documented).
    jira = make_connector(bulk_edit_min_issues=2)
    for n in (1, 2):
        rsps.get(f"{API}/issue/SUP-{n}", json=issue(f"SUP-{n}", f"1000{n}"))
    rsps.post(f"{API}/bulk/issues/fields", status=201, json=oas_example("submitBulkEdit 201"))
    rsps.get(f"{API}/bulk/queue/10641", json=oas_example("getBulkOperationProgress 200"))
    results = jira.apply(
        [action(ActionKind.ADD_TAG, {"tag": "sla_breached"}, f"SUP-{n}", n) for n in (1, 2)]
    )
    assert [r.status for r in results] == [ApplyStatus.APPLIED] * 2
    assert sent(calls(rsps, "POST", "/bulk/issues/fields")[0])["sendBulkNotification"] is False


def test_find_users_example_an_email_without_an_exact_match_takes_the_first(rsps) -> None:
    # findUsers 200 lists two users and, as Jira does for most callers, no emailAddress.
    jira = make_connector()
    rsps.get(f"{API}/issue/SUP-1", json=issue("SUP-1", "10001"))
    rsps.get(f"{API}/user/search", json=oas_example("findUsers 200"))
    rsps.put(f"{API}/issue/SUP-1", status=204)
    (result,) = jira.apply([action(ActionKind.ASSIGN, {"user": "mia@example.com"})])
    assert result.status is ApplyStatus.APPLIED
    (put,) = calls(rsps, "PUT", "/issue/SUP-1")
    assert sent(put) == {"fields": {"assignee": {"accountId": "5b10a2844c20165700ede21g"}}}
    assert put.request.url.endswith("?notifyUsers=false")


def test_get_comments_example_tops_up_a_truncated_comment_list(rsps) -> None:
    # getComments 200: one comment by Mia Krystof, restricted to the Administrators role.
    # A restricted comment is hidden from customers: no reply event; the same comment
    # unrestricted is an agent's reply.
    jira = make_connector()
    rsps.get(f"{API}/issue/SUP-1", json=issue("SUP-1", "10001", comment_total=1))
    page = oas_example("getComments 200")
    rsps.get(f"{API}/issue/SUP-1/comment", json=page)
    replies = (EventKind.AGENT_REPLY, EventKind.REQUESTER_MESSAGE)
    ticket = jira.read_ticket("SUP-1")
    assert len(calls(rsps, "GET", "/issue/SUP-1/comment")) == 1
    assert [e for e in ticket.events if e.kind in replies] == []

    del page["comments"][0]["visibility"]
    rsps.replace(responses.GET, f"{API}/issue/SUP-1/comment", json=page)
    ticket = jira.read_ticket("SUP-1")
    assert [e.kind for e in ticket.events if e.kind in replies] == [EventKind.AGENT_REPLY]


def test_own_restricted_note_from_the_comment_examples_counts_as_posted(rsps) -> None:
    # getComment 200 / addComment 201: the comment by AGENT (= /myself here) restricted to a
    # role, its body replaced by one ending in the action's marker.
    jira = make_connector()
    note = action(ActionKind.COMMENT, {"body": "Breached.", "public": False})
    own: dict[str, Any] = oas_example("getComment 200")
    assert own["author"]["accountId"] == AGENT and own["visibility"]["type"] == "role"
    marker = jira.notes.marker(note.key)
    own["body"] = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": marker}]}
    ]}  # fmt: skip
    rsps.get(f"{API}/issue/SUP-1", json=issue("SUP-1", "10001", comments=(own,)))
    assert jira.apply([note])[0].status is ApplyStatus.ALREADY

    # The same note missing: posted, and addComment's documented 201 is accepted.
    rsps.replace(responses.GET, f"{API}/issue/SUP-1", json=issue("SUP-1", "10001"))
    rsps.post(f"{API}/issue/SUP-1/comment", status=201, json=oas_example("addComment 201"))
    assert jira.apply([note])[0].status is ApplyStatus.APPLIED
