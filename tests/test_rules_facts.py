"""Fact normalization and the typing check on rule literals (slaplug.rules.engines.facts)."""

from __future__ import annotations

import math

import pytest

from slaplug.errors import RuleError
from slaplug.rules.conditions import (
    All,
    Compare,
    Contains,
    Exists,
    FieldType,
    In,
    Not,
    Rule,
)
from slaplug.rules.engines.facts import iter_leaves, normalize, validate_rules

NUM, STR, BOOL, LIST = FieldType.NUM, FieldType.STR, FieldType.BOOL, FieldType.LIST


def one(value: object, field_type: FieldType) -> object:
    """Normalize a single field; returns the sentinel 'MISSING' when it was dropped."""
    return normalize({"x": value}, {"x": field_type}).get("x", "MISSING")


def test_undeclared_fields_are_dropped():
    assert normalize({"a": 1, "b": 2}, {"a": NUM}) == {"a": 1}


def test_none_and_absent_fields_are_missing():
    assert normalize({"a": None}, {"a": NUM, "b": STR}) == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(5, 5), (2.5, 2.5), (-3, -3), ("5", 5), (" 2.5 ", 2.5), ("-1e3", -1000.0), (".5", 0.5),
     ("+7", 7), (10**30, 10**30), (1e300, 1e300), (math.inf, math.inf)],
)
def test_num_keeps_numbers_and_reads_numeric_strings(raw, expected):
    result = one(raw, NUM)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "raw", [True, False, "abc", "", "nan", "inf", "1_000", "١٢", math.nan, [1], {"a": 1}]
)
def test_num_drops_bools_nan_and_unreadable_values(raw):
    assert one(raw, NUM) == "MISSING"


def test_str_keeps_strings_and_prints_numbers():
    assert one("é P1", STR) == "é P1"
    assert one(5, STR) == "5"
    assert one(2.5, STR) == "2.5"
    assert one("", STR) == ""


def test_str_drops_bools_and_containers():
    assert one(True, STR) == "MISSING"
    assert one(["a"], STR) == "MISSING"


@pytest.mark.parametrize(("raw", "expected"), [(True, True), (False, False), ("true", True),
                                                (" FALSE ", False), ("True", True)])
def test_bool_keeps_bools_and_reads_true_false(raw, expected):
    assert one(raw, BOOL) is expected


@pytest.mark.parametrize("raw", [1, 0, "yes", "1", 1.0, ""])
def test_bool_does_not_guess_from_numbers_or_other_words(raw):
    assert one(raw, BOOL) == "MISSING"


def test_list_becomes_sorted_tuple_of_distinct_strings():
    assert one(["vip", "b", 3, None, "vip"], LIST) == ("3", "b", "vip")
    assert one({"z", "a"}, LIST) == ("a", "z")
    assert one(frozenset(), LIST) == ()
    assert one(("x",), LIST) == ("x",)


def test_list_from_bare_string_is_one_tuple():
    assert one("vip", LIST) == ("vip",)


def test_list_drops_non_collections():
    assert one(5, LIST) == "MISSING"
    assert one({"a": 1}, LIST) == "MISSING"


def test_reserved_looking_field_names_are_kept_as_fields():
    types = {"id": STR, "sid": STR, "$s": NUM, "fields.tier": STR}
    raw = {"id": "TCK-1", "sid": "x", "$s": "1", "fields.tier": "gold"}
    assert normalize(raw, types) == {"id": "TCK-1", "sid": "x", "$s": 1, "fields.tier": "gold"}


def test_iter_leaves_walks_nested_nodes_in_order():
    a, b, c = Exists("a"), Compare("b", "eq", 1), Contains("c", "v")
    assert list(iter_leaves(All((a, Not(All((b,))), c)))) == [a, b, c]


TYPES = {"n": NUM, "s": STR, "b": BOOL, "tags": LIST}


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        (Compare("nope", "eq", 1), "unknown field 'nope'"),
        (Compare("n", "eq", "5"), "'5' is not a num value"),
        (Compare("n", "eq", True), "True is not a num value"),
        (Compare("n", "lt", math.nan), "nan is not a num value"),
        (Compare("s", "eq", 5), "5 is not a str value"),
        (Compare("b", "eq", 1), "1 is not a bool value"),
        (Compare("b", "lt", True), "'lt' orders values; 'b' is bool"),
        (In("s", ("a", 1)), "1 is not a str value"),
        (Compare("tags", "eq", "vip"), "use 'contains' instead"),
        (Contains("s", "vip"), "'contains' needs a list field"),
    ],
)
def test_validate_rules_refuses_mistyped_literals(condition, fragment):
    with pytest.raises(RuleError) as info:
        validate_rules([Rule("r1", condition)], TYPES)
    assert fragment in str(info.value)
    assert "rules[0] (r1)" in str(info.value)


def test_validate_rules_reports_every_problem_and_duplicate_ids():
    rules = [Rule("r", Compare("x", "eq", 1)), Rule("r", Compare("n", "eq", "a"))]
    with pytest.raises(RuleError) as info:
        validate_rules(rules, TYPES)
    assert len(info.value.problems) == 3


def test_validate_rules_accepts_well_typed_rules():
    validate_rules(
        [Rule("r", All((Compare("n", "ge", 2.5), In("s", ("a",)), Contains("tags", "v"),
                        Compare("b", "ne", False), Exists("tags"))))],
        TYPES,
    )


def test_generated_measure_facts_equal_normalized_raw_facts():
    """The pack's generated fact builder gives what normalizing a raw measure fact gives,
    for every measure field, on running, paused, achieved, breached and cancelled measures."""
    from datetime import datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from slaplug.rules.engines.fields import (
        MEASURE_FIELDS,
        TICKET_FIELDS,
        measure_fact,
        measure_fact_builder,
        ticket_fact,
    )
    from slaplug.rules.pack import RulePack
    from slaplug.testing.synthetic import synthetic_tickets

    now = datetime(2026, 3, 20, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    pack_file = Path(__file__).resolve().parent.parent / "rules" / "default.yaml"
    types = {**TICKET_FIELDS, **MEASURE_FIELDS}
    ticket_types = dict(TICKET_FIELDS)
    build = measure_fact_builder(list(MEASURE_FIELDS))
    states, overdue_missing = set(), 0
    with RulePack.load([pack_file], engine="python") as pack:
        for a in pack.assess_many(synthetic_tickets(300, now), now):
            base = ticket_fact(a.ticket)
            part = normalize(base, ticket_types)
            for m in a.measures:
                for kind in ("sla", "ola"):
                    expected = normalize(measure_fact(base, m, kind, now), types)
                    assert build(part, m, kind) == expected
                states.add(m.state.value)
                overdue_missing += "overdue" not in build(part, m, "sla")
    assert states == {"running", "paused", "achieved", "breached", "cancelled"}
    assert overdue_missing > 0  # a missing field is left out, not set to None
