"""Benchmark the rules engines: durable_rules against the plain-Python engine.

Both engines match the same synthetic, normalized tickets against one realistic 20-rule set, in
this process. ``rules_per_s`` counts rule evaluations (facts x rules) per second, so it stays
comparable when the rule set changes; ``*facts_per_s`` are tickets per second.

    python bench/rules.py --n 20000      # prints one JSON line
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Sequence

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
from slaplug.rules.engines.durable import DurableMatcher, ProcessMatcher
from slaplug.rules.engines.facts import normalize
from slaplug.rules.engines.python import PythonMatcher

TYPES = {
    "priority": FieldType.STR,
    "status": FieldType.STR,
    "pct_elapsed": FieldType.NUM,
    "tags": FieldType.LIST,
    "customer.tier": FieldType.STR,
    "customer.region": FieldType.STR,
    "reopen_count": FieldType.NUM,
    "assignee": FieldType.STR,
    "vip": FieldType.BOOL,
}

OPEN = In("status", ("open", "pending"))
RULES = [
    Rule("p1-breach", All((Compare("priority", "eq", "P1"), Compare("pct_elapsed", "ge", 100), OPEN))),
    Rule("p1-75", All((Compare("priority", "eq", "P1"), Compare("pct_elapsed", "ge", 75)))),
    Rule("p2-breach", All((Compare("priority", "eq", "P2"), Compare("pct_elapsed", "ge", 100)))),
    Rule("p2-75", All((Compare("priority", "eq", "P2"), Compare("pct_elapsed", "ge", 75), OPEN))),
    Rule("any-150", Compare("pct_elapsed", "ge", 150)),
    Rule("half", All((Compare("pct_elapsed", "ge", 50), Compare("pct_elapsed", "lt", 75)))),
    Rule("vip-tag-75", All((Contains("tags", "vip"), Compare("pct_elapsed", "ge", 75),
                            Compare("customer.tier", "ne", "free")))),
    Rule("billing", All((Contains("tags", "billing"), OPEN))),
    Rule("security", AnyOf((Contains("tags", "security"), Contains("tags", "breach")))),
    Rule("no-legal", All((Contains("tags", "legal", negate=True), Compare("priority", "eq", "P1")))),
    Rule("gold", All((Compare("customer.tier", "eq", "gold"), Compare("pct_elapsed", "ge", 50)))),
    Rule("platinum", In("customer.tier", ("platinum", "enterprise"))),
    Rule("emea-p1", All((Compare("customer.region", "eq", "emea"),
                         Compare("priority", "eq", "P1")))),
    Rule("unassigned", All((Exists("assignee", negate=True), OPEN))),
    Rule("unassigned-late", All((Exists("assignee", negate=True),
                                 Compare("pct_elapsed", "ge", 75)))),
    Rule("reopened", Compare("reopen_count", "ge", 2)),
    Rule("not-closed-late", All((In("status", ("resolved", "closed"), negate=True),
                                 Compare("pct_elapsed", "gt", 120)))),
    Rule("vip-flag", All((Compare("vip", "eq", True), Not(In("priority", ("P3", "P4")))))),
    Rule("low-old", All((In("priority", ("P3", "P4")), Compare("pct_elapsed", "ge", 140)))),
    Rule("mixed", AnyOf((All((Compare("priority", "eq", "P2"), Contains("tags", "vip"))),
                         All((Compare("customer.tier", "eq", "gold"),
                              Compare("reopen_count", "ge", 1)))))),
]
TAGS = ["vip", "billing", "security", "breach", "legal", "mobile", "api", "sso", "refund", "bug"]


def synthetic_facts(n: int, seed: int = 42) -> list[dict[str, object]]:
    """Return ``n`` normalized tickets drawn with a fixed seed."""
    rnd = random.Random(seed)
    raws = [
        {
            "priority": rnd.choice(["P1", "P2", "P3", "P4"]),
            "status": rnd.choice(["open", "pending", "on_hold", "resolved", "closed"]),
            "pct_elapsed": round(rnd.uniform(0, 160), 1),
            "tags": rnd.sample(TAGS, rnd.randint(0, 3)),
            "customer.tier": rnd.choice(["free", "silver", "gold", "platinum"]),
            "customer.region": rnd.choice(["emea", "amer", "apac"]),
            "reopen_count": str(rnd.randint(0, 3)),  # as a helpdesk API often sends it
            "assignee": rnd.choice([None, "ann", "bob"]),
            "vip": rnd.choice([True, False, "true", None]),
        }
        for _ in range(n)
    ]
    return [normalize(raw, TYPES) for raw in raws]


def _rate(match: Callable[[Sequence[dict[str, object]]], list[tuple[str, ...]]],
          facts: list[dict[str, object]]) -> tuple[float, list[tuple[str, ...]]]:
    match(facts[:200])  # warm up
    start = time.perf_counter()
    result = match(facts)
    return len(facts) / (time.perf_counter() - start), result


def measure_rules(n: int) -> dict[str, object]:
    """Match ``n`` synthetic tickets on each engine and report throughput.

    Args:
        n: Number of tickets.

    Returns:
        ``rules_per_s`` (durable, in-process) and ``baseline_rules_per_s`` (Python reference)
        in rule evaluations per second, the same as tickets per second
        (``facts_per_s``, ``baseline_facts_per_s``, ``worker_facts_per_s`` for the durable
        engine in its worker process, as ``make_matcher`` gives it), and ``identical``: whether
        all engines returned the same matches.
    """
    facts = synthetic_facts(n)
    python = PythonMatcher(RULES, TYPES)
    durable = DurableMatcher(RULES, TYPES)
    worker = ProcessMatcher(RULES, TYPES)
    try:
        base_rate, expected = _rate(python.match, facts)
        durable_rate, got = _rate(durable.match, facts)
        worker_rate, got_worker = _rate(worker.match, facts)
    finally:
        durable.close()
        worker.close()
    per_fact = len(RULES)
    return {
        "bench": "rules",
        "n": n,
        "rules": per_fact,
        "matches": sum(map(len, expected)),
        "rules_per_s": round(durable_rate * per_fact),
        "baseline_rules_per_s": round(base_rate * per_fact),
        "facts_per_s": round(durable_rate),
        "worker_facts_per_s": round(worker_rate),
        "baseline_facts_per_s": round(base_rate),
        "identical": got == expected and got_worker == expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="tickets to match")
    print(json.dumps(measure_rules(parser.parse_args().n)))


if __name__ == "__main__":
    main()
