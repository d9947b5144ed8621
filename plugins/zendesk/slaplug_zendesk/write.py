"""Writing to Zendesk: actions merged into one update per ticket, in bulk where there are many.

`Writer.apply` does, in order:

1. reads the tickets' current state with ``GET /api/v2/tickets/show_many.json`` (100 ids a
   call) and, for tickets that get a comment, their audits once, to find the comment markers;
2. works out, per ticket, the *net* change: for each tag, field, priority, status, assignee
   and group the last action wins, and nothing is written when the ticket already has it
   (ALREADY). This is what makes applying the same actions twice write nothing, and keeps
   Zendesk's limit of 30 updates per ticket per 10 minutes out of reach;
3. sends the updates: one ticket -> ``PUT /api/v2/tickets/{id}.json`` (with ``safe_update``
   and ``updated_stamp`` when the ticket's ``updated_at`` is known from the last read; 409 ->
   CONFLICT); several -> ``PUT /api/v2/tickets/update_many.json`` in chunks of 100, each
   job polled at ``/api/v2/job_statuses/{id}.json`` until it completes.

Tags go in each endpoint's documented form only (reference §1.1, §2.1). Update Many takes
``additional_tags`` / ``remove_tags``, which leave the other tags alone. Update Ticket does
not document them (Zendesk ignores unknown keys: the tag would be lost silently); its
``tags`` replaces the list, so a single update sends the whole new list, computed from the
ticket as just read, with ``safe_update`` and that read's ``updated_at``: a tag someone
changed meanwhile gives 409 (CONFLICT, re-read and re-evaluated), never a clobbered list.

Comments are not idempotent on the platform, so every internal note ends with a marker
carrying a keyed hash of its action's key, ``[slaplug 1a2b3c4d5e6f7a8b]`` (16 hex digits of
HMAC-SHA256 under the connector's `MarkerKey`, which the runtime derives from a per-install
secret, so no customer can compute it). A marker already in the ticket's notes means the
note was posted (before a crash, say) and is reported ALREADY. Only the notes that can be
slaplug's own count: internal notes (``public: false``) written by the connector's own API
user (``GET /api/v2/users/me``). A marker in a requester's description or public reply, or
in another agent's note, is text, not proof: it never suppresses a write.

The same check guards the client's inline retries. When a PUT carrying a note fails in a
way that Zendesk may nevertheless have applied (a 500/502/504, a read timeout, a dropped
connection), `ApiClient.request` calls the writer's ``before_retry`` hook before resending:
the hook re-reads the markers of the tickets whose notes are in the body and drops those
tickets' updates (a Zendesk ticket update is atomic: its comment and its changes land in
one audit, so a posted marker means the whole update was applied). Their notes report
ALREADY and their other actions APPLIED; the rest is resent. For ``update_many`` the lost
submission may have queued a job that has not run yet, so the hook first waits for the
account's pending jobs (``GET /api/v2/job_statuses.json``) and only then reads markers; if a
job is still pending after ``job_timeout``, the apply fails with `RetriableAPIError` and the
outbox retries it later (which reads the markers again).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Collection, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slaplug.connectors import (
    NOTHING_TO_SEND,
    AlreadySent,
    ApiClient,
    ApplyResult,
    ApplyStatus,
    LostAnswer,
)
from slaplug.connectors.markers import MarkerKey
from slaplug.crashpoints import crashpoint
from slaplug.errors import ConflictError, RetriableAPIError, SkippableAPIError
from slaplug.model import Action, ActionKind
from slaplug_zendesk.config import ZendeskConfig
from slaplug_zendesk.directory import Directory

__all__ = ["Writer", "marker"]

log = logging.getLogger(__name__)

BULK_LIMIT = 100  # update_many takes at most 100 tickets (reference §2.1)
_DONE_JOB = frozenset({"completed", "failed", "killed"})
MARKER_DIGITS = 16
_MARKER = re.compile(rf"\[slaplug [0-9a-f]{{{MARKER_DIGITS}}}\]")
#: A date and time (a live field's ``instant`` or ``local`` value), which a Zendesk date
#: field refuses: see `Writer._date_problem`.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d")


def marker(key: str, marker_key: MarkerKey) -> str:
    """The marker ending the internal note of the action with idempotency key ``key``."""
    return f"[slaplug {marker_key.digest(key, MARKER_DIGITS)}]"


@dataclass
class _Plan:
    """One ticket's update: the body to send and the actions it applies."""

    ticket_id: int
    body: dict[str, Any] = field(default_factory=dict)
    applies: list[int] = field(default_factory=list)
    #: The actions whose notes the body's comment carries, and those notes' markers.
    notes: list[int] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)
    #: The ticket's tags as read, and the tags to add and remove (sent in the form the
    #: endpoint documents: see the module docstring).
    tags: list[str] = field(default_factory=list)
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    #: The ticket's ``updated_at`` as read (for ``safe_update``).
    stamp: str | None = None

    @property
    def writes(self) -> bool:
        """Whether there is anything to send."""
        return bool(self.body or self.add_tags or self.remove_tags)

    def single_update(self) -> dict[str, Any]:
        """The body of Update Ticket: tags as the whole new list (``tags`` replaces it)."""
        update = dict(self.body)
        if self.add_tags or self.remove_tags:
            gone = set(self.remove_tags)
            kept = [t for t in self.tags if t not in gone]
            update["tags"] = kept + [t for t in self.add_tags if t not in kept]
        return update

    def bulk_update(self) -> dict[str, Any]:
        """One entry of Update Many: ``additional_tags`` / ``remove_tags`` (documented there)."""
        update: dict[str, Any] = {"id": self.ticket_id, **self.body}
        if self.add_tags:
            update["additional_tags"] = list(self.add_tags)
        if self.remove_tags:
            update["remove_tags"] = list(self.remove_tags)
        return update


