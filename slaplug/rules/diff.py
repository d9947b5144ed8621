"""What deploying a new rules pack would change, before it is deployed (``slaplug rules diff``).

Two parts:

- **From the rules alone**: escalation actions by identity (`slaplug.rules.identity`), so an
  action that only moved is no change. An action whose identity is new fires for every clock
  that reaches its level, *and once for the clocks already past it*; an identity that is gone
  never fires again. Levels whose condition changed, and policies added, removed or changed.
- **From the store** (given the snapshots and the ledger): each stored ticket assessed under
  both packs at one instant. What would fire at the next sync under the new pack and not under
  the old one (keys not yet in the ledger, same go-live rules as the sync: nothing on a solved
  or closed ticket, nothing for a threshold crossed before the cutoff), what would fire under the
  old pack and no longer will, and which open clocks (running or paused) change their target,
  deadline or state, or appear or disappear.

Either side may be effective-dated rules (`VersionedPack`): ``slaplug rules diff --config``
compares the configured versions up to one (``--version``, default the newest) with those up
to its predecessor, assessed as the sync assesses them. A clock whose cycle started before the
version's ``effective_from`` stays on the older version on both sides, so it shows no change;
`RulesDiff.kept` counts the open clocks that do.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from slaplug.golive import ThresholdTimes, is_done
from slaplug.model import Action, SlaMeasure, Ticket
from slaplug.rules.contract_spec import ContractSpec
from slaplug.rules.identity import action_identity
from slaplug.rules.pack import RulePack
from slaplug.rules.schema import PolicySpec
from slaplug.rules.versions import VersionedAssessment, VersionedPack

__all__ = [
    "ActionRef",
    "ClockChange",
    "RulesDiff",
    "VersionChange",
    "diff_packs",
    "diff_store",
    "render_text",
]

#: Tickets named per line of the text output; the JSON names them all.
SAMPLE = 5


@dataclass(frozen=True, order=True)
class ActionRef:
    """An escalation action as the rules declare it.

    Attributes:
        escalation: The escalation's name.
        level: Its level, from 1.
        identity: The end of its idempotency key (`slaplug.rules.identity`).
        kind: The action's kind.
        argument: Its argument as written (a tag, ``{field, value}``, a comment's text...).
    """

    escalation: str
    level: int
    identity: str
    kind: str = field(compare=False)
    argument: str = field(compare=False)

    @property
    def name(self) -> str:
        """``escalation L<level> <identity>``."""
        return f"{self.escalation} L{self.level} {self.identity}"


@dataclass(frozen=True)
class ClockChange:
    """An open clock that the new pack measures differently (or not at all, or newly).

    Attributes:
        ticket: ``connector:id``.
        clock: ``policy/metric#cycle``.
        old: Its state, target and deadline under the old pack; None if it does not measure it.
        new: The same under the new pack.
    """

    ticket: str
    clock: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None


@dataclass(frozen=True)
class VersionChange:
    """The configured version a diff is about (``rules diff --config`` without OLD NEW).

    Attributes:
        old: The label of the version before it.
        new: Its label.
        effective_from: When it takes effect (aware).
    """

    old: str
    new: str
    effective_from: datetime


@dataclass
class RulesDiff:
    """What changes from one rules pack to another (see the module's docstring)."""

    added: list[ActionRef] = field(default_factory=list)
    removed: list[ActionRef] = field(default_factory=list)
    levels_changed: list[str] = field(default_factory=list)
    #: One line per change: ``support: targets.resolution.urgent 8h -> 6h``, ``p: added``.
    policies_changed: list[str] = field(default_factory=list)
    #: Likewise for contracts (fee, tiers, credits, objectives...) and calendars (hours,
    #: holidays, zone): what credits and deadlines are computed with.
    contracts_changed: list[str] = field(default_factory=list)
    calendars_changed: list[str] = field(default_factory=list)
    #: With the store: how many tickets were assessed, and when.
    tickets: int | None = None
    at: datetime | None = None
    #: With the store: per action identity (``ActionRef.name``), the tickets it would newly
    #: fire on at the next sync, and those it would have fired on under the old pack only.
    newly_firing: dict[str, list[str]] = field(default_factory=dict)
    no_longer_firing: dict[str, list[str]] = field(default_factory=dict)
    clocks: list[ClockChange] = field(default_factory=list)
    #: Between configured versions: which ones, and (with the store) how many open clocks
    #: keep an older version because their cycle started before ``effective_from``.
    version: VersionChange | None = None
    kept: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "version": None
            if self.version is None
            else {
                "old": self.version.old,
                "new": self.version.new,
                "effective_from": self.version.effective_from.isoformat(),
            },
            "added": [_ref(a) for a in self.added],
            "removed": [_ref(a) for a in self.removed],
            "levels_changed": self.levels_changed,
            "policies_changed": self.policies_changed,
            "contracts_changed": self.contracts_changed,
            "calendars_changed": self.calendars_changed,
            "store": None
            if self.tickets is None
            else {
                "tickets": self.tickets,
                "at": self.at.isoformat() if self.at else None,
                "newly_firing": self.newly_firing,
                "no_longer_firing": self.no_longer_firing,
                "clocks": [
                    {"ticket": c.ticket, "clock": c.clock, "old": c.old, "new": c.new}
                    for c in self.clocks
                ],
                "kept_on_older_version": self.kept,
            },
        }


def _ref(a: ActionRef) -> dict[str, Any]:
    return {
        "escalation": a.escalation,
        "level": a.level,
        "identity": a.identity,
        "kind": a.kind,
        "argument": a.argument,
    }


def _actions(pack: RulePack) -> dict[tuple[str, int, str], ActionRef]:
    out = {}
    for esc in pack.source.escalations:
        for li, level in enumerate(esc.level_specs()):
            for spec in level.actions:
                ref = ActionRef(
                    esc.name,
                    li + 1,
                    action_identity(spec),
                    spec.kind,
                    json.dumps(spec.model_dump(mode="json")[spec.kind], sort_keys=True),
                )
                out[(ref.escalation, ref.level, ref.identity)] = ref
    return out


def _levels(pack: RulePack) -> dict[str, Any]:
    out = {}
    for esc in pack.source.escalations:
        for li, level in enumerate(esc.level_specs()):
            out[f"{esc.name} L{li + 1}"] = (esc.when, level.when, esc.shadow or level.shadow)
    return out


def _policy(p: PolicySpec) -> dict[str, Any]:
    return p.model_dump(exclude={"description"})


def _contract(c: ContractSpec) -> dict[str, Any]:
    return c.model_dump(exclude={"description"})


#: Contract fields (at any depth) that hold a percentage.
_PERCENT_KEYS = frozenset({"target", "credit", "below", "at_least", "cap"})
#: A changed value longer than this is said to have changed, not shown.
_SHOWN = 60


def _dur(d: timedelta) -> str:
    """``8h``, ``1h30m``, ``90s``: a duration as targets are written."""
    total = int(d.total_seconds())
    sign, total = ("-", -total) if total < 0 else ("", total)
    h, rest = divmod(total, 3600)
    m, sec = divmod(rest, 60)
    text = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{sec}s" if sec else "")
    return sign + (text or "0s")


def _value(v: Any, key: str = "") -> str:
    """A value as it would be written in the rules file."""
    if isinstance(v, timedelta):
        return _dur(v)
    if isinstance(v, Decimal):
        text = f"{v.normalize():f}"
        return f"{text} %" if key in _PERCENT_KEYS else text
    if isinstance(v, datetime | date):
        return v.isoformat()
    if hasattr(v, "value") and isinstance(v.value, str):  # an enum: its YAML spelling
        return str(v.value)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x, key) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_value(k)}: {_value(x, str(k))}" for k, x in v.items()) + "}"
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _item_key(item: Any) -> str | None:
    """How an item of a list is named in a path: an objective by severity and metric, a
    named item by its name; None: by its position."""
    if isinstance(item, dict):
        if "severity" in item and "metric" in item:
            return f"{_value(item['severity'])} {_value(item['metric'])}"
        if isinstance(item.get("name"), str):
            return str(item["name"])
    return None


