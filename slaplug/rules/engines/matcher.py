"""Choosing a rules engine: one `Matcher` interface, two engines.

``engine="durable"`` (the default) runs durable_rules in a child process (`ProcessMatcher`);
``engine="python"`` runs the plain-Python engine (`PythonMatcher`). Both give identical
matches; a property test holds them to it. If durable_rules cannot be imported, asking for it
raises `EngineError`: slaplug never falls back to the other engine silently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Protocol

from slaplug.errors import ConfigError
from slaplug.rules.conditions import FieldType, Rule
from slaplug.rules.engines import ENGINE_NAMES, EngineName
from slaplug.rules.engines.python import PythonMatcher

__all__ = ["Matcher", "make_matcher", "open_matcher"]


class Matcher(Protocol):
    """Matches normalized facts against a fixed list of rules."""

    def match(self, facts: Sequence[Mapping[str, object]]) -> list[tuple[str, ...]]:
        """Return, for each fact, the ids of the rules it matches, in rule order."""
        ...

    def close(self) -> None:
        """Release the engine (for durable, its worker process)."""
        ...


def make_matcher(
    rules: Sequence[Rule],
    types: Mapping[str, FieldType],
    engine: EngineName = "durable",
) -> Matcher:
    """Build a matcher for ``rules`` on the chosen engine.

    Args:
        rules: The rules, in the order their ids are reported.
        types: The declared type of every field rules may use.
        engine: ``"durable"`` (durable_rules, in a worker process) or ``"python"``.

    Returns:
        A ready matcher; call ``close()`` when done, or use `open_matcher`.

    Raises:
        ConfigError: ``engine`` is not a known engine name.
        RuleError: A rule uses an undeclared field or a literal of the wrong type.
        EngineError: durable_rules is unavailable (e.g. on Python 3.13) or cannot hold the rules.
    """
    if engine == "python":
        return PythonMatcher(rules, types)
    if engine == "durable":
        # Imported here so that the python engine never touches durable_rules at all.
        from slaplug.rules.engines.durable import ProcessMatcher  # noqa: PLC0415

        return ProcessMatcher(rules, types)
    raise ConfigError(f"unknown rules engine {engine!r}; use one of {ENGINE_NAMES}")


@contextmanager
def open_matcher(
    rules: Sequence[Rule],
    types: Mapping[str, FieldType],
    engine: EngineName = "durable",
) -> Iterator[Matcher]:
    """Like `make_matcher`, closing the matcher when the block ends.

    Args:
        rules: The rules, in the order their ids are reported.
        types: The declared type of every field rules may use.
        engine: ``"durable"`` or ``"python"``.

    Yields:
        The matcher.
    """
    matcher = make_matcher(rules, types, engine)
    try:
        yield matcher
    finally:
        matcher.close()
