"""Policy-as-code tests: YAML cases of a ticket, a time, and the measures and actions expected.

A test file::

    rules: [default.yaml]            # relative to this file
    cases:
      - name: urgent ticket breaches after 8 business hours
        at: 2026-03-03T12:00:00+01:00
        ticket: {id: "1", created_at: "2026-03-02T09:00:00+01:00", status: open, priority: urgent}
        expect:
          measures:                  # each must match one measure on the keys given
            - {policy: customer-sla, metric: resolution, state: breached, elapsed: 9h}
          actions:                   # exactly the actions planned (keys given must match)
            - {escalation: resolution-breached, level: 1, kind: add_tag, params: {tag: sla_breached}}

Durations (``elapsed``, ``remaining``, ``target``) are written like targets, times as ISO 8601.
Leave ``actions`` out to not check actions; write ``actions: []`` to expect none.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from slaplug.durations import parse_duration
from slaplug.errors import ConfigError, Problem, RuleError
from slaplug.model import ActionKind, MeasureState, Metric
from slaplug.rules.pack import RulePack
from slaplug.serialize import _TICKET_KEYS, action_to_dict, measure_to_dict, ticket_from_dict
from slaplug.sla.calendar import HolidayProvider
from slaplug.yamlpos import Located, read_located
from slaplug.yamlpos import Path as YPath

__all__ = ["CaseResult", "run_policy_tests"]

_DURATION_KEYS = {"elapsed": "elapsed_s", "remaining": "remaining_s", "target": "target_s"}
_TIME_KEYS = {"start", "deadline", "breached_at", "stopped_at"}
#: The keys an expected measure or action may give (those of `measure_to_dict` and
#: `action_to_dict`, durations also written like targets).
_MEASURE_KEYS = frozenset(
    {"policy", "metric", "cycle", "state", "priority", "calendar", "percent", "pauses"}
    | _DURATION_KEYS.keys()
    | set(_DURATION_KEYS.values())
    | _TIME_KEYS
)
_ACTION_KEYS = frozenset(
    {"kind", "params", "connector", "ticket_id", "key", "escalation", "level", "shadow"}
    | {"explanation"}
)


@dataclass
class CaseResult:
    """The outcome of one case: passed when ``failures`` is empty."""

    name: str
    file: str
    line: int
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No expectation failed."""
        return not self.failures


def _same_time(a: Any, b: Any) -> bool:
    try:
        ta = a if isinstance(a, datetime) else datetime.fromisoformat(str(a))
        tb = datetime.fromisoformat(str(b))
    except ValueError:
        return False
    return ta == tb


