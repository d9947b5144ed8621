"""Why a clock says what it says: counted and paused intervals, closures, holidays, escalations.

`explain` returns plain data (the JSON of ``slaplug explain --json`` and, later, of the web
view); `render_text` prints it for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from slaplug.golive import is_done
from slaplug.model import EventKind, SlaMeasure, Ticket
from slaplug.rules.engines.fields import human_duration
from slaplug.rules.live import LiveFields, versioned_values
from slaplug.rules.pack import RulePack
from slaplug.rules.versions import VersionedAssessment, VersionedPack
from slaplug.serialize import TicketFormatError, action_to_dict, measure_to_dict, ticket_problem
from slaplug.sla.calendar import BusinessCalendar

__all__ = ["explain", "render_text"]


def _segments(cal: BusinessCalendar, m: SlaMeasure, end: datetime) -> list[dict[str, Any]]:
    """The timeline of one clock run: counted, paused and closed stretches, in order."""
    out: list[dict[str, Any]] = []
    cursor = m.start
    for a, b in cal.open_intervals(m.start, end):
        if a > cursor:
            out.extend(_closures(cal, cursor, a))
        # Split the open stretch by the pauses that overlap it.
        t = a
        for pause_start, pause_end in m.pauses:
            ps, pe = max(pause_start, a), min(pause_end, b)
            if pe <= ps:
                continue
            if ps > t:
                out.append({"kind": "counted", "from": t, "to": ps})
            out.append({"kind": "paused", "from": ps, "to": pe, "why": "pause status"})
            t = pe
        if t < b:
            out.append({"kind": "counted", "from": t, "to": b})
        cursor = b
    if cursor < end:
        out.extend(_closures(cal, cursor, end))
    for seg in out:
        seg["duration"] = human_duration(seg["to"] - seg["from"])
        seg["from"] = seg["from"].astimezone(cal.zone).isoformat()
        seg["to"] = seg["to"].astimezone(cal.zone).isoformat()
    return out


def _closures(cal: BusinessCalendar, a: datetime, b: datetime) -> list[dict[str, Any]]:
    """A closed stretch, naming the holidays it contains."""
    la, lb = a.astimezone(cal.zone).date(), b.astimezone(cal.zone).date()
    holidays = [
        (la + timedelta(days=i)).isoformat()
        for i in range((lb - la).days + 1)
        if cal.is_holiday(la + timedelta(days=i))
    ]
    why = "closed: holiday " + ", ".join(holidays) if holidays else "closed: outside working hours"
    return [{"kind": "closed", "from": a, "to": b, "why": why}]


def explain(
    pack: RulePack | VersionedPack,
    ticket: Ticket,
    now: datetime,
    recorded: Mapping[tuple[str, str, int], str | None] | None = None,
) -> dict[str, Any]:
    """Everything ``slaplug explain`` shows for one ticket at ``now``, as plain data.

    With rules versions, each clock names the version that measured it (``version``: the
    one in force when its cycle started) and ``versions`` lists them with their dates.

    Args:
        pack: The rules, or their versions.
        ticket: The ticket.
        now: The time to explain at.
        recorded: The version the store's measure history last recorded per ``(policy,
            metric, cycle)`` (`Store.measure_versions`), shown beside each clock it holds
            (``recorded_version``; None: recorded before versions were declared).

    Raises:
        TicketFormatError: The ticket is one slaplug cannot process (a date out of range,
            text that is not valid Unicode); the message names the field. The sync and the
            webhook worker quarantine such a ticket for the same reason.
    """
    problem = ticket_problem(ticket)
    if problem is not None:
        raise TicketFormatError(f"ticket {ticket.connector}:{ticket.id!a}: {problem}")
    rules = VersionedPack.of(pack)
    assessment = rules.assess(ticket, now)
    clocks = []
    zone: tzinfo | None = None
    for m in assessment.measures:
        label = assessment.version_of(m)
        cal = _calendar_of(rules.get(label).pack, m.policy)
        zone = zone or cal.zone
        end = m.stopped_at or now
        clock = measure_to_dict(m)
        for key in ("start", "deadline", "breached_at", "stopped_at"):
            # People read a clock in its calendar's zone, whatever zone the API reported in.
            if clock[key] is not None:
                clock[key] = datetime.fromisoformat(clock[key]).astimezone(cal.zone).isoformat()
        clock["timeline"] = _segments(cal, m, end) if end > m.start else []
        if rules.labelled:
            clock["version"] = label
            mid = (m.policy, m.metric.value, m.cycle)
            if recorded is not None and mid in recorded:
                clock["recorded_version"] = recorded[mid]
        clocks.append(clock)
    doc: dict[str, Any] = {
        "ticket": {
            "id": ticket.id,
            "connector": ticket.connector,
            "subject": ticket.subject,
            "status": ticket.status,
            "priority": ticket.priority,
        },
        "at": now.isoformat(),
        # The history reads in the zone the clocks read in (the first clock's calendar).
        "history": _history(ticket, now, zone),
        "policies": list(assessment.policies),
        "clocks": clocks,
        "actions": [action_to_dict(a) for a in assessment.actions],
    }
    live = _live_fields(rules, assessment)
    if live:
        doc["live_fields"] = live
    if rules.labelled:
        doc["versions"] = [
            {
                "label": v.label,
                "effective_from": v.effective_from.isoformat() if v.effective_from else None,
            }
            for v in rules.versions
        ]
        for a, shown in zip(assessment.actions, doc["actions"], strict=True):
            shown["version"] = assessment.version_of_action(a)
    return doc


def _live_fields(rules: VersionedPack, a: VersionedAssessment) -> list[dict[str, Any]]:
    """Each live field the rules declare, with the value it should show now (``now``), the
    clock it shows, and ``held`` when the ticket is solved or closed (the sync leaves its
    fields as they were). The store's writes are added by `slaplug.views.ticket`."""
    by_label = {v.label: LiveFields.for_pack(v.pack) for v in rules.versions}
    fields = sorted({f for lf in by_label.values() for f in lf.fields})
    if not fields:
        return []
    values = versioned_values(by_label, a)
    out = []
    for name in fields:
        v = values.get(name)
        m = v.measure if v is not None else None
        out.append(
            {
                "field": name,
                "now": v.value if v is not None else None,
                "clock": f"{m.policy}/{m.metric.value}#{m.cycle}" if m is not None else None,
                "held": is_done(a.ticket),
            }
        )
    return out


