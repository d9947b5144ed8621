"""The rule packs slaplug ships, as package data: ``default`` and ``strict``.

The files are the repository's ``rules/*.yaml`` (linked, so the docs, the tests and the
package share one copy). `slaplug demo` runs ``default`` wherever it is started, and
`slaplug init` copies it next to the configuration it writes.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

__all__ = ["PACKS", "pack_file"]

#: The shipped packs by name.
PACKS = ("default", "strict")


def pack_file(name: str = "default", *, tests: bool = False) -> Traversable:
    """The shipped pack ``name`` (or its policy tests), readable with ``.read_text()``.

    Raises:
        KeyError: No pack has that name.
    """
    if name not in PACKS:
        raise KeyError(f"no shipped pack named {name!r}; shipped: {', '.join(PACKS)}")
    return files(__name__) / (f"{name}.tests.yaml" if tests else f"{name}.yaml")