def _matches(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Differences between the keys given in ``expected`` and ``actual``."""
    diffs = []
    for key, want in expected.items():
        if key in _DURATION_KEYS:
            got_s = actual.get(_DURATION_KEYS[key])
            want_s = (
                parse_duration(want).total_seconds() if not isinstance(want, int | float) else want
            )
            if got_s != want_s:
                diffs.append(f"{key}: expected {want}, got {got_s}s")
        elif key in _TIME_KEYS:
            if want is None and actual.get(key) is None:
                continue
            if not _same_time(want, actual.get(key)):
                diffs.append(f"{key}: expected {want}, got {actual.get(key)}")
        elif key == "params":
            got = actual.get("params", {})
            for pk, pv in want.items():
                if got.get(pk) != pv:
                    diffs.append(f"params.{pk}: expected {pv!r}, got {got.get(pk)!r}")
        elif actual.get(key) != want:
            diffs.append(f"{key}: expected {want!r}, got {actual.get(key)!r}")
    return diffs


def _short(d: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"{k}: {d.get(k)}" for k in keys if k in d) + "}"


def run_policy_tests(
    path: str | Path, engine: str | None = None, *, holiday_provider: HolidayProvider | None = None
) -> list[CaseResult]:
    """Run every case of one test file.

    Args:
        path: The policy test file.
        engine: Override the pack's ``engine:`` setting.
        holiday_provider: Asked first for the calendars' closed dates (the CLI passes the
            ``holidays`` hook); None: the built-in country tables.

    Raises:
        RuleError: The test file (or the rules it names) is malformed.
    """
    path = Path(path)
    located = read_located(path)  # bounded, UTF-8 checked: problems at file:line:col
    if located.problems:
        raise RuleError(located.problems)
    doc = located.data
    if not isinstance(doc, Mapping) or not isinstance(doc.get("cases"), list) or "rules" not in doc:
        raise RuleError(
            [located.problem((), "a policy test file has rules: [files] and cases: [...]")]
        )
    rules = doc["rules"] if isinstance(doc["rules"], list) else [doc["rules"]]
    pack = RulePack.load(
        [path.parent / r for r in rules],
        engine=engine,  # type: ignore[arg-type]
        holiday_provider=holiday_provider,
    )
    results = []
    try:
        # Every case is read and checked first, so that all their mistakes are told at once.
        problems: list[Problem] = []
        ready: list[tuple[CaseResult, Any, datetime, Mapping[str, Any]]] = []
        for i, case in enumerate(doc["cases"]):
            where: YPath = ("cases", i)
            if not isinstance(case, Mapping) or not {"ticket", "at", "expect"} <= set(case):
                problems.append(located.problem(where, "a case has name, at, ticket and expect"))
                continue
            found = _check_case(located, where, case)
            found += _check_expect(pack, located, (*where, "expect"), case["expect"])
            problems += found
            if found:
                continue
            ticket = ticket_from_dict(case["ticket"], source=_SOURCE)
            at = _case_time(case["at"])
            assert at is not None  # checked by _check_case
            line = located.where(where)[0]
            name = str(case.get("name", f"case {i + 1}"))
            ready.append((CaseResult(name, str(path), line), ticket, at, case["expect"]))
        if problems:
            raise RuleError(problems)
        for result, ticket, at, expect in ready:
            _check(pack, ticket, at, expect, result)
            results.append(result)
    finally:
        pack.close()
    return results


#: The source named to `ticket_from_dict`, taken off its messages (the problem's position
#: names the file and line).
_SOURCE = "\x00ticket"


def _check_case(located: Located, where: YPath, case: Mapping[str, Any]) -> list[Problem]:
    """The problems of a case's ``at`` and ``ticket``, each at its ``file:line:col``."""
    out: list[Problem] = []
    if _case_time(case["at"]) is None:
        out.append(
            located.problem(
                (*where, "at"),
                f"{_shown(case['at'])} is not a time with an offset; write it as ISO 8601, "
                "e.g. 2026-03-02T10:30:00+01:00",
            )
        )
    raw = case["ticket"]
    unknown = sorted(set(raw) - _TICKET_KEYS) if isinstance(raw, Mapping) else []
    for k in unknown:
        out.append(
            located.problem(
                (*where, "ticket", k),
                f'unknown key "{k}" of a ticket{_one_of(k, _TICKET_KEYS)}',
                at_key=True,
            )
        )
    if not unknown:
        try:
            ticket_from_dict(raw, source=_SOURCE)
        except (ConfigError, ValueError) as exc:
            message = str(exc).removeprefix(_SOURCE).removeprefix(": ")
            out.append(located.problem((*where, "ticket"), message))
    return out


