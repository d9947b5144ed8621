"""Load YAML while remembering where each value came from, for ``file:line:col`` errors.

PyYAML's node graph carries a start mark per node; we build plain Python data from it and keep
a map from each value's path (``("policies", 0, "targets")``) to its 1-based line and column.
Duplicate keys, which PyYAML silently overwrites, are reported instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from slaplug.errors import Problem

__all__ = ["Located", "load_located"]

Path = tuple[str | int, ...]


@dataclass
class Located:
    """YAML data plus the position of every value in it."""

    data: Any
    file: str
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    #: Where the key of each mapping entry stands (``positions`` has where its value starts).
    key_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: For list sections (``policies``...), the file positions of the items that validated:
    #: broken items are left out of the spec, so its own indexes would misplace problems.
    valid: dict[str, list[int]] = field(default_factory=dict)

    def where(self, path: Path) -> tuple[int, int]:
        """Line and column of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, path: Path, message: str, at_key: bool = False) -> Problem:
        """A `Problem` at ``path`` (at its key with ``at_key``), with this file's name."""
        key_at = self.key_positions.get(tuple(path)) if at_key else None
        line, col = key_at if key_at is not None else self.where(path)
        return Problem(message, dotted(path), self.file, line, col)


def dotted(path: Path) -> str:
    """``("policies", 0, "targets")`` -> ``policies[0].targets``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_located(text: str, file: str) -> Located:
    """Parse ``text`` as one YAML document and locate every value.

    A syntax error becomes a single problem at the line PyYAML reports; the data is then None.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or "invalid YAML"
        return Located(None, file, problems=[Problem(f"YAML syntax: {what}", "", file, line, col)])
    finally:
        loader.dispose()
    located = Located(None, file)
    if node is not None:
        located.data = _build(node, (), located, loader)
    return located


def _build(node: yaml.Node, path: Path, out: Located, loader: yaml.SafeLoader) -> Any:
    out.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                out.problems.append(
                    Problem(
                        "keys must be plain words",
                        "",
                        out.file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                    )
                )
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                out.problems.append(
                    Problem(
                        f'"{key}" is given twice in this mapping; keep one',
                        dotted((*path, key)),
                        out.file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                    )
                )
            out.key_positions[(*path, key)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            result[key] = _build(value_node, (*path, key), out, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), out, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
