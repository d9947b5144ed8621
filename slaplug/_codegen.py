"""Compiling generated Python source so that tracebacks and ``inspect`` can show it (internal).

slaplug generates a few functions for speed (the records' constructors, the facts' builders,
the plain-Python rules engine). Source given to ``exec`` or ``eval`` as a string has no file,
so a traceback through it shows no line, only ``File "<string>"``. `compile_source` names the
source after what it is and a hash of it, and puts it in `linecache`, where tracebacks and
``inspect.getsource`` look. Identical source shares one entry, so a long-running process that
loads the same rules again adds nothing.
"""

from __future__ import annotations

import hashlib
import linecache
from types import CodeType
from typing import Literal

__all__ = ["compile_source"]


def compile_source(source: str, what: str, mode: Literal["exec", "eval"] = "exec") -> CodeType:
    """Compile generated ``source`` under a file name of its own, registered in `linecache`.

    Args:
        source: The generated Python text.
        what: What it is, for the file name (``"rules"``, ``"Action builder"``).
        mode: ``"exec"`` for statements, ``"eval"`` for one expression.
    """
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    filename = f"<slaplug generated {what} {digest}>"
    code = compile(source, filename, mode)
    # mtime None: `linecache.checkcache` keeps the entry (there is no file to compare with).
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    return code
