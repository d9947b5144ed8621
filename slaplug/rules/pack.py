"""A loaded rules pack: which policies apply to a ticket, its measures, the actions they call for.

Matching (policy ``match``, ``stop_when`` and escalation conditions) runs on the pack's engine
(durable_rules by default, the plain-Python engine when chosen explicitly); clocks run in
`slaplug.sla.clock`. Tickets are evaluated in batches so the engine is entered once per batch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from types import TracebackType
from typing import Any

from slaplug._gcpause import paused_gc
from slaplug._records import builder
from slaplug.model import Action, ActionKind, Metric, SlaMeasure, Ticket
from slaplug.rules.compile import (
    RulePackSource,
    action_template,
    compile_files,
    parse_template,
)
from slaplug.rules.conditions import All, AnyOf, Compare, Condition, FieldType, In, Not, Rule
from slaplug.rules.engines import EngineName
from slaplug.rules.engines.facts import normalize
from slaplug.rules.engines.fields import (
    INSTANT_FIELDS,
    MEASURE_FIELDS,
    TICKET_FIELDS,
    ValueGetter,
    measure_fact_builder,
    template_value_getter,
    ticket_fact,
)
from slaplug.rules.engines.matcher import Matcher, make_matcher
from slaplug.rules.identity import action_identity
from slaplug.rules.schema import ActionSpec, EscalationSpec, PolicySpec
from slaplug.rules.timeline import State, fact_states
from slaplug.sla.calendar import HolidayProvider, epoch_us
from slaplug.sla.clock import FOREVER, Gates, MetricGates, Spans, TicketClocks
from slaplug.sla.policy import SlaPolicy

__all__ = ["Assessment", "RulePack", "referenced_fields"]

log = logging.getLogger("slaplug.rules")

#: Batches of at least this many tickets run with the cyclic collector paused; below it the
#: pause costs more than it saves (measured: 6-8 % slower for 1 and 5 tickets, even at 20).
GC_PAUSE_MIN = 32


@dataclass(frozen=True, slots=True)
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
        self.types: dict[str, FieldType] = {
            **TICKET_FIELDS,
            **INSTANT_FIELDS,
            **MEASURE_FIELDS,
            **source.types,
        }
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
        clocks_of = source.policy_clocks or [{} for _ in source.policies]
        #: Per policy index, per metric: (start, pause, stop, cancel) rule ids (None: no
        #: such condition) and the metric's own pause statuses (None: the policy's).
        self._metric_rules: dict[
            int, dict[Metric, tuple[tuple[str | None, ...], frozenset[str] | None]]
        ] = {}
        for i, (match, stop, clocks) in enumerate(
            zip(source.policy_match, source.policy_stop, clocks_of, strict=True)
        ):
            if match is not None:
                ticket_rules.append(Rule(f"match:{i}", match))
            if stop is not None:
                ticket_rules.append(Rule(f"stop:{i}", stop))
            spec = source.policies[i]
            for metric, conds in clocks.items():
                ids: list[str | None] = []
                for key in ("start_when", "pause_when", "stop_when", "cancel_when"):
                    c = conds.get(key)
                    rid = f"{key}:{i}:{metric.value}" if c is not None else None
                    if c is not None:
                        ticket_rules.append(Rule(rid or "", c))
                    ids.append(rid)
                own = spec.clocks[metric].pause_statuses
                self._metric_rules.setdefault(i, {})[metric] = (
                    tuple(ids),
                    frozenset(own) if own is not None else None,
                )
        #: The fields each ticket rule looks at: a condition whose fields have no recorded
        #: history is taken to have started holding at the ticket's last update.
        self._rule_fields = {r.id: frozenset(referenced_fields(r.condition)) for r in ticket_rules}
        #: One rule per escalation level, id ``"<escalation index>:<level index>"``.
        self.escalation_rules: list[Rule] = [
            Rule(f"{ei}:{li}", cond)
            for ei, levels in enumerate(source.escalation_levels)
            for li, cond in enumerate(levels)
        ]
        # Facts carry only the fields some rule looks at: less to normalize and to ship to
        # the engine, and nothing the rules cannot use. Public for benchmarks and tools.
        self.ticket_types = self._types_for(ticket_rules)
        self.escalation_types = self._types_for(self.escalation_rules)
        # Escalation facts are built ready-normalized: the ticket's part once per ticket, then
        # each measure's referenced fields from typed getters.
        self._fact_ticket_types = {
            f: t for f, t in self.escalation_types.items() if f not in MEASURE_FIELDS
        }
        self._measure_fact = measure_fact_builder(
            [f for f in self.escalation_types if f in MEASURE_FIELDS]
        )
        self._ticket_matcher: Matcher | None = (
            make_matcher(ticket_rules, self.ticket_types, engine=self.engine)
            if ticket_rules
            else None
        )
        self._escalation_matcher: Matcher | None = (
            make_matcher(self.escalation_rules, self.escalation_types, engine=self.engine)
            if self.escalation_rules
            else None
        )
        self._zones = {name: cal.zone for name, cal in source.calendars.items()}
        # Per policy: its index, the id of its match rule (None: matches every ticket), SLA?
        self._choices = [
            (i, None if source.policy_match[i] is None else f"match:{i}", p.kind == "sla")
            for i, p in enumerate(source.policies)
        ]
        self._policy_kinds = {p.name: p.kind for p in source.policies}
        self._calendars = dict(source.calendars)
        self._literals = _time_literals(self.escalation_rules)
        self._levels = {
            f"{ei}:{li}": _CompiledLevel.build(
                esc, li, cond, self.source.shadow or esc.shadow or spec.shadow, self.types
            )
            for ei, (esc, levels) in enumerate(
                zip(source.escalations, source.escalation_levels, strict=True)
            )
            for li, (spec, cond) in enumerate(zip(esc.level_specs(), levels, strict=True))
        }

    def next_due(self, measures: Sequence[SlaMeasure], now: datetime) -> datetime | None:
        """The next moment one of these measures crosses a threshold the escalations test.

        Thresholds are the breach itself and every ``percent``, ``remaining``, ``overdue`` and
        ``elapsed`` literal in the escalation conditions, turned into business time elapsed
        for each running clock. Paused and stopped clocks change only when the ticket does,
        which a sync or a webhook notices, so they have no due time. None when nothing is due.
        """
        best: datetime | None = None
        for m in measures:
            if m.stopped_at is not None or m.deadline is None:
                continue
            target = m.target.total_seconds()
            elapsed = m.elapsed.total_seconds()
            marks = [target]
            marks += [p / 100.0 * target for p in self._literals["percent"]]
            marks += [target - r for r in self._literals["remaining"]]
            marks += [target + o for o in self._literals["overdue"]]
            marks += list(self._literals["elapsed"])
            ahead = [x for x in marks if x > elapsed]
            if not ahead:
                continue
            cal = self._calendars[m.calendar]
            at = cal.add(now, timedelta(seconds=min(ahead) - elapsed))
            if best is None or at < best:
                best = at
        return best

    def _types_for(self, rules: Sequence[Rule]) -> dict[str, FieldType]:
        used = {f for r in rules for f in referenced_fields(r.condition)}
        return {f: t for f, t in self.types.items() if f in used}

    @classmethod
    def load(
        cls,
        paths: Sequence[str | Path],
        engine: EngineName | None = None,
        *,
        holiday_provider: HolidayProvider | None = None,
    ) -> RulePack:
        """Load and compile rules files into one pack.

        Args:
            paths: Rules files, merged in order (policies keep their order across files).
            engine: Override the pack's ``engine:`` setting.
            holiday_provider: Asked first for the calendars' closed dates; the runners pass
                `slaplug.plugins.holidays_for`. None: the built-in country tables.

        Raises:
            RuleError: Every problem in every file, at ``file:line:col``.
            EngineError: The chosen engine cannot run here.
        """
        return cls(compile_files(paths, holiday_provider=holiday_provider), engine=engine)

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
        """`assess` for many tickets, entering each matching engine once for the whole batch.

        For batches of `GC_PAUSE_MIN` tickets or more the cyclic garbage collector is paused
        (`slaplug._gcpause`): the engine makes no reference cycles, and the collector's walks
        cost 40 % of the time. A smaller batch costs less than the pause would.
        """
        if len(tickets) < GC_PAUSE_MIN:
            return self._assess_many(tickets, now)
        with paused_gc():
            return self._assess_many(tickets, now)

    def _assess_many(self, tickets: Sequence[Ticket], now: datetime) -> list[Assessment]:
        bases = [ticket_fact(t) for t in tickets]
        now_us = epoch_us(now)
        # One read of each history; then, for tickets whose fields the rules read changed
        # over time, one fact per state of those fields, all matched in the one batch.
        clocks_all = [TicketClocks(t, now, now_us) for t in tickets]
        fields = self.ticket_types
        timelines = (
            [fact_states(c, b, fields) for c, b in zip(clocks_all, bases, strict=True)]
            if fields
            else [None] * len(tickets)
        )
        raws: list[dict[str, Any]] = []
        for base, tl in zip(bases, timelines, strict=True):
            if tl is None:
                raws.append(base)
            else:
                raws.extend(state for _, state in tl[0])
        matched = self._match(self._ticket_matcher, raws, self.ticket_types)
        per_ticket: list[tuple[list[int], list[SlaMeasure]]] = []
        k = 0
        for ticket, clocks, tl in zip(tickets, clocks_all, timelines, strict=True):
            n = 1 if tl is None else len(tl[0])
            per_ticket.append(
                self._measure_ticket(ticket, clocks, matched[k : k + n], tl, self.sla_policies)
            )
            k += n
        actions = self._plan(tickets, bases, [m for _, m in per_ticket], now)
        names = [p.name for p in self.sla_policies]
        return [
            _new_assessment(t, tuple([names[i] for i in chosen]), tuple(ms), tuple(acts))
            for t, (chosen, ms), acts in zip(tickets, per_ticket, actions, strict=True)
        ]

    def _measure_ticket(
        self,
        ticket: Ticket,
        clocks: TicketClocks,
        hits: Sequence[tuple[str, ...]],
        timeline: tuple[list[State], frozenset[str]] | None,
        policies: Sequence[SlaPolicy],
        only: int | None = None,
        extra_pauses: frozenset[str] = frozenset(),
    ) -> tuple[list[int], list[SlaMeasure]]:
        """The policies that applied to one ticket and its measures under them.

        ``hits`` holds the ticket rules matched by each state of ``timeline`` (one, the
        current fields, without a timeline). ``only`` measures that one policy index;
        ``extra_pauses`` are added to every metric's own pause statuses.
        """
        now = clocks.now
        if timeline is None or len(timeline[0]) == 1:
            first = set(hits[0])
            chosen = self._choose(first)
            if only is not None:
                chosen = [i for i in chosen if i == only]
            measures: list[SlaMeasure] = []
            one_state, recorded = timeline if timeline is not None else (None, frozenset())
            for i in chosen:
                if i in self._metric_rules or recorded:
                    gates = self._gates(
                        i, [first], one_state, recorded, ticket, clocks, extra_pauses
                    )
                    measures.extend(clocks.measure_gated(policies[i], gates))
                    continue
                stop_at = (ticket.updated_at or now) if f"stop:{i}" in first else None
                measures.extend(clocks.measure(policies[i], stop_at))
            return chosen, measures
        states, recorded = timeline
        per_state = [set(h) for h in hits]
        chosen_per_state = [self._choose(h) for h in per_state]
        union = sorted({i for c in chosen_per_state for i in c})
        if only is not None:
            union = [i for i in union if i == only]
        measures = []
        for i in union:
            held = _spans([i in c for c in chosen_per_state], states)
            starts_in = within = None
            if held != ((states[0][0], FOREVER),):
                if self._choices[i][2]:
                    starts_in = held  # an SLA: the policy of a cycle is the one at its start
                else:
                    within = held  # an OLA: it runs while the ticket is with its team
            gates = self._gates(
                i, per_state, states, recorded, ticket, clocks, extra_pauses, starts_in, within
            )
            measures.extend(clocks.measure_gated(policies[i], gates))
        return union, measures

    def _gates(
        self,
        i: int,
        per_state: Sequence[set[str]],
        states: Sequence[State] | None,
        recorded: frozenset[str],
        ticket: Ticket,
        clocks: TicketClocks,
        extra_pauses: frozenset[str],
        starts_in: Spans | None = None,
        within: Spans | None = None,
    ) -> Gates:
        """Where policy ``i`` applied and its conditions held over the ticket's history."""
        since_update = (
            (epoch_us(ticket.updated_at) if ticket.updated_at else clocks.now_us, FOREVER),
        )

        def held(rule_id: str | None) -> Spans | None:
            if rule_id is None:
                return None
            if states is None or not (self._rule_fields[rule_id] & recorded):
                # No recorded history of what it reads: it holds now, since the last update.
                return since_update if rule_id in per_state[-1] else ()
            return _spans([rule_id in h for h in per_state], states)

        metrics: dict[Metric, MetricGates] = {}
        for metric, (ids, own) in self._metric_rules.get(i, {}).items():
            start, pause, stop, cancel = (held(r) for r in ids)
            statuses = own | extra_pauses if own is not None else None
            metrics[metric] = MetricGates(start, pause, stop, cancel, statuses)
        return Gates(
            starts_in,
            within,
            held(f"stop:{i}" if f"stop:{i}" in self._rule_fields else None),
            metrics,
        )

    def measure_policy(
        self, ticket: Ticket, now: datetime, name: str, extra_pauses: frozenset[str]
    ) -> list[SlaMeasure]:
        """The measures of ``ticket`` under the policy called ``name``, where it applied,
        with the clocks also paused in ``extra_pauses`` (every metric's statuses).

        Contracts use it to take the time waiting on the customer off their own clock.
        """
        index = next(i for i, p in enumerate(self.sla_policies) if p.name == name)
        clocks = TicketClocks(ticket, now)
        base = ticket_fact(ticket)
        tl = fact_states(clocks, base, self.ticket_types) if self.ticket_types else None
        raws = [base] if tl is None else [state for _, state in tl[0]]
        hits = self._match(self._ticket_matcher, raws, self.ticket_types)
        policies = list(self.sla_policies)
        p = policies[index]
        policies[index] = dataclasses.replace(p, pause_statuses=p.pause_statuses | extra_pauses)
        return self._measure_ticket(
            ticket, clocks, hits, tl, policies, only=index, extra_pauses=extra_pauses
        )[1]

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
        for i, rule_id, is_sla in self._choices:
            if rule_id is not None and rule_id not in hits:
                continue
            if is_sla:
                if sla_found:
                    continue
                sla_found = True
            chosen.append(i)
        return chosen

    @staticmethod
    def _match(
        matcher: Matcher | None, raws: Sequence[dict[str, Any]], types: Mapping[str, FieldType]
    ) -> list[tuple[str, ...]]:
        if matcher is None:
            return [() for _ in raws]
        return matcher.match([normalize(r, types) for r in raws])

    def _plan(
        self,
        tickets: Sequence[Ticket],
        bases: Sequence[dict[str, Any]],
        measures: Sequence[Sequence[SlaMeasure]],
        now: datetime,
    ) -> list[list[Action]]:
        kinds = self._policy_kinds
        facts: list[dict[str, Any]] = []
        owners: list[tuple[int, SlaMeasure]] = []
        build = self._measure_fact
        for ti, (base, ms) in enumerate(zip(bases, measures, strict=True)):
            if not ms:
                continue
            ticket_part = normalize(base, self._fact_ticket_types)
            for m in ms:
                facts.append(build(ticket_part, m, kinds.get(m.policy, "sla")))
                owners.append((ti, m))
        out: list[list[Action]] = [[] for _ in tickets]
        hits_per_fact = (
            self._escalation_matcher.match(facts)
            if self._escalation_matcher
            else [() for _ in facts]
        )
        for (ti, m), fact, hits in zip(owners, facts, hits_per_fact, strict=True):
            for rule_id in hits:
                level = self._levels[rule_id]
                planned = level.plan(tickets[ti], m, fact, self._zones.get(m.calendar))
                if level.shadow:  # shadow mode: visible in logs and explain, never written
                    for a in planned:
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