class Writer:
    """Applies actions for one connector.

    Args:
        http: The connector's client.
        config: The connector's configuration.
        directory: Field, user and group ids.
        stamps: ``updated_at`` (as Zendesk writes it) of tickets by id, from the last read;
            used for ``safe_update`` and kept up to date here.
        own_notes: The bodies of one ticket's internal notes written by the connector's own
            API user (read from its audits): the only comments whose markers count.
        marker_key: The connector's current `MarkerKey` (looked up at each use: the
            runtime may replace it after construction).
        sleep: Waits between job status polls (replace it in tests).
        page_raw: The raw tickets of the export page read last (`Reader.page_raw`).
    """

    def __init__(
        self,
        http: ApiClient,
        config: ZendeskConfig,
        directory: Directory,
        stamps: MutableMapping[int, str],
        own_notes: Callable[[int], Sequence[str]],
        sleep: Callable[[float], None],
        page_raw: Callable[[], Mapping[int, Mapping[str, Any]]] = dict,
        *,
        marker_key: Callable[[], MarkerKey],
    ) -> None:
        self.http = http
        self.config = config
        self.directory = directory
        self.stamps = stamps
        self._own_notes = own_notes
        self._marker_key = marker_key
        self._sleep = sleep
        self._page_raw = page_raw
        self._fresh: frozenset[str] = frozenset()

    def marker(self, key: str) -> str:
        """The marker that ends the note of the action keyed ``key``."""
        return marker(key, self._marker_key())

    def apply(
        self, actions: Sequence[Action], *, fresh: Collection[str] = frozenset()
    ) -> list[ApplyResult]:
        """Apply ``actions``; one result per action, in order (see the module docstring).

        ``fresh`` keys were never applied before: their comments need no marker search.
        """
        self._fresh = frozenset(fresh)
        results: dict[int, ApplyResult] = {}
        by_ticket: dict[int, list[int]] = {}
        for i, a in enumerate(actions):
            if a.shadow:
                results[i] = ApplyResult(a.key, ApplyStatus.SKIPPED, "shadow mode: never written")
            elif a.kind is ActionKind.NOTIFY:
                results[i] = ApplyResult(
                    a.key,
                    ApplyStatus.SKIPPED,
                    "notify is not a Zendesk write: slaplug's notifier plugins deliver it",
                )
            elif not str(a.ticket_id).isdigit():
                results[i] = ApplyResult(
                    a.key, ApplyStatus.FAILED, f"{a.ticket_id!r} is not a Zendesk ticket id"
                )
            else:
                by_ticket.setdefault(int(a.ticket_id), []).append(i)
        # A ticket whose actions are all fresh was planned from the page just read: its state
        # from that page is as new as the evaluation, so it needs no second read. Anything
        # retried is read again, as it may have changed since (or been written by us).
        known = self._page_raw()
        reuse = {
            tid: known[tid]
            for tid, indices in by_ticket.items()
            if tid in known and all(actions[i].key in self._fresh for i in indices)
        }
        current = {**reuse, **self._current(sorted(set(by_ticket) - set(reuse)))}
        plans: list[_Plan] = []
        for tid, indices in by_ticket.items():
            raw = current.get(tid)
            if raw is None:
                for i in indices:
                    results[i] = ApplyResult(
                        actions[i].key, ApplyStatus.FAILED, f"ticket {tid} not found"
                    )
                continue
            if raw.get("status") == "closed":
                # Zendesk refuses any update to a closed ticket (422); do not spend a write.
                for i in indices:
                    results[i] = ApplyResult(
                        actions[i].key,
                        ApplyStatus.SKIPPED,
                        f"ticket {tid} is closed; Zendesk accepts no updates to closed tickets",
                    )
                continue
            plan = self._plan(raw, [(i, actions[i]) for i in indices], results)
            if plan.writes:
                plans.append(plan)
        if len(plans) == 1:
            self._put_one(plans[0], actions, results)
        elif plans:
            for n in range(0, len(plans), BULK_LIMIT):
                self._put_many(plans[n : n + BULK_LIMIT], actions, results)
        return [results[i] for i in range(len(actions))]

    # -- planning -------------------------------------------------------------------------

    def _current(self, ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
        found: dict[int, Mapping[str, Any]] = {}
        for n in range(0, len(ids), BULK_LIMIT):
            chunk = ids[n : n + BULK_LIMIT]
            data = self.http.get_json(
                "api/v2/tickets/show_many.json", params={"ids": ",".join(map(str, chunk))}
            )
            found.update({int(t["id"]): t for t in data.get("tickets") or []})
        return found

    def _plan(
        self,
        raw: Mapping[str, Any],
        items: Sequence[tuple[int, Action]],
        results: dict[int, ApplyResult],
    ) -> _Plan:
        """The net update for one ticket; fills ``results`` for actions needing no write."""
        stamp = raw.get("updated_at")
        plan = _Plan(
            int(raw["id"]),
            tags=[str(t) for t in raw.get("tags") or ()],
            stamp=str(stamp) if stamp else None,
        )
        # slot -> (desired value, actions that want it); the last action for a slot wins.
        slots: dict[tuple[str, Any], tuple[Any, list[int]]] = {}
        comments: list[tuple[int, Action]] = []

        def want(slot: tuple[str, Any], value: Any, i: int) -> None:
            before = slots.get(slot, (None, []))[1]
            slots[slot] = (value, [*before, i])

        for i, a in items:
            p, kind = a.params, a.kind
            if kind in (ActionKind.ADD_TAG, ActionKind.REMOVE_TAG):
                want(("tag", str(p["tag"])), kind is ActionKind.ADD_TAG, i)
            elif kind is ActionKind.SET_FIELD:
                fid = self.directory.field_id(str(p["field"]))
                if fid is None:
                    results[i] = _failed(
                        a, f"no custom field {p['field']!r}; map it under `fields:` in the config"
                    )
                    continue
                problem = self._date_problem(fid, p.get("value"))
                if problem:
                    results[i] = _failed(a, f"{p['field']!r}: {problem}")
                    continue
                want(("field", fid), p.get("value"), i)
            elif kind is ActionKind.SET_PRIORITY:
                want(("priority", None), p["priority"], i)
            elif kind is ActionKind.SET_STATUS:
                want(("status", None), p["status"], i)
            elif kind is ActionKind.ASSIGN:
                if not self._want_assignment(a, i, want, results):
                    continue
            elif kind is ActionKind.COMMENT:
                comments.append((i, a))
            else:
                results[i] = ApplyResult(a.key, ApplyStatus.SKIPPED, f"{kind} is not supported")
        self._fill_body(raw, slots, plan)
        self._add_comments(plan, comments, results)
        for i, a in items:
            if i not in results and i not in plan.applies:
                results[i] = ApplyResult(a.key, ApplyStatus.ALREADY)
        return plan

    def _date_problem(self, field_id: int, value: Any) -> str | None:
        """Why Zendesk would refuse ``value`` in a date field, or None.

        A date custom field takes ``YYYY-MM-DD`` only; anything else (an ISO instant from a
        live field's ``instant`` or ``local`` format, say) is a 422 ``RecordInvalid`` that
        refuses the *whole* ticket update, notes and tags included (zenpy issue #425, a
        recorded refusal of ``datetime.now().isoformat()``; docs/plugins/zendesk.md). So the
        one action fails here, with what to do, and the rest of the update goes out. Only a
        date-time value (what a live field writes) is checked, so that other writes cost no
        ``GET /api/v2/ticket_fields``; other text sent to a date field still gets the 422.
        """
        if not (isinstance(value, str) and _DATE_TIME.match(value)):
            return None
        if self.directory.field_type(field_id) != "date":
            return None
        return (
            f"Zendesk date field {field_id} takes YYYY-MM-DD only, not {value!r}; "
            "give the live field `format: date`, or map it to a text field"
        )

    def _want_assignment(
        self,
        a: Action,
        i: int,
        want: Callable[[tuple[str, Any], Any, int], None],
        results: dict[int, ApplyResult],
    ) -> bool:
        p = a.params
        wanted: list[tuple[str, int]] = []
        if "user" in p:
            uid = self.directory.agent_id(p["user"])
            if uid is None:
                results[i] = _failed(a, f"no agent {p['user']!r} to assign to")
                return False
            wanted.append(("assignee_id", uid))
        if "group" in p:
            gid = self.directory.group_id(str(p["group"]))
            if gid is None:
                results[i] = _failed(a, f"no group named {p['group']!r} to assign to")
                return False
            wanted.append(("group_id", gid))
        for slot, ident in wanted:  # only once both resolved: all or nothing
            want((slot, None), ident, i)
        return True

    def _fill_body(
        self,
        raw: Mapping[str, Any],
        slots: Mapping[tuple[str, Any], tuple[Any, list[int]]],
        plan: _Plan,
    ) -> None:
        tags = set(raw.get("tags") or ())
        values = {int(cf["id"]): cf.get("value") for cf in raw.get("custom_fields") or ()}
        body = plan.body
        for (kind, name), (desired, indices) in slots.items():
            if kind == "tag":
                if (name in tags) == desired:
                    continue
                (plan.add_tags if desired else plan.remove_tags).append(name)
            elif kind == "field":
                if _same(values.get(name), desired):
                    continue
                body.setdefault("custom_fields", []).append({"id": name, "value": desired})
            else:
                if _same(raw.get(kind), desired):
                    continue
                body[kind] = desired
            plan.applies.extend(indices)

    def _add_comments(
        self, plan: _Plan, comments: Sequence[tuple[int, Action]], results: dict[int, ApplyResult]
    ) -> None:
        if not comments:
            return
        # Reading the ticket's comments is one call per ticket: spend it only when a comment
        # may have been posted by an earlier try (a key the outbox handed out before).
        if all(a.key in self._fresh for _, a in comments):
            present: set[str] = set()
        else:
            present = {m for body in self._own_notes(plan.ticket_id) for m in _MARKER.findall(body)}
        notes: list[str] = []
        for i, a in comments:
            tag = self.marker(a.key)
            if tag in present or any(n.endswith(tag) for n in notes):
                results[i] = ApplyResult(a.key, ApplyStatus.ALREADY)
                continue
            notes.append(f"{str(a.params.get('body', '')).rstrip()}\n\n{tag}")
            plan.applies.append(i)
            plan.notes.append(i)
            plan.markers.append(tag)
        if notes:
            # One update holds one comment: several notes go out as one, each with its marker.
            plan.body["comment"] = {"body": "\n\n".join(notes), "public": False}

    # -- sending --------------------------------------------------------------------------

    def _put_one(
        self, plan: _Plan, actions: Sequence[Action], results: dict[int, ApplyResult]
    ) -> None:
        update = plan.single_update()
        stamp = self.stamps.get(plan.ticket_id)
        if "tags" in update:
            # The new list was computed from this read: it must not replace a newer one.
            stamp = plan.stamp or stamp
        if stamp is not None:
            update.update(safe_update=True, updated_stamp=stamp)

        def before_retry(lost: LostAnswer) -> Any:
            # The update is atomic: its note posted means all of it was applied.
            return NOTHING_TO_SEND if self._posted(plan) else lost.json

        try:
            response = self.http.request(
                "PUT",
                f"api/v2/tickets/{plan.ticket_id}.json",
                json={"ticket": update},
                before_retry=before_retry if plan.markers else None,
            )
        except AlreadySent:
            self.stamps.pop(plan.ticket_id, None)
            self._settle_sent(plan, actions, results)
            return
        except ConflictError as exc:
            self.stamps.pop(plan.ticket_id, None)
            self._settle(plan, actions, results, ApplyStatus.CONFLICT, str(exc))
            return
        except SkippableAPIError as exc:
            self._settle(plan, actions, results, ApplyStatus.FAILED, str(exc))
            return
        try:
            self.stamps[plan.ticket_id] = str(response.json()["ticket"]["updated_at"])
        except (ValueError, KeyError, TypeError):
            self.stamps.pop(plan.ticket_id, None)
        self._settle(plan, actions, results, ApplyStatus.APPLIED)

    def _put_many(
        self, plans: Sequence[_Plan], actions: Sequence[Action], results: dict[int, ApplyResult]
    ) -> None:
        tickets = [p.bulk_update() for p in plans]
        for p in plans:
            # Zendesk applies the job later; the ticket's updated_at moves then.
            self.stamps.pop(p.ticket_id, None)
        by_ticket = {p.ticket_id: p for p in plans}
        sent_before: set[int] = set()  # tickets a lost submission's job had updated

        def before_retry(lost: LostAnswer) -> Any:
            # The lost submission may have queued a job: let it run before reading markers.
            self._wait_for_pending_jobs()
            keep = []
            for entry in lost.json["tickets"]:
                plan = by_ticket[int(entry["id"])]
                if plan.markers and self._posted(plan):
                    sent_before.add(plan.ticket_id)
                else:
                    keep.append(entry)
            return {"tickets": keep} if keep else NOTHING_TO_SEND

        noted = any(p.markers for p in plans)
        try:
            response = self.http.request(
                "PUT",
                "api/v2/tickets/update_many.json",
                json={"tickets": tickets},
                before_retry=before_retry if noted else None,
            )
        except AlreadySent:
            response = None
        for tid in sent_before:
            self._settle_sent(by_ticket[tid], actions, results)
        if response is None:
            return
        # The crash tests kill the sync here: the job is queued, nothing is recorded yet.
        crashpoint("zendesk-job-submitted")
        job = self._wait_for_job(response.json()["job_status"])
        by_id = {int(r["id"]): r for r in job.get("results") or () if r.get("id") is not None}
        for p in plans:
            if p.ticket_id in sent_before:
                continue
            result = by_id.get(p.ticket_id)
            if result is None:
                why = (
                    f"bulk job {job.get('id')} is {job.get('status')} after "
                    f"{self.config.job_timeout:g}s without a result for this ticket; it may "
                    "still apply (the next apply sees it)"
                )
                # Not FAILED, which is final: the job may never run, and then the write
                # would be lost. CONFLICT sends it back for another try, which reads the
                # ticket first and finds the write if the job did run.
                self._settle(p, actions, results, ApplyStatus.CONFLICT, why)
            elif result.get("success", result.get("status") != "Failed"):
                self._settle(p, actions, results, ApplyStatus.APPLIED)
            else:
                error = str(result.get("error") or "Failed")
                details = str(result.get("details") or "").strip()
                status = ApplyStatus.CONFLICT if error == "UpdateConflict" else ApplyStatus.FAILED
                why = f"Zendesk: {error}" + (f": {details}" if details else "")
                self._settle(p, actions, results, status, why)

    def _posted(self, plan: _Plan) -> bool:
        """Whether the ticket's own notes already carry every note of ``plan`` (re-read)."""
        present = {m for body in self._own_notes(plan.ticket_id) for m in _MARKER.findall(body)}
        return all(m in present for m in plan.markers)

    def _wait_for_pending_jobs(self) -> None:
        """Wait until no job of the account is queued or working (at most ``job_timeout``
        for each), so that a job queued by a lost submission has run.

        Raises:
            RetriableAPIError: A job is still pending: whether it carries our notes cannot
                be known now (the outbox retries the apply later).
        """
        listed = self.http.get_json("api/v2/job_statuses.json")
        for job in listed.get("job_statuses") or ():
            if job.get("status") in _DONE_JOB:
                continue
            if self._wait_for_job(job).get("status") not in _DONE_JOB:
                raise RetriableAPIError(
                    f"connector {self.http.connector!r}: an update_many answer was lost and "
                    f"bulk job {job.get('id')} is still {job.get('status')} after "
                    f"{self.config.job_timeout:g}s; not resending notes it may carry",
                    connector=self.http.connector,
                )

    def _settle_sent(
        self, plan: _Plan, actions: Sequence[Action], results: dict[int, ApplyResult]
    ) -> None:
        """``plan`` was applied by an attempt whose answer was lost: its notes were there
        already when checked (ALREADY), its other changes went with them (APPLIED)."""
        detail = "applied by an earlier attempt whose answer was lost"
        for i in plan.applies:
            status = ApplyStatus.ALREADY if i in plan.notes else ApplyStatus.APPLIED
            results[i] = ApplyResult(actions[i].key, status, detail)

    def _wait_for_job(self, job: Mapping[str, Any]) -> Mapping[str, Any]:
        interval = self.config.job_poll_interval
        polls = math.ceil(self.config.job_timeout / interval) if interval > 0 else 1000
        for _ in range(polls):
            if job.get("status") in _DONE_JOB:
                break
            self._sleep(interval)
            job = self.http.get_json(f"api/v2/job_statuses/{job['id']}.json")["job_status"]
        return job

    @staticmethod
    def _settle(
        plan: _Plan,
        actions: Sequence[Action],
        results: dict[int, ApplyResult],
        status: ApplyStatus,
        detail: str = "",
    ) -> None:
        for i in plan.applies:
            results[i] = ApplyResult(actions[i].key, status, detail)


def _failed(action: Action, detail: str) -> ApplyResult:
    return ApplyResult(action.key, ApplyStatus.FAILED, detail)


def _same(current: Any, desired: Any) -> bool:
    """Zendesk returns numbers in text fields as strings; compare loosely, None exactly."""
    if current is None or desired is None:
        return current is desired or (current in ("", None) and desired in ("", None))
    return bool(current == desired or str(current) == str(desired))
