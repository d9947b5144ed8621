"""The fake Jira's seed files: a site as JSON (format ``slaplug-fake-jira/1``, documented in
docs/testing/fake-jira.md). Issues are written as platform-neutral ticket histories, so the
same file can describe the same tickets to another fake.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slaplug.testing.fakeserver import iso_z, parse_iso_z
from slaplug_jira.fake.data import JiraStore, JiraUser
from slaplug_jira.fake.generate import base_site
from slaplug_jira.fake.history import TicketHistory, history_of, play_history

SEED_FORMAT = "slaplug-fake-jira/1"


def load_seed(seed: str | Path | Mapping[str, Any]) -> tuple[JiraStore, float | None, str | None]:
    """Read a seed file (or its parsed mapping) into a new site.

    Returns:
        The store, the seed's ``now`` (Unix seconds) if it has one, and its time zone.

    Raises:
        ValueError: for a wrong format tag or invalid issues.
    """
    data: Mapping[str, Any] = (
        seed if isinstance(seed, Mapping) else json.loads(Path(seed).read_text(encoding="utf-8"))
    )
    if data.get("format", SEED_FORMAT) != SEED_FORMAT:
        raise ValueError(f"seed format must be {SEED_FORMAT!r}, got {data.get('format')!r}")
    project = data.get("project") or {}
    store = JiraStore(
        str(project.get("key", "SUP")).upper(), str(project.get("name", "Customer Support"))
    )
    base_site(store)
    for u in data.get("users") or []:
        user = JiraUser(
            str(u["accountId"]),
            str(u.get("displayName", u["accountId"])),
            str(u.get("emailAddress", f"{u['accountId']}@example.com")),
            str(u.get("accountType", "atlassian")),
            bool(u.get("active", True)),
            u.get("timeZone"),
            bool(u.get("admin", False)),
            bool(u.get("projectAdmin", False)),
            frozenset(str(k) for k in u.get("deniedPermissions") or ()),
        )
        store.users[user.account_id] = user
    for n, raw in enumerate(data.get("issues") or []):
        try:
            play_history(store, TicketHistory.from_json(raw))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"seed issue #{n}: {exc}") from None
    now = data.get("now")
    return store, (parse_iso_z(str(now)) if now else None), data.get("time_zone")


def to_seed(store: JiraStore, now: float, time_zone: str) -> dict[str, Any]:
    """The site as a seed mapping; :func:`load_seed` reads it back to the same site."""
    return {
        "format": SEED_FORMAT,
        "now": iso_z(now),
        "time_zone": time_zone,
        "project": {"key": store.project_key, "name": store.project_name},
        "users": [
            {
                "accountId": u.account_id,
                "displayName": u.display_name,
                "emailAddress": u.email,
                "accountType": u.account_type,
                "active": u.active,
                **({"timeZone": u.time_zone} if u.time_zone else {}),
                **({"admin": True} if u.admin else {}),
                **({"projectAdmin": True} if u.project_admin else {}),
                **({"deniedPermissions": sorted(u.denied)} if u.denied else {}),
            }
            for u in store.users.values()
        ],
        "issues": [
            history_of(store, i).to_json()
            for i in sorted(store.issues.values(), key=lambda i: i.id)
        ],
    }
