"""The rule engines: what matches normalized facts against compiled rules.

* `slaplug.rules.engines.matcher`: the `Matcher` protocol and `make_matcher`, which picks one.
* `slaplug.rules.engines.python`: the plain-Python engine, rules compiled to one function; the
  executable form of the contract in `slaplug.rules.conditions`.
* `slaplug.rules.engines.durable`: durable_rules in a child process, held equal to the Python
  engine by a property test.
* `slaplug.rules.engines.facts` and `slaplug.rules.engines.fields`: the typed facts both engines
  see, built from tickets and measures, and the fields a condition may name.

This module holds only `EngineName`, so settings and the CLI can name an engine without
loading one.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["ENGINE_NAMES", "EngineName"]

#: The engines a rules pack, ``slaplug.yaml`` or ``--engine`` may choose.
EngineName = Literal["durable", "python"]
#: `EngineName`'s values, for ``click.Choice`` and messages.
ENGINE_NAMES: tuple[EngineName, ...] = ("durable", "python")
