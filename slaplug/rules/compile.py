"""From rules files to a checked `RulePackSource`: every problem found, each at ``file:line:col``.

One small function per construct: conditions (`condition`), templates (`check_template`),
policies and escalations (`compile_files`). Nothing here evaluates anything; `slaplug.rules.pack`
does that.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from slaplug.durations import MAX_DURATION, parse_duration
from slaplug.errors import CalendarError, Problem, RuleError
from slaplug.model import ActionKind, Metric
from slaplug.rules.conditions import (
    All,
    AnyOf,
    Compare,
    Condition,
    Contains,
    Exists,
    FieldType,
    In,
    Not,
)
from slaplug.rules.contract_check import check_contract
from slaplug.rules.contract_spec import ContractSpec
from slaplug.rules.engines.fields import (
    CUSTOM_PREFIX,
    DURATION_FIELDS,
    ENUM_VALUES,
    INSTANT_FIELDS,
    MEASURE_FIELDS,
    TEMPLATE_NAMES,
    TICKET_FIELDS,
)
from slaplug.rules.identity import duplicate_identities
from slaplug.rules.schema import (
    PRIORITY_NAMES,
    ActionSpec,
    EscalationSpec,
    PolicySpec,
    RulePackSpec,
)
from slaplug.rules.writes import RuleWrite, writes_of
from slaplug.sla.calendar import BUILTIN_24X7, BusinessCalendar, HolidayProvider, builtin_24x7
from slaplug.sla.calendar_spec import CalendarSpec
from slaplug.sla.policy import ANY_PRIORITY
from slaplug.validation import describe
from slaplug.yamlpos import Located, read_located
from slaplug.yamlpos import Path as YPath

__all__ = [
    "RulePackSource",
    "action_template",
    "check_template",
    "compile_files",
    "parse_template",
]


def _suggest(name: str, options: Iterable[str]) -> str:
    """``'; did you mean "percent"?'`` for a likely typo, else ``""``."""
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.7)
    return f'; did you mean "{close[0]}"?' if close else ""


_OPS = {
    "eq",
    "ne",
    "in",
    "not_in",
    "lt",
    "lte",
    "gt",
    "gte",
    "contains",
    "not_contains",
    "exists",
}
#: Largest literal per time-like measure field, and how to say it. Each literal becomes a due
#: time (`RulePack.next_due`: a calendar date after the target); 10x the longest target and the
#: longest duration keep those dates within the calendar's years.
_NUMBER_BOUNDS: dict[str, tuple[float, str]] = {
    "percent": (1000.0, "1000 (ten times the target)"),
    **{
        f: (MAX_DURATION.total_seconds(), f"{MAX_DURATION.total_seconds() / 3600:.0f}h")
        for f in DURATION_FIELDS
    },
}
_ORDER_OPS = {"lt": "lt", "lte": "le", "gt": "gt", "gte": "ge"}
#: A metric's own conditions under ``clocks:``, in the order the clock applies them.
_CLOCK_KEYS = ("start_when", "pause_when", "stop_when", "cancel_when")
_TEMPLATE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


@dataclass
class RulePackSource:
    """A checked rules pack: specs, built calendars, compiled conditions, field types."""

    files: list[str]
    engine: str | None
    shadow: bool
    types: dict[str, FieldType]
    calendars: dict[str, BusinessCalendar]
    policies: list[PolicySpec]
    policy_match: list[Condition | None]
    policy_stop: list[Condition | None]
    escalations: list[EscalationSpec]
    #: Per policy, per metric with ``clocks:``, its compiled conditions by key
    #: (``start_when``, ``pause_when``, ``stop_when``, ``cancel_when``).
    policy_clocks: list[dict[Metric, dict[str, Condition]]] = field(default_factory=list)
    #: Per escalation, per level, the condition of that level (escalation's ``when`` and level's).
    escalation_levels: list[list[Condition]] = field(default_factory=list)
    #: Customer contracts, in order, and each one's compiled ``match`` (None: every ticket).
    contracts: list[ContractSpec] = field(default_factory=list)
    contract_match: list[Condition | None] = field(default_factory=list)
    #: What the escalations write that must exist on the helpdesk, with where each is declared.
    writes: list[RuleWrite] = field(default_factory=list)


class _Ctx:
    """Where we are while compiling: file, path, the field types known, problems so far."""

    def __init__(self, located: Located, types: Mapping[str, FieldType], problems: list[Problem]):
        self.located = located
        self.types = types
        self.problems = problems
        #: Whether conditions may name instant fields (``event``): a metric's start, stop
        #: and cancel conditions only.
        self.allow_instant = False

    def error(self, path: YPath, message: str, at_key: bool = False) -> None:
        self.problems.append(self.located.problem(path, message, at_key))


def condition(spec: Any, path: YPath, ctx: _Ctx, allow_measure: bool) -> Condition | None:
    """Compile one YAML condition; report problems to ``ctx`` and return None on any."""
    if not isinstance(spec, Mapping):
        ctx.error(
            path, "a condition is a mapping of field names to values, e.g. {priority: urgent}"
        )
        return None
    before = len(ctx.problems)
    parts: list[Condition] = []
    for key, value in spec.items():
        sub = (*path, key)
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                ctx.error(sub, f"{key} takes a non-empty list of conditions")
                continue
            items = [condition(v, (*sub, i), ctx, allow_measure) for i, v in enumerate(value)]
            ok = tuple(c for c in items if c is not None)
            parts.append(All(ok) if key == "all" else AnyOf(ok))
        elif key == "not":
            inner = condition(value, sub, ctx, allow_measure)
            if inner is not None:
                parts.append(Not(inner))
        else:
            c = _field_condition(key, value, sub, ctx, allow_measure)
            if c is not None:
                parts.append(c)
    if len(ctx.problems) > before:
        return None
    return parts[0] if len(parts) == 1 else All(tuple(parts))


def _field_type(name: str, path: YPath, ctx: _Ctx, allow_measure: bool) -> FieldType | None:
    if name in TICKET_FIELDS:
        return TICKET_FIELDS[name]
    if name in INSTANT_FIELDS:
        if ctx.allow_instant:
            return INSTANT_FIELDS[name]
        ctx.error(
            path,
            f'"{name}" holds only at an instant; use it in a metric\'s start_when, stop_when '
            "or cancel_when",
            at_key=True,
        )
        return None
    if name in MEASURE_FIELDS:
        if allow_measure:
            return MEASURE_FIELDS[name]
        ctx.error(
            path, f'"{name}" is a measure field; policies match on ticket fields only', at_key=True
        )
        return None
    if name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX):
        found = ctx.types.get(name)
        if found is None and isinstance(ctx.types, dict):
            # Undeclared custom fields are text; the engines need every field's type.
            found = ctx.types[name] = FieldType.STR
        return found or FieldType.STR
    known = sorted(TICKET_FIELDS) + (sorted(MEASURE_FIELDS) if allow_measure else [])
    hint = _suggest(name, known) or f"; use one of {', '.join(known)} or fields.<custom field>"
    ctx.error(path, f'unknown field "{name}"{hint}', at_key=True)
    return None


def _literal(name: str, ftype: FieldType, value: Any, path: YPath, ctx: _Ctx) -> Any:
    """Check and convert one literal for field ``name``; report and return None if wrong."""
    if ftype is FieldType.NUM:
        if name in DURATION_FIELDS and isinstance(value, str):
            try:
                return parse_duration(value).total_seconds()
            except ValueError as exc:
                ctx.error(path, str(exc))
                return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            ctx.error(path, f"{name} is a number; {value!r} is not one")
            return None
        if not math.isfinite(value):  # NaN compares false with everything: never fires
            ctx.error(path, f"{name} is a finite number; {value!r} is not one")
            return None
        bound = _NUMBER_BOUNDS.get(name)
        if bound is not None and abs(value) > bound[0]:
            ctx.error(path, f"{name} is at most {bound[1]}; {value!r} is beyond any deadline")
            return None
        return value
    if ftype is FieldType.BOOL:
        if not isinstance(value, bool):
            ctx.error(path, f"{name} is true or false; {value!r} is neither")
            return None
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        if isinstance(value, date):  # YAML read an unquoted 2026-12-02 as a date
            ctx.error(
                path,
                f"{name} takes text; YAML read {value.isoformat()} as a date: quote it, "
                f'"{value.isoformat()}" (fields hold dates as YYYY-MM-DD text, which '
                "compares in date order)",
            )
            return None
        ctx.error(path, f"{name} takes text; {value!r} is not")
        return None
    text = str(value)
    allowed = ENUM_VALUES.get(name)
    if allowed is not None and text not in allowed:
        hint = _suggest(text, allowed) or f"; use one of {', '.join(sorted(allowed))}"
        article = "an" if name[:1] in "aeiou" else "a"
        ctx.error(path, f'"{text}" is not {article} {name}{hint}')
        return None
    return text


def _field_condition(
    name: str, spec: Any, path: YPath, ctx: _Ctx, allow_measure: bool
) -> Condition | None:
    ftype = _field_type(name, path, ctx, allow_measure)
    if ftype is None:
        return None
    if not isinstance(spec, Mapping):
        spec = {"in": spec} if isinstance(spec, list) else {"eq": spec}
        if ftype is FieldType.LIST:
            spec = {"contains": spec.get("eq", spec.get("in"))}
    parts: list[Condition] = []
    for op, value in spec.items():
        sub = (*path, op)
        if op not in _OPS:
            ctx.error(
                sub, f'unknown operator "{op}"; use one of {", ".join(sorted(_OPS))}', at_key=True
            )
            continue
        c = _operator(name, ftype, op, value, sub, ctx)
        if c is not None:
            parts.append(c)
    return parts[0] if len(parts) == 1 else All(tuple(parts))


def _operator(
    name: str, ftype: FieldType, op: str, value: Any, path: YPath, ctx: _Ctx
) -> Condition | None:
    if op == "exists":
        if not isinstance(value, bool):
            ctx.error(path, "exists takes true or false")
            return None
        return Exists(name, negate=not value)
    if ftype is FieldType.LIST:
        if op not in ("contains", "not_contains"):
            ctx.error(
                path,
                f"{name} is a list; use contains or not_contains (a value or a list of values)",
            )
            return None
        values = value if isinstance(value, list) else [value]
        items = [_literal(name, FieldType.STR, v, (*path, i), ctx) for i, v in enumerate(values)]
        if any(v is None for v in items) or not items:
            return None
        if op == "contains":  # contains any of the values
            cs = tuple(Contains(name, v) for v in items)
            return cs[0] if len(cs) == 1 else AnyOf(cs)
        return All(tuple(Contains(name, v, negate=True) for v in items))
    if op in ("contains", "not_contains"):
        ctx.error(
            path, f"{op} is for list fields such as tags; {name} holds one value, use eq or in"
        )
        return None
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            ctx.error(path, f"{op} takes a non-empty list")
            return None
        lits = [_literal(name, ftype, v, (*path, i), ctx) for i, v in enumerate(value)]
        if any(v is None for v in lits):
            return None
        return In(name, tuple(lits), negate=op == "not_in")
    lit = _literal(name, ftype, value, path, ctx)
    if lit is None:
        return None
    if op in _ORDER_OPS:
        if ftype is FieldType.BOOL:
            ctx.error(path, f"{name} is true or false; {op} does not apply")
            return None
        return Compare(name, _ORDER_OPS[op], lit)  # type: ignore[arg-type]
    return Compare(name, "eq" if op == "eq" else "ne", lit)


def check_template(text: str, path: YPath, ctx: _Ctx) -> None:
    """Report every ``{{ name }}`` in ``text`` that no template value provides."""
    for m in _TEMPLATE.finditer(text):
        name = m.group(1)
        if name in TEMPLATE_NAMES or (name.startswith("ticket.fields.") and len(name) > 14):
            continue
        hint = _suggest(name, TEMPLATE_NAMES) or (
            f"; known: {', '.join(sorted(TEMPLATE_NAMES))}, ticket.fields.<name>"
        )
        ctx.error(path, f'template names unknown field "{name}"{hint}')


@functools.lru_cache(maxsize=1024)
def parse_template(text: str) -> tuple[str, ...]:
    """``"Due {{ measure.deadline }}."`` -> ``("Due ", "measure.deadline", ".")``.

    Literal text and names alternate, literal first, so rendering is a join with no regex.
    """
    return tuple(_TEMPLATE.split(text))


def action_template(action: ActionSpec) -> tuple[str, str] | None:
    """The argument of ``action`` that may hold ``{{ templates }}``: its name among the
    action's arguments (``body``, ``message`` or ``value``) and its text; None if none can."""
    if action.comment is not None:
        return "body", action.comment
    if action.notify is not None:
        return "message", action.notify.message
    if action.set_field is not None and isinstance(action.set_field.value, str):
        return "value", action.set_field.value
    return None


