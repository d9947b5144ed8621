"""The YAML rules language as pydantic models; ``slaplug rules schema`` prints their JSON Schema.

Conditions (``match``, ``when``, ``stop_when``, a metric's ``start_when`` ...) are kept as plain mappings here and checked by
`slaplug.rules.compile`, which knows the fields they may name.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from slaplug.durations import parse_duration
from slaplug.model import Metric
from slaplug.rules.contract_spec import ContractSpec
from slaplug.rules.engines import EngineName
from slaplug.sla.calendar_spec import CalendarSpec

__all__ = [
    "PRIORITY_NAMES",
    "ActionSpec",
    "AssignSpec",
    "ClockSpec",
    "ContractSpec",
    "EscalationSpec",
    "LevelSpec",
    "LiveFieldSpec",
    "NotifySpec",
    "PolicySpec",
    "RulePackSpec",
    "SetFieldSpec",
]

#: Priorities the built-in connectors deliver (Zendesk: low..urgent; Freshdesk: low, medium,
#: high, urgent; Jira: mapped onto these by default). A pack declares others under priorities:.
PRIORITY_NAMES: frozenset[str] = frozenset({"urgent", "high", "normal", "medium", "low"})


def _positive_duration(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(
            "a target must be longer than 0; remove the priority to leave it unmeasured"
        )
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
#: A target: a duration longer than zero (a zero target is breached the moment it starts).
TargetDuration = Annotated[
    timedelta, BeforeValidator(parse_duration), AfterValidator(_positive_duration)
]
#: A condition mapping, checked by the compiler: ``{field: value | [values] | {op: value}}``,
#: plus ``all: [...]``, ``any: [...]`` and ``not: {...}``.
ConditionSpec = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClockSpec(_Strict):
    """One metric's own conditions: when its clock starts, pauses, stops or does not apply.

    Each condition is on ticket fields (as in ``match``) and is followed over the ticket's
    recorded history: it takes effect at the instant it starts to hold.
    """

    start_when: ConditionSpec | None = Field(
        default=None,
        description="The clock starts at the first instant, at or after its usual start, at "
        "which this holds (e.g. a triaged tag); never holding, never started.",
    )
    pause_when: ConditionSpec | None = Field(
        default=None,
        description="The clock pauses while this holds (e.g. fields.waiting_on: vendor), "
        "besides the pause statuses.",
    )
    stop_when: ConditionSpec | None = Field(
        default=None,
        description="The clock stops when this starts to hold: met, unless already breached.",
    )
    cancel_when: ConditionSpec | None = Field(
        default=None,
        description="The clock is cancelled when this starts to hold: not applicable, neither "
        "met nor breached, left out of compliance and credits.",
    )
    pause_statuses: list[str] | None = Field(
        default=None,
        description="This metric's own pause statuses, replacing the policy's ([] pauses on "
        "no status).",
    )


class LiveFieldSpec(_Strict):
    """A helpdesk field that shows one metric's live deadline to agents (``live_fields:``).

    slaplug rewrites it when the deadline moves (a pause ends, the priority changes, the
    ticket reopens), never on a sync that leaves it where it was; see docs/rules/language.md.
    """

    field: str = Field(description="The custom field's name as the connector maps it.")
    format: Literal["instant", "local", "date"] = Field(
        default="instant",
        description="instant: ISO 8601 in UTC (2026-12-07T15:00:00Z); local: ISO 8601 in the "
        "policy calendar's zone (2026-12-07T16:00:00+01:00); date: the calendar-local date "
        "(2026-12-07), for date-only fields.",
    )
    paused: str | None = Field(
        default=None,
        description="What the field shows while the clock is paused: empty (the default), or "
        'this text (e.g. "paused", for text fields only).',
    )


def _live_field_shorthand(value: object) -> object:
    """``resolution: sla_due`` is ``resolution: {field: sla_due}``."""
    return {"field": value} if isinstance(value, str) else value


class PolicySpec(_Strict):
    """An SLA (or OLA) policy: which tickets, which targets, on which calendar."""

    name: str = Field(description="Unique name; part of every measure and idempotency key.")
    kind: Literal["sla", "ola"] = Field(
        default="sla",
        description="sla: first matching sla policy wins. ola: every matching ola is measured "
        "beside it (internal targets for a team).",
    )
    description: str = ""
    match: ConditionSpec | None = Field(
        default=None,
        description="Condition on ticket fields; absent means every ticket (a catch-all).",
    )
    calendar: str = Field(
        default="24x7", description="Name of a calendar under calendars:, or 24x7."
    )
    pause_statuses: list[str] = Field(
        default_factory=list,
        description="Statuses during which the clocks pause, e.g. pending, hold.",
    )
    targets: dict[Metric, dict[str, TargetDuration]] = Field(
        description='Per metric, business time per priority (longer than 0); "*" for every '
        "other priority."
    )
    clocks: dict[Metric, ClockSpec] = Field(
        default_factory=dict,
        description="Per metric, its own start, pause, stop and cancel conditions.",
    )
    live_fields: dict[
        Metric, Annotated[LiveFieldSpec, BeforeValidator(_live_field_shorthand)]
    ] = Field(
        default_factory=dict,
        description="Per metric, a helpdesk field that shows its current deadline to agents "
        "(a field name, or {field, format, paused}); rewritten only when the deadline moves.",
    )
    stop_when: ConditionSpec | None = Field(
        default=None,
        description="Condition on ticket fields that takes the ticket out of this policy (e.g. "
        "a no_sla tag): running clocks are cancelled when it starts to hold (or, with no "
        "recorded history of its fields, at the ticket's last update): neither met nor "
        "breached, left out of compliance and credits.",
    )


class SetFieldSpec(_Strict):
    """Set a custom field on the ticket."""

    field: str = Field(description="The custom field's name as the connector maps it.")
    value: str | int | float | bool | None = Field(
        description="Value; strings may use {{ templates }}."
    )


class AssignSpec(_Strict):
    """Assign the ticket to a user or a group (exactly one)."""

    user: str | None = Field(
        default=None, description="User id or e-mail, as the platform knows it."
    )
    group: str | None = Field(
        default=None, description="Group or team name, as the platform knows it."
    )

    @model_validator(mode="after")
    def _one(self) -> AssignSpec:
        if (self.user is None) == (self.group is None):
            raise ValueError("assign takes exactly one of user or group")
        return self


class NotifySpec(_Strict):
    """Send a message to a channel (e-mail, chat, pager, webhook) named in slaplug.yaml."""

    channel: str = Field(
        description="A channel under notify: in slaplug.yaml, or one a notifier plugin registers."
    )
    message: str = Field(description="Text; may use {{ templates }}.")
    repeat: Duration | None = Field(
        default=None,
        description="Remind every DURATION (wall-clock, at least 5m) until the clock stops.",
    )
    times: int = Field(
        default=12, ge=1, le=100, description="With repeat: at most this many notifications in all."
    )

    @model_validator(mode="after")
    def _sane_repeat(self) -> NotifySpec:
        if self.repeat is not None and self.repeat < timedelta(minutes=5):
            raise ValueError("repeat: remind at most every 5m, e.g. repeat: 1h")
        return self


class ActionSpec(_Strict):
    """Exactly one action, written as a one-key mapping, e.g. ``- add_tag: sla_breached``."""

    set_field: SetFieldSpec | None = None
    add_tag: str | None = None
    remove_tag: str | None = None
    comment: str | None = Field(
        default=None, description="Internal comment; may use {{ templates }}."
    )
    set_priority: str | None = None
    assign: AssignSpec | None = None
    set_status: str | None = None
    notify: NotifySpec | None = None
    id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,100}$",
        description="The action's identity in its idempotency key, instead of one derived from "
        "what it does (the tag, the field, a hash of a comment's text...): keep it when "
        "editing a comment's text that must not be posted again.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ActionSpec:
        given = [k for k, v in self if v is not None and k != "id"]
        if len(given) != 1:
            names = ", ".join(n for n in type(self).model_fields if n != "id")
            raise ValueError(f"each action is one of {names}; this one has {len(given) or 'none'}")
        return self

    @property
    def kind(self) -> str:
        """The name of the one action given."""
        return next(k for k, v in self if v is not None and k != "id")

    @property
    def value(self) -> Any:
        """The one action's argument."""
        return getattr(self, self.kind)


