"""Each line of the contract in slaplug/rules/conditions.py, as a named test.

The same tests run on the reference engine (compiled to source, and as closures) and on the
in-process durable engine, so a line of the contract broken by either engine fails here by name.
"""

from __future__ import annotations

import sys

import pytest

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
from slaplug.rules.engines.durable import DurableMatcher
from slaplug.rules.engines.python import PythonMatcher, _compile_source

TYPES = {
    "n": FieldType.NUM,
    "s": FieldType.STR,
    "b": FieldType.BOOL,
    "tags": FieldType.LIST,
}


@pytest.fixture(params=["codegen", "closures", "durable"])
def holds(request):
    """holds(condition, fact) -> bool, on one engine."""

    def check(condition: Condition, fact: dict[str, object]) -> bool:
        rules = [Rule("r", condition)]
        if request.param == "durable":
            matcher = DurableMatcher(rules, TYPES)
        else:
            matcher = PythonMatcher(rules, TYPES, codegen=request.param == "codegen")
        try:
            (result,) = matcher.match([fact])
        finally:
            matcher.close()
        assert result in ((), ("r",))
        return result == ("r",)

    return check


def test_eq_needs_the_field_and_an_equal_value(holds):
    assert holds(Compare("s", "eq", "P1"), {"s": "P1"})
    assert not holds(Compare("s", "eq", "P1"), {"s": "P2"})
    assert not holds(Compare("s", "eq", "P1"), {})
    assert holds(Compare("n", "eq", 5), {"n": 5.0})


def test_ne_matches_missing_fields(holds):
    assert holds(Compare("s", "ne", "P1"), {})
    assert holds(Compare("s", "ne", "P1"), {"s": "P2"})
    assert not holds(Compare("s", "ne", "P1"), {"s": "P1"})


@pytest.mark.parametrize(
    ("op", "below", "equal", "above"),
    [("lt", True, False, False), ("le", True, True, False),
     ("gt", False, False, True), ("ge", False, True, True)],
)
def test_ordering_needs_the_field_and_compares_by_value(holds, op, below, equal, above):
    assert holds(Compare("n", op, 10), {"n": 9.5}) is below
    assert holds(Compare("n", op, 10), {"n": 10}) is equal
    assert holds(Compare("n", op, 10), {"n": 10**40}) is above
    assert not holds(Compare("n", op, 10), {})


@pytest.mark.parametrize(
    ("op", "below", "equal", "above"),
    [("lt", False, True, True), ("le", False, False, True),
     ("gt", True, True, False), ("ge", True, False, False)],
)
def test_negated_ordering_matches_missing_fields_and_the_complement(holds, op, below, equal, above):
    assert holds(Not(Compare("n", op, 10)), {"n": 9}) is below
    assert holds(Not(Compare("n", op, 10)), {"n": 10.0}) is equal
    assert holds(Not(Compare("n", op, 10)), {"n": 11}) is above
    assert holds(Not(Compare("n", op, 10)), {})


def test_ordering_on_strings_is_by_code_point_not_by_number(holds):
    assert holds(Compare("s", "gt", "10"), {"s": "9"})
    assert holds(Compare("s", "lt", "é"), {"s": "z"})
    assert not holds(Compare("s", "lt", "a"), {})


def test_ordering_on_numbers_is_numeric(holds):
    # durable alone would compare "9" > 10 lexicographically; normalized facts hold numbers.
    assert not holds(Compare("n", "gt", 10), {"n": 9})
    assert holds(Compare("n", "lt", -1e300), {"n": float("-inf")})


def test_in_needs_the_field_and_one_of_the_values(holds):
    assert holds(In("s", ("P1", "P2")), {"s": "P2"})
    assert not holds(In("s", ("P1", "P2")), {"s": "P3"})
    assert not holds(In("s", ("P1", "P2")), {})
    assert not holds(In("s", ()), {"s": "P1"})