def _path(prefix: str, key: Any) -> str:
    return f"{prefix}.{_value(key)}" if prefix else _value(key)


def _changes(old: Any, new: Any, where: str = "", key: str = "") -> list[str]:
    """What changed from ``old`` to ``new``, one line per leaf: ``fee 5000 -> 9000``,
    ``objectives[urgent resolution].target 95 % -> 99 %``, ``holidays.dates: removed 2026-12-24``."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in [*old, *(k for k in new if k not in old)]:
            sub = _path(where, k)
            if k not in new:
                out.append(f"{sub} removed (was {_short(old[k], str(k))})")
            elif k not in old:
                out.append(f"{sub} added: {_short(new[k], str(k))}")
            else:
                out += _changes(old[k], new[k], sub, str(k))
        return out
    if isinstance(old, list) and isinstance(new, list):
        keys_old = [_item_key(x) for x in old]
        keys_new = [_item_key(x) for x in new]
        if None not in keys_old and None not in keys_new:  # named items: by name
            a = dict(zip(keys_old, old, strict=True))
            b = dict(zip(keys_new, new, strict=True))
            out = []
            for k in [*a, *(k for k in b if k not in a)]:
                sub = f"{where}[{k}]"
                if k not in b:
                    out.append(f"{sub} removed")
                elif k not in a:
                    out.append(f"{sub} added")
                else:
                    out += _changes(a[k], b[k], sub, key)
            return out
        scalars = all(not isinstance(x, dict | list) for x in [*old, *new])
        if (
            scalars
            and len(set(map(repr, old))) == len(old)
            and len(set(map(repr, new))) == len(new)
        ):
            gone = [x for x in old if x not in new]
            came = [x for x in new if x not in old]
            if gone or came:  # not only reordered
                said = [f"removed {', '.join(_value(x, key) for x in gone)}"] if gone else []
                said += [f"added {', '.join(_value(x, key) for x in came)}"] if came else []
                return [f"{where}: {'; '.join(said)}"]
        if len(old) == len(new) and all(isinstance(x, dict) for x in [*old, *new]):
            out = []
            for i, (x, y) in enumerate(zip(old, new, strict=True)):
                out += _changes(x, y, f"{where}[{i}]", key)
            return out
    shown_old, shown_new = _value(old, key), _value(new, key)
    if len(shown_old) + len(shown_new) > 2 * _SHOWN:
        return [f"{where} changed"]
    return [f"{where} {shown_old} -> {shown_new}"]


def _short(v: Any, key: str) -> str:
    text = _value(v, key)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _named_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``name: change`` lines for two mappings of named specs (``name: added`` ...)."""
    out: list[str] = []
    for name in sorted(old.keys() | new.keys()):
        if name not in old:
            out.append(f"{name}: added")
        elif name not in new:
            out.append(f"{name}: removed")
        else:
            out += [f"{name}: {c}" for c in _changes(old[name], new[name])]
    return out


