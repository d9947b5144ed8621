"""How the fake Zendesk shows its records, and the pieces every handler shares.

:class:`ZendeskRendering` turns the store's records into Zendesk's JSON (tickets, users,
audits and ticket-event child events); the exports, webhooks and API handlers build on it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from slaplug.testing.fakeserver import FakeClock, HttpError, is_calendar_date, iso_z
from slaplug_zendesk.fake.data import Audit, ChildEvent, Ticket, TicketField, User, ZendeskStore

J = dict[str, Any]

#: The export writes ``via`` as a display name ("Web form", "Email": zenpy
#: ``specification/zendesk/ticket_event.json``, reference §1.1), the audits API as a channel.
_VIA_NAMES = {"web": "Web form", "email": "Email", "api": "Web service", "rule": "Trigger"}


def err(status: int, error: str, description: str, **extra: Any) -> HttpError:
    """A Zendesk error envelope ``{"error", "description", ...}`` to raise."""
    return HttpError(status, {"error": error, "description": description, **extra})


def not_found() -> HttpError:
    """Zendesk's 404 body, as recorded in real cassettes (reference §3)."""
    return err(404, "RecordNotFound", "Not found")


def invalid(field_name: str, description: str, code: str = "InvalidValue") -> HttpError:
    """A 422 ``RecordInvalid`` naming the field in ``details``."""
    # Zendesk's 422 envelope: {"error", "description", "details": {field: [{description, error}]}}
    return err(
        422,
        "RecordInvalid",
        "Record validation errors",
        details={field_name: [{"description": description, "error": code}]},
    )


def is_zendesk_date(value: Any) -> bool:
    """Whether a date custom field takes ``value``: ``YYYY-MM-DD`` and nothing else.

    Sources: a Zendesk maintainer of zenpy set one with ``"2020-01-02"``, and
    ``datetime.now().isoformat()`` was refused (github.com/facetoe/zenpy/issues/425); IBM
    Verify's Zendesk connector reference (ibm.com/docs/en/SSCT62/references/
    r_data_types_zendesk.html): "The accepted format is yyyy-mm-dd. If the string contains
    other characters, the endpoint throws an Invalid Input error." That an impossible date
    (``2026-02-30``) is refused too is our inference.
    """
    return is_calendar_date(value)