# The engine builds millions of actions; see slaplug._records for why not Action(...).
_new_action = builder(Action)
_new_assessment = builder(Assessment)
_METRIC_VALUE = {m: m.value for m in Metric}


@dataclass(frozen=True)
class _PlannedAction:
    """One action of a level, ready to stamp: its arguments fixed, or how to render them."""

    kind: ActionKind
    #: ``:<identity>``, what the action does (`slaplug.rules.identity`), appended to the
    #: level's key: never its place in the level, so edits neither repeat nor drop actions.
    suffix: str
    #: The arguments, when no template is involved: worked out once, copied per action
    #: (a copy, not a shared read-only view: actions stay picklable and independent).
    fixed: Mapping[str, Any] | None
    #: Otherwise the arguments but one, and that one (``templated``) as a `str.format` string
    #: whose ``{i}`` is the level's i-th template value: rendering is one C call.
    base: Mapping[str, Any]
    templated: str = ""
    form: str = ""

    def params(self, values: Sequence[str]) -> Mapping[str, Any]:
        """The action's arguments given its level's template values."""
        if self.fixed is not None:
            return dict(self.fixed)
        return {**self.base, self.templated: self.form.format(*values)}


@dataclass(frozen=True)
class _CompiledLevel:
    """One escalation level, with its actions' kinds and arguments worked out once."""

    escalation: str
    number: int
    shadow: bool
    fields: tuple[str, ...]
    #: The fields among them holding lists, shown sorted in explanations.
    list_fields: frozenset[str]
    actions: tuple[_PlannedAction, ...]
    #: How to work out each template value the level's actions name, in their ``{i}`` order.
    getters: tuple[ValueGetter, ...]

    @classmethod
    def build(
        cls,
        esc: EscalationSpec,
        li: int,
        cond: Condition,
        shadow: bool,
        types: Mapping[str, FieldType],
    ) -> _CompiledLevel:
        specs = esc.level_specs()[li].actions
        fields = referenced_fields(cond)
        names = sorted({n for a in specs for n in parse_template(str(a.value))[1::2]})
        fixed_values = {"escalation.name": esc.name, "escalation.level": str(li + 1)}
        getters = [_getter(n, fixed_values) for n in names]
        index = {n: i for i, n in enumerate(names)}
        actions = []
        for spec in specs:
            kind = ActionKind(spec.kind)
            params = _params(kind, spec)
            suffix = ":" + action_identity(spec)
            found = action_template(spec)
            if found is None or "{{" not in found[1]:
                actions.append(_PlannedAction(kind, suffix, params, {}))
                continue
            templated, text = found
            parts = parse_template(text)
            form = "".join(
                p.replace("{", "{{").replace("}", "}}") if i % 2 == 0 else f"{{{index[p]}}}"
                for i, p in enumerate(parts)
            )
            actions.append(_PlannedAction(kind, suffix, None, params, templated, form))
        return cls(
            escalation=esc.name,
            number=li + 1,
            shadow=shadow,
            fields=tuple(fields),
            list_fields=frozenset(f for f in fields if types.get(f) is FieldType.LIST),
            actions=tuple(actions),
            getters=tuple(getters),
        )

    def plan(
        self,
        ticket: Ticket,
        m: SlaMeasure,
        fact: Mapping[str, Any],
        zone: tzinfo | None,
    ) -> list[Action]:
        values = [get(ticket, m, zone) for get in self.getters]
        metric = _METRIC_VALUE[m.metric]
        explanation = {
            "escalation": self.escalation,
            "level": self.number,
            "policy": m.policy,
            "metric": metric,
            "cycle": m.cycle,
            "matched": {
                f: sorted(fact[f]) if f in self.list_fields and f in fact else fact.get(f)
                for f in self.fields
            },
        }
        connector, tid = ticket.connector, ticket.id
        key = f"{connector}:{tid}:{m.policy}:{metric}:{m.cycle}:{self.escalation}:{self.number}"
        return [
            _new_action(
                a.kind,
                a.params(values),
                connector,
                tid,
                key + a.suffix,
                self.escalation,
                self.number,
                m.policy,
                m.metric,
                m.cycle,
                self.shadow,
                explanation,
            )
            for a in self.actions
        ]


