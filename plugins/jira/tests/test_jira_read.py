"""Reads: bounded JQL, nextPageToken paging, bulk changelogs, overlap and de-duplication."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from jira_support import (
    AGENT,
    API,
    calls,
    changelogs,
    comment,
    history,
    issue,
    item,
    make_connector,
    search_page,
    sent,
    user,
)
from responses import matchers
from slaplug_jira.cursor import JiraCursor

from slaplug.errors import ConfigError


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def serve_search(rsps, pages: list[list[dict]], first_token: str | None = None) -> None:
    """Register a search answered page by page, tokens t1, t2, ..."""
    for n, issues in enumerate(pages):
        token = f"t{n + 1}" if n + 1 < len(pages) else None
        match = (
            [matchers.query_param_matcher({"nextPageToken": f"t{n}"}, strict_match=False)]
            if n
            else []
        )
        rsps.get(f"{API}/search/jql", json=search_page(issues, token), match=match)


def test_first_read_is_bounded_selects_fields_and_pages_to_the_end(rsps, jira) -> None:
    serve_search(rsps, [[issue("SUP-1", "10001")], [issue("SUP-2", "10002")], []])
    rsps.post(f"{API}/changelog/bulkfetch", json=changelogs({}))
    pages = list(jira.read_changed(None))
    assert [len(p.tickets) for p in pages] == [1, 1, 0]
    assert all(p.complete_history for p in pages)
    searches = calls(rsps, "GET", "/search/jql")
    first = query(searches[0])
    assert first["jql"] == [
        'project in ("SUP") AND updated >= "2000/01/01 00:00" ORDER BY updated ASC, key ASC'
    ]
    assert "nextPageToken" not in first
    assert "comment" in first["fields"] and "customfield_10050" in first["fields"]
    assert [query(c).get("nextPageToken") for c in searches[1:]] == [["t1"], ["t2"]]


def test_history_comes_from_one_bulk_changelog_call_per_page_not_per_issue(rsps, jira) -> None:
    issues = [issue(f"SUP-{n}", f"1000{n}") for n in range(1, 4)]
    serve_search(rsps, [issues])
    rsps.post(
        f"{API}/changelog/bulkfetch",
        json=changelogs(
            {
                "10001": [
                    history(
                        "1",
                        "2026-03-02T09:00:00.000+0000",
                        item("status", "Waiting for support", "Waiting for customer"),
                    )
                ]
            },
            token="c2",
        ),
    )
    rsps.post(
        f"{API}/changelog/bulkfetch",
        json=changelogs(
            {
                "10001": [
                    history(
                        "2",
                        "2026-03-02T09:30:00.000+0000",
                        item("status", "Waiting for customer", "Resolved"),
                    )
                ]
            }
        ),
        match=[matchers.json_params_matcher({"nextPageToken": "c2"}, strict_match=False)],
    )
    (page,) = list(jira.read_changed(None))
    bulk = calls(rsps, "POST", "/changelog/bulkfetch")
    assert len(bulk) == 2  # the bulkfetch's own pages, for all three issues at once
    assert sent(bulk[0])["issueIdsOrKeys"] == ["10001", "10002", "10003"]
    # Status and priority for the clocks, then the fields whose history rules follow.
    assert sent(bulk[0])["fieldIds"] == [
        "status",
        "priority",
        "assignee",
        "labels",
        "issuetype",
        "customfield_10050",
    ]
    assert not [c for c in rsps.calls if "/issue/" in c.request.url]
    kinds = [e.kind.value for e in page.tickets[0].events]
    assert kinds[-2:] == ["status_changed", "solved"]  # histories from both pages


def test_resuming_rereads_the_overlap_and_skips_what_was_delivered(rsps, jira) -> None:
    a = issue("SUP-1", "10001", updated="2026-03-02T10:00:30.000+0000")
    b = issue("SUP-2", "10002", updated="2026-03-02T10:02:10.000+0000")
    serve_search(rsps, [[a, b]])
    rsps.post(f"{API}/changelog/bulkfetch", json=changelogs({}))
    (page,) = list(jira.read_changed(None))
    cursor = JiraCursor.decode(page.cursor)
    assert cursor.watermark == 1772445730000  # 10:02:10
    assert set(cursor.seen) == {"SUP-1@1772445630000", "SUP-2@1772445730000"}

    rsps.reset()
    b2 = issue("SUP-2", "10002", updated="2026-03-02T10:04:00.000+0000")  # changed since
    serve_search(rsps, [[a, b, b2]])
    rsps.post(f"{API}/changelog/bulkfetch", json=changelogs({}))
    (again,) = list(jira.read_changed(page.cursor))
    # 10:02:10 - 5 min, floored to the minute.
    assert query(rsps.calls[0])["jql"][0].count('updated >= "2026/03/02 09:57"') == 1
    assert [t.id for t in again.tickets] == ["SUP-2"]
    assert sent(calls(rsps, "POST", "/changelog/bulkfetch")[0])["issueIdsOrKeys"] == ["10002"]
    assert JiraCursor.decode(again.cursor).watermark == 1772445840000

    rsps.reset()
    serve_search(rsps, [[b2]])
    (third,) = list(jira.read_changed(again.cursor))
    assert third.tickets == []  # nothing new: and no changelog call for nothing
    assert not calls(rsps, "POST", "/changelog/bulkfetch")


def test_seen_entries_older_than_the_window_are_dropped(rsps, jira) -> None:
    old = issue("SUP-1", "10001", updated="2026-03-02T08:00:00.000+0000")
    new = issue("SUP-2", "10002", updated="2026-03-02T10:00:00.000+0000")
    serve_search(rsps, [[old, new]])
    rsps.post(f"{API}/changelog/bulkfetch", json=changelogs({}))
    (page,) = list(jira.read_changed(None))
    assert JiraCursor.decode(page.cursor).seen == ("SUP-2@1772445600000",)


def test_jql_dates_are_written_in_the_configured_time_zone(rsps) -> None:
    jira = make_connector(jql_timezone="Europe/Berlin", projects=[], jql="issuetype = Incident")
    start = JiraCursor(1772445600000).encode()  # 10:00Z = 11:00 Berlin
    serve_search(rsps, [[]])
    list(jira.read_changed(start))
    assert query(calls(rsps, "GET", "/search/jql")[0])["jql"] == [
        '(issuetype = Incident) AND updated >= "2026/03/02 10:55" ORDER BY updated ASC, key ASC'
    ]


def test_truncated_comments_are_topped_up_for_that_issue_only(rsps, jira) -> None:
    c1 = comment("1", user(AGENT), "2026-03-02T09:00:00.000+0000")
    c2 = comment("2", user(AGENT), "2026-03-02T09:30:00.000+0000")
    serve_search(
        rsps, [[issue("SUP-1", "10001", comments=(c1,), comment_total=2), issue("SUP-2", "10002")]]
    )
    rsps.post(f"{API}/changelog/bulkfetch", json=changelogs({}))
    rsps.get(
        f"{API}/issue/SUP-1/comment",
        json={"comments": [c1, c2], "startAt": 0, "maxResults": 100, "total": 2},
    )
    (page,) = list(jira.read_changed(None))
    assert [e.kind.value for e in page.tickets[0].events].count("agent_reply") == 2
    assert len([c for c in rsps.calls if "/comment" in c.request.url]) == 1


def test_read_ticket_is_one_call_and_pages_a_long_changelog(rsps, jira) -> None:
    short = issue("SUP-1", "10001")
    short["changelog"] = {
        "startAt": 0,
        "maxResults": 100,
        "total": 1,
        "histories": [
            history(
                "1",
                "2026-03-02T09:00:00.000+0000",
                item("status", "Waiting for support", "Resolved"),
            )
        ],
    }
    rsps.get(f"{API}/issue/SUP-1", json=short)
    ticket = jira.read_ticket("SUP-1")
    # One call for the issue; the field list (JSM's Organizations and Request Type fields)
    # is read once per connector, not per issue.
    assert [c.request.url.split("?")[0].rsplit("/", 1)[-1] for c in rsps.calls] == [
        "field",
        "SUP-1",
    ]
    assert ticket.platform == "jira" and ticket.url == "https://acme.atlassian.net/browse/SUP-1"
    assert "solved" in [e.kind.value for e in ticket.events]
    assert query(rsps.calls[1])["expand"] == ["changelog"]

    rsps.reset()
    long = issue("SUP-2", "10002")
    long["changelog"] = {"startAt": 0, "maxResults": 1, "total": 2, "histories": []}
    rsps.get(f"{API}/issue/SUP-2", json=long)
    rsps.get(
        f"{API}/issue/SUP-2/changelog",
        json={
            "values": [
                history(
                    "1",
                    "2026-03-02T09:00:00.000+0000",
                    item("status", "Waiting for support", "Resolved"),
                ),
                history(
                    "2",
                    "2026-03-02T10:00:00.000+0000",
                    item("status", "Resolved", "Waiting for support"),
                ),
            ],
            "startAt": 0,
            "maxResults": 100,
            "total": 2,
            "isLast": True,
        },
    )
    kinds = [e.kind.value for e in jira.read_ticket("SUP-2").events]
    assert kinds.count("solved") == 1 and kinds.count("reopened") == 1


def test_ticket_fields_tags_and_custom_fields(rsps, jira) -> None:
    raw = issue(
        "SUP-1",
        "10001",
        labels=("vip", "sla_at_risk"),
        customfield_10050={"value": "at_risk", "id": "1"},
    )
    raw["changelog"] = {"total": 0, "histories": []}
    rsps.get(f"{API}/issue/SUP-1", json=raw)
    t = jira.read_ticket("SUP-1")
    assert t.tags == {"vip", "sla_at_risk"}
    assert t.fields == {"sla_resolution_status": "at_risk"}
    assert (t.status, t.priority, t.requester, t.type) == (
        "open",
        "high",
        "qm:1a2b3c4d-customer",
        "Service Request",
    )


@pytest.mark.parametrize("text", ["zd1.abc", "jira1.!!!", "jira1." + "e30"])
def test_unreadable_cursor_says_to_reset_it(jira, text) -> None:
    with pytest.raises(ConfigError, match=r"stored Jira cursor .* reset the connector's cursor"):
        list(jira.read_changed(text))


#: Cursors written by the hand-rolled encoder before it moved onto the kit's `CursorCodec`
#: (commit 81b7c44); stores hold such strings, so they must decode, and encode, the same.
STORED_CURSORS = {
    "jira1.eyJ3IjoxNzcyNDQ1NjAwMDAwLCJzIjpbIlNVUC0yQDE3NzI0NDU2MDAwMDAiLCJTVVAtMTBAMTc3MjQ0NTU0MDAwMCJdfQ": (
        JiraCursor(1772445600000, ("SUP-2@1772445600000", "SUP-10@1772445540000"))
    ),
    "jira1.eyJ3IjpudWxsLCJzIjpbXX0": JiraCursor(),
}


@pytest.mark.parametrize(("text", "cursor"), STORED_CURSORS.items())
def test_a_cursor_stored_by_the_old_encoder_reads_and_writes_the_same(
    text: str, cursor: JiraCursor
) -> None:
    assert JiraCursor.decode(text) == cursor
    assert cursor.encode() == text


def test_a_read_counts_its_bulk_changelog_posts_as_reads_not_writes(rsps, jira) -> None:
    # The bulk changelog is read with POST (the ids go in the body); a sync that only read
    # must not report API writes (issue 18: "3 writes" on a dry run that wrote nothing).
    serve_search(rsps, [[issue("SUP-1", "10001")], []])
    rsps.post(f"{API}/changelog/bulkfetch", json=changelogs({}))
    list(jira.read_changed(None))
    assert calls(rsps, "POST", "/changelog/bulkfetch")
    assert jira.http.stats.writes == 0
    assert jira.http.stats.reads == len(rsps.calls)
