"""Safety of the durable_rules wrapper: each test pins one sharp edge we promise to hide."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from slaplug.errors import ConfigError, EngineError, RuleError
from slaplug.rules.conditions import (
    All,
    AnyOf,
    Compare,
    Contains,
    Exists,
    FieldType,
    In,
    Not,
    Rule,
)
from slaplug.rules.engines.durable import CHUNK_SIZE, DurableMatcher, ProcessMatcher
from slaplug.rules.engines.matcher import make_matcher, open_matcher

TYPES = {"id": FieldType.STR, "n": FieldType.NUM, "tags": FieldType.LIST}
RULES = [
    Rule("has-id", Exists("id")),
    Rule("big", Compare("n", "ge", 100)),
    Rule("vip", Contains("tags", "vip")),
]


def expected(fact: dict[str, object]) -> tuple[str, ...]:
    out = ["has-id"] if "id" in fact else []
    if isinstance(fact.get("n"), int) and fact["n"] >= 100:  # type: ignore[operator]
        out.append("big")
    if "vip" in fact.get("tags", ()):  # type: ignore[operator]
        out.append("vip")
    return tuple(out)


def test_no_background_threads_are_started():
    before = threading.active_count()
    matcher = DurableMatcher(RULES, TYPES)
    worker = ProcessMatcher(RULES, TYPES)
    facts = [{"id": f"T{i}", "n": i} for i in range(300)]
    assert matcher.match(facts) == worker.match(facts)
    matcher.close()
    worker.close()
    assert threading.active_count() == before


def test_more_than_1024_distinct_facts_over_many_calls():
    # durable caps live sessions at 1024 and segfaults past it: we use one session, retracted.
    matcher = DurableMatcher(RULES, TYPES)
    for call in range(40):
        facts = [{"id": f"TCK-{call}-{i}", "n": (call * 7 + i) % 150,
                  "tags": ("vip",) if i % 3 == 0 else ()} for i in range(60)]
        assert matcher.match(facts) == [expected(f) for f in facts]
    big = [{"id": f"TCK-{i}", "n": i} for i in range(3 * CHUNK_SIZE + 17)]
    assert matcher.match(big) == [expected(f) for f in big]
    assert matcher._host.get_facts("slaplug", "slaplug") == []  # nothing left stored


def test_every_fact_of_a_full_batch_matches_despite_32_bit_id_hashes():
    # Stored facts are told apart by a 32-bit hash of their id: our ids 0..CHUNK_SIZE-1 are
    # fixed, so one full batch where every fact must match proves none of them collide.
    matcher = DurableMatcher([Rule("all", Exists("n"))], TYPES)
    assert matcher.match([{"n": i} for i in range(CHUNK_SIZE)]) == [("all",)] * CHUNK_SIZE


def test_colliding_ticket_ids_in_one_batch_both_match():
    # TCK-310447 and TCK-1038500 share a 32-bit FNV-1 hash: durable calls the second a duplicate.
    rules = [Rule("a", Compare("id", "eq", "TCK-310447")), Rule("b", In("id", ("TCK-1038500",))),
             Rule("any", Exists("id"))]
    matcher = DurableMatcher(rules, TYPES)
    assert matcher.match([{"id": "TCK-310447"}, {"id": "TCK-1038500"}]) == [
        ("a", "any"), ("b", "any")]


def test_an_action_error_surfaces_as_engine_error_and_the_matcher_recovers(monkeypatch):
    matcher = DurableMatcher(RULES, TYPES)

    def boom(fact_id: int, rule_index: int) -> None:
        raise RuntimeError("action exploded")

    monkeypatch.setattr(matcher, "_record", boom)
    with pytest.raises(EngineError, match="action exploded"):
        matcher.match([{"id": "x"}])
    monkeypatch.undo()
    assert matcher.match([{"id": "x"}, {}]) == [("has-id",), ()]


def test_fields_named_like_durable_keys_or_dot_paths_are_plain_fields():
    types = {"id": FieldType.STR, "sid": FieldType.STR, "$s": FieldType.NUM,
             "fields.tier": FieldType.STR, "t": FieldType.STR}
    rules = [Rule("tier", Compare("fields.tier", "eq", "gold")), Rule("sid", Exists("sid")),
             Rule("s", Compare("$s", "gt", 0)), Rule("t", Compare("t", "ne", "f"))]
    facts = [{"fields.tier": "gold", "sid": "x", "$s": 1, "t": "f", "id": "sid-slaplug"}, {}]
    assert DurableMatcher(rules, types).match(facts) == [("tier", "sid", "s"), ("t",)]


def test_huge_floats_and_ints_match_exactly():
    # durable cannot parse 1e+20 (error 204); rank codes keep every number out of its parser.
    rules = [Rule("eq", Compare("n", "eq", 1e20)), Rule("gt", Compare("n", "gt", 10**20))]
    facts = [{"n": 1e20}, {"n": 10**20 + 1}, {"n": 1e300}]
    assert DurableMatcher(rules, TYPES).match(facts) == [("eq",), ("gt",), ("gt",)]


def test_rules_too_complex_for_durable_are_refused_with_advice():
    wide = All(tuple(AnyOf((Exists("n"), Exists("id"))) for _ in range(8)))  # 256 conjunctions
    with pytest.raises(EngineError, match="engine: python"):
        DurableMatcher([Rule("wide", wide)], TYPES)


def test_too_many_encoded_fields_are_refused_with_advice():
    rules = [Rule(f"r{i}", Contains("tags", f"t{i}")) for i in range(300)]
    with pytest.raises(EngineError, match="engine: python"):
        DurableMatcher(rules, TYPES)


def test_negations_deep_in_a_rule_stay_within_durable_limits():
    rule = Rule("deep", Not(AnyOf((Not(All((Exists("n"), Not(Contains("tags", "x"))))),
                                    Compare("id", "lt", "m")))))
    facts = [{"n": 1, "id": "z"}, {"n": 1, "id": "a"}, {"id": "z", "tags": ("x",)}]
    assert DurableMatcher([rule], TYPES).match(facts) == [("deep",), (), ()]


def test_a_crashed_worker_becomes_engine_error_and_the_next_call_recovers():
    matcher = ProcessMatcher(RULES, TYPES)
    assert matcher._proc is not None
    os.kill(matcher._proc.pid, signal.SIGSEGV)  # what a durable C crash looks like
    matcher._proc.join(timeout=10)
    with pytest.raises(EngineError, match="died"):
        matcher.match([{"id": "x"}])
    assert matcher.match([{"id": "x"}]) == [("has-id",)]
    matcher.close()
    with pytest.raises(EngineError, match="closed"):
        matcher.match([])


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_200_rule_reloads_do_not_grow_this_process():
    # In-process, every durable ruleset leaks ~0.5 MB for good; a worker process frees it all.
    facts = [{"id": "x", "n": 150, "tags": ("vip",)}]
    for _ in range(10):  # warm up imports, the forkserver and allocator pools
        with open_matcher(RULES, TYPES) as matcher:
            matcher.match(facts)
    before = _rss_bytes()
    for i in range(200):
        rules = [*RULES, Rule(f"reload-{i}", Compare("n", "eq", i))]
        with open_matcher(rules, TYPES) as matcher:
            assert matcher.match(facts) == [("has-id", "big", "vip", *(("reload-150",) if i == 150
                                                                     else ()))]
    assert _rss_bytes() - before < 4 * 1024 * 1024


def test_make_matcher_refuses_to_fall_back_when_durable_cannot_import(monkeypatch):
    monkeypatch.setitem(sys.modules, "durable.engine", None)  # what Python 3.13 gives us
    with pytest.raises(EngineError, match=r"3\.11 and 3\.12.*engine: python"):
        make_matcher(RULES, TYPES, engine="durable")
    assert make_matcher(RULES, TYPES, engine="python").match([{"id": "x"}]) == [("has-id",)]


def test_make_matcher_rejects_unknown_engines_and_bad_rules():
    with pytest.raises(ConfigError, match="unknown rules engine"):
        make_matcher(RULES, TYPES, engine="drools")  # type: ignore[arg-type]
    with pytest.raises(RuleError):
        make_matcher([Rule("r", Compare("nope", "eq", 1))], TYPES)


def test_a_matcher_with_no_rules_matches_nothing():
    assert DurableMatcher([], TYPES).match([{"id": "x"}]) == [()]
    with open_matcher([], TYPES) as matcher:
        assert matcher.match([{}]) == [()]


# -- asking durable once per distinct encoded fact ------------------------------------------


def _dedupe_rules() -> tuple[list[Rule], dict[str, FieldType]]:
    types = {"percent": FieldType.NUM, "state": FieldType.STR, "tags": FieldType.LIST}
    rules = [
        Rule("half", Compare("percent", "ge", 50)),
        Rule("risk", All((Compare("percent", "ge", 75), Compare("state", "eq", "running")))),
        Rule("vip", Contains("tags", "vip")),
    ]
    return rules, types


def test_dedupe_gives_the_same_matches_as_asking_durable_for_every_fact() -> None:
    rules, types = _dedupe_rules()
    facts = [
        {"percent": p, "state": s, "tags": t}
        for p in (0, 49.9, 50, 60, 75, 80, 200)
        for s in ("running", "paused")
        for t in ((), ("vip",), ("x", "vip"))
    ] * 3
    plain = DurableMatcher(rules, types, dedupe=False)
    deduped = DurableMatcher(rules, types)
    try:
        assert deduped.match(facts) == plain.match(facts)
        assert deduped.match(facts[::-1]) == plain.match(facts[::-1])  # answers reused
    finally:
        plain.close()
        deduped.close()


def test_dedupe_sends_only_distinct_unseen_keys_to_durable(monkeypatch: pytest.MonkeyPatch) -> None:
    rules, types = _dedupe_rules()
    m = DurableMatcher(rules, types)
    asked: list[int] = []
    real = m._match_keys_locked
    monkeypatch.setattr(m, "_match_keys_locked", lambda keys: asked.append(len(keys)) or real(keys))
    try:
        # 60 and 70 encode alike (between the literals 50 and 75): one key for both.
        first = m.match([{"percent": 60, "state": "running"}, {"percent": 70, "state": "running"}])
        assert first == [("half",), ("half",)]
        m.match([{"percent": 65, "state": "running"}, {"percent": 90, "state": "running"}])
        assert asked == [1, 1]  # the second batch asked only about percent 90
    finally:
        m.close()


def test_dedupe_cache_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    from slaplug.rules.engines import durable

    monkeypatch.setattr(durable._Dedupe, "LIMIT", 2)
    rules, types = _dedupe_rules()
    m = DurableMatcher(rules, types)
    try:
        facts = [{"percent": p, "state": "running"} for p in (10, 50, 60, 75, 80)]
        assert m.match(facts) == [(), ("half",), ("half",), ("half", "risk"), ("half", "risk")]
        assert m.match(facts[:2]) == [(), ("half",)]
    finally:
        m.close()