def _shown(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _case_time(value: Any) -> datetime | None:
    """A case's ``at`` as an aware datetime, or None when it is not one."""
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return value if value.tzinfo is not None else None


def _suggest(name: object, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), sorted(options), n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


def _one_of(name: object, options: Iterable[str]) -> str:
    """``'; did you mean "metric"?'``, else ``'; use one of a, b, c'``."""
    return _suggest(name, options) or f"; use one of {', '.join(sorted(options))}"


def _check_expect(pack: RulePack, located: Located, path: YPath, expect: Any) -> list[Problem]:
    """Every problem of one case's ``expect``, each at its ``file:line:col``: a key no
    measure or action has, a duration or time that is not one, a metric, state, action kind,
    policy or escalation the rules do not have. Checked before the case runs, so a typo is
    not reported as a measure or an action that was not found."""
    out: list[Problem] = []

    def error(p: YPath, message: str, at_key: bool = False) -> None:
        out.append(located.problem(p, message, at_key))

    if not isinstance(expect, Mapping):
        error(path, "expect is a mapping with measures: [...] and/or actions: [...]")
        return out
    for key in expect:
        if key not in ("measures", "actions"):
            hint = _one_of(key, ("measures", "actions"))
            error((*path, key), f'unknown key "{key}" in expect{hint}', at_key=True)
    policies = {p.name for p in pack.source.policies}
    escalations = {e.name for e in pack.source.escalations}
    for section, keys in (("measures", _MEASURE_KEYS), ("actions", _ACTION_KEYS)):
        items = expect.get(section)
        if items is None:
            continue
        if not isinstance(items, list):
            error(
                (*path, section), f"{section} is a list of mappings, e.g. [{{metric: resolution}}]"
            )
            continue
        what = section.removesuffix("s")
        for i, want in enumerate(items):
            ipath: YPath = (*path, section, i)
            if not isinstance(want, Mapping):
                error(ipath, f"each expected {what} is a mapping of keys to expected values")
                continue
            for key, value in want.items():
                kpath: YPath = (*ipath, key)
                if key not in keys:
                    error(kpath, f'unknown key "{key}" of a {what}{_one_of(key, keys)}', True)
                elif key in _DURATION_KEYS and not isinstance(value, int | float):
                    try:
                        parse_duration(value)
                    except ValueError as exc:
                        error(kpath, str(exc))
                elif key == "params" and not isinstance(value, Mapping):
                    error(kpath, "params is a mapping, e.g. params: {tag: sla_breached}")
                elif key in _TIME_KEYS and value is not None and not isinstance(value, datetime):
                    try:
                        datetime.fromisoformat(str(value))
                    except ValueError:
                        error(
                            kpath,
                            f'"{value}" is not a time; write it as ISO 8601, e.g. '
                            "2026-03-03T12:00:00+01:00",
                        )
                else:
                    message = _bad_value(section, key, value, policies, escalations)
                    if message:
                        error(kpath, message)
    return out


def _bad_value(
    section: str, key: str, value: Any, policies: set[str], escalations: set[str]
) -> str | None:
    """What is wrong with an expected name, or None."""
    choices: dict[str, Iterable[str]] = (
        {
            "metric": [m.value for m in Metric],
            "state": [s.value for s in MeasureState],
            "policy": policies,
        }
        if section == "measures"
        else {"kind": [k.value for k in ActionKind], "escalation": escalations}
    )
    known = choices.get(key)
    if known is None or value in set(known):
        return None
    where = {"policy": "no policy", "escalation": "no escalation"}.get(key)
    if where is not None:
        return f'{where} "{value}" in the rules{_one_of(value, known)}'
    what = {"kind": "an action kind", "metric": "a metric", "state": "a state"}[key]
    return f'"{value}" is not {what}{_one_of(value, known)}'


def _check(
    pack: RulePack, ticket: Any, at: datetime, expect: Mapping[str, Any], result: CaseResult
) -> None:
    assessment = pack.assess(ticket, at)
    measures = [measure_to_dict(m) for m in assessment.measures]
    for want in expect.get("measures") or []:
        if not any(not _matches(want, got) for got in measures):
            # Report the differences to the most similar measure of the same metric.
            closest = sorted(
                (_matches(want, got) for got in measures if got["metric"] == want.get("metric")),
                key=len,
            )
            detail = "; ".join(closest[0]) if closest else "no such measure"
            result.failures.append(
                f"measure {_short(want, ('policy', 'metric', 'cycle'))}: {detail}"
            )
    if "actions" in expect:
        planned = [action_to_dict(a) for a in assessment.actions]
        unmatched = list(planned)
        for want in expect["actions"] or []:
            hit = next((a for a in unmatched if not _matches(want, a)), None)
            if hit is None:
                result.failures.append(f"expected action not planned: {dict(want)}")
            else:
                unmatched.remove(hit)
        for extra in unmatched:
            result.failures.append(
                "unexpected action: " + _short(extra, ("escalation", "level", "kind", "params"))
            )
