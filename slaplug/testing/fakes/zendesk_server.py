"""The fake Zendesk's HTTP behaviour: auth, routes, paging, writes, jobs, webhooks, faults.

:class:`ZendeskApp` is the app :class:`~slaplug.testing.fakes.base.ServerThread` serves.
Each behaviour follows ../shared/reference/helpdesk-apis.md; docs/testing/fake-zendesk.md
cites the source for each. One lock guards the account: the fake favours being obviously
consistent over being concurrent.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from slaplug.testing.fakes.base import (
    FakeClock,
    FaultInjector,
    FaultPolicy,
    HttpError,
    Request,
    RequestCounter,
    Response,
    Router,
    WebhookSender,
    WriteRecord,
    iso_z,
    parse_iso_z,
)
from slaplug.testing.fakes.zendesk_data import (
    PRIORITIES,
    STATUSES,
    TYPES,
    Audit,
    ChildEvent,
    Ticket,
    User,
    ZendeskStore,
)

J = dict[str, Any]
_ID = r"(?P<id>\d+)(?:\.json)?"
MAX_EXPORT_PAGE = 1000  # incremental exports: per_page up to 1000, default 1000 (reference §1.1)
MAX_AUDIT_PAGE = 100  # audits: at most 100 per page (reference §1.1)
MAX_BULK = 100  # update_many: at most 100 tickets (reference §2.1)
EXPORT_LAG = 60  # start_time at least a minute old; the last minute is left out (§1.1)
UNAUTHORIZED = {"error": "Couldn't authenticate you"}  # reference §3, §5


def _err(status: int, error: str, description: str, **extra: Any) -> HttpError:
    return HttpError(status, {"error": error, "description": description, **extra})


def _not_found() -> HttpError:
    return _err(404, "RecordNotFound", "Not found")


def _invalid(field_name: str, description: str, code: str = "InvalidValue") -> HttpError:
    # Zendesk's 422 envelope: {"error", "description", "details": {field: [{description, error}]}}
    return _err(
        422,
        "RecordInvalid",
        "Record validation errors",
        details={field_name: [{"description": description, "error": code}]},
    )


def encode_cursor(ts: int, ticket_id: int, before: bool = False) -> str:
    """An opaque cursor shaped like Zendesk's: base64 of ``"{ts}.0||{id}|"`` (reference §1.1)."""
    return base64.b64encode(f"{ts}.0||{ticket_id}|{'b' if before else ''}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, int, bool]:
    """Inverse of :func:`encode_cursor`: ``(ts, id, before)``.

    Raises:
        HttpError: 400 for a cursor this server did not make.
    """
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
        ts, rest = text.split("||", 1)
        tid, direction = rest.split("|", 1)
        return int(float(ts)), int(tid), direction == "b"
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _err(400, "InvalidPaginationParameter", "cursor is not valid") from None


@dataclass
class Job:
    """A queued update_many: applied when it completes, as Zendesk applies it in the background."""

    id: str
    updates: list[tuple[int, J]]
    author_id: int
    started: float
    polls: int = 0
    status: str = "queued"
    results: list[J] | None = None


@dataclass
class WebhookConfig:
    """Where and how to send event webhooks."""

    url: str
    secret: str
    webhook_id: str = "01HFAKEZENDESKWEBHOOK00001"
    duplicate_rate: float = 0.0
    seed: int = 0


@dataclass
class AppConfig:
    """The fake account's credentials and behaviour knobs."""

    api_token: str = "fake-api-token"
    oauth_token: str = "fake-oauth-token"
    #: Polls of a job status until it reports ``completed`` (queued, working..., completed).
    job_polls: int = 3
    #: Seconds after which a job completes even if nobody polls it.
    job_complete_after: float = 2.0
    #: Value of ``X-Rate-Limit``; requests per minute of the fake clock.
    rate_limit: int = 700
    #: When True, answer 429 once ``rate_limit`` (or 10/min on incremental exports) is used up.
    enforce_rate_limit: bool = False
    account_id: int = 12514403
    extra: J = field(default_factory=dict)


class ZendeskApp:
    """Serves the Zendesk Support API subset slaplug uses, plus the ``/_fake/`` admin surface."""

    def __init__(self, store: ZendeskStore, clock: FakeClock, config: AppConfig) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.base_url = "http://127.0.0.1"
        self.lock = threading.RLock()
        self.faults = FaultInjector()
        self.requests = RequestCounter()
        self.writes: list[WriteRecord] = []
        self.jobs: dict[str, Job] = {}
        self.webhook: WebhookConfig | None = None
        self.sender: WebhookSender | None = None
        self._window: tuple[int, int, int] = (0, 0, 0)  # minute, all requests, exports
        # Field ids are fixed for the fake's life: looked up once, not per rendered ticket.
        self._custom_ids = [f.id for f in store.custom_fields]
        self.router = Router()
        self.admin = Router()
        self._routes()

    # -- routing -----------------------------------------------------------------------

    def _routes(self) -> None:
        r, a = self.router.add, self.admin.add
        v2 = "/api/v2"
        r("GET", rf"{v2}/users/me(?:\.json)?", self.get_me)
        r("GET", rf"{v2}/users/show_many(?:\.json)?", self.get_users_many)
        r("GET", rf"{v2}/users/{_ID}", self.get_user)
        r("GET", rf"{v2}/users(?:\.json)?", self.list_users)
        r("GET", rf"{v2}/groups(?:\.json)?", self.list_groups)
        r("GET", rf"{v2}/organizations(?:\.json)?", self.list_orgs)
        r("GET", rf"{v2}/ticket_fields(?:\.json)?", self.list_fields)
        r("GET", rf"{v2}/tickets/show_many(?:\.json)?", self.get_tickets_many)
        r("PUT", rf"{v2}/tickets/update_many(?:\.json)?", self.update_many)
        r("GET", rf"{v2}/tickets/{_ID}", self.get_ticket)
        r("PUT", rf"{v2}/tickets/{_ID}", self.put_ticket)
        r("GET", rf"{v2}/tickets/(?P<id>\d+)/audits(?:\.json)?", self.get_audits)
        for method in ("GET", "POST", "PUT", "DELETE"):
            r(method, rf"{v2}/tickets/(?P<id>\d+)/tags(?:\.json)?", self.tags)
        r("GET", rf"{v2}/job_statuses/(?P<id>\w+)(?:\.json)?", self.get_job)
        r("GET", rf"{v2}/incremental/tickets/cursor(?:\.json)?", self.export_cursor)
        r("GET", rf"{v2}/incremental/tickets(?:\.json)?", self.export_tickets_time)
        r("GET", rf"{v2}/incremental/ticket_events(?:\.json)?", self.export_events)
        a("GET", r"/_fake/health", self.admin_health)
        a("GET", r"/_fake/writes", self.admin_writes)
        a("DELETE", r"/_fake/writes", self.admin_clear_writes)
        a("GET", r"/_fake/requests", self.admin_requests)
        a("GET", r"/_fake/faults", self.admin_get_faults)
        a("POST", r"/_fake/faults", self.admin_set_faults)
        a("DELETE", r"/_fake/faults", self.admin_reset_faults)
        a("POST", r"/_fake/simulate", self.admin_simulate)
        a("GET", r"/_fake/clock", self.admin_clock)
        a("POST", r"/_fake/clock", self.admin_clock)
        a("GET", r"/_fake/webhooks", self.admin_webhooks)
        a("POST", r"/_fake/webhooks", self.admin_configure_webhook)
        a("POST", r"/_fake/jobs/complete", self.admin_complete_jobs)
        a("GET", r"/_fake/seed", self.admin_seed)

    def __call__(self, req: Request) -> Response:
        """Answer one request (called from the server's handler threads)."""
        if req.path.startswith("/_fake/"):
            self.requests.add("admin")
            return self._dispatch(self.admin, req, {})
        kind = (
            "poll" if "/job_statuses/" in req.path else "read" if req.method == "GET" else "write"
        )
        self.requests.add(kind)
        self._complete_due_jobs()
        limits = self._rate_headers(req.path)
        fault = self.faults.decide(req.method, req.path)
        if fault is not None:
            self.requests.add("fault")
            fault.headers.update(limits)
            self._record_write(req, fault.status, faulted=True)
            return fault
        try:
            if limits.pop("_over", None):
                raise HttpError(
                    429,
                    {"error": "APIRateLimitExceeded", "description": "Rate limit exceeded"},
                    {"Retry-After": str(60 - int(self.clock.now()) % 60)},
                )
            user = self._authenticate(req)
            resp = self._dispatch(self.router, req, {"user": user})
        except HttpError as exc:
            resp = exc.response()
        resp.headers.update(limits)
        self._record_write(req, resp.status)
        return resp

    def _dispatch(self, router: Router, req: Request, extra: Mapping[str, Any]) -> Response:
        found = router.resolve(req.method, req.path)
        if found is None:
            if router.knows_path(req.path):
                return Response(405, {"error": "MethodNotAllowed", "description": req.method})
            return Response(404, {"error": "InvalidEndpoint", "description": "Not found"})
        handler, params = found
        try:
            with self.lock:
                return handler(req, **params, **extra)
        except HttpError as exc:
            return exc.response()

    def _record_write(self, req: Request, status: int, faulted: bool = False) -> None:
        if req.method in {"GET", "HEAD"}:
            return
        try:
            body = json.loads(req.body) if req.body else None
        except ValueError:
            body = req.body.decode(errors="replace")
        record = WriteRecord(
            req.method,
            req.path,
            dict(req.query),
            body,
            self.clock.now(),
            status,
            200 <= status < 300,
            faulted,
        )
        with self.lock:
            self.writes.append(record)

    def _rate_headers(self, path: str) -> dict[str, str]:
        # Every response carries X-Rate-Limit / X-Rate-Limit-Remaining (reference §3).
        minute = int(self.clock.now()) // 60
        with self.lock:
            m, total, exports = self._window
            if m != minute:
                total, exports = 0, 0
            total += 1
            exports += "/incremental/" in path
            self._window = (minute, total, exports)
        limit = self.config.rate_limit
        headers = {"X-Rate-Limit": str(limit), "X-Rate-Limit-Remaining": str(max(0, limit - total))}
        # Incremental exports allow 10 requests a minute (reference §1.1).
        if self.config.enforce_rate_limit and (
            total > limit or ("/incremental/" in path and exports > 10)
        ):
            headers["_over"] = "1"
        return headers

    def _authenticate(self, req: Request) -> User:
        """Basic ``{email}/token:{token}`` or ``Bearer {oauth token}`` (reference §5)."""
        header = req.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        user: User | None = None
        if scheme.lower() == "bearer" and hmac.compare_digest(value, self.config.oauth_token):
            user = self._admin()
        elif scheme.lower() == "basic":
            try:
                username, _, password = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                username, password = "", ""
            if username.endswith("/token") and hmac.compare_digest(password, self.config.api_token):
                email = username.removesuffix("/token").lower()
                user = next(
                    (
                        u
                        for u in self.store.users.values()
                        if u.email.lower() == email and u.role in ("agent", "admin")
                    ),
                    None,
                )
        if user is None:
            raise HttpError(401, UNAUTHORIZED, {"WWW-Authenticate": 'Basic realm="Web Password"'})
        return user

    def _admin(self) -> User:
        return next(u for u in self.store.users.values() if u.role == "admin")

    # -- rendering ---------------------------------------------------------------------

    def ticket_json(self, t: Ticket) -> J:
        """A ticket as Zendesk's API shows it."""
        values = t.custom_fields
        custom = [{"id": i, "value": values.get(i)} for i in self._custom_ids]
        return {
            "url": f"{self.base_url}/api/v2/tickets/{t.id}.json",
            "id": t.id,
            "external_id": None,
            "via": {"channel": t.via, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": iso_z(t.created_at),
            "updated_at": iso_z(t.updated_at),
            "generated_timestamp": t.updated_at,
            "type": t.type,
            "subject": t.subject,
            "raw_subject": t.subject,
            "description": t.description,
            "priority": t.priority,
            "status": t.status,
            "recipient": None,
            "requester_id": t.requester_id,
            "submitter_id": t.submitter_id,
            "assignee_id": t.assignee_id,
            "organization_id": t.organization_id,
            "group_id": t.group_id,
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "problem_id": None,
            "has_incidents": False,
            "is_public": True,
            "due_at": None,
            "tags": list(t.tags),
            "custom_fields": custom,
            "fields": custom,
            "satisfaction_rating": None,
            "sharing_agreement_ids": [],
            "followup_ids": [],
            "ticket_form_id": 360000000001,
            "brand_id": 360000000001,
            "allow_channelback": False,
            "allow_attachments": True,
            "from_messaging_channel": False,
        }

    def user_json(self, u: User) -> J:
        """A user; ``role`` tells agents from end-users."""
        return {
            "id": u.id,
            "url": f"{self.base_url}/api/v2/users/{u.id}.json",
            "name": u.name,
            "email": u.email,
            "role": u.role,
            "organization_id": u.organization_id,
            "default_group_id": u.default_group_id,
            "active": True,
            "verified": True,
            "time_zone": "UTC",
            "created_at": iso_z(u.created_at),
            "updated_at": iso_z(u.created_at),
        }

    def _child(self, e: ChildEvent, event_id: int, audit: Audit, stream: bool) -> J:
        out: J = {"id": event_id, "type": e.type}
        if e.type == "Comment":
            out.update(
                author_id=e.author_id,
                body=e.body,
                html_body=f"<p>{e.body}</p>",
                plain_body=e.body,
                public=e.public,
                attachments=[],
                audit_id=audit.id,
            )
        else:
            out.update(field_name=e.field_name, value=e.value)
            if e.type == "Change":
                out["previous_value"] = e.previous_value
        if stream:
            # The ticket-events stream names the kind ``event_type`` and carries the new
            # value under the field's own name too, e.g. {"status": "open"}.
            out["event_type"] = e.type
            out["via"] = audit.via
            out["via_reference_id"] = None
            out["created_at"] = iso_z(audit.created_at)
            if e.type != "Comment" and e.field_name:
                out[e.field_name] = e.value
        return out

    def audit_json(self, a: Audit) -> J:
        """An audit as ``GET /tickets/{id}/audits`` shows it."""
        return {
            "id": a.id,
            "ticket_id": a.ticket_id,
            "created_at": iso_z(a.created_at),
            "author_id": a.author_id,
            "metadata": {"system": {}, "custom": {}},
            "via": {"channel": a.via, "source": {"from": {}, "to": {}, "rel": None}},
            "events": [self._child(e, a.id * 100 + i, a, False) for i, e in enumerate(a.events)],
        }

    def _sideload(self, query: Mapping[str, str], user_ids: Iterable[int | None]) -> J:
        include = set(query.get("include", "").split(","))
        out: J = {}
        if "users" in include:
            ids = sorted({i for i in user_ids if i is not None and i in self.store.users})
            out["users"] = [self.user_json(self.store.users[i]) for i in ids]
        if "groups" in include:
            out["groups"] = [{"id": g.id, "name": g.name} for g in self.store.groups.values()]
        if "organizations" in include:
            out["organizations"] = [
                {"id": o.id, "name": o.name, "tags": o.tags}
                for o in self.store.organizations.values()
            ]
        return out

    def _ticket(self, ticket_id: str | int) -> Ticket:
        t = self.store.tickets.get(int(ticket_id))
        if t is None:
            raise _not_found()
        return t

    # -- reads -------------------------------------------------------------------------

    def get_me(self, req: Request, user: User) -> Response:
        """``GET /api/v2/users/me.json``."""
        return Response(200, {"user": self.user_json(user)})

    def get_user(self, req: Request, id: str, user: User) -> Response:
        """``GET /api/v2/users/{id}.json``."""
        u = self.store.users.get(int(id))
        if u is None:
            raise _not_found()
        return Response(200, {"user": self.user_json(u)})

    def get_users_many(self, req: Request, user: User) -> Response:
        """``GET /api/v2/users/show_many.json?ids=1,2``."""
        ids = [int(i) for i in req.query.get("ids", "").split(",") if i.strip().isdigit()]
        users = [self.user_json(self.store.users[i]) for i in ids if i in self.store.users]
        return Response(200, {"users": users, "next_page": None, "count": len(users)})

    def list_users(self, req: Request, user: User) -> Response:
        """``GET /api/v2/users.json`` (``role=`` filter; one page: the account is small)."""
        role = req.query.get("role")
        users = [self.user_json(u) for u in self.store.users.values() if role in (None, u.role)]
        return Response(200, {"users": users, "next_page": None, "count": len(users)})

    def list_groups(self, req: Request, user: User) -> Response:
        """``GET /api/v2/groups.json``."""
        groups = [{"id": g.id, "name": g.name} for g in self.store.groups.values()]
        return Response(200, {"groups": groups, "next_page": None, "count": len(groups)})

    def list_orgs(self, req: Request, user: User) -> Response:
        """``GET /api/v2/organizations.json``."""
        orgs = [
            {"id": o.id, "name": o.name, "tags": o.tags} for o in self.store.organizations.values()
        ]
        return Response(200, {"organizations": orgs, "next_page": None, "count": len(orgs)})

    def list_fields(self, req: Request, user: User) -> Response:
        """``GET /api/v2/ticket_fields.json``: system and custom fields with ids and titles."""
        fields = [
            {
                "id": f.id,
                "url": f"{self.base_url}/api/v2/ticket_fields/{f.id}.json",
                "type": f.type,
                "title": f.title,
                "raw_title": f.title,
                "active": True,
                "required": False,
                "removable": f.custom,
                "custom_field_options": [{"name": o.title(), "value": o} for o in f.options],
            }
            for f in self.store.fields
        ]
        return Response(
            200,
            {
                "ticket_fields": fields,
                "next_page": None,
                "previous_page": None,
                "count": len(fields),
            },
        )

    def get_ticket(self, req: Request, id: str, user: User) -> Response:
        """``GET /api/v2/tickets/{id}.json`` (``include=users`` sideloads)."""
        t = self._ticket(id)
        users = (t.requester_id, t.submitter_id, t.assignee_id)
        return Response(200, {"ticket": self.ticket_json(t), **self._sideload(req.query, users)})

    def get_tickets_many(self, req: Request, user: User) -> Response:
        """``GET /api/v2/tickets/show_many.json?ids=1,2`` (up to 100 ids)."""
        ids = [int(i) for i in req.query.get("ids", "").split(",") if i.strip().isdigit()]
        if len(ids) > MAX_BULK:
            raise self._too_many()
        tickets = [self.store.tickets[i] for i in ids if i in self.store.tickets]
        users = [u for t in tickets for u in (t.requester_id, t.submitter_id, t.assignee_id)]
        body = {
            "tickets": [self.ticket_json(t) for t in tickets],
            "next_page": None,
            "count": len(tickets),
            **self._sideload(req.query, users),
        }
        return Response(200, body)

    def get_audits(self, req: Request, id: str, user: User) -> Response:
        """``GET /api/v2/tickets/{id}/audits.json``: cursor paging with ``page[size]`` and
        ``page[after]``, else offset paging with ``page``; 100 per page at most."""
        t = self._ticket(id)
        audits = self.store.audits_by_ticket.get(t.id, [])
        users = [a.author_id for a in audits]
        url = f"{self.base_url}/api/v2/tickets/{t.id}/audits.json"
        size = self._int(
            req.query.get("page[size]") or req.query.get("per_page") or "100", "page[size]"
        )
        size = max(1, min(size, MAX_AUDIT_PAGE))
        if any(k.startswith("page[") for k in req.query):
            after = req.query.get("page[after]")
            start = 0 if not after else self._int(self._unb64(after), "page[after]")
            page = audits[start : start + size]
            more = start + size < len(audits)
            after_c = base64.b64encode(str(start + len(page)).encode()).decode()
            before_c = base64.b64encode(str(start).encode()).decode() if start else None
            body: J = {
                "audits": [self.audit_json(a) for a in page],
                "meta": {"has_more": more, "after_cursor": after_c, "before_cursor": before_c},
                "links": {
                    "next": f"{url}?page[size]={size}&page[after]={after_c}" if more else None,
                    "prev": None,
                },
            }
        else:
            n = max(1, self._int(req.query.get("page", "1"), "page"))
            page = audits[(n - 1) * size : n * size]
            more = n * size < len(audits)
            body = {
                "audits": [self.audit_json(a) for a in page],
                "count": len(audits),
                "next_page": f"{url}?page={n + 1}&per_page={size}" if more else None,
                "previous_page": f"{url}?page={n - 1}&per_page={size}" if n > 1 else None,
            }
        body.update(self._sideload(req.query, users))
        return Response(200, body)

    @staticmethod
    def _unb64(text: str) -> str:
        try:
            return base64.b64decode(text.encode()).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise _err(400, "InvalidPaginationParameter", "cursor is not valid") from None

    @staticmethod
    def _int(value: str, name: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise _err(400, "InvalidValue", f"{name} must be an integer") from None

    # -- incremental exports -----------------------------------------------------------

    def _per_page(self, req: Request) -> int:
        n = self._int(req.query.get("per_page", str(MAX_EXPORT_PAGE)), "per_page")
        return max(1, min(n, MAX_EXPORT_PAGE))

    def _start_time(self, req: Request) -> int:
        raw = req.query.get("start_time")
        if raw is None:
            raise _err(400, "InvalidValue", "start_time is required")
        start = self._int(raw, "start_time")
        if start > self.clock.now() - EXPORT_LAG:
            raise _err(
                400, "InvalidValue", "Too recent start_time. Use a start_time older than 1 minute"
            )
        return start

    def export_cursor(self, req: Request, user: User) -> Response:
        """``GET /api/v2/incremental/tickets/cursor.json``: ``start_time`` first, then
        ``cursor``; ordered by (updated time, id); the last minute is held back."""
        per_page = self._per_page(req)
        index = self.store.index
        cutoff = int(self.clock.now()) - EXPORT_LAG
        eligible_end = _bisect_right(index, (cutoff, 2**62))
        cursor = req.query.get("cursor")
        if cursor:
            ts, tid, before = decode_cursor(cursor)
        else:
            ts, tid, before = self._start_time(req), 0, False
        if before:  # backwards: the page that ends just before the cursor
            stop = _bisect_left(index, (ts, tid))
            begin = max(0, stop - per_page)
        else:
            begin = _bisect_right(index, (ts, tid))
            stop = min(begin + per_page, eligible_end)
        keys = index[begin:stop] if begin < stop else []
        end_of_stream = stop >= eligible_end
        after = encode_cursor(*keys[-1]) if keys else encode_cursor(ts, tid)
        before_c = encode_cursor(*keys[0], before=True) if keys and begin > 0 else None
        base = f"{self.base_url}/api/v2/incremental/tickets/cursor.json"
        extra = {k: v for k, v in req.query.items() if k in ("per_page", "include")}
        tickets = [self.store.tickets[i] for _, i in keys]
        users = [u for t in tickets for u in (t.requester_id, t.submitter_id, t.assignee_id)]
        body = {
            "tickets": [self.ticket_json(t) for t in tickets],
            "after_url": f"{base}?{urlencode({'cursor': after, **extra})}",
            "before_url": f"{base}?{urlencode({'cursor': before_c, **extra})}"
            if before_c
            else None,
            "after_cursor": after,
            "before_cursor": before_c,
            "end_of_stream": end_of_stream,
            **self._sideload(req.query, users),
        }
        return Response(200, body)

    def _time_page(
        self, keys: list[tuple[int, int]], start: int, per_page: int
    ) -> tuple[int, int, int, bool]:
        """Slice a time-based export page: ``(begin, stop, end_time, end_of_stream)``.

        Like Zendesk's, the next page starts at ``end_time`` inclusive, so the last
        second's items come again (duplicates, reference §1.1); a page is extended to the
        end of its last second, so it can be longer than ``per_page``.
        """
        cutoff = int(self.clock.now()) - EXPORT_LAG
        eligible_end = _bisect_right(keys, (cutoff, 2**62))
        begin = _bisect_left(keys, (start, 0))
        stop = min(begin + per_page, eligible_end)
        if begin >= stop:
            return begin, begin, start, True
        if stop >= eligible_end:
            return begin, stop, keys[stop - 1][0], True
        last_ts = keys[stop - 1][0]
        stop = min(_bisect_right(keys, (last_ts, 2**62)), eligible_end)
        # A page that is one second throughout would repeat forever: move past that second.
        end_time = last_ts + 1 if keys[begin][0] == last_ts else last_ts
        return begin, stop, end_time, stop >= eligible_end

    def export_tickets_time(self, req: Request, user: User) -> Response:
        """``GET /api/v2/incremental/tickets.json`` (time-based; duplicates possible)."""
        start = self._start_time(req)
        begin, stop, end_time, eos = self._time_page(self.store.index, start, self._per_page(req))
        tickets = [self.ticket_json(self.store.tickets[i]) for _, i in self.store.index[begin:stop]]
        url = f"{self.base_url}/api/v2/incremental/tickets.json?start_time={end_time}"
        return Response(
            200,
            {
                "tickets": tickets,
                "count": len(tickets),
                "end_time": end_time,
                "next_page": url,
                "end_of_stream": eos,
            },
        )

    def export_events(self, req: Request, user: User) -> Response:
        """``GET /api/v2/incremental/ticket_events.json``: every audit of every ticket since
        ``start_time``; comments only with ``include=comment_events``."""
        start = self._start_time(req)
        with_comments = "comment_events" in req.query.get("include", "").split(",")
        log, keys = self.store.audit_log, self.store.audit_keys
        begin, stop, end_time, eos = self._time_page(keys, start, self._per_page(req))
        events = []
        for a in log[begin:stop]:
            children = [
                self._child(e, a.id * 100 + i, a, True)
                for i, e in enumerate(a.events)
                if with_comments or e.type != "Comment"
            ]
            events.append(
                {
                    "id": a.id,
                    "ticket_id": a.ticket_id,
                    "timestamp": a.created_at,
                    "created_at": iso_z(a.created_at),
                    "updater_id": a.author_id,
                    "via": a.via,
                    "system": {},
                    "metadata": {},
                    "event_type": "Audit",
                    "merged_ticket_ids": [],
                    "child_events": children,
                }
            )
        query = {
            "start_time": end_time,
            **({"include": req.query["include"]} if "include" in req.query else {}),
        }
        url = f"{self.base_url}/api/v2/incremental/ticket_events.json?{urlencode(query)}"
        return Response(
            200,
            {
                "ticket_events": events,
                "count": len(events),
                "end_time": end_time,
                "next_page": url,
                "end_of_stream": eos,
            },
        )

    # -- writes ------------------------------------------------------------------------

    def put_ticket(self, req: Request, id: str, user: User) -> Response:
        """``PUT /api/v2/tickets/{id}.json`` with ``{"ticket": {...}}``."""
        payload = req.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("ticket"), dict):
            raise _err(400, "InvalidValue", 'The body must be {"ticket": {...}}')
        t, audit = self.update_ticket(int(id), payload["ticket"], user.id, "api")
        return Response(
            200, {"ticket": self.ticket_json(t), "audit": self.audit_json(audit) if audit else None}
        )

    def update_ticket(
        self, ticket_id: int, data: Mapping[str, Any], author_id: int, via: str
    ) -> tuple[Ticket, Audit | None]:
        """Validate and apply one ticket update; notify webhooks.

        Raises:
            HttpError: 404, 409 (safe_update conflict) or 422 (invalid values).
        """
        t = self._ticket(ticket_id)
        if t.status == "closed":
            raise _invalid(
                "status", "Status: closed prevents ticket update", "ClosedPreventsUpdate"
            )
        if data.get("safe_update"):
            stamp = data.get("updated_stamp")
            if not isinstance(stamp, str):
                raise _invalid("updated_stamp", "updated_stamp is required with safe_update")
            try:
                stale = parse_iso_z(stamp) != t.updated_at
            except ValueError:
                raise _invalid("updated_stamp", "updated_stamp is not a time") from None
            if stale:
                raise _err(
                    409,
                    "UpdateConflict",
                    "Safe Update prevented the update due to outdated ticket data. "
                    "Please fetch the latest ticket data and try again.",
                )
        changes = self._changes(t, data)
        comment = self._comment(data.get("comment"))
        author = author_id
        if comment is not None and isinstance(data["comment"].get("author_id"), int):
            author = data["comment"]["author_id"]
        audit = self.store.record(t, int(self.clock.now()), author, via, changes, comment)
        if audit is not None:
            self._notify(t, audit)
        return t, audit

    def _changes(self, t: Ticket, data: Mapping[str, Any]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if "status" in data:
            if data["status"] not in STATUSES:
                raise _invalid("status", f"Status: {data['status']!r} is not a valid status")
            if data["status"] == "new" and t.status != "new":
                raise _invalid("status", "Status: cannot be set back to new")
            changes["status"] = data["status"]
        if "priority" in data:
            if data["priority"] not in (*PRIORITIES, None, ""):
                raise _invalid("priority", f"Priority: {data['priority']!r} is not valid")
            changes["priority"] = data["priority"] or None
        if "type" in data:
            if data["type"] not in (*TYPES, None, ""):
                raise _invalid("type", f"Type: {data['type']!r} is not valid")
            changes["type"] = data["type"] or None
        if "subject" in data:
            changes["subject"] = str(data["subject"])
        if "assignee_id" in data:
            a = data["assignee_id"]
            if a is not None and a not in self.store.agent_ids():
                raise _invalid("assignee_id", "Assignee: is not an agent")
            changes["assignee_id"] = a
        if "group_id" in data:
            g = data["group_id"]
            if g is not None and g not in self.store.groups:
                raise _invalid("group_id", "Group: is invalid")
            changes["group_id"] = g
        tags = list(t.tags)
        if "tags" in data:  # replaces the whole list (reference §2.1)
            tags = self._tag_list(data["tags"])
        for tag in self._tag_list(data.get("additional_tags", [])):
            if tag not in tags:
                tags.append(tag)
        remove = set(self._tag_list(data.get("remove_tags", [])))
        changes["tags"] = [x for x in tags if x not in remove]
        for cf in data.get("custom_fields") or []:
            if not isinstance(cf, dict) or "id" not in cf:
                raise _invalid("custom_fields", "Each custom field needs an id and a value")
            f = self.store.field_by_id(int(cf["id"]))
            if f is None or not f.custom:
                continue  # Zendesk ignores ids it does not know
            value = cf.get("value")
            if f.type == "tagger" and value not in (None, "", *f.options):
                raise _invalid(str(f.id), f"{f.title}: {value!r} is not an option")
            changes[str(f.id)] = None if value == "" else value
        return changes

    @staticmethod
    def _tag_list(value: Any) -> list[str]:
        if isinstance(value, str):
            value = value.split()  # Zendesk splits a tag string on spaces
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise _invalid("tags", "Tags: must be a list of strings")
        out: list[str] = []
        for x in value:
            if x and x not in out:
                out.append(x)
        return out

    @staticmethod
    def _comment(raw: Any) -> tuple[str, bool] | None:
        if raw is None:
            return None
        if not isinstance(raw, dict) or not (raw.get("body") or raw.get("html_body")):
            raise _invalid("comment", "Comment: body is required")
        return str(raw.get("body") or raw.get("html_body")), bool(raw.get("public", True))

    def tags(self, req: Request, id: str, user: User) -> Response:
        """``/api/v2/tickets/{id}/tags.json``: GET lists, POST sets, PUT adds, DELETE removes."""
        t = self._ticket(id)
        if req.method == "GET":
            return Response(200, {"tags": list(t.tags)})
        payload = req.json()
        if not isinstance(payload, dict):
            raise _err(400, "InvalidValue", 'The body must be {"tags": [...]}')
        update: J = {k: payload[k] for k in ("safe_update", "updated_stamp") if k in payload}
        key = {"POST": "tags", "PUT": "additional_tags", "DELETE": "remove_tags"}[req.method]
        update[key] = payload.get("tags", [])
        t, _ = self.update_ticket(t.id, update, user.id, "api")
        return Response(201 if req.method == "POST" else 200, {"tags": list(t.tags)})

    def _too_many(self) -> HttpError:
        return _err(
            400, "TooManyValues", "You cannot specify more than 100 values", max_count=MAX_BULK
        )

    def update_many(self, req: Request, user: User) -> Response:
        """``PUT /api/v2/tickets/update_many.json``: ``{"tickets": [...]}`` or ``?ids=`` with
        one ``{"ticket": {...}}``; returns a job status (reference §2.1)."""
        payload = req.json()
        if not isinstance(payload, dict):
            raise _err(400, "InvalidValue", "The body must be a JSON object")
        updates: list[tuple[int, J]] = []
        if "ids" in req.query:
            ids = [int(i) for i in req.query["ids"].split(",") if i.strip().isdigit()]
            if len(ids) > MAX_BULK:
                raise self._too_many()
            if not isinstance(payload.get("ticket"), dict):
                raise _err(400, "InvalidValue", 'With ?ids= the body must be {"ticket": {...}}')
            updates = [(i, dict(payload["ticket"])) for i in ids]
        else:
            items = payload.get("tickets")
            if not isinstance(items, list):
                raise _err(400, "InvalidValue", 'The body must be {"tickets": [...]}')
            if len(items) > MAX_BULK:
                raise self._too_many()
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                    raise _err(400, "InvalidValue", "Each ticket needs an integer id")
                updates.append((item["id"], {k: v for k, v in item.items() if k != "id"}))
        job = Job(uuid.uuid4().hex, updates, user.id, time.monotonic())
        self.jobs[job.id] = job
        return Response(200, {"job_status": self.job_json(job)})

    def job_json(self, job: Job) -> J:
        """A job status as Zendesk shows it."""
        total = len(job.updates)
        progress = {"queued": None, "working": total // 2, "completed": total}[job.status]
        return {
            "id": job.id,
            "url": f"{self.base_url}/api/v2/job_statuses/{job.id}.json",
            "total": total,
            "progress": progress,
            "status": job.status,
            "message": "Completed at " + iso_z(self.clock.now())
            if job.status == "completed"
            else None,
            "results": job.results,
        }

    def get_job(self, req: Request, id: str, user: User) -> Response:
        """``GET /api/v2/job_statuses/{id}.json``: queued, working..., completed, one step
        per poll (``AppConfig.job_polls``)."""
        job = self.jobs.get(id)
        if job is None:
            raise _not_found()
        job.polls += 1
        if job.status != "completed":
            if job.polls >= self.config.job_polls:
                self._run_job(job)
            elif job.polls > 1:
                job.status = "working"
        return Response(200, {"job_status": self.job_json(job)})

    def _run_job(self, job: Job) -> None:
        results: list[J] = []
        for ticket_id, data in job.updates:
            try:
                self.update_ticket(ticket_id, data, job.author_id, "api")
                results.append(
                    {"id": ticket_id, "action": "update", "status": "Updated", "success": True}
                )
            except HttpError as exc:
                body = exc.body if isinstance(exc.body, dict) else {}
                results.append(
                    {
                        "id": ticket_id,
                        "action": "update",
                        "status": "Failed",
                        "success": False,
                        "error": body.get("error", "Failed"),
                        "details": body.get("description", ""),
                    }
                )
        job.status, job.results = "completed", results

    def _complete_due_jobs(self) -> None:
        now = time.monotonic()
        with self.lock:
            for job in self.jobs.values():
                if (
                    job.status != "completed"
                    and now - job.started >= self.config.job_complete_after
                ):
                    self._run_job(job)

    def complete_jobs(self) -> None:
        """Complete every pending job now."""
        with self.lock:
            for job in self.jobs.values():
                if job.status != "completed":
                    self._run_job(job)

    # -- simulated platform activity ---------------------------------------------------

    def simulate(self, kind: str, ticket_id: int | None = None, **params: Any) -> J:
        """Make a change as the helpdesk's users would; see docs for the kinds.

        Raises:
            HttpError: 404/422 as for an API write, 400 for an unknown kind.
        """
        with self.lock:
            if kind == "create":
                return self._simulate_create(params)
            if ticket_id is None:
                raise _err(400, "InvalidValue", "ticket_id is required")
            t = self._ticket(ticket_id)
            agent = params.get("author_id") or t.assignee_id or self.store.agent_ids()[0]
            body = params.get("body")
            data: J
            if kind == "requester_reply":
                data = {
                    "comment": {
                        "body": body or "Any news on this?",
                        "public": True,
                        "author_id": t.requester_id,
                    }
                }
                if t.status in ("pending", "solved"):  # a customer's reply reopens
                    data["status"] = "open"
            elif kind == "agent_reply":
                data = {
                    "comment": {
                        "body": body or "Thanks, we are on it.",
                        "public": True,
                        "author_id": agent,
                    }
                }
                if params.get("status"):
                    data["status"] = params["status"]
                elif t.status == "new":
                    data["status"] = "open"
            elif kind == "internal_note":
                data = {
                    "comment": {
                        "body": body or "Internal note.",
                        "public": False,
                        "author_id": agent,
                    }
                }
            elif kind in ("status", "priority", "assignee_id", "group_id", "tags"):
                data = {kind: params.get("value")}
            elif kind == "update":
                data = dict(params.get("ticket") or {})
            else:
                raise _err(400, "InvalidValue", f"unknown simulate kind {kind!r}")
            t, audit = self.update_ticket(t.id, data, agent, "web")
            return {
                "ticket": self.ticket_json(t),
                "audit": self.audit_json(audit) if audit else None,
            }

    def _simulate_create(self, params: Mapping[str, Any]) -> J:
        requester = params.get("requester_id") or next(
            u.id for u in self.store.users.values() if u.role == "end-user"
        )
        if requester not in self.store.users:
            raise _invalid("requester_id", "Requester: unknown user")
        now = int(self.clock.now())
        t = Ticket(
            self.store.next_ticket_id,
            params.get("subject", "New request"),
            params.get("body", "Please help."),
            "new",
            params.get("priority"),
            params.get("type"),
            requester,
            requester,
            None,
            params.get("group_id"),
            self.store.users[requester].organization_id,
            list(params.get("tags", [])),
            {},
            now,
            now,
            "web",
        )
        audit = self.store.create_ticket(t, requester, "web")
        self._notify(t, audit)
        return {"ticket": self.ticket_json(t), "audit": self.audit_json(audit)}

    # -- webhooks ----------------------------------------------------------------------

    def configure_webhook(self, config: WebhookConfig | None) -> None:
        """Send event webhooks to ``config.url`` (None stops sending)."""
        if self.sender is not None:
            self.sender.stop()
            self.sender = None
        self.webhook = config
        if config is not None:
            self.sender = WebhookSender(
                config.url,
                self._signer(config),
                duplicate_rate=config.duplicate_rate,
                seed=config.seed,
            )

    @staticmethod
    def _signer(config: WebhookConfig) -> Callable[[bytes], dict[str, str]]:
        key = config.secret.encode()  # the secret as-is, UTF-8: not base64-decoded (§4)

        def sign(body: bytes) -> dict[str, str]:
            ts = iso_z(time.time())  # real time: receivers check freshness on their clock
            digest = hmac.new(key, ts.encode() + body, hashlib.sha256).digest()
            return {
                "X-Zendesk-Webhook-Id": config.webhook_id,
                "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
                "X-Zendesk-Webhook-Signature-Timestamp": ts,
            }

        return sign

    def _notify(self, t: Ticket, audit: Audit) -> None:
        if self.sender is None:
            return
        seq = uuid.uuid4().hex.upper()
        envelopes = list(self._events(t, audit))
        for pos, (kind, event) in enumerate(envelopes, start=1):
            event["meta"] = {"sequence": {"id": seq, "position": pos, "total": len(envelopes)}}
            event_id = str(uuid.uuid4())
            envelope = {
                "type": f"zen:event-type:ticket.{kind}",
                "account_id": self.config.account_id,
                "id": event_id,
                "time": iso_z(audit.created_at),
                "zendesk_event_version": "2022-11-06",
                "subject": f"zen:ticket:{t.id}",
                "detail": self._detail(t, audit.author_id),
                "event": event,
            }
            self.sender.send(event_id, json.dumps(envelope).encode())

    def _events(self, t: Ticket, audit: Audit) -> Iterable[tuple[str, J]]:
        names = {
            "status": "status_changed",
            "priority": "priority_changed",
            "assignee_id": "agent_assignment_changed",
            "group_id": "group_assignment_changed",
            "subject": "subject_changed",
            "type": "type_changed",
        }
        for e in audit.events:
            if e.type == "Create":
                if e.field_name == "status":
                    yield "created", {}
            elif e.type == "Comment":
                author = self.store.users.get(e.author_id or 0)
                yield (
                    "comment_added",
                    {
                        "comment": {
                            "id": str(audit.id),
                            "body": e.body,
                            "is_public": e.public,
                            "author": {
                                "id": str(e.author_id),
                                "name": author.name if author else "",
                                "is_staff": bool(author and author.role != "end-user"),
                            },
                        }
                    },
                )
            elif e.field_name == "tags":
                old, new = set(e.previous_value or []), set(e.value or [])
                yield (
                    "tags_changed",
                    {"tags_added": sorted(new - old), "tags_removed": sorted(old - new)},
                )
            elif e.field_name and e.field_name.isdigit():
                f = self.store.field_by_id(int(e.field_name))
                yield (
                    "custom_field_changed",
                    {
                        "current": e.value,
                        "previous": e.previous_value,
                        "custom_field": {
                            "id": e.field_name,
                            "title": f.title if f else "",
                            "type": f.type if f else "",
                        },
                    },
                )
            elif e.field_name in names:
                yield (
                    names[e.field_name],
                    {"current": _wh(e.value), "previous": _wh(e.previous_value)},
                )

    def _detail(self, t: Ticket, actor: int) -> J:
        # Event payloads give ids as strings and enum values in upper case.
        return {
            "actor_id": str(actor),
            "assignee_id": _wh(t.assignee_id),
            "brand_id": "360000000001",
            "created_at": iso_z(t.created_at),
            "custom_status": _wh(t.status),
            "description": t.description,
            "external_id": None,
            "form_id": "360000000001",
            "group_id": _wh(t.group_id),
            "id": str(t.id),
            "is_public": True,
            "organization_id": _wh(t.organization_id),
            "priority": _wh(t.priority),
            "requester_id": str(t.requester_id),
            "status": _wh(t.status),
            "subject": t.subject,
            "submitter_id": str(t.submitter_id),
            "tags": list(t.tags),
            "type": _wh(t.type),
            "updated_at": iso_z(t.updated_at),
            "via": {"channel": t.via},
        }

    # -- admin surface -----------------------------------------------------------------

    def admin_health(self, req: Request) -> Response:
        """``GET /_fake/health``."""
        now = self.clock.now()
        return Response(
            200,
            {
                "ok": True,
                "base_url": self.base_url,
                "now": iso_z(now),
                "tickets": len(self.store.tickets),
            },
        )

    def admin_writes(self, req: Request) -> Response:
        """``GET /_fake/writes``: every write request received."""
        return Response(200, {"writes": [w.to_json() for w in self.writes]})

    def admin_clear_writes(self, req: Request) -> Response:
        """``DELETE /_fake/writes``."""
        self.writes.clear()
        return Response(204)

    def admin_requests(self, req: Request) -> Response:
        """``GET /_fake/requests``: counts by kind and injected faults by status."""
        return Response(
            200,
            {
                "requests": self.requests.snapshot(),
                "faults_injected": {str(k): v for k, v in self.faults.injected.items()},
            },
        )

    def admin_get_faults(self, req: Request) -> Response:
        """``GET /_fake/faults``."""
        return Response(200, {"faults": self.faults.policy.to_json()})

    def admin_set_faults(self, req: Request) -> Response:
        """``POST /_fake/faults`` with the keyword arguments of ``set_faults``."""
        body = req.json() or {}
        try:
            self.faults.configure(
                FaultPolicy(
                    rate=float(body.get("rate", 0.0)),
                    statuses=tuple(int(s) for s in body.get("statuses", (429,))),
                    retry_after=int(body.get("retry_after", 1)),
                    methods=frozenset(m.upper() for m in body["methods"])
                    if body.get("methods")
                    else None,
                    path_pattern=body.get("path_pattern"),
                    seed=int(body.get("seed", 0)),
                )
            )
        except (TypeError, ValueError) as exc:
            raise _err(400, "InvalidValue", str(exc)) from None
        return Response(200, {"faults": self.faults.policy.to_json()})

    def admin_reset_faults(self, req: Request) -> Response:
        """``DELETE /_fake/faults``."""
        self.faults.reset()
        return Response(200, {"faults": self.faults.policy.to_json()})

    def admin_simulate(self, req: Request) -> Response:
        """``POST /_fake/simulate`` ``{"kind": ..., "ticket_id": ..., ...}``."""
        body = dict(req.json() or {})
        kind = str(body.pop("kind", ""))
        ticket_id = body.pop("ticket_id", None)
        return Response(200, self.simulate(kind, ticket_id, **body))

    def admin_clock(self, req: Request) -> Response:
        """``GET``/``POST /_fake/clock`` (``{"advance": seconds}`` or ``{"set": "ISO"}``)."""
        body = req.json() or {} if req.method == "POST" else {}
        try:
            if "advance" in body:
                self.clock.advance(float(body["advance"]))
            if "set" in body:
                self.clock.set(parse_iso_z(str(body["set"])))
        except (TypeError, ValueError) as exc:
            raise _err(400, "InvalidValue", str(exc)) from None
        now = self.clock.now()
        return Response(200, {"now": iso_z(now), "unix": int(now)})

    def admin_webhooks(self, req: Request) -> Response:
        """``GET /_fake/webhooks``: every delivery attempt."""
        deliveries = list(self.sender.deliveries) if self.sender else []
        return Response(200, {"deliveries": [d.to_json() for d in deliveries]})

    def admin_configure_webhook(self, req: Request) -> Response:
        """``POST /_fake/webhooks`` ``{"url", "secret", "duplicate_rate"}`` (url null stops)."""
        body = req.json() or {}
        if not body.get("url"):
            self.configure_webhook(None)
        else:
            self.configure_webhook(
                WebhookConfig(
                    str(body["url"]),
                    str(body.get("secret", "")),
                    duplicate_rate=float(body.get("duplicate_rate", 0.0)),
                    seed=int(body.get("seed", 0)),
                )
            )
        return Response(200, {"url": body.get("url")})

    def admin_complete_jobs(self, req: Request) -> Response:
        """``POST /_fake/jobs/complete``."""
        self.complete_jobs()
        return Response(200, {"jobs": [self.job_json(j) for j in self.jobs.values()]})

    def admin_seed(self, req: Request) -> Response:
        """``GET /_fake/seed``: the account in the seed-file format."""
        return Response(200, self.store.to_seed(self.clock.now()))


def _wh(value: Any) -> str | None:
    """A value as webhook event payloads show it: ids as strings, enums upper-cased."""
    if value is None:
        return None
    if isinstance(value, int):
        return str(value)
    return str(value).upper()


_bisect_left = bisect.bisect_left
_bisect_right = bisect.bisect_right
