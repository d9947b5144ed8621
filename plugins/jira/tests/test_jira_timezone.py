"""JQL date literals are read in the API user's profile time zone (issue 13, item 5).

Jira reads ``updated >= "2026/03/02 10:55"`` as a wall time in the *searching user's* zone,
the zone ``GET /rest/api/3/myself`` reports as ``timeZone`` (OAS ``User.timeZone``: "the
time zone specified in the user's profile ... [else] the instance's default time zone").
A connector that writes its watermark in UTC for a user west of UTC asks for a later
instant than it means and silently skips the updates in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from jira_support import API, MYSELF_EXAMPLE, changelogs, issue, make_connector, search_page
from slaplug_jira import JiraConfig, JiraConnector
from slaplug_jira.cursor import JiraCursor
from slaplug_jira.fake import FakeJira

from slaplug.errors import ConfigError

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def jql_sent(rsps: Any) -> list[str]:
    return [
        parse_qs(urlsplit(c.request.url).query)["jql"][0]
        for c in rsps.calls
        if urlsplit(c.request.url).path.endswith("/search/jql")
    ]


# -- replayed documented payloads (responses) ---------------------------------------------


def test_the_watermark_is_written_in_the_zone_myself_reports(rsps) -> None:
    jira = make_connector(projects=["SUP"])
    rsps.replace(responses.GET, f"{API}/myself", json=MYSELF_EXAMPLE)
    rsps.get(f"{API}/search/jql", json=search_page([]))
    start = JiraCursor(1772445600000).encode()  # 2026-03-02 10:00Z = 21:00 in Sydney
    list(jira.read_changed(start))
    list(jira.read_changed(start))
    assert (
        jql_sent(rsps)
        == ['project in ("SUP") AND updated >= "2026/03/02 20:55" ORDER BY updated ASC, key ASC']
        * 2
    )
    # /myself is read once per connector, not once per read.
    assert sum(c.request.url.endswith("/myself") for c in rsps.calls) == 1


def test_a_configured_zone_wins_and_myself_is_not_asked(rsps) -> None:
    jira = make_connector(projects=["SUP"], jql_timezone="Europe/Berlin")
    rsps.get(f"{API}/search/jql", json=search_page([]))
    list(jira.read_changed(JiraCursor(1772445600000).encode()))
    assert jql_sent(rsps) == [
        'project in ("SUP") AND updated >= "2026/03/02 10:55" ORDER BY updated ASC, key ASC'
    ]
    assert not any(c.request.url.endswith("/myself") for c in rsps.calls)


def test_a_zone_python_does_not_know_is_a_clear_error(rsps) -> None:
    jira = make_connector()
    rsps.replace(
        responses.GET, f"{API}/myself", json={**MYSELF_EXAMPLE, "timeZone": "Mars/Olympus"}
    )
    with pytest.raises(ConfigError, match="jql_timezone"):
        list(jira.read_changed(JiraCursor(1772445600000).encode()))


def test_a_first_read_also_uses_the_users_zone(rsps) -> None:
    jira = make_connector(projects=["SUP"], start_date="2026-03-01")
    rsps.replace(
        responses.GET, f"{API}/myself", json={**MYSELF_EXAMPLE, "timeZone": "America/Los_Angeles"}
    )
    rsps.get(f"{API}/search/jql", json=search_page([issue("SUP-1", "10001")]))
    rsps.post(f"{API}/changelog/bulkfetch", json=changelogs({}))
    list(jira.read_changed(None))
    # Midnight UTC on 1 March is 16:00 on 28 February in Los Angeles.
    assert jql_sent(rsps)[0].endswith('updated >= "2026/02/28 16:00" ORDER BY updated ASC, key ASC')


# -- against the fake, whose API user lives in Los Angeles --------------------------------


@pytest.fixture
def west() -> Iterator[tuple[FakeJira, JiraConnector]]:
    with FakeJira.start(now=NOW, issues=20) as fake:
        agent = fake.set_user("ben.okafor@fake-jira.test", time_zone="America/Los_Angeles")
        email, token = fake.auth_for(agent)
        config = JiraConfig.load(
            {
                "base_url": fake.base_url,
                "email": email,
                "api_token_env": "FAKE_JIRA_TOKEN",
                "retry": {"jitter": 0, "backoff_initial": 0.5},
            },
            connector="jira",
            environ={"FAKE_JIRA_TOKEN": token},
        )
        assert isinstance(config, JiraConfig)
        with JiraConnector(config) as connector:
            connector.http.sleep = lambda seconds: None
            yield fake, connector


def test_an_update_after_the_last_read_is_delivered_to_a_user_west_of_utc(west) -> None:
    fake, connector = west
    pages = list(connector.read_changed(None))
    assert sum(len(p.tickets) for p in pages) == 20
    first, second = (i.key for i in sorted(fake.store.issues.values(), key=lambda i: i.id)[:2])
    fake.simulate("priority", first, value="Highest")
    pages = list(connector.read_changed(pages[-1].cursor))
    assert [t.id for p in pages for t in p.tickets] == [first]
    fake.advance(3600)  # an hour later an agent changes another issue's priority
    fake.simulate("priority", second, value="Highest")

    again = [t.id for p in connector.read_changed(pages[-1].cursor) for t in p.tickets]

    # Written in UTC, the watermark (about 12:00Z) would be read as 12:00 in Los Angeles,
    # 20:00Z, and the change at 13:00Z would never be read.
    assert again == [second]