def _templates_of(esc: EscalationSpec) -> Iterable[tuple[YPath, str]]:
    for li, level in enumerate(esc.level_specs()):
        base: YPath = ("levels", li, "actions") if esc.levels is not None else ("actions",)
        for ai, action in enumerate(level.actions):
            found = action_template(action)
            if found is not None:
                argument, text = found
                p: YPath = (*base, ai, action.kind)
                # A comment is its own text; notify and set_field hold it under a key.
                yield (p if argument == "body" else (*p, argument)), text


def _check_identities(esc: EscalationSpec, path: YPath, ctx: _Ctx) -> None:
    """Two actions of one level with one identity: a rules error at the second one."""
    for li, ai, message in duplicate_identities([lv.actions for lv in esc.level_specs()]):
        base: YPath = ("levels", li, "actions") if esc.levels is not None else ("actions",)
        ctx.error((*path, *base, ai), message)


#: pydantic's error types for a date or a datetime that is not one.
_DATE_ERRORS = frozenset(
    {"date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"}
)
_DATETIME_ERRORS = frozenset(
    {"datetime_type", "datetime_parsing", "datetime_from_date_parsing", "datetime_object_invalid"}
)
#: What a mapping given as a list (or as a single value) looks like, by key.
_MAPPING_EXAMPLES = {
    "holidays": "holidays: {country: DE, dates: [2026-12-25]}",
    "hours": 'hours: {mon-fri: "09:00-17:00"}',
    "notify": "notify: {channel: oncall, message: ...}",
    "assign": "assign: {group: tier2}",
    "set_field": "set_field: {field: sla_status, value: breached}",
    "exclusions": "exclusions: {tags: [sla_excluded]}",
    "when": "when: {metric: resolution, breached: true}",
    "match": "match: {group: support}",
    "stop_when": "stop_when: {tags: no_sla}",
}
#: What one item of a list is, by the list's key, for an item that is not a mapping.
_ITEM_EXAMPLES = {
    "actions": "an action is a one-key mapping, e.g. - add_tag: sla_breached",
    "levels": "a level is a mapping, e.g. - {when: {overdue: {gte: 4h}}, actions: [...]}",
    "policies": "a policy is a mapping, e.g. - {name: support, targets: {resolution: "
    "{urgent: 8h}}}",
    "escalations": "an escalation is a mapping, e.g. - {name: breached, when: {breached: "
    "true}, actions: [add_tag: sla_breached]}",
    "contracts": "a contract is a mapping, e.g. - {name: gold, objectives: [...]}",
    "objectives": "an objective is a mapping, e.g. - {severity: urgent, metric: resolution, "
    "target: 95}",
    "tiers": "a tier is a mapping, e.g. - {at_least: 90, below: 95, credit: 10}",
    "maintenance": 'a window is a mapping, e.g. - {start: "2026-10-10T22:00", end: '
    '"2026-10-11T02:00"}',
}


