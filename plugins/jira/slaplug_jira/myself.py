"""The connector's own API user, as ``GET /rest/api/3/myself`` describes it, read once.

Two facts come from it:

* ``timeZone``: JQL date literals are read in the searching user's profile zone (OAS
  ``User.timeZone``: "the time zone specified in the user's profile"; when it is hidden or
  unset, "the instance's default time zone"). The reader writes its watermark in it.
* ``accountId``: a comment counts as slaplug's own (its marker can say an action is done)
  only when this user wrote it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slaplug.connectors import ApiClient
from slaplug.errors import ConfigError

__all__ = ["MYSELF", "Myself"]

logger = logging.getLogger(__name__)

MYSELF = "rest/api/3/myself"


class Myself:
    """The API user, fetched on first use and kept for the connector's lifetime.

    Args:
        http: The connector's client.
        instance: The configured connector's name (for messages).
    """

    def __init__(self, http: ApiClient, instance: str) -> None:
        self.http = http
        self.instance = instance
        self._user: Mapping[str, Any] | None = None

    def user(self) -> Mapping[str, Any]:
        """The ``User`` body of ``/myself`` (one request per connector)."""
        if self._user is None:
            found = self.http.get_json(MYSELF)
            self._user = found if isinstance(found, Mapping) else {}
        return self._user

    @property
    def account_id(self) -> str:
        """The API user's ``accountId`` ("" if Jira sent none, so no comment matches)."""
        return str(self.user().get("accountId") or "")

    def time_zone(self) -> str:
        """The API user's profile zone, in which Jira reads JQL date literals.

        Raises:
            ConfigError: Jira named a zone this Python does not know.
        """
        zone = self.user().get("timeZone")
        if not zone:
            # The spec says Jira falls back to the site's zone itself, so this is unexpected.
            logger.warning(
                "connector %r: /myself reports no timeZone; reading JQL dates as UTC "
                "(set jql_timezone to the API user's Jira time zone)",
                self.instance,
            )
            return "UTC"
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"connector {self.instance!r}: the Jira API user's time zone {zone!r} is not "
                "known here; set jql_timezone to its IANA name (e.g. America/Los_Angeles) or "
                "install tzdata"
            ) from None
        return str(zone)