def diff_packs(old: RulePack, new: RulePack) -> RulesDiff:
    """The part of the diff the rules alone tell."""
    a, b = _actions(old), _actions(new)
    out = RulesDiff(
        added=sorted(b[k] for k in b.keys() - a.keys()),
        removed=sorted(a[k] for k in a.keys() - b.keys()),
    )
    la, lb = _levels(old), _levels(new)
    out.levels_changed = sorted(k for k in la.keys() & lb.keys() if la[k] != lb[k])
    pa = {p.name: _policy(p) for p in old.source.policies}
    pb = {p.name: _policy(p) for p in new.source.policies}
    out.policies_changed = _named_changes(pa, pb)
    order_a = [p.name for p in old.source.policies]
    order_b = [p.name for p in new.source.policies]
    if [n for n in order_a if n in pb] != [n for n in order_b if n in pa]:
        out.policies_changed.append("policy order changed (the first matching sla policy applies)")
    out.contracts_changed = _named_changes(
        {c.name: _contract(c) for c in old.source.contracts},
        {c.name: _contract(c) for c in new.source.contracts},
    )
    ca = [c.name for c in old.source.contracts]
    cb = [c.name for c in new.source.contracts]
    if [n for n in ca if n in cb] != [n for n in cb if n in ca]:
        out.contracts_changed.append(
            "contract order changed (the first matching contract takes a ticket)"
        )
    out.calendars_changed = _named_changes(
        {n: c.spec.model_dump() for n, c in old.source.calendars.items()},
        {n: c.spec.model_dump() for n, c in new.source.calendars.items()},
    )
    return out


