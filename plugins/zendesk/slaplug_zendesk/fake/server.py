"""The fake Zendesk's HTTP behaviour: auth, routes, paging, writes, jobs, webhooks, faults.

:class:`ZendeskApp` is the app :class:`~slaplug.testing.fakeserver.ServerThread` serves.
Each behaviour follows ../shared/reference/helpdesk-apis.md; docs/testing/fake-zendesk.md
cites the source for each. One lock guards the account: the fake favours being obviously
consistent over being concurrent.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slaplug.testing.fakeserver import (
    FakeClock,
    FaultInjector,
    HttpError,
    Request,
    RequestCounter,
    Response,
    Router,
    WriteRecord,
    iso_z,
    parse_iso_z,
    write_record,
)
from slaplug_zendesk.fake.admin import ZendeskAdmin
from slaplug_zendesk.fake.data import (
    PRIORITIES,
    STATUSES,
    TYPES,
    Audit,
    Ticket,
    User,
    ZendeskStore,
)
from slaplug_zendesk.fake.exports import ZendeskExports
from slaplug_zendesk.fake.render import (
    AppConfig,
    J,
    err,
    invalid,
    invalid_date,
    is_zendesk_date,
    not_found,
)
from slaplug_zendesk.fake.webhooks import WebhookConfig, ZendeskWebhooks

__all__ = ["AppConfig", "Job", "WebhookConfig", "ZendeskApp"]

_ID = r"(?P<id>\d+)(?:\.json)?"
MAX_AUDIT_PAGE = 100  # audits: at most 100 per page (reference §1.1)
MAX_BULK = 100  # update_many: at most 100 tickets (reference §2.1)
UNAUTHORIZED = {"error": "Couldn't authenticate you"}  # reference §3, §5


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


class ZendeskApp(ZendeskExports, ZendeskWebhooks):
    """Serves the Zendesk Support API subset slaplug uses, plus the ``/_fake/`` admin surface."""

    def __init__(self, store: ZendeskStore, clock: FakeClock, config: AppConfig) -> None:
        super().__init__(store, clock, config)
        self.lock = threading.RLock()
        self.faults = FaultInjector()
        self.requests = RequestCounter()
        self.writes: list[WriteRecord] = []
        self.jobs: dict[str, Job] = {}
        self._window: tuple[int, int, int] = (0, 0, 0)  # minute, all requests, exports
        self.router = Router()
        self.admin = Router()
        self._routes()

    # -- routing -----------------------------------------------------------------------

    def _routes(self) -> None:
        r = self.router.add
        ZendeskAdmin(self).register(self.admin)
        v2 = "/api/v2"
        r("GET", rf"{v2}/users/me(?:\.json)?", self.get_me)
        r("GET", rf"{v2}/users/show_many(?:\.json)?", self.get_users_many)
        r("GET", rf"{v2}/users/{_ID}", self.get_user)
        r("GET", rf"{v2}/users(?:\.json)?", self.list_users)
        r("GET", rf"{v2}/groups(?:\.json)?", self.list_groups)
        r("GET", rf"{v2}/organizations/show_many(?:\.json)?", self.get_orgs_many)
        r("GET", rf"{v2}/organizations(?:\.json)?", self.list_orgs)
        r("GET", rf"{v2}/ticket_fields(?:\.json)?", self.list_fields)
        r("GET", rf"{v2}/tickets/show_many(?:\.json)?", self.get_tickets_many)
        r("PUT", rf"{v2}/tickets/update_many(?:\.json)?", self.update_many)
        r("GET", rf"{v2}/tickets/{_ID}", self.get_ticket)
        r("PUT", rf"{v2}/tickets/{_ID}", self.put_ticket)
        r("GET", rf"{v2}/tickets/(?P<id>\d+)/audits(?:\.json)?", self.get_audits)
        for method in ("GET", "POST", "PUT", "DELETE"):
            r(method, rf"{v2}/tickets/(?P<id>\d+)/tags(?:\.json)?", self.tags)
        r("GET", rf"{v2}/job_statuses(?:\.json)?", self.list_jobs)
        r("GET", rf"{v2}/job_statuses/(?P<id>\w+)(?:\.json)?", self.get_job)
        r("GET", rf"{v2}/incremental/tickets/cursor(?:\.json)?", self.export_cursor)
        r("GET", rf"{v2}/incremental/tickets(?:\.json)?", self.export_tickets_time)
        r("GET", rf"{v2}/incremental/ticket_events(?:\.json)?", self.export_events)

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
        if fault is not None and not fault.after_apply:
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
        if fault is not None:  # served, and the answer lost on its way back
            self._record_write(req, fault.status, faulted=True, applied=resp.status)
            return fault
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

    def _record_write(
        self, req: Request, status: int, faulted: bool = False, applied: int | None = None
    ) -> None:
        if req.method in {"GET", "HEAD"}:
            return
        record = write_record(req, self.clock.now(), status, faulted, applied)
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

    # -- reads -------------------------------------------------------------------------

    def get_me(self, req: Request, user: User) -> Response:
        """``GET /api/v2/users/me.json``."""
        return Response(200, {"user": self.user_json(user)})

    def get_user(self, req: Request, id: str, user: User) -> Response:
        """``GET /api/v2/users/{id}.json``."""
        u = self.store.users.get(int(id))
        if u is None:
            raise not_found()
        return Response(200, {"user": self.user_json(u)})

    def get_users_many(self, req: Request, user: User) -> Response:
        """``GET /api/v2/users/show_many.json?ids=1,2``."""
        ids = [int(i) for i in req.query.get("ids", "").split(",") if i.strip().isdigit()]
        users = [self.user_json(self.store.users[i]) for i in ids if i in self.store.users]
        return Response(200, {"users": users, "next_page": None, "count": len(users)})

    def get_orgs_many(self, req: Request, user: User) -> Response:
        """``GET /api/v2/organizations/show_many.json?ids=1,2`` (Zendesk's "Show Many
        Organizations", ``ids``: at most 100); unknown ids are left out."""
        ids = [int(i) for i in req.query.get("ids", "").split(",") if i.strip().isdigit()]
        if len(ids) > MAX_BULK:
            raise self._too_many()
        orgs = [
            {"id": o.id, "name": o.name, "tags": o.tags}
            for o in (self.store.organizations.get(i) for i in ids)
            if o is not None
        ]
        return Response(200, {"organizations": orgs, "next_page": None, "count": len(orgs)})

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
        loads = self._sideload(req.query, users, [t.organization_id])
        return Response(200, {"ticket": self.ticket_json(t), **loads})

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
            **self._sideload(req.query, users, [t.organization_id for t in tickets]),
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

    # -- writes ------------------------------------------------------------------------

    def put_ticket(self, req: Request, id: str, user: User) -> Response:
        """``PUT /api/v2/tickets/{id}.json`` with ``{"ticket": {...}}``."""
        payload = req.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("ticket"), dict):
            raise err(400, "InvalidValue", 'The body must be {"ticket": {...}}')
        # additional_tags / remove_tags are documented for Update Many only; here Zendesk
        # ignores them as any unknown key (reference §1.1, §2.1), so tag_ops stays off.
        t, audit = self.update_ticket(int(id), payload["ticket"], user.id, "api")
        return Response(
            200, {"ticket": self.ticket_json(t), "audit": self.audit_json(audit) if audit else None}
        )

    def update_ticket(
        self,
        ticket_id: int,
        data: Mapping[str, Any],
        author_id: int,
        via: str,
        *,
        tag_ops: bool = False,
    ) -> tuple[Ticket, Audit | None]:
        """Validate and apply one ticket update; notify webhooks.

        ``tag_ops`` honours ``additional_tags`` / ``remove_tags``, which Zendesk documents for
        Update Many (and which the Tags endpoints amount to); anywhere else they are unknown
        keys and ignored, as Zendesk ignores them, so a tag sent that way is silently lost.

        Raises:
            HttpError: 404, 409 (safe_update conflict) or 422 (invalid values).
        """
        t = self._ticket(ticket_id)
        if t.status == "closed":
            raise invalid("status", "Status: closed prevents ticket update", "ClosedPreventsUpdate")
        if data.get("safe_update"):
            stamp = data.get("updated_stamp")
            if not isinstance(stamp, str):
                raise invalid("updated_stamp", "updated_stamp is required with safe_update")
            try:
                stale = parse_iso_z(stamp) != t.updated_at
            except ValueError:
                raise invalid("updated_stamp", "updated_stamp is not a time") from None
            if stale:
                raise err(
                    409,
                    "UpdateConflict",
                    "Safe Update prevented the update due to outdated ticket data. "
                    "Please fetch the latest ticket data and try again.",
                )
        changes = self._changes(t, data, tag_ops)
        comment = self._comment(data.get("comment"))
        author = author_id
        if comment is not None and isinstance(data["comment"].get("author_id"), int):
            author = data["comment"]["author_id"]
        audit = self.store.record(t, int(self.clock.now()), author, via, changes, comment)
        if audit is not None:
            self._notify(t, audit)
        return t, audit

    def _changes(self, t: Ticket, data: Mapping[str, Any], tag_ops: bool) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if "status" in data:
            if data["status"] not in STATUSES:
                raise invalid("status", f"Status: {data['status']!r} is not a valid status")
            if data["status"] == "new" and t.status != "new":
                raise invalid("status", "Status: cannot be set back to new")
            changes["status"] = data["status"]
        if "priority" in data:
            if data["priority"] not in (*PRIORITIES, None, ""):
                raise invalid("priority", f"Priority: {data['priority']!r} is not valid")
            changes["priority"] = data["priority"] or None
        if "type" in data:
            if data["type"] not in (*TYPES, None, ""):
                raise invalid("type", f"Type: {data['type']!r} is not valid")
            changes["type"] = data["type"] or None
        if "subject" in data:
            changes["subject"] = str(data["subject"])
        if "assignee_id" in data:
            a = data["assignee_id"]
            if a is not None and a not in self.store.agent_ids():
                raise invalid("assignee_id", "Assignee: is not an agent")
            changes["assignee_id"] = a
        if "group_id" in data:
            g = data["group_id"]
            if g is not None and g not in self.store.groups:
                raise invalid("group_id", "Group: is invalid")
            changes["group_id"] = g
        tags = list(t.tags)
        if "tags" in data:  # replaces the whole list (reference §2.1)
            tags = self._tag_list(data["tags"])
        if tag_ops:
            for tag in self._tag_list(data.get("additional_tags", [])):
                if tag not in tags:
                    tags.append(tag)
            remove = set(self._tag_list(data.get("remove_tags", [])))
            tags = [x for x in tags if x not in remove]
        changes["tags"] = tags
        for cf in data.get("custom_fields") or []:
            if not isinstance(cf, dict) or "id" not in cf:
                raise invalid("custom_fields", "Each custom field needs an id and a value")
            f = self.store.field_by_id(int(cf["id"]))
            if f is None or not f.custom:
                continue  # Zendesk ignores ids it does not know
            value = cf.get("value")
            if f.type == "tagger" and value not in (None, "", *f.options):
                raise invalid(str(f.id), f"{f.title}: {value!r} is not an option")
            if f.type == "date" and value not in (None, "") and not is_zendesk_date(value):
                raise invalid_date(f)
            changes[str(f.id)] = None if value == "" else value
        return changes

    @staticmethod
    def _tag_list(value: Any) -> list[str]:
        if isinstance(value, str):
            value = value.split()  # Zendesk splits a tag string on spaces
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise invalid("tags", "Tags: must be a list of strings")
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
            raise invalid("comment", "Comment: body is required")
        return str(raw.get("body") or raw.get("html_body")), bool(raw.get("public", True))

    def tags(self, req: Request, id: str, user: User) -> Response:
        """``/api/v2/tickets/{id}/tags.json``: GET lists, POST sets, PUT adds, DELETE removes."""
        t = self._ticket(id)
        if req.method == "GET":
            return Response(200, {"tags": list(t.tags)})
        payload = req.json()
        if not isinstance(payload, dict):
            raise err(400, "InvalidValue", 'The body must be {"tags": [...]}')
        update: J = {k: payload[k] for k in ("safe_update", "updated_stamp") if k in payload}
        key = {"POST": "tags", "PUT": "additional_tags", "DELETE": "remove_tags"}[req.method]
        update[key] = payload.get("tags", [])
        t, _ = self.update_ticket(t.id, update, user.id, "api", tag_ops=True)
        return Response(201 if req.method == "POST" else 200, {"tags": list(t.tags)})

    def _too_many(self) -> HttpError:
        return err(
            400, "TooManyValues", "You cannot specify more than 100 values", max_count=MAX_BULK
        )

    def update_many(self, req: Request, user: User) -> Response:
        """``PUT /api/v2/tickets/update_many.json``: ``{"tickets": [...]}`` or ``?ids=`` with
        one ``{"ticket": {...}}``; returns a job status (reference §2.1)."""
        payload = req.json()
        if not isinstance(payload, dict):
            raise err(400, "InvalidValue", "The body must be a JSON object")
        updates: list[tuple[int, J]] = []
        if "ids" in req.query:
            ids = [int(i) for i in req.query["ids"].split(",") if i.strip().isdigit()]
            if len(ids) > MAX_BULK:
                raise self._too_many()
            if not isinstance(payload.get("ticket"), dict):
                raise err(400, "InvalidValue", 'With ?ids= the body must be {"ticket": {...}}')
            updates = [(i, dict(payload["ticket"])) for i in ids]
        else:
            items = payload.get("tickets")
            if not isinstance(items, list):
                raise err(400, "InvalidValue", 'The body must be {"tickets": [...]}')
            if len(items) > MAX_BULK:
                raise self._too_many()
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                    raise err(400, "InvalidValue", "Each ticket needs an integer id")
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

    def list_jobs(self, req: Request, user: User) -> Response:
        """``GET /api/v2/job_statuses.json``: the account's recent jobs, newest first (at most
        100; Zendesk keeps job statuses for a day). Listing does not advance a job."""
        jobs = [self.job_json(j) for j in reversed(self.jobs.values())][:MAX_BULK]
        return Response(200, {"job_statuses": jobs, "meta": {"has_more": False}})

    def get_job(self, req: Request, id: str, user: User) -> Response:
        """``GET /api/v2/job_statuses/{id}.json``: queued, working..., completed, one step
        per poll (``AppConfig.job_polls``)."""
        job = self.jobs.get(id)
        if job is None:
            raise not_found()
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
                self.update_ticket(ticket_id, data, job.author_id, "api", tag_ops=True)
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
                raise err(400, "InvalidValue", "ticket_id is required")
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
                raise err(400, "InvalidValue", f"unknown simulate kind {kind!r}")
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
            raise invalid("requester_id", "Requester: unknown user")
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
