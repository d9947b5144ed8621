"""The mapping from Jira's changelog and comments to slaplug events, and the name maps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jira_support import AGENT, AUTOMATION, CUSTOMER, comment, history, issue, item, user
from slaplug_jira.config import JiraConfig, Normalizer
from slaplug_jira.events import map_events, to_ticket

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def norm(**overrides: object) -> Normalizer:
    settings = {"base_url": "https://a.atlassian.net", "pat_env": "X", **overrides}
    config = JiraConfig.load(settings, connector="jira", environ={"X": "a-long-pat-token"})
    assert isinstance(config, JiraConfig)
    return Normalizer(config)


def events(histories=(), comments=(), status="Waiting for support", priority="High", n=None):
    return [
        (e.kind.value, e.at.strftime("%d %H:%M"), e.value)
        for e in map_events(
            created=T0,
            reporter=CUSTOMER,
            status=status,
            priority=priority,
            histories=histories,
            comments=comments,
            norm=n or norm(),
        )
    ]


def test_creation_carries_the_initial_status_and_priority_from_the_first_changes() -> None:
    got = events(
        histories=[
            history("2", "2026-03-02T10:00:00.000+0000", item("priority", "Medium", "Highest")),
            history(
                "1", "2026-03-02T09:00:00.000+0000", item("status", "Open", "Waiting for customer")
            ),
        ],
        status="Waiting for customer",
        priority="Highest",
    )
    assert got == [
        ("created", "02 08:00", None),
        ("status_changed", "02 08:00", "open"),
        ("priority_changed", "02 08:00", "normal"),
        ("status_changed", "02 09:00", "pending"),
        ("priority_changed", "02 10:00", "urgent"),
    ]


def test_without_changes_the_current_status_and_priority_held_since_creation() -> None:
    assert events(status="Pending", priority=None) == [
        ("created", "02 08:00", None),
        ("status_changed", "02 08:00", "hold"),
    ]


def test_entering_done_solves_and_leaving_it_reopens_once() -> None:
    got = events(
        histories=[
            history(
                "1",
                "2026-03-02T09:00:00.000+0000",
                item("status", "Waiting for support", "Resolved"),
            ),
            history("2", "2026-03-02T10:00:00.000+0000", item("status", "Resolved", "Closed")),
            history(
                "3", "2026-03-03T09:00:00.000+0000", item("status", "Closed", "Waiting for support")
            ),
        ]
    )
    kinds = [(k, at) for k, at, _ in got if k in ("solved", "reopened")]
    # Resolved -> Closed stays done: no second SOLVED.
    assert kinds == [("solved", "02 09:00"), ("reopened", "03 09:00")]
    assert ("status_changed", "02 10:00", "closed") in got


def test_a_status_in_the_done_category_counts_as_solved_once_learned() -> None:
    n = norm()
    assert not n.is_done("Fixed")
    n.done.add("fixed")  # what to_ticket does on seeing statusCategory.key == "done"
    got = events(
        histories=[history("1", "2026-03-02T09:00:00.000+0000", item("status", "Open", "Fixed"))],
        n=n,
    )
    assert ("solved", "02 09:00", None) in got


def test_public_comments_are_replies_or_requester_messages_and_internal_ones_nothing() -> None:
    got = events(
        comments=[
            comment("1", user(AGENT), "2026-03-02T09:00:00.000+0000"),
            comment("2", user(AGENT), "2026-03-02T09:10:00.000+0000", public=False),
            {
                **comment("3", user(AGENT), "2026-03-02T09:20:00.000+0000"),
                "jsdPublic": None,
                "visibility": {"type": "role", "value": "Administrators"},
            },
            {
                **comment("4", user(AGENT), "2026-03-02T09:30:00.000+0000"),
                "jsdPublic": None,
                "properties": [{"key": "sd.public.comment", "value": {"internal": True}}],
            },
            comment("5", user(CUSTOMER, "customer"), "2026-03-02T10:00:00.000+0000"),
            comment("6", user("other-customer", "customer"), "2026-03-02T10:30:00.000+0000"),
            comment("7", user(AUTOMATION, "app"), "2026-03-02T11:00:00.000+0000"),
        ]
    )
    assert [(k, at) for k, at, _ in got[3:]] == [
        ("agent_reply", "02 09:00"),
        ("requester_message", "02 10:00"),
        ("requester_message", "02 10:30"),
    ]


def test_the_reporters_comments_are_requester_messages_even_from_an_atlassian_account() -> None:
    got = events(
        comments=[comment("1", user(CUSTOMER, "atlassian"), "2026-03-02T09:00:00.000+0000")]
    )
    assert got[-1][0] == "requester_message"


@pytest.mark.parametrize(
    ("jira", "ours"),
    [
        ("Highest", "urgent"),
        ("High", "high"),
        ("Medium", "normal"),
        ("Low", "low"),
        ("Lowest", "low"),
        ("highest", "urgent"),
        ("P2 - Custom", "p2 - custom"),
    ],
)
def test_priorities_normalize_case_insensitively_and_unmapped_ones_lower_case(jira, ours) -> None:
    assert norm().priority(jira) == ours


def test_reverse_maps_take_the_first_name_listed() -> None:
    n = norm()
    assert n.jira_priority("low") == "Low"  # not Lowest: Low is listed first
    assert n.jira_priority("urgent") == "Highest"
    assert n.jira_priority("Blocker") == "Blocker"  # a Jira name passes through
    assert n.jira_statuses("pending") == ["Waiting for customer", "pending"]
    custom = norm(priorities={"P1": "urgent", "P2": "high"}, statuses={"Awaiting reply": "pending"})
    assert custom.priority("High") == "high" and custom.priority("P1") == "urgent"
    assert custom.status("Awaiting reply") == "pending" and custom.status("Open") == "open"


def test_the_ticket_keeps_accountids_for_rules_and_names_for_people() -> None:
    """QA #11: `slaplug status` showed the assignee's accountId; the issue's user object
    names it: ``UserDetails.displayName``, "The display name of the user. Depending on the
    user's privacy settings, this may return an alternative value." (Jira Cloud platform
    REST API v3 OpenAPI, tests/specs/jira-platform-v3.trimmed.openapi.json)."""
    raw = issue("SUP-9", "10009", assignee=user(AGENT, name="Ana Lima"))
    ticket = to_ticket(
        raw,
        histories=[],
        comments=[],
        norm=norm(),
        instance="jira",
        base_url="https://a.atlassian.net",
        field_ids={},
    )
    assert ticket.assignee == AGENT
    assert ticket.name_of("assignee") == "Ana Lima"
    # A user shown without a name of its own (jira_support.user's displayName defaults to
    # the accountId) adds nothing: the id is what there is to show.
    assert ticket.requester == CUSTOMER and "requester" not in ticket.names