def _calendar_of(pack: RulePack, policy: str) -> BusinessCalendar:
    return next(p.calendar for p in pack.sla_policies if p.name == policy)


#: The changes with kinds of their own, named as the field they change: the priority picks a
#: clock's target, the status pauses and stops it.
_OWN_KINDS = {EventKind.STATUS_CHANGED: "status", EventKind.PRIORITY_CHANGED: "priority"}


def _history(ticket: Ticket, now: datetime, zone: tzinfo | None) -> list[dict[str, Any]]:
    """The ticket's recorded field changes up to ``now``: what policies, conditions and
    targets were evaluated against, instant by instant. Status and priority changes are
    among them (``old`` is the value the previous change set, None for the first); one that
    sets the value it already had is left out."""
    out: list[dict[str, Any]] = []
    held: dict[str, Any] = {}
    for e in ticket.events:
        if e.at > now:
            continue
        if e.kind is EventKind.FIELD_CHANGED:
            field, old = e.field, e.old
        elif e.kind in _OWN_KINDS:
            field = _OWN_KINDS[e.kind]
            old = e.old if e.old is not None else held.get(field)
            if field in held and held[field] == e.value:
                continue
            held[field] = e.value
        else:
            continue
        out.append(
            {
                "at": (e.at.astimezone(zone) if zone is not None else e.at).isoformat(),
                "field": field,
                "old": list(old) if isinstance(old, tuple) else old,
                "value": list(e.value) if isinstance(e.value, tuple) else e.value,
                "actor": e.actor,
            }
        )
    return out


def _version_line(doc: dict[str, Any], c: dict[str, Any]) -> str:
    """``v1 (in force when the cycle started, 2026-11-30T...)`` and what the store recorded."""
    since = next(
        (v["effective_from"] for v in doc.get("versions", []) if v["label"] == c["version"]), None
    )
    text = f"{c['version']} (in force when the cycle started; {'from ' + since if since else 'the first version'})"
    if "recorded_version" in c:
        rec = c["recorded_version"]
        if rec is None:
            text += "; the store's history has it from before versions"
        elif rec != c["version"]:
            text += f"; the store recorded {rec}"
    return text


def _shown(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, list):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v)