def _spans(flags: Sequence[bool], states: Sequence[State]) -> Spans:
    """The stretches of the history in which ``flags`` (one per state) are true."""
    out: list[tuple[int, int]] = []
    last = len(states) - 1
    for k, (flag, (at, _)) in enumerate(zip(flags, states, strict=True)):
        if not flag:
            continue
        end = states[k + 1][0] if k < last else FOREVER
        if out and out[-1][1] == at:
            out[-1] = (out[-1][0], end)
        else:
            out.append((at, end))
    return tuple(out)


def _time_literals(rules: Sequence[Rule]) -> dict[str, list[float]]:
    """The numbers escalation conditions compare time-like measure fields with."""
    found: dict[str, set[float]] = {
        "percent": set(),
        "remaining": set(),
        "overdue": set(),
        "elapsed": set(),
    }

    def walk(node: Condition) -> None:
        if isinstance(node, All | AnyOf):
            for i in node.items:
                walk(i)
        elif isinstance(node, Not):
            walk(node.item)
        elif isinstance(node, Compare) and node.field in found and not isinstance(node.value, bool):
            found[node.field].add(float(node.value))
        elif isinstance(node, In) and node.field in found:
            found[node.field].update(float(v) for v in node.values if not isinstance(v, bool | str))

    for r in rules:
        walk(r.condition)
    return {k: sorted(v) for k, v in found.items()}