def invalid_date(f: TicketField) -> HttpError:
    """The 422 for a malformed date custom field value, as recorded from real Zendesk in
    github.com/facetoe/zenpy/issues/425: ``{"error": "RecordInvalid", "description": "Record
    validation errors", "details": {"base": [{"description": "Date Field is not valid",
    "error": "InvalidValue", "ticket_field_id": 111111, "ticket_field_type": "FieldDate"}]}}``
    ("Date Field" reads as that field's title: the fake puts its field's title there, an
    inference). The whole update is refused: nothing is applied."""
    return err(
        422,
        "RecordInvalid",
        "Record validation errors",
        details={
            "base": [
                {
                    "description": f"{f.title} is not valid",
                    "error": "InvalidValue",
                    "ticket_field_id": f.id,
                    "ticket_field_type": "FieldDate",
                }
            ]
        },
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
        raise err(400, "InvalidPaginationParameter", "cursor is not valid") from None


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


class ZendeskRendering:
    """Zendesk's JSON shapes for the store's records (a base of :class:`ZendeskApp`)."""

    def __init__(self, store: ZendeskStore, clock: FakeClock, config: AppConfig) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        #: Prefix of every URL in responses; set to the server's address once it listens.
        self.base_url = "http://127.0.0.1"
        # Field ids are fixed for the fake's life: looked up once, not per rendered ticket.
        self._custom_ids = [f.id for f in store.custom_fields]

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

    def _child(self, e: ChildEvent, event_id: int, audit: Audit) -> J:
        """A child event as the audits API shows it: ``type``, ``field_name``, ``value``
        (zenpy ``specification/zendesk/audit.json``, a recorded audit)."""
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
            # Ids as text, as the recorded audit shows them ("field_name": "group_id",
            # "value": "26425647"; also requester_id, assignee_id, organization_id).
            as_text = (e.field_name or "").endswith("_id")
            out.update(field_name=e.field_name, value=_id_text(e.value) if as_text else e.value)
            if e.type == "Change":
                previous = e.previous_value
                out["previous_value"] = _id_text(previous) if as_text else previous
        return out

    def export_child(self, e: ChildEvent, event_id: int, audit: Audit) -> J:
        """A child event as the incremental ticket events export shows it.

        Only that endpoint's shape, never the audits API's ``field_name``/``value``/``type``
        (reference §1.1): the changed field is named by its own key, e.g.
        ``{"id": 5, "via": "Web form", "via_reference_id": null, "event_type": "Change",
        "status": "solved", "previous_value": "open"}`` (zenpy
        ``specification/zendesk/ticket_event.json``: ``{"via": "Email", "via_reference_id":
        2, "status": "solved"}``; Zendesk Java client issue #271). Tags come as ``tags``
        with ``added_tags`` / ``removed_tags``; comments (``include=comment_events``) as
        ``event_type: "Comment"``. A custom field comes under ``custom_ticket_fields``,
        its id to its new value, beside ``previous_value``: ``{"id": 1561823056931, "via":
        "Web form", "via_reference_id": null, "custom_ticket_fields": {"360041597112":
        "set_up_app"}, "event_type": "Change", "previous_value": null}`` (a real response
        quoted in a zendesk-java-client fork, ``org.zendesk.client.v2.model.ChildEvent``).
        """
        out: J = {
            "id": event_id,
            "via": _VIA_NAMES.get(audit.via, audit.via),
            "via_reference_id": None,
            "event_type": e.type,
        }
        if e.type == "Comment":
            out.update(
                author_id=e.author_id,
                body=e.body,
                html_body=f"<p>{e.body}</p>",
                plain_body=e.body,
                public=e.public,
                attachments=[],
                audit_id=audit.id,
                created_at=iso_z(audit.created_at),
            )
            return out
        if e.field_name == "tags":
            new = list(e.value or [])
            old = list(e.previous_value or [])
            out["tags"] = new
            out["added_tags"] = [t for t in new if t not in old]
            out["removed_tags"] = [t for t in old if t not in new]
        elif e.field_name and e.field_name.isdigit():  # a custom field, named by its id
            out["custom_ticket_fields"] = {e.field_name: e.value}
        elif e.field_name:
            out[e.field_name] = e.value
        if e.type == "Change":
            out["previous_value"] = e.previous_value
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
            "events": [self._child(e, a.id * 100 + i, a) for i, e in enumerate(a.events)],
        }

    def _sideload(
        self,
        query: Mapping[str, str],
        user_ids: Iterable[int | None],
        org_ids: Iterable[int | None] | None = None,
    ) -> J:
        include = set(query.get("include", "").split(","))
        out: J = {}
        if "users" in include:
            ids = sorted({i for i in user_ids if i is not None and i in self.store.users})
            out["users"] = [self.user_json(self.store.users[i]) for i in ids]
        if "groups" in include:
            out["groups"] = [{"id": g.id, "name": g.name} for g in self.store.groups.values()]
        if "organizations" in include:
            # Sideloads carry the records' own organizations (Zendesk's "Side-loading": the
            # related records of those returned), so one a ticket has left is not among them.
            wanted = None if org_ids is None else {i for i in org_ids if i is not None}
            out["organizations"] = [
                {"id": o.id, "name": o.name, "tags": o.tags}
                for o in self.store.organizations.values()
                if wanted is None or o.id in wanted
            ]
        return out

    def _ticket(self, ticket_id: str | int) -> Ticket:
        t = self.store.tickets.get(int(ticket_id))
        if t is None:
            raise not_found()
        return t

    @staticmethod
    def _unb64(text: str) -> str:
        try:
            return base64.b64decode(text.encode()).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise err(400, "InvalidPaginationParameter", "cursor is not valid") from None

    @staticmethod
    def _int(value: str, name: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise err(400, "InvalidValue", f"{name} must be an integer") from None


def _id_text(value: Any) -> Any:
    """An id as the audits API writes it: digits as text; None stays null."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value
