"""The fake Zendesk's incremental exports: cursor-based tickets, time-based tickets and
ticket events (reference §1.1)."""

from __future__ import annotations

import bisect
from urllib.parse import urlencode

from slaplug.testing.fakeserver import HttpError, Request, Response, iso_z
from slaplug_zendesk.fake.data import User
from slaplug_zendesk.fake.render import (
    ZendeskRendering,
    decode_cursor,
    encode_cursor,
    err,
)

#: Zendesk's 403: authenticated, but the role may not do this. The envelope is Zendesk's
#: ``{"error", "description"}`` (reference §3; api-evangelist/zendesk
#: errors/zendesk-error-codes.yml: 403 "Forbidden"); the text is Zendesk's "Access Denied"
#: message (support.zendesk.com/hc/en-us/articles/4408820790426).
FORBIDDEN = {
    "error": "Forbidden",
    "description": "You do not have access to this page. Please contact the account owner "
    "of this help desk for further help.",
}
MAX_EXPORT_PAGE = 1000  # incremental exports: per_page up to 1000, default 1000 (reference §1.1)
EXPORT_LAG = 60  # start_time at least a minute old; the last minute is left out (§1.1)
_bisect_left = bisect.bisect_left
_bisect_right = bisect.bisect_right


class ZendeskExports(ZendeskRendering):
    """Handlers of ``/api/v2/incremental/...`` (a base of :class:`ZendeskApp`)."""

    @staticmethod
    def _admins_only(user: User) -> None:
        """Both incremental exports are "Allowed For: Admins" (reference §1.1;
        ``incremental-openapi-original.yml``): an agent's token gets 403."""
        if user.role != "admin":
            raise HttpError(403, dict(FORBIDDEN))

    def _per_page(self, req: Request) -> int:
        n = self._int(req.query.get("per_page", str(MAX_EXPORT_PAGE)), "per_page")
        return max(1, min(n, MAX_EXPORT_PAGE))

    def _start_time(self, req: Request) -> int:
        raw = req.query.get("start_time")
        if raw is None:
            raise err(400, "InvalidValue", "start_time is required")
        start = self._int(raw, "start_time")
        if start > self.clock.now() - EXPORT_LAG:
            raise err(
                400, "InvalidValue", "Too recent start_time. Use a start_time older than 1 minute"
            )
        return start

    def export_cursor(self, req: Request, user: User) -> Response:
        """``GET /api/v2/incremental/tickets/cursor.json``: ``start_time`` first, then
        ``cursor``; ordered by (updated time, id); the last minute is held back."""
        self._admins_only(user)
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
            **self._sideload(req.query, users, [t.organization_id for t in tickets]),
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
        self._admins_only(user)
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
        self._admins_only(user)
        start = self._start_time(req)
        with_comments = "comment_events" in req.query.get("include", "").split(",")
        log, keys = self.store.audit_log, self.store.audit_keys
        begin, stop, end_time, eos = self._time_page(keys, start, self._per_page(req))
        events = []
        for a in log[begin:stop]:
            children = [
                self.export_child(e, a.id * 100 + i, a)
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