def _given(value: Any) -> str:
    """A value as the user wrote it in YAML, for a message."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "an empty value" if value is None else str(value).lower()


def _describe(err: ErrorDetails, path: YPath, model: type[BaseModel] | None) -> str:
    """One pydantic error in the words of every other rules problem: what was written and
    what to write instead (``write it as YYYY-MM-DD``, ``write [pending]``)."""
    kind, value = err["type"], err.get("input")
    name = next((str(p) for p in reversed(path) if isinstance(p, str)), "this")
    if kind == "extra_forbidden":
        return f'unknown key "{path[-1]}"; check its spelling'
    if kind == "missing":
        return f'"{path[-1]}" is required'
    if kind == "enum" and path[-1] == "metric":
        return f"unknown metric; use one of {', '.join(sorted(ENUM_VALUES['metric']))}"
    if kind == "enum" and len(path) >= 3 and path[-3] == "targets":
        return (
            f'"{path[-2]}" is not a metric; use one of {", ".join(sorted(ENUM_VALUES["metric"]))}'
        )
    if kind in _DATE_ERRORS:
        return f"{_given(value)} is not a date; write it as YYYY-MM-DD, e.g. 2026-12-25"
    if kind in _DATETIME_ERRORS:
        return (
            f"{_given(value)} is not a date and time; write it as YYYY-MM-DDTHH:MM, e.g. "
            '"2026-10-10T22:00" (without an offset such as +01:00, in the contract\'s zone)'
        )
    if kind in ("list_type", "tuple_type", "set_type", "iterable_type"):
        if isinstance(value, Mapping):
            return (
                f"{name} is a list, not a mapping; start each item on its own line with "
                '"- ", or put it in brackets: [{...}]'
            )
        return f"{name} is a list; write [{_plain(value)}] (or indented - lines)"
    if kind in ("model_type", "dict_type", "model_attributes_type", "mapping_type"):
        if len(path) >= 2 and isinstance(path[-1], int) and str(path[-2]) in _ITEM_EXAMPLES:
            return f"{_ITEM_EXAMPLES[str(path[-2])]}; {_given(value)} is not one"
        if len(path) == 2 and path[0] == "calendars":
            return (
                f'calendar "{path[1]}" is a mapping, not {_given(value)}; write it like '
                '{timezone: Europe/Berlin, hours: {mon-fri: "09:00-17:00"}}'
            )
        if len(path) >= 2 and path[-2] == "targets":
            return (
                f"the {name} targets are a mapping of priorities to durations, not "
                f'{_given(value)}; write it like {name}: {{urgent: 8h, "*": 24h}}'
            )
        example = _MAPPING_EXAMPLES.get(name)
        return f"{name} is a mapping, not {_given(value)}" + (
            f"; write it like {example}" if example else "; write it as indented key: value lines"
        )
    if kind in ("string_type", "string_sub_type") and "hours" in path:
        return f'{_given(value)} is not a window; write it as "HH:MM-HH:MM", e.g. "09:00-17:30"'
    if kind in ("string_type", "string_sub_type"):
        if isinstance(value, list | Mapping):
            return f"{name} takes one text value, not {_given(value)}"
        return f"{name} takes text; {_given(value)} is not (quote it if it is meant as text)"
    return describe(err, model)


def _plain(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _validation_problems(
    exc: ValidationError, located: Located, prefix: YPath, model: type[BaseModel] | None = None
) -> list[Problem]:
    problems = []
    for err in exc.errors():
        # pydantic reports dict-key errors at [..., key, "[key]"]; point at the key itself
        path = tuple(
            p for p in (*prefix, *err["loc"]) if not (isinstance(p, str) and p.endswith("[key]"))
        )
        at_key = err["type"] == "extra_forbidden"
        problems.append(located.problem(path, _describe(err, path, model), at_key))
    return problems


def _validate_pack(located: Located, problems: list[Problem]) -> RulePackSpec | None:
    """Validate one file, each calendar, policy and escalation on its own, so that one broken
    item neither hides the problems of the others nor keeps them from the semantic checks."""
    data = dict(located.data)
    items: dict[str, Any] = {}
    for key, model in (
        ("calendars", CalendarSpec),
        ("policies", PolicySpec),
        ("escalations", EscalationSpec),
        ("contracts", ContractSpec),
    ):
        raw = data.pop(key, None)
        if raw is None:
            continue
        if key == "calendars" and not isinstance(raw, Mapping):
            problems.append(located.problem((key,), "calendars is a mapping of names to calendars"))
            continue
        if key != "calendars" and not isinstance(raw, list):
            problems.append(located.problem((key,), f"{key} is a list"))
            continue
        entries = raw.items() if isinstance(raw, Mapping) else enumerate(raw)
        good: Any = {} if isinstance(raw, Mapping) else []
        for k, body in entries:
            try:
                item = model.model_validate(body if body is not None else {})
            except ValidationError as exc:
                problems.extend(_validation_problems(exc, located, (key, k), model))
                if key == "calendars":
                    good[k] = None  # declared, though broken: not an "unknown calendar"
                continue
            if isinstance(good, dict):
                good[k] = item
            else:
                good.append(item)
                located.valid.setdefault(key, []).append(int(k))
        items[key] = good
    try:
        head = RulePackSpec.model_validate(data)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, located, ()))
        return None
    return head.model_copy(update=items)


def compile_files(
    paths: Sequence[str | Path], *, holiday_provider: HolidayProvider | None = None
) -> RulePackSource:
    """Load, validate and compile rules files into one pack.

    Args:
        paths: The rules files, merged in order.
        holiday_provider: Asked first for each calendar's closed dates (the runners pass
            `slaplug.plugins.holidays_for`, the ``holidays`` hook); None uses the built-in
            country tables. Passed in, not imported, so the language loads no plugin (and
            no HTTP code).

    Raises:
        RuleError: Every problem in every file, each at ``file:line:col``.
    """
    problems: list[Problem] = []
    parts: list[tuple[Located, RulePackSpec]] = []
    for p in paths:
        name = str(p)
        located = read_located(p)
        problems.extend(located.problems)
        if located.data is None:
            if not located.problems:
                problems.append(
                    Problem(
                        "file is empty; a rules file declares calendars, policies or escalations",
                        "",
                        name,
                        1,
                        1,
                    )
                )
            continue
        if not isinstance(located.data, Mapping):
            problems.append(
                located.problem(
                    (), "a rules file is a mapping with calendars, policies, escalations"
                )
            )
            continue
        spec = _validate_pack(located, problems)
        if spec is not None:
            parts.append((located, spec))
    return _compile(parts, problems, holiday_provider)


def _compile(
    parts: list[tuple[Located, RulePackSpec]],
    problems: list[Problem],
    holiday_provider: HolidayProvider | None,
) -> RulePackSource:
    calendars: dict[str, BusinessCalendar] = {BUILTIN_24X7: builtin_24x7()}
    types: dict[str, FieldType] = {}
    broken: set[str] = set()
    engines = {spec.engine for _, spec in parts if spec.engine}
    for located, spec in parts:
        ctx = _Ctx(located, types, problems)
        for fname, ftype in spec.fields.items():
            types[fname if fname.startswith(CUSTOM_PREFIX) else CUSTOM_PREFIX + fname] = FieldType(
                ftype
            )
        for cname, cspec in spec.calendars.items():
            if cspec is None:  # invalid; its problems are reported already
                broken.add(cname)
                continue
            if cname in calendars:
                ctx.error(
                    ("calendars", cname),
                    f'calendar "{cname}" is declared twice (or is built in); rename one',
                )
                continue
            try:
                calendars[cname] = BusinessCalendar(
                    cspec, name=cname, holiday_provider=holiday_provider
                )
            except CalendarError as exc:
                for pr in exc.problems:
                    ctx.error(("calendars", cname), pr.message)
    if len(engines) > 1:
        problems.append(parts[0][0].problem(("engine",), "files disagree on engine; choose one"))

    src = RulePackSource(
        files=[loc.file for loc, _ in parts],
        engine=engines.pop() if len(engines) == 1 else None,
        shadow=any(spec.shadow for _, spec in parts),
        types=types,
        calendars=calendars,
        policies=[],
        policy_match=[],
        policy_stop=[],
        escalations=[],
    )
    # Declared in any file, they count for all: one pack, one set of helpdesks.
    priorities = PRIORITY_NAMES.union(*(spec.priorities for _, spec in parts))
    seen_policies: dict[str, str] = {}
    seen_escalations: set[str] = set()
    catch_all: str | None = None
    for located, spec in parts:
        ctx = _Ctx(located, types, problems)
        for i, pol in zip(_valid_positions(located, "policies"), spec.policies, strict=True):
            path: YPath = ("policies", i)
            if pol.name in seen_policies:
                ctx.error(
                    (*path, "name"), f'policy "{pol.name}" is declared twice; names must be unique'
                )
            seen_policies[pol.name] = pol.kind
            if pol.calendar not in calendars and pol.calendar not in broken:
                known = ", ".join(sorted(calendars))
                hint = (
                    _suggest(pol.calendar, calendars)
                    or f"; declare it under calendars: or use one of {known}"
                )
                ctx.error((*path, "calendar"), f'unknown calendar "{pol.calendar}"{hint}')
            if pol.kind == "sla":
                if catch_all is not None:
                    ctx.error(
                        path,
                        f'policy "{pol.name}" can never apply: the catch-all policy "{catch_all}" '
                        "before it matches every ticket; move it up or give the catch-all a match",
                    )
                elif not pol.match:
                    catch_all = pol.name
            if not pol.targets:
                ctx.error((*path, "targets"), "a policy needs at least one target")
            _check_priorities(pol, path, ctx, priorities)
            match = condition(pol.match, (*path, "match"), ctx, False) if pol.match else None
            stop = (
                condition(pol.stop_when, (*path, "stop_when"), ctx, False)
                if pol.stop_when
                else None
            )
            clocks: dict[Metric, dict[str, Condition]] = {}
            for metric, clock in pol.clocks.items():
                cpath: YPath = (*path, "clocks", metric.value)
                if metric not in pol.targets:
                    ctx.error(
                        cpath,
                        f"{metric.value} has no target in this policy; add one under targets "
                        "or remove its clock conditions",
                        at_key=True,
                    )
                    continue
                conds: dict[str, Condition] = {}
                for key in _CLOCK_KEYS:
                    spec_c = getattr(clock, key)
                    if spec_c is None:
                        continue
                    ctx.allow_instant = key != "pause_when"
                    c = condition(spec_c, (*cpath, key), ctx, False)
                    ctx.allow_instant = False
                    if c is not None:
                        conds[key] = c
                clocks[metric] = conds
            src.writes.extend(_live_writes(pol, path, ctx))
            src.policies.append(pol)
            src.policy_match.append(match)
            src.policy_stop.append(stop)
            src.policy_clocks.append(clocks)
        for i, esc in zip(_valid_positions(located, "escalations"), spec.escalations, strict=True):
            path = ("escalations", i)
            if esc.name in seen_escalations:
                ctx.error(
                    (*path, "name"),
                    f'escalation "{esc.name}" is declared twice; names must be unique',
                )
            seen_escalations.add(esc.name)
            when = condition(esc.when, (*path, "when"), ctx, True)
            levels: list[Condition] = []
            for li, level in enumerate(esc.level_specs()):
                if not level.actions:
                    base: YPath = ("levels", li) if esc.levels is not None else ()
                    ctx.error(
                        (*path, *base, "actions"),
                        "no actions: this level would do nothing; give it at least one action "
                        "(e.g. - add_tag: sla_breached), or remove the level",
                    )
                extra = (
                    condition(level.when, (*path, "levels", li, "when"), ctx, True)
                    if level.when
                    else None
                )
                if when is not None:
                    levels.append(when if extra is None else All((when, extra)))
            for tpath, text in _templates_of(esc):
                check_template(text, (*path, *tpath), ctx)
            _check_identities(esc, path, ctx)
            src.escalations.append(esc)
            src.escalation_levels.append(levels)
            src.writes.extend(writes_of(esc, path, located))
    _check_live_owners(src.writes, seen_policies, problems)
    _compile_contracts(parts, problems, src, broken, priorities)
    if problems:
        raise RuleError(problems)
    return src


#: `RuleWrite.escalation` of a live field: ``policy <name>`` (it has no escalation).
LIVE_OWNER = "policy "


def _live_writes(pol: PolicySpec, path: YPath, ctx: _Ctx) -> list[RuleWrite]:
    """Check a policy's ``live_fields`` and list what they write (checked like any other
    written field by the doctor, ``rules check --config`` and ``--dry-run``)."""
    out: list[RuleWrite] = []
    seen: dict[str, str] = {}
    for metric, live in pol.live_fields.items():
        lpath: YPath = (*path, "live_fields", metric.value)
        if metric not in pol.targets:
            ctx.error(
                lpath,
                f"{metric.value} has no target in this policy, so no deadline to show; add "
                "one under targets or remove its live field",
                at_key=True,
            )
            continue
        if live.field in seen:
            ctx.error(
                (*lpath, "field"),
                f'field "{live.field}" already shows the {seen[live.field]} deadline; give '
                "each metric its own field",
            )
            continue
        seen[live.field] = metric.value
        out.append(
            RuleWrite(
                kind=ActionKind.SET_FIELD,
                name=live.field,
                role="",
                escalation=LIVE_OWNER + pol.name,
                where=ctx.located.problem((*lpath, "field"), ""),
                value_format=live.format,
            )
        )
    return out


def _check_live_owners(
    writes: Sequence[RuleWrite], kinds: Mapping[str, str], problems: list[Problem]
) -> None:
    """A live field has one owner: slaplug rewrites it whenever its deadline moves, so an
    escalation's ``set_field`` on it would be overwritten (or overwrite it), and an SLA and an
    OLA showing their deadlines in one field would take turns. Several SLA policies may share
    one (a ticket is under one SLA at a time), and so may several OLAs."""
    first: dict[str, RuleWrite] = {}
    for w in writes:
        if w.escalation.startswith(LIVE_OWNER):
            first.setdefault(w.name, w)
    for w in writes:
        owner = first.get(w.name)
        if owner is None or w is owner or w.kind is not ActionKind.SET_FIELD:
            continue
        at = f"{owner.where.file}:{owner.where.line}"
        if not w.escalation.startswith(LIVE_OWNER):
            problems.append(
                w.problem(
                    f'field "{w.name}" is the live field of {owner.escalation} ({at}); an '
                    "escalation must not set it too: use another field"
                )
            )
            continue
        mine, theirs = (kinds.get(x.escalation.removeprefix(LIVE_OWNER)) for x in (w, owner))
        if mine != theirs:
            problems.append(
                w.problem(
                    f'field "{w.name}" already shows the deadline of {theirs} {owner.escalation} '
                    f"({at}); an sla and an ola cannot share a live field: use another field"
                )
            )


def _check_priorities(pol: PolicySpec, path: YPath, ctx: _Ctx, known: frozenset[str]) -> None:
    """Report target keys no helpdesk delivers: such a target is never applied, silently."""
    for metric, per_priority in pol.targets.items():
        for name in per_priority:
            if name == ANY_PRIORITY or name in known:
                continue
            hint = _suggest(name, known) or _suggest(name.lower(), known)
            ctx.error(
                (*path, "targets", metric.value, name),
                f'unknown priority "{name}"{hint}; use {", ".join(sorted(PRIORITY_NAMES))}, '
                '"*" for every other priority, or declare your helpdesk\'s own names under '
                "priorities: (e.g. priorities: [P1, P2])",
                at_key=True,
            )


def _compile_contracts(
    parts: list[tuple[Located, RulePackSpec]],
    problems: list[Problem],
    src: RulePackSource,
    broken: set[str],
    priorities: frozenset[str],
) -> None:
    """Check every contract against the whole pack (after all policies are known).

    ``broken`` names calendars declared with problems (reported already): a contract naming
    one is not also told the calendar is unknown, so a time-zone typo is reported once.
    Likewise policies that failed to validate: what they measure is unknown, so a contract is
    not told that no policy measures its objectives.
    """
    unchecked = {n for located, _ in parts for n in _invalid_names(located, "policies")}
    seen: set[str] = set()
    for located, spec in parts:
        ctx = _Ctx(located, src.types, problems)
        for i, contract in zip(_valid_positions(located, "contracts"), spec.contracts, strict=True):
            path: YPath = ("contracts", i)
            if contract.name in seen:
                ctx.error(
                    (*path, "name"),
                    f'contract "{contract.name}" is declared twice; names must be unique',
                )
            seen.add(contract.name)
            match = check_contract(
                contract,
                path,
                ctx,
                calendars=[*src.calendars, *sorted(broken)],
                policies=src.policies,
                condition=functools.partial(_ticket_condition, ctx=ctx),
                priorities=priorities,
                unchecked=unchecked,
            )
            src.contracts.append(contract)
            src.contract_match.append(match)


def _ticket_condition(spec: Any, path: YPath, ctx: _Ctx) -> Condition | None:
    return condition(spec, path, ctx, False)


def _invalid_names(located: Located, key: str) -> list[str]:
    """The names of the ``key`` items that failed to validate (``"?"`` when unnamed)."""
    raw = located.data.get(key) if isinstance(located.data, Mapping) else None
    if raw is None:
        return []
    if not isinstance(raw, list):
        return ["?"]  # "policies is a list": none of them validated
    valid = set(_valid_positions(located, key))
    out = []
    for i, item in enumerate(raw):
        if i not in valid:
            name = item.get("name") if isinstance(item, Mapping) else None
            out.append(name if isinstance(name, str) else "?")
    return out


def _valid_positions(located: Located, key: str) -> list[int]:
    """Positions in the file of the ``key`` items that validated (see `Located.valid`)."""
    return located.valid.get(key, [])