def _open(m: SlaMeasure) -> bool:
    return m.stopped_at is None and m.state.value in ("running", "paused", "breached")


def _clock(m: SlaMeasure) -> dict[str, Any]:
    return {
        "state": m.state.value,
        "target": _dur(m.target),  # business time as targets are written: 400h, not "16 days"
        "deadline": m.deadline.isoformat() if m.deadline else None,
        "breached": m.breached,
    }


Rules = RulePack | VersionedPack


class _Gate:
    """The go-live gate of one side: each action judged by its own version's thresholds."""

    def __init__(self, rules: Rules) -> None:
        self._by_label = {
            v.label: ThresholdTimes.for_pack(v.pack) for v in VersionedPack.of(rules).versions
        }

    def before(self, x: Action, a: VersionedAssessment, cutoff: datetime) -> bool:
        return self._by_label[a.version_of_action(x)].before(x, a.measures, cutoff)


def diff_store(
    old: Rules,
    new: Rules,
    tickets: Iterable[Ticket],
    now: datetime,
    *,
    planned_before: Callable[[list[str]], set[str]],
    cutoff: Callable[[str], datetime | None],
    batch: int = 500,
    version: VersionChange | None = None,
) -> RulesDiff:
    """The whole diff: `diff_packs` plus what the stored tickets tell.

    Args:
        old: The rules deployed now: a pack, or the configured versions (`VersionedPack`).
        new: The rules to deploy, likewise. Versions are assessed as the sync assesses them:
            each cycle under the version in force when it started.
        tickets: The stored snapshots.
        now: The instant both sides are assessed at.
        planned_before: Which of the given keys are in the ledger already.
        cutoff: A connector's go-live cutoff (None: none recorded, nothing held).
        batch: Tickets assessed together.
        version: The configured version compared with its predecessor, if that is the diff
            (then `diff_packs` compares the two versions' packs, and `RulesDiff.kept` counts
            the open clocks ``new`` keeps on an older version).
    """
    sides = (VersionedPack.of(old), VersionedPack.of(new))
    out = diff_packs(sides[0].newest.pack, sides[1].newest.pack)
    out.at, out.tickets, out.version = now, 0, version
    if version is not None:
        out.kept = 0
    gates = (_Gate(sides[0]), _Gate(sides[1]))
    newly: dict[str, set[str]] = defaultdict(set)
    gone: dict[str, set[str]] = defaultdict(set)
    chunk: list[Ticket] = []

    def run(part: list[Ticket]) -> None:
        assessed = [p.assess_many(part, now) for p in sides]
        fire: list[dict[str, Action]] = [{}, {}]
        for side in (0, 1):
            for a in assessed[side]:
                if is_done(a.ticket):
                    continue
                limit = cutoff(a.ticket.connector)
                for x in a.actions:
                    if x.shadow or (limit is not None and gates[side].before(x, a, limit)):
                        continue
                    fire[side][x.key] = x
        done = planned_before(sorted(fire[0].keys() | fire[1].keys()))
        for key in fire[1].keys() - fire[0].keys() - done:
            x = fire[1][key]
            newly[f"{x.escalation} L{x.level} {key.rsplit(':', 1)[1]}"].add(
                f"{x.connector}:{x.ticket_id}"
            )
        for key in fire[0].keys() - fire[1].keys() - done:
            x = fire[0][key]
            gone[f"{x.escalation} L{x.level} {key.rsplit(':', 1)[1]}"].add(
                f"{x.connector}:{x.ticket_id}"
            )
        for before, after in zip(assessed[0], assessed[1], strict=True):
            ms = [
                {(m.policy, m.metric.value, m.cycle): m for m in side.measures if _open(m)}
                for side in (before, after)
            ]
            if out.kept is not None and version is not None:
                out.kept += sum(after.version_of(m) != version.new for m in ms[1].values())
            for k in sorted(ms[0].keys() | ms[1].keys()):
                o, n = ms[0].get(k), ms[1].get(k)
                co, cn = (_clock(o) if o else None), (_clock(n) if n else None)
                if co != cn:
                    out.clocks.append(
                        ClockChange(before.ticket.key, f"{k[0]}/{k[1]}#{k[2]}", co, cn)
                    )

    for t in tickets:
        out.tickets += 1
        chunk.append(t)
        if len(chunk) >= batch:
            run(chunk)
            chunk = []
    if chunk:
        run(chunk)
    out.newly_firing = {k: sorted(v) for k, v in sorted(newly.items())}
    out.no_longer_firing = {k: sorted(v) for k, v in sorted(gone.items())}
    return out


