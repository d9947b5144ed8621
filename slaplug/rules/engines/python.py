"""The plain-Python engine: every rule compiled once into one Python function.

This engine *is* the executable form of the contract in `slaplug.rules.conditions`; the
durable_rules engine is tested against it. Rules are compiled to Python source and ``compile``d
once: a generated function reads each field once and tests every rule with plain operators,
which measured several times faster than a tree of closures (see ``bench/rules.py``). Literals
and field names reach the generated code as bound constants, never as source text, so no string
in a rule can inject code. Trees too deep for the Python compiler fall back to closures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence

from slaplug._codegen import compile_source
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
)
from slaplug.rules.engines.facts import iter_leaves, validate_rules

__all__ = ["PythonMatcher", "compile_condition"]

Fact = Mapping[str, object]
Predicate = Callable[[Fact], bool]
_ORDER_OPS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


class _Codegen:
    """Turns conditions into Python expressions over locals ``v0, v1, ...`` (one per field)."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.consts: dict[str, object] = {}

    def const(self, value: object) -> str:
        name = f"_c{len(self.consts)}"
        self.consts[name] = value
        return name

    def var(self, field: str) -> str:
        return self.fields.setdefault(field, f"v{len(self.fields)}")

    def expr(self, node: Condition) -> str:
        if isinstance(node, All):
            return "(" + " and ".join(map(self.expr, node.items)) + ")" if node.items else "True"
        if isinstance(node, AnyOf):
            return "(" + " or ".join(map(self.expr, node.items)) + ")" if node.items else "False"
        if isinstance(node, Not):
            return f"(not {self.expr(node.item)})"
        v = self.var(node.field)
        if isinstance(node, Exists):
            return f"({v} is None)" if node.negate else f"({v} is not None)"
        if isinstance(node, Contains):
            c = self.const(node.value)
            return (
                f"({v} is None or {c} not in {v})"
                if node.negate
                else (f"({v} is not None and {c} in {v})")
            )
        if isinstance(node, In):
            # A missing field is None, which no literal equals: "not in" then holds, as specified.
            c = self.const(frozenset(node.values))
            return f"({v} not in {c})" if node.negate else f"({v} in {c})"
        c = self.const(node.value)
        if node.op == "eq":
            return f"({v} == {c})"
        if node.op == "ne":
            return f"({v} != {c})"
        return f"({v} is not None and {v} {_ORDER_OPS[node.op]} {c})"


def _compile_source(rules: Sequence[Rule]) -> Callable[[Fact], tuple[str, ...]]:
    gen = _Codegen()
    tests = [gen.expr(rule.condition) for rule in rules]
    ids = [gen.const(rule.id) for rule in rules]
    lines = ["def _match(f):", "    g = f.get"]
    lines += [f"    {var} = g({gen.const(field)})" for field, var in gen.fields.items()]
    lines.append("    out = []")
    for test, rid in zip(tests, ids, strict=True):
        lines += [f"    if {test}:", f"        out.append({rid})"]
    lines.append("    return tuple(out)")
    namespace: dict[str, object] = dict(gen.consts)
    exec(compile_source("\n".join(lines), "rules"), namespace)
    function: Callable[[Fact], tuple[str, ...]] = namespace["_match"]  # type: ignore[assignment]
    return function


def compile_condition(node: Condition) -> Predicate:
    """Compile one condition into a closure (the slower, recursion-only fallback).

    Args:
        node: The condition tree.

    Returns:
        A predicate on a normalized fact, with the meaning given in `slaplug.rules.conditions`.
    """
    if isinstance(node, All):
        parts = [compile_condition(item) for item in node.items]
        return lambda f: all(p(f) for p in parts)
    if isinstance(node, AnyOf):
        parts = [compile_condition(item) for item in node.items]
        return lambda f: any(p(f) for p in parts)
    if isinstance(node, Not):
        inner = compile_condition(node.item)
        return lambda f: not inner(f)
    return _compile_leaf(node)


def _compile_leaf(node: Compare | In | Contains | Exists) -> Predicate:
    key = node.field
    if isinstance(node, Exists):
        present = not node.negate
        return lambda f: (f.get(key) is not None) is present
    if isinstance(node, Contains):
        value, negate = node.value, node.negate

        def contains(f: Fact) -> bool:
            items = f.get(key)
            return (items is not None and value in items) is not negate  # type: ignore[operator]

        return contains
    if isinstance(node, In):
        values, negate = frozenset(node.values), node.negate
        return lambda f: (f.get(key) in values) is not negate
    literal, op = node.value, node.op
    if op == "eq":
        return lambda f: bool(f.get(key) == literal)
    if op == "ne":
        return lambda f: bool(f.get(key) != literal)

    def order(f: Fact) -> bool:
        v = f.get(key)
        if v is None:
            return False
        if op == "lt":
            return v < literal  # type: ignore[operator]
        if op == "le":
            return v <= literal  # type: ignore[operator]
        if op == "gt":
            return v > literal  # type: ignore[operator]
        return v >= literal  # type: ignore[operator]

    return order


def _compile_closures(rules: Sequence[Rule]) -> Callable[[Fact], tuple[str, ...]]:
    tests = [(rule.id, compile_condition(rule.condition)) for rule in rules]
    return lambda f: tuple(rid for rid, test in tests if test(f))


class PythonMatcher:
    """Matches normalized facts against rules in plain Python. Stateless and thread-safe.

    Args:
        rules: The rules, in the order their ids are reported.
        types: The declared type of every field rules may use.
        codegen: Compile to Python source (fast); ``False`` forces the closure compiler.

    Raises:
        RuleError: A rule uses an undeclared field or a literal of the wrong type.
    """

    def __init__(
        self, rules: Sequence[Rule], types: Mapping[str, FieldType], *, codegen: bool = True
    ) -> None:
        validate_rules(rules, types)
        self._match_one = _compile_closures(rules)
        # A tree nested deeper than CPython's parser allows keeps the closures.
        with contextlib.suppress(SyntaxError, RecursionError, MemoryError):
            if codegen:
                self._match_one = _compile_source(rules)
        self.fields = frozenset(leaf.field for r in rules for leaf in iter_leaves(r.condition))

    def match(self, facts: Sequence[Fact]) -> list[tuple[str, ...]]:
        """Match each fact.

        Args:
            facts: Facts already passed through `slaplug.rules.engines.facts.normalize`.

        Returns:
            For each fact, the ids of the rules it matches, in rule order.
        """
        match_one = self._match_one
        return [match_one(fact) for fact in facts]

    def close(self) -> None:
        """Release nothing: present so both engines share one interface."""