def render_text(doc: dict[str, Any], source: str | None = None) -> str:
    """A readable report of `explain`'s data; ``source``: the ticket file it was read from."""
    t = doc["ticket"]
    # A ticket file names no connector unless it says one ("file" then): its id and file.
    label = f"{t['id']}" if t["connector"] == "file" else f"{t['connector']}:{t['id']}"
    if source is not None:
        label += f" from {source}"
    subject = f" {t['subject']!r}" if t["subject"] else ", no subject"
    lines = [
        f"Ticket {label}{subject} ({t['status']}, priority {t['priority']})",
        f"At {doc['at']}; policies: {', '.join(doc['policies']) or 'none matched'}",
    ]
    if doc.get("link"):
        lines.insert(1, f"Link: {doc['link']}")
    if doc.get("history"):
        lines.append("Field history (policies and conditions follow it):")
        for h in doc["history"]:
            who = f" ({h['actor']})" if h.get("actor") else ""
            lines.append(
                f"  {h['at']}  {h['field']}: {_shown(h['old'])} -> {_shown(h['value'])}{who}"
            )
    for c in doc["clocks"]:
        lines.append("")
        target = human_duration(timedelta(seconds=c["target_s"]))
        elapsed = human_duration(timedelta(seconds=c["elapsed_s"]))
        lines.append(
            f"{c['policy']} / {c['metric']} (cycle {c['cycle']}): {c['state'].upper()}, "
            f"{elapsed} of {target} ({c['percent']:g}%), calendar {c['calendar']}"
        )
        if "version" in c:
            lines.append(f"  rules {_version_line(doc, c)}")
        lines.append(f"  started {c['start']}; deadline {c['deadline'] or 'none while paused'}")
        if c["breached_at"]:
            lines.append(f"  breached at {c['breached_at']}")
        if c["stopped_at"]:
            lines.append(f"  stopped at {c['stopped_at']}")
        for seg in c["timeline"]:
            why = f"  ({seg['why']})" if seg.get("why") else ""
            lines.append(
                f"    {seg['kind']:<8} {seg['from']} .. {seg['to']}  {seg['duration']}{why}"
            )
    lines.append("")
    if doc.get("versions"):
        dates = ", ".join(
            f"{v['label']} from {v['effective_from'] or 'the start'}" for v in doc["versions"]
        )
        lines.append(
            f"Rules versions: {dates}; a cycle keeps the version in force when it started."
        )
    if doc["actions"]:
        lines.append("Escalations that would fire:")
        for a in doc["actions"]:
            shadow = " [shadow]" if a["shadow"] else ""
            version = f" (rules {a['version']})" if a.get("version") else ""
            lines.append(
                f"  {a['escalation']} level {a['level']}: {a['kind']} {a['params']}{shadow}"
                f"{version}"
            )
            lines.append(f"    because {a['explanation']['matched']}")
    else:
        lines.append("No escalation would fire.")
    if doc.get("live_fields"):
        lines += _live_lines(doc["live_fields"])
    return "\n".join(lines)


#: Earlier values of a live field the text names (``--json`` lists them all).
LIVE_SHOWN = 5


def _live_lines(fields: list[dict[str, Any]]) -> list[str]:
    """The live fields: what each should show now, and the values planned for it."""
    lines = ["Live fields (what each should show now; the values planned for it):"]
    for f in fields:
        where = f" ({f['clock']})" if f["clock"] else ""
        now = "" if f.get("declared") is False else f" now {_shown(f['now'])}{where}"
        lines.append(f"  {f['field']}:{now}")
        if "writes" not in f:
            continue  # not from the store (explain of a ticket file)
        last = f["writes"][0] if f["writes"] else None
        if f.get("declared") is False:
            lines.append("    no rules version declares it any more: left as it is")
        elif f["held"]:
            lines.append("    not written while the ticket is solved or closed")
        elif last is None and f["now"] is None:
            lines.append("    never written; nothing to show")
        elif last is None or last["value"] != f["now"]:
            lines.append("    the next sync writes the value above")
        for w in f["writes"][:LIVE_SHOWN]:
            when = f", {w['done_at']}" if w["done_at"] else ""
            note = f": {w['detail']}" if w["detail"] and w["status"] != "applied" else ""
            lines.append(
                f"    #{w['seq']} {_shown(w['value'])}: {w['status']} "
                f"(planned {w['planned_at']}{when}){note}"
            )
        if len(f["writes"]) > LIVE_SHOWN:
            lines.append(f"    ... {len(f['writes']) - LIVE_SHOWN} earlier (--json lists them)")
    return lines
