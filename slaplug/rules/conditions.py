"""The condition tree that rules compile to, and the meaning every engine must give it.

YAML conditions (``slaplug.rules.schema``) compile to these nodes; the engines
(`slaplug.rules.engines.python` in plain Python, `slaplug.rules.engines.durable` on durable_rules) match them
against *facts*: flat mappings from field name to a typed value. The semantics below are the
contract; a property test holds both engines to it.

Facts and types:
    Every field has a `FieldType`. Before a fact reaches an engine it is normalized
    (`slaplug.rules.engines.facts`): numbers given as strings become numbers, lists become tuples of
    strings, and a field whose value cannot be read as its type is treated as missing. A field
    that is absent or None is *missing*.

Meaning of each node on a fact ``f``:
    ``Compare(field, "eq", v)``   f has field and f[field] == v
    ``Compare(field, "ne", v)``   not (f has field and f[field] == v): missing fields match
    ``Compare(field, op, v)``     for lt, le, gt, ge: f has field and f[field] <op> v
    ``In(field, vs)``             f has field and f[field] is one of vs
    ``In(field, vs, negate)``     the opposite: missing fields match
    ``Contains(field, v)``        the list field contains v (missing or empty: no)
    ``Contains(field, v, negate)`` the opposite (missing or empty: yes)
    ``Exists(field)``             the field is present and not None; ``negate`` for missing
    ``All(items)`` / ``AnyOf(items)``  and / or; ``All(())`` is true, ``AnyOf(())`` false
    ``Not(item)``                 the opposite of item
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = [
    "All",
    "AnyOf",
    "Compare",
    "CompareOp",
    "Condition",
    "Contains",
    "Exists",
    "FieldType",
    "In",
    "Not",
    "Rule",
    "Scalar",
]

#: A literal in a condition. Its Python type matches the field's `FieldType`.
Scalar = str | int | float | bool

CompareOp = Literal["eq", "ne", "lt", "le", "gt", "ge"]


class FieldType(StrEnum):
    """The type of a fact field, fixed by the schema of facts, not by each fact."""

    STR = "str"
    NUM = "num"
    BOOL = "bool"
    LIST = "list"  # a list of strings, e.g. tags


@dataclass(frozen=True, slots=True)
class Compare:
    """Compare a scalar field with a literal; ordering ops are for NUM and STR fields."""

    field: str
    op: CompareOp
    value: Scalar


@dataclass(frozen=True, slots=True)
class In:
    """The field's value is (or, negated, is not) one of ``values``."""

    field: str
    values: tuple[Scalar, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Contains:
    """A LIST field contains (or, negated, does not contain) ``value``."""

    field: str
    value: str
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Exists:
    """The field is present and not None (or, negated, missing)."""

    field: str
    negate: bool = False


@dataclass(frozen=True, slots=True)
class All:
    """Every item holds."""

    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one item holds."""

    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The item does not hold."""

    item: Condition


Condition = Compare | In | Contains | Exists | All | AnyOf | Not


@dataclass(frozen=True, slots=True)
class Rule:
    """A named condition. Engines report matches by ``id``, in the order rules were given."""

    id: str
    condition: Condition
