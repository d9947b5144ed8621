"""Property: on any rules and any facts, the durable engine matches exactly what the reference does.

Rules are random trees over every node and operator and every field type; facts are random raw
values (missing fields, empty lists, numbers as strings, bools for ints and ints for bools,
unicode, negative and huge numbers) passed through `normalize`, as in production.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from slaplug.rules.engines.facts import normalize
from slaplug.rules.engines.python import PythonMatcher

TYPES = {
    "n": FieldType.NUM,
    "s": FieldType.STR,
    "fields.tier": FieldType.STR,  # a dot path to durable, a plain name to us
    "b": FieldType.BOOL,
    "tags": FieldType.LIST,
    "id": FieldType.LIST,  # durable reserves "id"
}

NUMS = st.sampled_from([0, 1, -1, 2, 2.5, -0.0, 10, 1e20, 10**20, -1e300, math.inf, 9007199254740993])
STRS = st.sampled_from(["", "a", "b", "A", "é", "10", "9", "日本", "a b", "P1"])
TAGS = st.sampled_from(["vip", "a", "é", "10", ""])
LITERALS = {FieldType.NUM: NUMS, FieldType.STR: STRS, FieldType.BOOL: st.booleans()}
OPS = st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"])


@st.composite
def leaves(draw: st.DrawFn) -> Condition:
    name = draw(st.sampled_from(sorted(TYPES)))
    kind = TYPES[name]
    if kind is FieldType.LIST:
        return draw(st.one_of(
            st.builds(Contains, st.just(name), TAGS, st.booleans()),
            st.builds(Exists, st.just(name), st.booleans()),
        ))
    ops = OPS if kind is not FieldType.BOOL else st.sampled_from(["eq", "ne"])
    return draw(st.one_of(
        st.builds(Compare, st.just(name), ops, LITERALS[kind]),
        st.builds(In, st.just(name), st.lists(LITERALS[kind], max_size=3).map(tuple),
                  st.booleans()),
        st.builds(Exists, st.just(name), st.booleans()),
    ))


conditions = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: All(tuple(xs))),
        st.lists(inner, max_size=3).map(lambda xs: AnyOf(tuple(xs))),
        inner.map(Not),
    ),
    max_leaves=7,
)

rule_sets = st.lists(conditions, min_size=1, max_size=6).map(
    lambda cs: [Rule(f"r{i}", c) for i, c in enumerate(cs)]
)

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**25), 10**25),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.sampled_from(["true", "FALSE", " 2.5 ", "1e400", "-0", "1"]),
    st.lists(st.one_of(TAGS, st.integers(-3, 3), st.none()), max_size=3),
)
# Mostly values near the literals (so equal/between/boundary cases are common), often junk.
RAW_BY_TYPE = {
    FieldType.NUM: st.one_of(NUMS, NUMS.map(str), JUNK),
    FieldType.STR: st.one_of(STRS, STRS, JUNK),
    FieldType.BOOL: st.one_of(st.booleans(), st.sampled_from([0, 1, "true", "no"]), JUNK),
    FieldType.LIST: st.one_of(st.lists(TAGS, max_size=3), TAGS, JUNK),
}
raw_facts = st.fixed_dictionaries(
    {}, optional={name: RAW_BY_TYPE[kind] for name, kind in TYPES.items()}
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rule_sets, raws=st.lists(raw_facts, min_size=1, max_size=12))
def test_durable_and_reference_give_identical_matches(rules, raws):
    facts = [normalize(raw, TYPES) for raw in raws]
    expected = PythonMatcher(rules, TYPES).match(facts)
    assert PythonMatcher(rules, TYPES, codegen=False).match(facts) == expected
    matcher = DurableMatcher(rules, TYPES)
    try:
        assert matcher.match(facts) == expected
    finally:
        matcher.close()