class LevelSpec(_Strict):
    """One step of a multi-level escalation chain."""

    when: ConditionSpec | None = Field(
        default=None, description="Added to the escalation's own condition."
    )
    actions: list[ActionSpec] = Field(description="What this level does, in order.")
    shadow: bool = Field(default=False, description="Evaluate and log this level, never write.")


class EscalationSpec(_Strict):
    """Actions to take when an SLA measure meets a condition; each level fires once per clock cycle."""

    name: str = Field(description="Unique name; part of every idempotency key.")
    description: str = ""
    when: ConditionSpec = Field(description="Condition on ticket and measure fields.")
    actions: list[ActionSpec] | None = Field(default=None, description="A one-level escalation.")
    levels: list[LevelSpec] | None = Field(default=None, description="A chain, level 1 first.")
    shadow: bool = Field(default=False, description="Evaluate and log, never write.")

    @model_validator(mode="after")
    def _actions_or_levels(self) -> EscalationSpec:
        if (self.actions is None) == (self.levels is None):
            raise ValueError(
                "an escalation has either actions (one level) or levels (a chain), not both"
            )
        return self

    def level_specs(self) -> list[LevelSpec]:
        """The levels, with a one-level escalation as a chain of one."""
        if self.levels is not None:
            return self.levels
        return [LevelSpec(actions=self.actions or [])]


class RulePackSpec(_Strict):
    """A rules file. Several files load as one pack, in the order given."""

    version: Literal[1] = Field(default=1, description="The language version; 1.")
    engine: EngineName | None = Field(
        default=None,
        description="Matching engine: durable (durable_rules, the default) or python, chosen explicitly.",
    )
    shadow: bool = Field(
        default=False, description="The whole pack is evaluated and logged, never written."
    )
    priorities: list[str] = Field(
        default_factory=list,
        description="Priority names your helpdesks deliver beyond urgent, high, normal, medium "
        'and low (e.g. P1, P2); targets may name only these, the built-in ones and "*".',
    )
    fields: dict[str, Literal["str", "num", "bool", "list"]] = Field(
        default_factory=dict, description="Types of custom fields used in conditions (default str)."
    )
    calendars: dict[str, CalendarSpec] = Field(
        default_factory=dict, description="Business calendars by name; 24x7 is built in."
    )
    policies: list[PolicySpec] = Field(
        default_factory=list,
        description="In order: the first matching sla policy applies, plus every matching ola.",
    )
    escalations: list[EscalationSpec] = Field(
        default_factory=list, description="Conditions on measures and the actions they call for."
    )
    contracts: list[ContractSpec] = Field(
        default_factory=list,
        description="Customer contracts: objectives, credit tiers, caps and exclusions "
        "(see docs/concepts/service-credits.md).",
    )
