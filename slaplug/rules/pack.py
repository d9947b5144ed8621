"""A loaded rules pack: which policies apply to a ticket, its measures, the actions they call for.

Matching (policy ``match``, ``stop_when`` and escalation conditions) runs on the pack's engine
(durable_rules by default, the plain-Python reference when chosen explicitly); clocks run in
`slaplug.sla.clock`. Tickets are evaluated in batches so the engine is entered once per batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from slaplug.model import Action, ActionKind, SlaMeasure, Ticket
from slaplug.rules.compile import RulePackSource, compile_files, render_template
from slaplug.rules.conditions import All, AnyOf, Condition, FieldType, Not, Rule
from slaplug.rules.facts import normalize
from slaplug.rules.fields import (
    MEASURE_FIELDS,
    TICKET_FIELDS,
    measure_fact,
    template_values,
    ticket_fact,
)
from slaplug.rules.matcher import Matcher, make_matcher
from slaplug.rules.schema import ActionSpec, PolicySpec
from slaplug.sla.clock import measure
from slaplug.sla.policy import SlaPolicy

__all__ = ["Assessment", "RulePack", "referenced_fields"]

EngineName = Literal["durable", "python"]

log = logging.getLogger("slaplug.rules")


@dataclass(frozen=True)
class Assessment:
    """What the pack says about one ticket at one moment."""

    ticket: Ticket
    policies: tuple[str, ...]
    measures: tuple[SlaMeasure, ...]
    actions: tuple[Action, ...]


def referenced_fields(c: Condition) -> list[str]:
    """The fact fields a condition looks at, in first-use order (for explanations)."""
    out: list[str] = []

    def walk(node: Condition) -> None:
        if isinstance(node, All | AnyOf):
            for i in node.items:
                walk(i)
        elif isinstance(node, Not):
            walk(node.item)
        elif node.field not in out:
            out.append(node.field)

    walk(c)
    return out


class RulePack:
    """Policies and escalations ready to evaluate. Load with `RulePack.load`; close when done.

    One pack holds one matching engine; use it from one thread at a time (the durable_rules
    engine is not thread-parallel).
    """

    def __init__(self, source: RulePackSource, engine: EngineName | None = None) -> None:
        self.source = source
        self.engine: EngineName = engine or source.engine or "durable"  # type: ignore[assignment]
        self.types: dict[str, FieldType] = {**TICKET_FIELDS, **MEASURE_FIELDS, **source.types}
        self.sla_policies: list[SlaPolicy] = [
            SlaPolicy(
                name=p.name,
                calendar=source.calendars[p.calendar],
                targets=p.targets,
                pause_statuses=frozenset(p.pause_statuses),
            )
            for p in source.policies
        ]
        ticket_rules: list[Rule] = []
        for i, (match, stop) in enumerate(
            zip(source.policy_match, source.policy_stop, strict=True)
        ):
            if match is not None:
                ticket_rules.append(Rule(f"match:{i}", match))
            if stop is not None:
                ticket_rules.append(Rule(f"stop:{i}", stop))
        #: One rule per escalation level, id ``"<escalation index>:<level index>"``.
        self.escalation_rules: list[Rule] = [
            Rule(f"{ei}:{li}", cond)
            for ei, levels in enumerate(source.escalation_levels)
            for li, cond in enumerate(levels)
        ]
        self._ticket_matcher: Matcher | None = (
            make_matcher(ticket_rules, self.types, engine=self.engine) if ticket_rules else None
        )
        self._escalation_matcher: Matcher | None = (
            make_matcher(self.escalation_rules, self.types, engine=self.engine)
            if self.escalation_rules
            else None
        )
        self._conditions = {r.id: r.condition for r in self.escalation_rules}
        self._zones = {name: cal.zone for name, cal in source.calendars.items()}

    @classmethod
    def load(cls, paths: Sequence[str | Path], engine: EngineName | None = None) -> RulePack:
        """Load and compile rules files into one pack.

        Args:
            paths: Rules files, merged in order (policies keep their order across files).
            engine: Override the pack's ``engine:`` setting.

        Raises:
            RuleError: Every problem in every file, at ``file:line:col``.
            EngineError: The chosen engine cannot run here.
        """
        return cls(compile_files(paths), engine=engine)

    def close(self) -> None:
        """Release the matching engines."""
        for m in (self._ticket_matcher, self._escalation_matcher):
            if m is not None:
                m.close()

    def __enter__(self) -> RulePack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- evaluation ------------------------------------------------------------------------------

    @property
    def policies(self) -> list[PolicySpec]:
        """The policy declarations, in order."""
        return self.source.policies

    def assess(self, ticket: Ticket, now: datetime) -> Assessment:
        """Policies, measures and planned actions for one ticket at ``now``."""
        return self.assess_many([ticket], now)[0]

    def assess_many(self, tickets: Sequence[Ticket], now: datetime) -> list[Assessment]:
        """`assess` for many tickets, entering each matching engine once for the whole batch."""
        bases = [ticket_fact(t) for t in tickets]
        matched = self._match(self._ticket_matcher, bases)
        per_ticket: list[tuple[list[int], list[SlaMeasure]]] = []
        for ticket, hits in zip(tickets, matched, strict=True):
            chosen = self._choose(set(hits))
            stopped = {i for i in chosen if f"stop:{i}" in hits}
            measures: list[SlaMeasure] = []
            for i in chosen:
                stop_at = (ticket.updated_at or now) if i in stopped else None
                measures.extend(measure(ticket, self.sla_policies[i], now, stop_at=stop_at))
            per_ticket.append((chosen, measures))
        actions = self._plan(tickets, bases, [m for _, m in per_ticket], now)
        return [
            Assessment(
                ticket=t,
                policies=tuple(self.sla_policies[i].name for i in chosen),
                measures=tuple(ms),
                actions=tuple(acts),
            )
            for t, (chosen, ms), acts in zip(tickets, per_ticket, actions, strict=True)
        ]

    def evaluate(
        self, ticket: Ticket, measures: Sequence[SlaMeasure], now: datetime
    ) -> list[Action]:
        """The actions the escalations plan for ``ticket`` given its ``measures``.

        Every action carries an idempotency key and an explanation; the ledger, not this
        method, makes sure each key is applied once.
        """
        return self._plan([ticket], [ticket_fact(ticket)], [list(measures)], now)[0]

    def _choose(self, hits: set[str]) -> list[int]:
        """The first matching SLA policy, then every matching OLA, as policy indexes."""
        chosen: list[int] = []
        sla_found = False
        for i, pol in enumerate(self.source.policies):
            matches = self.source.policy_match[i] is None or f"match:{i}" in hits
            if not matches:
                continue
            if pol.kind == "sla":
                if sla_found:
                    continue
                sla_found = True
            chosen.append(i)
        return chosen

    def _match(
        self, matcher: Matcher | None, raws: Iterable[dict[str, Any]]
    ) -> list[tuple[str, ...]]:
        raws = list(raws)
        if matcher is None:
            return [() for _ in raws]
        return matcher.match([normalize(r, self.types) for r in raws])

    def _plan(
        self,
        tickets: Sequence[Ticket],
        bases: Sequence[dict[str, Any]],
        measures: Sequence[Sequence[SlaMeasure]],
        now: datetime,
    ) -> list[list[Action]]:
        kinds = {p.name: p.kind for p in self.source.policies}
        facts: list[dict[str, Any]] = []
        owners: list[tuple[int, SlaMeasure]] = []
        for ti, (base, ms) in enumerate(zip(bases, measures, strict=True)):
            for m in ms:
                facts.append(measure_fact(base, m, kinds.get(m.policy, "sla"), now))
                owners.append((ti, m))
        out: list[list[Action]] = [[] for _ in tickets]
        for (ti, m), fact, hits in zip(
            owners, facts, self._match(self._escalation_matcher, facts), strict=True
        ):
            for rule_id in hits:
                ei, li = (int(x) for x in rule_id.split(":"))
                planned = self._actions(tickets[ti], m, fact, rule_id, ei, li)
                for a in planned:
                    if a.shadow:  # shadow mode: visible in logs and explain, never written
                        log.info(
                            "shadow: %s level %d would %s %s on %s:%s",
                            a.escalation,
                            a.level,
                            a.kind.value,
                            dict(a.params),
                            a.connector,
                            a.ticket_id,
                        )
                out[ti].extend(planned)
        return out

    def _actions(
        self, ticket: Ticket, m: SlaMeasure, fact: dict[str, Any], rule_id: str, ei: int, li: int
    ) -> list[Action]:
        esc = self.source.escalations[ei]
        level = esc.level_specs()[li]
        shadow = self.source.shadow or esc.shadow or level.shadow
        values = template_values(ticket, m, esc.name, li + 1, self._zones.get(m.calendar))
        cond = self._conditions[rule_id]
        explanation = {
            "escalation": esc.name,
            "level": li + 1,
            "policy": m.policy,
            "metric": m.metric.value,
            "cycle": m.cycle,
            "matched": {f: _plain(fact.get(f)) for f in referenced_fields(cond)},
        }
        key = f"{ticket.connector}:{ticket.id}:{m.policy}:{m.metric.value}:{m.cycle}:{esc.name}:{li + 1}"
        return [
            Action(
                kind=ActionKind(spec.kind),
                params=_params(spec, values),
                connector=ticket.connector,
                ticket_id=ticket.id,
                key=f"{key}:{ai + 1}",
                escalation=esc.name,
                level=li + 1,
                policy=m.policy,
                metric=m.metric,
                cycle=m.cycle,
                shadow=shadow,
                explanation=explanation,
            )
            for ai, spec in enumerate(level.actions)
        ]


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset | set | tuple):
        return sorted(value)
    return value


def _params(spec: ActionSpec, values: dict[str, str]) -> dict[str, Any]:
    """An action's arguments with templates rendered."""
    kind, value = spec.kind, spec.value
    if kind in ("add_tag", "remove_tag"):
        return {"tag": value}
    if kind == "comment":
        return {"body": render_template(value, values), "public": False}
    if kind == "set_priority":
        return {"priority": value}
    if kind == "set_status":
        return {"status": value}
    if kind == "assign":
        return {k: v for k, v in (("user", value.user), ("group", value.group)) if v is not None}
    if kind == "notify":
        return {"channel": value.channel, "message": render_template(value.message, values)}
    # set_field
    v = value.value
    return {"field": value.field, "value": render_template(v, values) if isinstance(v, str) else v}
