"""pydantic's validation errors in slaplug's own words, for configuration problems.

pydantic says ``Extra inputs are not permitted`` or ``Input should be a valid number, unable
to parse string as a number``; a user wants to know which key, what they wrote and what is
expected: ``unknown key "fieldz"; check its spelling``, ``"abc" is not a number of seconds,
e.g. 30``. The caller puts the key's ``file:line:col`` in front (`slaplug.yamlpos`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

__all__ = ["describe", "is_unknown_key"]

_MAX_SHOWN = 40
_WHOLE = frozenset({"int_parsing", "int_type", "int_from_float", "int_parsing_size"})
_NUMBER = frozenset({"float_parsing", "float_type", "decimal_parsing", "decimal_type"})
_BOUNDS = {
    "greater_than": ("more than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}


def is_unknown_key(err: ErrorDetails) -> bool:
    """Whether the error is a key the model does not know (shown at the key, not its value)."""
    return err["type"] == "extra_forbidden"


def describe(err: ErrorDetails, model: type[BaseModel] | None = None) -> str:
    """What is wrong, in slaplug's style, without the key's path (the caller adds it).

    Args:
        err: One of ``ValidationError.errors()``.
        model: The model validated, to find the field's unit and default for examples.
    """
    kind = err["type"]
    loc = err["loc"]
    name = str(loc[-1]) if loc else ""
    given = _shown(err.get("input"))
    info = _field(model, loc) if model is not None else None
    example = _example(info)
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    if kind == "extra_forbidden":
        return f'unknown key "{name}"; check its spelling'
    if kind == "missing":
        return f'"{name}" is required'
    if kind in _WHOLE:
        return f"{given} is not a whole number{example}"
    if kind in _NUMBER:
        unit = " of seconds" if _in_seconds(info) else ""
        return f"{given} is not a number{unit}{example}"
    if kind in ("bool_parsing", "bool_type"):
        return f"{given} is not true or false"
    if kind in ("string_type", "string_sub_type"):
        return f"{given} is not text; write it in quotes if it is meant as text"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"{given} is not a mapping; write it as indented key: value lines"
    if kind in ("list_type", "tuple_type", "set_type", "iterable_type"):
        return f"{given} is not a list; write it as [a, b] or as indented - lines"
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        size = "small" if key.startswith("g") else "large"
        return f"{given} is too {size}: it must be {words} {ctx.get(key)}"
    if kind in ("literal_error", "enum"):
        return f"{given} is not one of the choices: use {ctx.get('expected', '')}"
    return err["msg"].removeprefix("Value error, ")


def _shown(value: Any) -> str:
    """The value as the user wrote it in YAML, shortened; collections by their kind."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 3] + "..."
        return json.dumps(text, ensure_ascii=False)
    return str(value)


def _field(model: type[BaseModel], loc: Sequence[int | str]) -> FieldInfo | None:
    """The field at ``loc`` in ``model`` and its nested models, or None when not one."""
    current: type[BaseModel] | None = model
    info: FieldInfo | None = None
    for part in loc:
        if current is None or not isinstance(part, str):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        sub = info.annotation
        current = sub if isinstance(sub, type) and issubclass(sub, BaseModel) else None
    return info


def _in_seconds(info: FieldInfo | None) -> bool:
    return info is not None and "second" in (info.description or "").lower()


def _example(info: FieldInfo | None) -> str:
    """``, e.g. 30`` from a numeric default (a whole float shown without its ``.0``)."""
    if info is None:
        return ""
    default = info.default
    if isinstance(default, bool) or not isinstance(default, int | float):
        return ""
    return f", e.g. {default:g}"