def _getter(name: str, fixed: Mapping[str, str]) -> ValueGetter:
    """How to work out template value ``name``; ``fixed`` holds the level's own values."""
    if name in fixed:
        value = fixed[name]
        return lambda t, m, z: value
    found = template_value_getter(name)
    if found is None:  # a name the checks let through but nothing provides renders empty
        return lambda t, m, z: ""
    return found


def _params(kind: ActionKind, spec: ActionSpec) -> dict[str, Any]:
    """An action's arguments as written (a templated one is replaced when rendered)."""
    if kind in (ActionKind.ADD_TAG, ActionKind.REMOVE_TAG):
        return {"tag": spec.add_tag or spec.remove_tag}
    if kind is ActionKind.COMMENT:
        return {"body": spec.comment or "", "public": False}
    if kind is ActionKind.SET_PRIORITY:
        return {"priority": spec.set_priority}
    if kind is ActionKind.SET_STATUS:
        return {"status": spec.set_status}
    if kind is ActionKind.ASSIGN and spec.assign is not None:
        a = spec.assign
        return {k: v for k, v in (("user", a.user), ("group", a.group)) if v is not None}
    if kind is ActionKind.NOTIFY and spec.notify is not None:
        n = spec.notify
        reminder = {"repeat": n.repeat.total_seconds(), "times": n.times} if n.repeat else {}
        return {"channel": n.channel, "message": n.message, **reminder}
    assert spec.set_field is not None  # the schema admits exactly one action per spec
    return {"field": spec.set_field.field, "value": spec.set_field.value}
