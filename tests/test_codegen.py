"""Generated code (records, measure facts, the plain-Python engine) shows its lines in tracebacks."""

from __future__ import annotations

import inspect
import traceback
from typing import Any

import pytest

from slaplug._records import builder
from slaplug.model import Action
from slaplug.rules.conditions import Compare, FieldType, Rule
from slaplug.rules.engines.fields import MEASURE_VALUES, measure_fact_builder
from slaplug.rules.engines.python import PythonMatcher


def _trace(call: Any) -> str:
    with pytest.raises(Exception) as info:
        call()
    return "".join(traceback.format_exception(info.value))


def test_a_record_builder_has_source() -> None:
    source = inspect.getsource(builder(Action))
    assert source.startswith("def build(kind, params, connector, ticket_id, key,")
    assert "_set_kind(o, kind)" in source


def test_a_measure_fact_builder_shows_the_failing_line() -> None:
    build = measure_fact_builder(["percent", "cycle"])
    shown = _trace(lambda: build({}, None, "sla"))  # no measure: m.percent fails
    assert 'File "<slaplug generated measure fact builder ' in shown
    assert "    v = m.percent" in shown


def test_a_measure_value_shows_its_expression() -> None:
    shown = _trace(lambda: MEASURE_VALUES["elapsed"](None, "sla"))  # type: ignore[arg-type]
    assert "lambda m, kind: m.elapsed.total_seconds()" in shown


def test_the_python_engine_shows_the_generated_rule_line() -> None:
    class Odd:
        """A value that refuses to be compared (a bug elsewhere would look like this)."""

        def __ge__(self, other: object) -> bool:
            raise ArithmeticError("cannot compare")

    matcher = PythonMatcher([Rule("late", Compare("pct", "ge", 100))], {"pct": FieldType.NUM})
    shown = _trace(lambda: matcher.match([{"pct": Odd()}]))
    assert 'File "<slaplug generated rules ' in shown
    assert "    if (" in shown and ">= " in shown  # the rule's test, as generated