def _tickets(names: list[str]) -> str:
    shown = ", ".join(names[:SAMPLE])
    return shown + (f", ... ({len(names)} in all)" if len(names) > SAMPLE else "")


def render_text(d: RulesDiff) -> str:
    """The diff for people."""
    lines: list[str] = []
    lines.append(
        "actions added (fire for every clock reaching their level, and once for clocks already past it):"
    )
    lines += [f"  + {a.name}: {a.kind} {a.argument}" for a in d.added] or ["  none"]
    lines.append("actions removed (never fire again):")
    lines += [f"  - {a.name}: {a.kind} {a.argument}" for a in d.removed] or ["  none"]
    lines.append("levels whose condition changed:")
    lines += [f"  ~ {n}" for n in d.levels_changed] or ["  none"]
    for title, changed in (
        ("policies", d.policies_changed),
        ("contracts", d.contracts_changed),
        ("calendars", d.calendars_changed),
    ):
        lines.append(f"{title}:")
        lines += [f"  ~ {p}" for p in changed] or ["  unchanged"]
    if d.tickets is None:
        lines.append("(give --config to see what the stored tickets would do)")
        return "\n".join(lines) + "\n"
    at = d.at.isoformat() if d.at else "now"
    lines.append(f"stored tickets: {d.tickets}, assessed at {at}")
    count = sum(len(v) for v in d.newly_firing.values())
    lines.append(f"  would newly fire at the next sync: {count} action(s)")
    lines += [f"    {k}: {_tickets(v)}" for k, v in d.newly_firing.items()]
    count = sum(len(v) for v in d.no_longer_firing.values())
    lines.append(f"  would no longer fire: {count} action(s)")
    lines += [f"    {k}: {_tickets(v)}" for k, v in d.no_longer_firing.items()]
    lines.append(f"  open clocks that change: {len(d.clocks)}")
    for c in d.clocks[:50]:
        lines.append(f"    {c.ticket} {c.clock}: {_clock_text(c.old)} -> {_clock_text(c.new)}")
    if len(d.clocks) > 50:
        lines.append(f"    ... and {len(d.clocks) - 50} more (--json lists them all)")
    if d.version is not None and d.kept is not None:
        lines.append(
            f"  open clocks that stay on an older version (their cycle started before "
            f"{d.version.effective_from.isoformat()}): {d.kept}"
        )
    return "\n".join(lines) + "\n"


def _clock_text(c: Mapping[str, Any] | None) -> str:
    if c is None:
        return "not measured"
    return f"{c['state']}, target {c['target']}, deadline {c['deadline'] or '-'}"
