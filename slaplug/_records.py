"""Fast positional constructors for slaplug's frozen records (internal).

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__``
(the class's own ``__setattr__`` refuses), about 300 ns a field: building an `Action` cost
3.7 µs and an `SlaMeasure` 4 µs, the largest single cost of planning. The engine builds
millions of them, so for its hot loops `builder` makes a constructor that writes the slots
through their descriptors directly: the same object, equal to one built the usual way,
still frozen afterwards, at about a third of the cost. Everything else keeps using the
ordinary constructor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from slaplug._codegen import compile_source

__all__ = ["builder"]

T = TypeVar("T")


def builder(cls: type[T]) -> Callable[..., T]:
    """A constructor taking every field of ``cls`` positionally, in declaration order.

    ``cls`` must be a ``@dataclass(frozen=True, slots=True)`` with no ``__post_init__`` (the
    builder would skip it) and no ``init=False`` fields. No defaults apply: pass every field.
    """
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a slots dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has __post_init__, which a builder would skip")
    names = [f.name for f in dataclasses.fields(cls)]
    if any(not f.init for f in dataclasses.fields(cls)):
        raise TypeError(f"{cls.__name__} has init=False fields")
    # One generated function with the setters bound as defaults: no loop, no name lookups.
    setters = {f"_set_{n}": getattr(cls, n).__set__ for n in names}
    args = ", ".join(names)
    body = "\n".join(f"    _set_{n}(o, {n})" for n in names)
    defaults = ", ".join(f"_set_{n}=_set_{n}" for n in names)
    src = f"def build({args}, *, _new=_new, _cls=_cls, {defaults}):\n    o = _new(_cls)\n{body}\n    return o\n"
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, **setters}
    # The source is built from the class's own field names only.
    exec(compile_source(src, f"{cls.__name__} builder"), namespace)
    build: Callable[..., T] = namespace["build"]
    build.__doc__ = f"Build a {cls.__name__} from all its fields, positionally (fast path)."
    return build
