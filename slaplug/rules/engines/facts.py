"""Typed facts: what every engine is allowed to see, and the typing check on rule literals.

An engine matches *normalized* facts only. Normalizing once, in one place, is what lets two
very different engines agree: the plain-Python engine never has to ask whether ``"5"`` is a
number, and the durable_rules wrapper never sends it a type it would coerce (``True == 1``)
or compare lexicographically (``"9" > 10``). See `slaplug.rules.conditions` for the contract.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence

from slaplug.errors import Problem, RuleError
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
    Rule,
    Scalar,
)

__all__ = ["iter_leaves", "normalize", "validate_rules"]

# ASCII only: int() and float() also accept "١٢", "1_000", "nan" and "infinity", none of which
# a helpdesk means as a number.
_INT_RE = re.compile(r"[+-]?\d+", re.ASCII)
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_BOOL_WORDS = {"true": True, "false": False}
_LIST_TYPES = (list, tuple, set, frozenset)


def _as_num(value: object) -> int | float | None:
    # bool is an int subclass, but a checkbox is not a count: treat it as unreadable.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value  # NaN equals nothing, orders nowhere
    if isinstance(value, str):
        text = value.strip()
        if _INT_RE.fullmatch(text):
            try:
                return int(text)
            except ValueError:  # more digits than int() allows (CVE-2020-10735 guard)
                return float(text)
        if _FLOAT_RE.fullmatch(text):
            return float(text)  # may be inf for "1e999": still ordered, still comparable
    return None


def _as_str(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return str(value)
        except ValueError:  # an int too long to print
            return None
    return None


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _BOOL_WORDS.get(value.strip().lower())
    return None  # 0/1 are not booleans: that confusion is exactly what we refuse to guess


def _as_list(value: object) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, _LIST_TYPES):
        items = {str(item) for item in value if item is not None}
        return tuple(sorted(items))
    return None


_CONVERTERS = {
    FieldType.NUM: _as_num,
    FieldType.STR: _as_str,
    FieldType.BOOL: _as_bool,
    FieldType.LIST: _as_list,
}


def normalize(raw: Mapping[str, object], types: Mapping[str, FieldType]) -> dict[str, object]:
    """Keep the declared fields of ``raw``, each converted to its type or dropped.

    Conversions: NUM keeps ``int``/``float`` (not ``bool``, not NaN) and reads ASCII numeric
    strings (``" 2.5 "`` gives ``2.5``, ``"5"`` gives ``5``); STR keeps strings and prints
    numbers; BOOL keeps ``bool`` and reads ``"true"``/``"false"`` in any case; LIST turns a
    list, tuple or set into a sorted tuple of distinct strings (``None`` items dropped) and a bare
    string into a 1-tuple. Anything else, and ``None``, leaves the field *missing* (absent).

    Field names are kept as they are, even ``id``, ``sid`` or ``$s``: engines that have reserved
    keys rename fields before use.

    Args:
        raw: The fact as it came from a ticket and its SLA measures.
        types: The declared type of every field rules may use.

    Returns:
        A new dict holding only present, well-typed fields.
    """
    out: dict[str, object] = {}
    for name, field_type in types.items():
        value = raw.get(name)
        if value is None:
            continue
        converted = _CONVERTERS[field_type](value)
        if converted is not None:
            out[name] = converted
    return out


def iter_leaves(condition: Condition) -> Iterator[Compare | In | Contains | Exists]:
    """Yield every leaf of a condition tree, depth first.

    Args:
        condition: The tree to walk.

    Yields:
        Each `Compare`, `In`, `Contains` and `Exists` node.
    """
    stack: list[Condition] = [condition]
    while stack:
        node = stack.pop()
        if isinstance(node, All | AnyOf):
            stack.extend(reversed(node.items))
        elif isinstance(node, Not):
            stack.append(node.item)
        else:
            yield node


def _literal_fits(value: Scalar, field_type: FieldType) -> bool:
    if field_type is FieldType.NUM:
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and not (isinstance(value, float) and math.isnan(value))
        )
    if field_type is FieldType.STR:
        return isinstance(value, str)
    if field_type is FieldType.BOOL:
        return isinstance(value, bool)
    return False


def _leaf_problem(leaf: Compare | In | Contains | Exists, types: Mapping[str, FieldType]) -> str:
    field_type = types.get(leaf.field)
    if field_type is None:
        return f"unknown field {leaf.field!r}; declare its type or fix the name"
    if isinstance(leaf, Exists):
        return ""
    if isinstance(leaf, Contains):
        if field_type is not FieldType.LIST:
            return f"'contains' needs a list field; {leaf.field!r} is {field_type}"
        return "" if isinstance(leaf.value, str) else "'contains' needs a string value"
    if field_type is FieldType.LIST:
        return f"{leaf.field!r} is a list; use 'contains' instead"
    if isinstance(leaf, Compare) and leaf.op not in ("eq", "ne") and field_type is FieldType.BOOL:
        return f"{leaf.op!r} orders values; {leaf.field!r} is bool"
    values = leaf.values if isinstance(leaf, In) else (leaf.value,)
    for value in values:
        if not _literal_fits(value, field_type):
            return f"{value!r} is not a {field_type} value for field {leaf.field!r}"
    return ""


def validate_rules(rules: Sequence[Rule], types: Mapping[str, FieldType]) -> None:
    """Check that rules only use declared fields, with literals of the field's type.

    Both engines call this, so a rule set either means the same on both or is refused by both.

    Args:
        rules: The rules an engine is about to compile.
        types: The declared field types.

    Raises:
        RuleError: With one problem per offending leaf or duplicate rule id.
    """
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        where = f"rules[{index}] ({rule.id})"
        if rule.id in seen:
            problems.append(Problem(f"duplicate rule id {rule.id!r}", where=where))
        seen.add(rule.id)
        for leaf in iter_leaves(rule.condition):
            message = _leaf_problem(leaf, types)
            if message:
                problems.append(Problem(message, where=where))
    if problems:
        raise RuleError(problems)