def test_in_negated_matches_missing_fields(holds):
    assert holds(In("s", ("P1",), negate=True), {})
    assert holds(In("s", ("P1",), negate=True), {"s": "P2"})
    assert not holds(In("s", ("P1",), negate=True), {"s": "P1"})
    assert holds(In("s", (), negate=True), {})


def test_contains_is_false_on_missing_or_empty_lists(holds):
    assert holds(Contains("tags", "vip"), {"tags": ("a", "vip")})
    assert not holds(Contains("tags", "vip"), {"tags": ("a",)})
    assert not holds(Contains("tags", "vip"), {"tags": ()})
    assert not holds(Contains("tags", "vip"), {})


def test_contains_negated_is_true_on_missing_or_empty_lists(holds):
    assert holds(Contains("tags", "vip", negate=True), {"tags": ()})
    assert holds(Contains("tags", "vip", negate=True), {})
    assert holds(Contains("tags", "vip", negate=True), {"tags": ("a",)})
    assert not holds(Contains("tags", "vip", negate=True), {"tags": ("vip",)})


def test_exists_means_present_and_not_none(holds):
    assert holds(Exists("s"), {"s": ""})
    assert holds(Exists("tags"), {"tags": ()})
    assert holds(Exists("b"), {"b": False})
    assert not holds(Exists("s"), {})
    assert not holds(Exists("s"), {"s": None})


def test_exists_negated_means_missing(holds):
    assert holds(Exists("n", negate=True), {})
    assert not holds(Exists("n", negate=True), {"n": 0})


def test_all_is_and_and_empty_all_is_true(holds):
    both = All((Compare("s", "eq", "a"), Compare("n", "gt", 1)))
    assert holds(both, {"s": "a", "n": 2})
    assert not holds(both, {"s": "a", "n": 1})
    assert holds(All(()), {})


def test_anyof_is_or_and_empty_anyof_is_false(holds):
    either = AnyOf((Compare("s", "eq", "a"), Compare("n", "gt", 1)))
    assert holds(either, {"n": 2})
    assert not holds(either, {"s": "b"})
    assert not holds(AnyOf(()), {"s": "a"})


def test_not_is_the_opposite_of_its_item(holds):
    assert holds(Not(Compare("n", "lt", 5)), {})  # missing: lt is false, so Not is true
    assert not holds(Not(Compare("n", "lt", 5)), {"n": 1})
    assert holds(Not(AnyOf(())), {})
    assert not holds(Not(All(())), {})
    assert holds(Not(All((Exists("s"), Contains("tags", "x")))), {"s": "a"})


def test_bool_fields_compare_as_bools(holds):
    assert holds(Compare("b", "eq", False), {"b": False})
    assert not holds(Compare("b", "eq", True), {"b": False})
    assert holds(Compare("b", "ne", True), {})


def test_matches_are_reported_in_rule_order():
    rules = [Rule("z", Exists("s")), Rule("a", All(())), Rule("m", Exists("s"))]
    assert PythonMatcher(rules, TYPES).match([{"s": "x"}, {}]) == [("z", "a", "m"), ("a",)]


def test_literals_cannot_inject_code_into_generated_source():
    evil = "'); import os; os._exit(1); ('"
    matcher = PythonMatcher([Rule(evil, Compare("s", "eq", evil))], TYPES)
    assert matcher.match([{"s": evil}, {"s": "x"}]) == [(evil,), ()]


def test_trees_too_deep_for_the_python_parser_fall_back_to_closures():
    condition: Condition = Exists("s")
    for _ in range(300):  # CPython's parser gives up near 200 nested parentheses
        condition = Not(Not(condition))
    assert sys.getrecursionlimit() > 700
    with pytest.raises(SyntaxError):
        _compile_source([Rule("deep", condition)])
    matcher = PythonMatcher([Rule("deep", condition)], TYPES)
    assert matcher.match([{"s": "x"}, {}]) == [("deep",), ()]
