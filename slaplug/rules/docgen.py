"""Render the rules files' reference (docs/rules/reference.md) from the pydantic schema.

``slaplug rules schema --format markdown`` prints it; a test keeps the committed page current.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from slaplug.rules.contract_spec import (
    ContractSpec,
    ExclusionsSpec,
    MaintenanceSpec,
    ObjectiveSpec,
    TierSpec,
)
from slaplug.rules.engines.fields import (
    DURATION_FIELDS,
    MEASURE_FIELDS,
    TEMPLATE_NAMES,
    TICKET_FIELDS,
)
from slaplug.rules.schema import (
    ActionSpec,
    AssignSpec,
    EscalationSpec,
    LevelSpec,
    NotifySpec,
    PolicySpec,
    RulePackSpec,
    SetFieldSpec,
)
from slaplug.sla.calendar_spec import CalendarSpec, HolidaySpec

__all__ = ["render_reference"]

_SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("Rules file (top level)", RulePackSpec),
    ("Calendar (`calendars.<name>`)", CalendarSpec),
    ("Holidays (`calendars.<name>.holidays`)", HolidaySpec),
    ("Policy (`policies[]`)", PolicySpec),
    ("Escalation (`escalations[]`)", EscalationSpec),
    ("Level (`escalations[].levels[]`)", LevelSpec),
    ("Action (`actions[]`)", ActionSpec),
    ("`set_field`", SetFieldSpec),
    ("`assign`", AssignSpec),
    ("`notify`", NotifySpec),
    ("Contract (`contracts[]`)", ContractSpec),
    ("Objective (`contracts[].objectives[]`)", ObjectiveSpec),
    ("Credit tier (`contracts[].tiers[]`, `objectives[].tiers[]`)", TierSpec),
    ("Exclusions (`contracts[].exclusions`)", ExclusionsSpec),
    ("Maintenance window (`exclusions.maintenance[]`)", MaintenanceSpec),
]


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    t = schema.get("type", "any")
    if t == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if t == "object":
        extra = schema.get("additionalProperties")
        return f"mapping of {_type(extra)}" if isinstance(extra, dict) else "mapping"
    if schema.get("format") == "duration":
        return "duration"
    return str(t)


def _default(info: Any) -> str:
    if info.is_required():
        return "required"
    d = info.get_default(call_default_factory=True)
    return "" if d is None else f"`{d!r}`" if not isinstance(d, list | dict) or d else "empty"


def render_reference() -> str:
    """The Markdown reference page."""
    out = [
        "# Rules file reference",
        "",
        "Generated from the schema by `slaplug rules schema --format markdown`; do not edit by",
        "hand. For editors, `slaplug rules schema` prints the JSON Schema.",
        "",
        'Durations are business time, written `"4h"`, `"30m"`, `"1h30m"` or `"90s"`.',
        "",
    ]
    for title, model in _SECTIONS:
        out += [f"## {title}", "", (model.__doc__ or "").strip().splitlines()[0], ""]
        out += ["| key | type | default | meaning |", "|---|---|---|---|"]
        props = model.model_json_schema()["properties"]
        for name, info in model.model_fields.items():
            desc = (info.description or "").replace("|", "\\|")
            out.append(f"| `{name}` | {_type(props[name])} | {_default(info)} | {desc} |")
        out.append("")
    out += ["## Condition fields", "", "| field | type | where |", "|---|---|---|"]
    for name, ftype in TICKET_FIELDS.items():
        out.append(f"| `{name}` | {ftype.value} | policies and escalations |")
    out.append(
        "| `fields.<name>` | declared under `fields:` (default str) | policies and escalations |"
    )
    for name, ftype in MEASURE_FIELDS.items():
        kind = "duration" if name in DURATION_FIELDS else ftype.value
        out.append(f"| `{name}` | {kind} | escalations |")
    out += ["", "## Template names", ""]
    out.append(
        ", ".join(f"`{{{{ {n} }}}}`" for n in sorted(TEMPLATE_NAMES))
        + ", `{{ ticket.fields.<name> }}`."
    )
    out.append("")
    return "\n".join(out)
