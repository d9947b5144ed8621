"""A small, faithful fake of the Freshdesk API v2 endpoints the connector uses.

Run it with ``slaplug fake freshdesk`` (registered through the ``register_fakes`` hook), or
in tests as ``with FakeFreshdesk() as fake: ...`` on a free port of 127.0.0.1.

Faithful where the connector depends on it (Freshdesk's API reference, v2):

- Basic auth ``<api key>:X``; a wrong key gets 401 ``{"code": "invalid_credentials", ...}``.
- ``GET /api/v2/tickets`` with ``updated_since`` (inclusive; a date or a time without zone
  is UTC; without it, only tickets created in the last 30 days), ``order_by`` (created_at,
  due_by, updated_at, status; default created_at) and ``order_type`` (default desc),
  ``per_page`` (1-100, default 30), ``page`` (from 1) and ``include=stats``, ``requester``,
  ``description``. The body is a bare JSON array; the next page is announced only in a
  ``Link: <url>; rel="next"`` header. Bad values are 400 "Validation failed".
- ``GET /api/v2/tickets/{id}`` (``include=stats``, ``requester``), ``GET .../conversations``
  (paged the same way).
- Every answer carries ``X-RateLimit-Total``, ``-Remaining`` and ``-Used-CurrentRequest``
  (an include costs 2 more on the list, 1 on a ticket); with ``enforce_rate_limit``, past
  ``rate_limit`` calls in a minute of the fake clock, 429 with ``Retry-After``.
- ``PUT /api/v2/tickets/{id}``: ``tags`` replaces the list, ``custom_fields`` merges, status
  2-5 and priority 1-4; anything else is a 400 "Validation failed" as Freshdesk answers.
- ``POST .../notes`` ``{"body", "private"}`` and ``POST .../reply`` ``{"body"}``: 201,
  written by the API key's agent (``user_id`` = `AGENT_ID`).
- ``GET /api/v2/agents/me``: that agent; ``GET /api/v2/agents`` and ``GET /api/v2/groups``
  list the account's agents and groups (paged like the tickets).
- ``GET /api/v2/ticket_fields``: the default fields and the custom ones (``cf_...``, or
  without the prefix with ``legacy_field_names``, as older fields are named); the
  ``status`` field's ``choices`` are the account's status codes, custom ones included.
- ``page`` beyond 300 on ``GET /api/v2/tickets`` is a 400, as is ``per_page`` over 100.

docs/plugins/freshdesk.md lists the source of each shape and rule.

Every write moves the ticket's ``updated_at`` forward one minute on a fake clock.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from slaplug.testing.fakeserver import FakeHelpdesk, Request, Response
from slaplug_freshdesk.fake.shapes import (
    agent,
    count,
    group,
    is_date,
    parse_or_none,
    ticket_fields,
)

__all__ = [
    "AGENT_ID",
    "API_KEY",
    "CUSTOM_FIELDS",
    "CUSTOM_FIELD_TYPES",
    "GROUPS",
    "OTHER_AGENT_ID",
    "FakeFreshdesk",
]

API_KEY = "fd-api-key-s3cret-0042"
#: The agent the API key belongs to: the author of every note and reply sent through the API.
AGENT_ID = 42
#: Another agent, the author of the tickets' first replies.
OTHER_AGENT_ID = 9
_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAX_PAGE = 300
_DESCRIPTION = ("description", "description_text")
#: What ``GET /api/v2/tickets`` sorts by: "created_at, due_by, updated_at, status"
#: (reference, "List All Tickets", "Sort by").
_ORDER_BY = "created_at,due_by,updated_at,status"
_TICKET_FIELDS = {"tags", "custom_fields", "priority", "status", "responder_id", "group_id"}
#: The account's custom ticket fields: API name -> label (every ticket carries them).
CUSTOM_FIELDS = {"cf_sla_state": "SLA state", "cf_sla_due_date": "SLA due date"}
#: Their types in ``GET /api/v2/ticket_fields`` (``custom_text`` when not listed here).
CUSTOM_FIELD_TYPES = {"cf_sla_due_date": "custom_date"}
#: With ``legacy_field_names``, the same fields named as Freshdesk named fields made in
#: 2015-2016: without ``cf_``. The reference's own "List All Ticket Fields" example
#: (``"name": "department"``, ``"rating"``; a copy in ktsaou/freshdesk_mcp
#: ``FRESHDESK_API_DOCS.txt``) and its ticket examples (``"custom_fields": {"category":
#: ...}``), Freshdesk's support article 216548 (the field labelled Gadget is named
#: ``gadget``) and a v2 ticket recorded in 2016 (sjkingo/python-freshdesk
#: ``freshdesk/v2/tests/sample_json_data/ticket_1.json``: ``{"parent_or_child": null,
#: ...}``) show such names, in ``ticket_fields`` and as keys of ``custom_fields`` alike.
LEGACY_PREFIX = ""
#: The account's groups: id -> name (the tickets are in group 7).
GROUPS = {7: "Support", 8: "Second Line"}


def iso(t: datetime) -> str:
    """Freshdesk's timestamp format: UTC with a ``Z``."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeFreshdesk(FakeHelpdesk):
    """``count`` tickets in memory, each changed an hour after the previous one."""

    def __init__(
        self,
        count: int = 5,
        custom_statuses: tuple[int, ...] = (),
        api_key: str = API_KEY,
        *,
        legacy_field_names: bool = False,
        rate_limit: int = 200,
        enforce_rate_limit: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """
        Args:
            count: How many tickets.
            custom_statuses: The account's own status codes (6 and up).
            api_key: The API key it accepts.
            legacy_field_names: Name the custom fields without ``cf_`` (``sla_state``), as
                in the ticket fields of an account's older fields (`LEGACY_PREFIX`).
            rate_limit: API calls a minute, as ``X-RateLimit-Total`` says.
            enforce_rate_limit: Answer 429 with ``Retry-After`` past ``rate_limit``.
            host: The interface to bind.
            port: The port; 0 picks a free one.
        """
        super().__init__(host=host, port=port)
        self.api_key = api_key
        prefix = LEGACY_PREFIX if legacy_field_names else "cf_"
        #: The account's custom fields, as `CUSTOM_FIELDS` (API name -> label) names them.
        self.custom_fields = {
            prefix + name.removeprefix("cf_"): label for name, label in CUSTOM_FIELDS.items()
        }
        #: Their types, as `CUSTOM_FIELD_TYPES`.
        self.custom_field_types = {
            prefix + name.removeprefix("cf_"): kind for name, kind in CUSTOM_FIELD_TYPES.items()
        }
        #: The status codes the account has: Freshdesk's own 2-5 and its custom ones.
        self.statuses = (2, 3, 4, 5, *custom_statuses)
        self.updated_clock = _START + timedelta(days=10)
        #: Called with the page number after each ``GET /api/v2/tickets`` page is served.
        self.after_list_page: Callable[[int], None] | None = None
        #: API calls a minute (Growth: 200, the connector's default; reference, "Rate
        #: Limit"), and whether going past it is a 429 (off: only the headers count down).
        self.rate_limit = rate_limit
        self.enforce_rate_limit = enforce_rate_limit
        self._window = (0, 0)  # (minute of the fake clock, calls spent in it)
        self.tickets: dict[int, dict[str, Any]] = {}
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        for i in range(1, count + 1):
            created = _START + timedelta(hours=i)
            self.tickets[i] = {
                "id": i,
                "subject": f"Printer {i} is on fire",
                "description": f"<div>Printer {i} is on fire</div>",
                "description_text": f"Printer {i} is on fire",
                "status": 3 if i == 2 else 4 if i == 3 else 2,
                "priority": 1 + i % 4,
                "type": "Incident",
                "requester_id": 100 + i,
                "responder_id": None,
                "group_id": 7,
                "company_id": None,
                "tags": ["vip"] if i == 1 else [],
                "custom_fields": dict.fromkeys(self.custom_fields),
                "created_at": iso(created),
                "updated_at": iso(created + timedelta(hours=2)),
                "due_by": iso(created + timedelta(days=1)),
                "fr_due_by": iso(created + timedelta(hours=4)),
                # The keys of a recorded ``stats`` (sjkingo/python-freshdesk
                # freshdesk/v2/tests/sample_json_data/ticket_1.json); the times match the
                # conversations below (a requester's message at +30 min, a reply at +1 h).
                "stats": {
                    "agent_responded_at": iso(created + timedelta(hours=1)),
                    "requester_responded_at": iso(created + timedelta(minutes=30)),
                    "first_responded_at": iso(created + timedelta(hours=1)),
                    "status_updated_at": iso(created + timedelta(hours=2 if i in (2, 3) else 0)),
                    "reopened_at": None,
                    "resolved_at": iso(created + timedelta(hours=2)) if i == 3 else None,
                    "closed_at": None,
                    "pending_since": iso(created + timedelta(hours=2)) if i == 2 else None,
                },
            }
            self.conversations[i] = [
                # Deliberately newest first: the connector must not rely on the order.
                self._conversation(i, created + timedelta(hours=1), incoming=False),
                self._conversation(i, created + timedelta(minutes=30), incoming=True),
            ]

    def add_conversation(
        self,
        ticket: int,
        body: str,
        *,
        incoming: bool = False,
        private: bool = False,
        user_id: int | None = None,
    ) -> dict[str, Any]:
        """Add a conversation as someone other than the API's agent would (a requester's
        reply with ``incoming=True``, another agent's note with ``private=True``)."""
        conv = self._conversation(
            ticket, self._tick(self.tickets[ticket]), incoming=incoming, private=private, body=body
        )
        if user_id is not None:
            conv["user_id"] = user_id
        self.conversations[ticket].append(conv)
        return conv

    @staticmethod
    def _conversation(
        ticket: int,
        at: datetime,
        *,
        incoming: bool,
        private: bool = False,
        body: str = "Hi",
        user_id: int | None = None,
    ) -> dict[str, Any]:
        # The shape of sjkingo/python-freshdesk freshdesk/v2/sample_json_data/conversations.json
        # (a recorded list): ``user_id`` is the author, an agent's id for agents' notes.
        return {
            "id": int(at.timestamp()),
            "ticket_id": ticket,
            "body": body,
            "body_text": re.sub(r"<[^>]+>", " ", body),
            "incoming": incoming,
            "private": private,
            "user_id": user_id or (100 + ticket if incoming else OTHER_AGENT_ID),
            "created_at": iso(at),
        }

    # -- routing --------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one API request, with the rate-limit headers every answer carries.

        "X-RateLimit-Total", "X-RateLimit-Remaining" and "X-RateLimit-Used-CurrentRequest"
        come "in response to every API request"; "Even invalid requests count towards the
        rate limit"; past the limit the answer is 429 with "Retry-After: The number in
        seconds that you will have to wait" (reference, "Rate Limit"). The window is the
        fake clock's minute; the 429's body is ours (the reference shows only its headers).
        """
        used = self._credits(request)
        minute = int(self.clock.now()) // 60
        if self._window[0] != minute:
            self._window = (minute, 0)
        spent = self._window[1] + used
        self._window = (minute, spent)
        limits = {
            "X-RateLimit-Total": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit - spent)),
            "X-RateLimit-Used-CurrentRequest": str(used),
        }
        if self.enforce_rate_limit and spent > self.rate_limit:
            wait = 60 - int(self.clock.now()) % 60
            body = {"code": "rate_limit_exceeded", "message": "API rate limit exceeded"}
            return Response(429, body, {**limits, "Retry-After": str(wait)})
        response = self._answer(request)
        response.headers.update(limits)
        return response

    @staticmethod
    def _credits(request: Request) -> int:
        """API calls a request consumes: one, plus per ``include`` two on the ticket list
        ("Each include will consume an additional 2 credits", "List All Tickets") and one on
        a ticket ("Each include will consume an additional credit", "View a Ticket")."""
        includes = [i for i in (request.query.get("include") or "").split(",") if i]
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and parts == ["api", "v2", "tickets"]:
            return 1 + 2 * len(includes)
        if request.method == "GET" and len(parts) == 4 and parts[2] == "tickets":
            return 1 + len(includes)
        return 1

    def _answer(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{self.api_key}:X".encode()).decode()
        if request.headers.get("authorization") != expected:
            return Response(
                401,
                {
                    "code": "invalid_credentials",
                    "message": "You have to be logged in to perform this action.",
                },
            )
        parts = request.path.strip("/").split("/")
        if parts == ["api", "v2", "agents", "me"] and request.method == "GET":
            return Response(200, self._me())
        if request.method == "GET" and parts == ["api", "v2", "agents"]:
            return self._paged(request, [self._me(), self._other_agent()])
        if request.method == "GET" and parts == ["api", "v2", "groups"]:
            return self._paged(request, [group(gid, name) for gid, name in GROUPS.items()])
        if request.method == "GET" and parts == ["api", "v2", "ticket_fields"]:
            return Response(200, self._ticket_fields())
        if parts[:2] != ["api", "v2"] or len(parts) < 3 or parts[2] != "tickets":
            return Response(404, {"code": "not_found"})
        rest = parts[3:]
        if not rest and request.method == "GET":
            return self._list(request)
        ticket = self.tickets.get(int(rest[0])) if rest and rest[0].isdigit() else None
        if ticket is None:
            return Response(404, {"code": "access_denied", "message": "not found"})
        if len(rest) == 1 and request.method == "GET":
            return Response(200, self._shown(ticket, request))
        if len(rest) == 1 and request.method == "PUT":
            return self._update(ticket, request.json() or {})
        if rest[1:] == ["conversations"] and request.method == "GET":
            items = sorted(
                self.conversations[ticket["id"]], key=lambda c: c["created_at"], reverse=True
            )
            return self._paged(request, items)
        if rest[1:] in (["notes"], ["reply"]) and request.method == "POST":
            body = (request.json() or {}).get("body")
            if not body:
                return self._invalid("body", "It should not be blank")
            note = rest[1] == "notes"
            private = bool((request.json() or {}).get("private", True)) if note else False
            conv = self._conversation(
                ticket["id"],
                self._tick(ticket),
                incoming=False,
                private=private,
                body=body,
                user_id=AGENT_ID,  # the API key's agent writes what comes through the API
            )
            self.conversations[ticket["id"]].append(conv)
            return Response(201, conv)
        return Response(404, {"code": "not_found"})

    # -- endpoints ------------------------------------------------------------------------

    def touch(self, ticket_id: int) -> None:
        """Change a ticket now (as an agent would), moving it to the end of the list."""
        self._tick(self.tickets[ticket_id])

    def _list(self, request: Request) -> Response:
        # ``page`` goes up to 300 and no further (Freshdesk API v2 reference, "List All
        # Tickets"; ktsaou/freshdesk_mcp FRESHDESK_API_REFERENCE.md: "Max 300 pages").
        # The error text is ours; the body shape is Freshdesk's validation error.
        page = count(request.query.get("page"), 1)
        if page is not None and page > MAX_PAGE:
            return self._invalid("page", f"Has to be less than or equal to {MAX_PAGE}")
        order_by = request.query.get("order_by") or "created_at"
        order_type = request.query.get("order_type") or "desc"
        if order_by not in _ORDER_BY.split(","):
            return self._invalid("order_by", f"It should be one of these values: '{_ORDER_BY}'")
        if order_type not in ("asc", "desc"):
            return self._invalid("order_type", "It should be one of these values: 'asc,desc'")
        since_text = request.query.get("updated_since")
        if since_text is None:
            # "By default, only tickets that have been created within the past 30 days will
            # be returned. For older tickets, use the updated_since filter" (reference, "List
            # All Tickets"). The past is the fake's: 30 days before its clock.
            oldest = iso(self.updated_clock - timedelta(days=30))
            tickets = [t for t in self.tickets.values() if t["created_at"] >= oldest]
        else:
            since = parse_or_none(since_text)
            if since is None:
                return self._invalid("updated_since", "It should be in the 'valid date' format")
            tickets = [t for t in self.tickets.values() if t["updated_at"] >= iso(since)]
        # Sorted by ``order_by`` (default ``created_at``) in ``order_type`` (default
        # ``desc``): reference, "List All Tickets", "Sort by". Ties by id (ours).
        tickets.sort(
            key=lambda t: (t[order_by] is not None, t[order_by], t["id"]),
            reverse=order_type == "desc",
        )
        # The list leaves the description out unless asked (``include=description``,
        # Freshdesk API v2 reference, "List All Tickets").
        hidden = () if "description" in (request.query.get("include") or "") else _DESCRIPTION
        shown = [self._shown(t, request) for t in tickets]
        shown = [{k: v for k, v in t.items() if k not in hidden} for t in shown]
        reply = self._paged(request, shown)
        if self.after_list_page is not None:  # a test changes tickets between two pages
            self.after_list_page(page or 1)
        return reply

    def _paged(self, request: Request, items: list[dict[str, Any]]) -> Response:
        # "By default, the number of objects returned per page is 30 ... The maximum number
        # of objects that can be retrieved per page is 100. Invalid values and values greater
        # than 100 will result in an error"; "The page number starts with 1" (reference,
        # "Pagination"). The messages are ours.
        per_page = count(request.query.get("per_page"), 30)
        if per_page is None or per_page > 100:
            return self._invalid("per_page", "It should be a number between 1 and 100")
        page = count(request.query.get("page"), 1)
        if page is None:
            return self._invalid("page", "It should be a positive number")
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = {**request.query, "page": str(page + 1)}
            headers["Link"] = f'<{self.base_url}{request.path}?{urlencode(query)}>; rel="next"'
        return Response(200, chunk, headers)

    def _update(self, ticket: dict[str, Any], body: dict[str, Any]) -> Response:
        unknown = sorted(set(body) - _TICKET_FIELDS)
        if unknown:
            return self._invalid(unknown[0], "Unexpected/invalid field in request")
        if "status" in body and body["status"] not in self.statuses:
            codes = ",".join(map(str, self.statuses))
            return self._invalid("status", f"It should be one of these values: '{codes}'")
        if "priority" in body and body["priority"] not in (1, 2, 3, 4):
            return self._invalid("priority", "It should be one of these values: '1,2,3,4'")
        # An unknown custom field is refused like an unknown top-level one: Freshdesk's
        # error code ``invalid_field`` ("An unexpected field was part of the request",
        # developers.freshdesk.com/api/#error).
        fields = body.pop("custom_fields", {})
        strange = sorted(set(fields) - set(ticket["custom_fields"]))
        if strange:
            return self._invalid(strange[0], "Unexpected/invalid field in request", "invalid_field")
        for name, value in sorted(fields.items()):
            if self.custom_field_types.get(name) == "custom_date" and not is_date(value):
                # The code is the reference's for "an incorrect or blank value, or [one]
                # in an invalid format" (Errors, error codes); the message is ours.
                return self._invalid(
                    name, "Value set is not a date in the format YYYY-MM-DD", "invalid_value"
                )
        changed_status = "status" in body and body["status"] != ticket["status"]
        ticket.update(body)
        ticket["custom_fields"] = {**ticket["custom_fields"], **fields}
        now = iso(self._tick(ticket))
        if changed_status:
            # The stats of a status change, as their names say (our reading: the reference
            # only lists them): when the status last changed, and when it was last set
            # pending (3), resolved (4) or closed (5).
            stats = ticket["stats"]
            stats["status_updated_at"] = now
            stamp = {3: "pending_since", 4: "resolved_at", 5: "closed_at"}.get(body["status"])
            if stamp:
                stats[stamp] = now
        return Response(200, self._shown(ticket, None))

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _me() -> dict[str, Any]:
        """``GET /api/v2/agents/me``: the API key's agent, in the shape of the reference's
        "Currently Authenticated Agent" example (Freshdesk API v2 reference; a copy in
        ktsaou/freshdesk_mcp ``FRESHDESK_API_DOCS.txt``) and of sjkingo/python-freshdesk
        ``freshdesk/v2/tests/sample_json_data/agent_1.json``: ``id`` on top, the person
        under ``contact``."""
        return agent(AGENT_ID, "slaplug", "slaplug@fake-freshdesk.test", [7])

    @staticmethod
    def _other_agent() -> dict[str, Any]:
        """`OTHER_AGENT_ID` in the same shape (python-freshdesk's recorded ``agents.json``)."""
        return agent(OTHER_AGENT_ID, "Dana Agent", "dana.agent@fake-freshdesk.test", [7, 8])

    def _ticket_fields(self) -> list[dict[str, Any]]:
        """``GET /api/v2/ticket_fields`` of this account (`shapes.ticket_fields`)."""
        agents = {"slaplug": AGENT_ID, "Dana Agent": OTHER_AGENT_ID}
        return ticket_fields(
            self.statuses, self.custom_fields, self.custom_field_types, GROUPS, agents
        )

    def _shown(self, ticket: dict[str, Any], request: Request | None) -> dict[str, Any]:
        """The ticket as an answer shows it: ``stats`` and ``requester`` only when asked
        (``include``; never on an update, whose reference example has neither)."""
        # ``stats`` costs extra API credits, so Freshdesk sends it only when asked.
        include = (request.query.get("include") or "").split(",") if request else []
        shown = (
            dict(ticket)
            if "stats" in include
            else {k: v for k, v in ticket.items() if k != "stats"}
        )
        if "requester" in include:
            # "Will return the requester's email, id, mobile, name, and phone" (reference,
            # "List All Tickets" and "View a Ticket", Embed), under ``requester`` as in
            # sjkingo/python-freshdesk freshdesk/v2/tests/sample_json_data/ticket_1.json.
            rid = ticket["requester_id"]
            shown["requester"] = {
                "id": rid,
                "name": f"Requester {rid}",
                "email": f"requester{rid}@fake-freshdesk.test",
                "mobile": None,
                "phone": None,
            }
        return shown

    def _tick(self, ticket: dict[str, Any]) -> datetime:
        self.updated_clock += timedelta(minutes=1)
        ticket["updated_at"] = iso(self.updated_clock)
        return self.updated_clock

    @staticmethod
    def _invalid(field: str, message: str, code: str = "invalid_value") -> Response:
        return Response(
            400,
            {
                "description": "Validation failed",
                "errors": [{"field": field, "message": message, "code": code}],
            },
        )
