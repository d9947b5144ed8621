"""Load YAML while remembering where each value came from, for ``file:line:col`` errors.

PyYAML's node graph carries a start mark per node; we build plain Python data from it and keep
a map from each value's path (``("policies", 0, "targets")``) to its 1-based line and column.
Duplicate keys, which PyYAML silently overwrites, are reported instead.

Whatever the bytes, loading ends in data or in problems at a position, never in an exception
or a hang: files are bounded in size (`MAX_FILE_BYTES`), nesting (`MAX_DEPTH`) and in the
values they expand to through aliases (`MAX_VALUES`, which stops "billion laughs" files);
text must be UTF-8; only plain YAML types are read (strings, finite numbers up to 19 digits,
booleans, null, real dates and times, lists, mappings and ``<<`` merge keys), any other tag
is a problem.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field
from typing import Any

import yaml

from slaplug.errors import Problem, printable

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_VALUES",
    "Located",
    "load_located",
    "printable",
    "read_located",
]

Path = tuple[str | int, ...]

#: Largest rules or configuration file read, in bytes (1 MiB; the shipped pack is 5 kB).
MAX_FILE_BYTES = 1024 * 1024
#: Deepest nesting of lists and mappings (the file's own mapping is level 1). Conditions nest
#: ``all``/``any``/``not`` a few levels; 64 leaves room and keeps every walk far from
#: Python's recursion limit.
MAX_DEPTH = 64
#: Most values a file may stand for once aliases are expanded (each ``*alias`` counts what it
#: repeats). A 1 MiB file of plain values holds far fewer; a "billion laughs" file holds 9**9.
MAX_VALUES = 100_000
#: Largest whole number accepted: a signed 64-bit integer (19 digits).
MAX_INT = 2**63 - 1

_TAG = "tag:yaml.org,2002:"
#: Tags read as they are. ``value`` (a plain ``=``) and ``merge`` (a plain ``<<`` that is not a
#: key) resolve implicitly from text a user meant as text, so they read as strings.
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_TEXT_TAGS = {_TAG + "value", _TAG + "merge"}
_COLLECTION_TAGS = {_TAG + "seq", _TAG + "map"}


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
    return printable(out)


def read_located(path: str | os.PathLike[str]) -> Located:
    """Read a file and `load_located` it; any reason it cannot be read is a problem at 1:1.

    Only regular files are read (a named pipe would block, a device never end), at most
    `MAX_FILE_BYTES` of them, and only UTF-8 text (a UTF-8 byte-order mark is allowed).
    """
    name = str(path)

    def fail(message: str, line: int = 1, col: int = 1) -> Located:
        return Located(None, name, problems=[Problem(message, "", name, line, col)])

    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return fail("not a regular file; name a YAML file")
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return fail(f"cannot read: {exc.strerror or exc}")
    except ValueError:  # a NUL in the name
        return fail("cannot read: the file name holds a NUL character")
    if len(data) > MAX_FILE_BYTES:
        return fail(_too_big())
    text, problem = decode(data)
    if problem is not None:
        return fail(*problem)
    return load_located(text, name)


def _too_big() -> str:
    return (
        f"the file is larger than {MAX_FILE_BYTES // 1024} KiB, the most slaplug reads; "
        "split it into several files"
    )


def decode(data: bytes) -> tuple[str, tuple[str, int, int] | None]:
    """UTF-8 text of ``data``, or a problem (message, line, column) saying what it is instead."""
    for bom, encoding in (
        (b"\xff\xfe\x00\x00", "UTF-32"),
        (b"\x00\x00\xfe\xff", "UTF-32"),
        (b"\xff\xfe", "UTF-16"),
        (b"\xfe\xff", "UTF-16"),
    ):
        if data.startswith(bom):
            return "", (f"the file is {encoding}; save it as UTF-8", 1, 1)
    try:
        return data.decode("utf-8").removeprefix("\ufeff"), None
    except UnicodeDecodeError as exc:
        at = exc.start
    line_start = data.rfind(b"\n", 0, at) + 1
    line = data.count(b"\n", 0, at) + 1
    col = len(data[line_start:at].decode("utf-8", errors="replace")) + 1
    if b"\x00" in data[:1024]:
        kind = "it looks like a binary or UTF-16 file"
    else:
        kind = "perhaps Latin-1 or Windows-1252"
    return "", (
        f"the file is not UTF-8 (byte 0x{data[at]:02x}, {kind}); save it as UTF-8",
        line,
        col,
    )


class _LimitError(Exception):
    """A bound is exceeded while building; carries the problem to report."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _AliasNode(yaml.Node):
    """Where an ``*alias`` stands, pointing at the node it repeats."""

    id = "alias"

    def __init__(self, target: yaml.Node, start: Any, end: Any) -> None:
        super().__init__(target.tag, target.value, start, end)
        self.target = target


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting bound and aliases kept visible."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        # The scanner reads a whole flow collection ahead (it may be a key), checking every
        # open level per token: bounded here, or "[[[[..." costs time quadratic in its length.
        if self.flow_level >= MAX_DEPTH:
            raise _LimitError(_too_deep(), self.get_mark())
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
            node = super().compose_node(parent, index)
            assert node is not None  # an alias always names a node (or PyYAML raised)
            return _AliasNode(node, event.start_mark, event.end_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                next_event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _LimitError(_too_deep(), next_event.start_mark)
            composed = super().compose_node(parent, index)
            assert composed is not None  # compose_node is only called where a node stands
            return composed
        finally:
            self._depth -= 1


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels of lists and mappings; flatten it"


def load_located(text: str, file: str) -> Located:
    """Parse ``text`` as one YAML document and locate every value.

    A syntax error, a tag slaplug does not read, a value that is not what its tag says, or a
    bound exceeded becomes a problem at its position; the data is then None. Duplicate keys
    are problems too, but the data is kept (the last value wins), so that the rest of the
    file is still checked.
    """
    if len(text) > MAX_FILE_BYTES:
        return Located(None, file, problems=[Problem(_too_big(), "", file, 1, 1)])
    try:
        loader = _Loader(text)  # checks every character: a NUL is refused here
    except yaml.reader.ReaderError as exc:
        return _failed(file, _bad_character(exc.character), _mark_at(text, exc.position))
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = printable(exc.problem or "invalid YAML")
        misaligned = _misaligned_item(text, exc)
        if misaligned is not None:
            message, line, col = misaligned
            return Located(None, file, problems=[Problem(message, "", file, line, col)])
        return _failed(file, f"YAML syntax: {what}", mark)
    except yaml.reader.ReaderError as exc:
        return _failed(file, _bad_character(exc.character), _mark_at(text, exc.position))
    except _LimitError as exc:
        return _failed(file, exc.message, exc.mark)
    except RecursionError:  # not reached within MAX_DEPTH; a last guard
        return _failed(file, _too_deep(), None)
    finally:
        loader.dispose()
    located = Located(None, file)
    if node is not None:
        builder = _Builder(located, loader)
        try:
            data = builder.build(node, (), 1)
        except _LimitError as exc:
            return _failed(file, exc.message, exc.mark)
        except RecursionError:
            return _failed(file, _too_deep(), None)
        if not builder.broken:
            located.data = data
    return located


def _misaligned_item(text: str, exc: yaml.MarkedYAMLError) -> tuple[str, int, int] | None:
    """Two items of one list starting in different columns, said at the first of them.

    One item indented too deep (line 57) makes PyYAML fail at the next item (line 58):
    ``expected <block end>, but found '<block sequence start>'``. Which of the two is wrong
    only the author knows, so the message names both, at the earlier line (the one PyYAML
    never points at). Returns (message, line, column), or None for any other error.
    """
    mark = exc.problem_mark
    if mark is None or not (exc.problem or "").startswith("expected <block end>, but found"):
        return None
    lines = text.splitlines()
    if mark.line >= len(lines):
        return None
    here = lines[mark.line]
    indent = len(here) - len(here.lstrip(" "))
    if mark.column != indent or not here[indent:].startswith("-"):
        return None
    # Up past the deeper lines (the earlier item and its continuation) to its first line.
    first = None
    for n in range(mark.line - 1, -1, -1):
        line = lines[n]
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        if len(line) - len(stripped) <= indent:
            break
        first = n
    if first is None:
        return None
    above = lines[first]
    deeper = len(above) - len(above.lstrip(" "))
    if not above[deeper:].startswith("-"):
        return None
    return (
        f"YAML syntax: this list item starts in column {deeper + 1}, the next one "
        f"(line {mark.line + 1}) in column {indent + 1}; items of one list start in one "
        "column: indent them alike",
        first + 1,
        deeper + 1,
    )


def _failed(file: str, message: str, mark: Any) -> Located:
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return Located(None, file, problems=[Problem(message, "", file, line, col)])


def _bad_character(character: Any) -> str:
    if character in (0, "\x00"):
        return (
            "a NUL character, which YAML does not allow; is this a binary or UTF-16 file? "
            "Save it as UTF-8 text"
        )
    code = character if isinstance(character, int) else ord(str(character)[:1] or "\0")
    return f"character U+{code:04X} is not allowed in YAML; remove it"


def _mark_at(text: str, position: int) -> yaml.Mark:
    line = text.count("\n", 0, position)
    column = position - (text.rfind("\n", 0, position) + 1)
    return yaml.Mark("", position, line, column, None, None)  # type: ignore[arg-type]


class _Builder:
    """Plain data from a node graph, with every bound checked and every bad value reported."""

    def __init__(self, out: Located, loader: _Loader) -> None:
        self.out = out
        self.loader = loader
        self.count = 0
        #: Collections being built, to catch an alias inside the value it names.
        self.open: set[int] = set()
        #: A value was bad: its problem is reported, the data is not used.
        self.broken = False

    def problem(self, node: yaml.Node, message: str, path: Path = (), fatal: bool = True) -> None:
        """Report ``message`` at ``node``; a fatal problem leaves the file without data."""
        self.broken = self.broken or fatal
        mark = node.start_mark
        self.out.problems.append(
            Problem(message, dotted(path), self.out.file, mark.line + 1, mark.column + 1)
        )

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _LimitError(
                f"the file stands for more than {MAX_VALUES:,} values once its aliases are "
                "expanded; use fewer or smaller aliases",
                node.start_mark,
            )
        if depth > MAX_DEPTH:
            raise _LimitError(_too_deep(), node.start_mark)
        self.out.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        target = node
        if isinstance(node, _AliasNode):
            target = node.target
            if id(target) in self.open:
                self.problem(
                    node, "this alias names a value that contains itself; it would never end", path
                )
                return None
        if isinstance(target, yaml.ScalarNode):
            return self.scalar(target, path)
        if target.tag not in _COLLECTION_TAGS:
            self.problem(node, _unsupported(target.tag), path)
            return None
        self.open.add(id(target))
        try:
            if isinstance(target, yaml.SequenceNode):
                return [
                    self.build(item, (*path, i), depth + 1) for i, item in enumerate(target.value)
                ]
            assert isinstance(target, yaml.MappingNode)
            return self.mapping(target, path, depth)
        finally:
            self.open.discard(id(target))

    def mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        explicit: list[tuple[yaml.Node, yaml.Node]] = []
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _TAG + "merge":
                merges.append(value_node)
            else:
                explicit.append((key_node, value_node))
        # YAML's merge keys: keys written in the mapping win, then the first merged mapping.
        # Built last-first so that the winner's data and positions are the ones kept.
        for value_node in reversed(merges):
            sources = _merge_sources(value_node)
            if sources is None:
                self.problem(
                    value_node,
                    "<< merges a mapping, or a list of mappings, named by aliases "
                    "(<<: *defaults); write the keys out instead",
                    path,
                )
                continue
            for source in reversed(sources):
                merged = self.build(source, path, depth)
                if isinstance(merged, dict):
                    result.update(merged)
        self.out.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        seen: set[str] = set()
        for key_node, value_node in explicit:
            key = self.key(key_node, path)
            if key is None:
                continue
            if key in seen:
                self.out.problems.append(
                    Problem(
                        f'"{printable(key)}" is given twice in this mapping; keep one',
                        dotted((*path, key)),
                        self.out.file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                    )
                )
            seen.add(key)
            self.out.key_positions[(*path, key)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result

    def key(self, node: yaml.Node, path: Path) -> str | None:
        target = node.target if isinstance(node, _AliasNode) else node
        if isinstance(target, yaml.ScalarNode):
            self.count += 1
            before = len(self.out.problems)
            value = self.scalar(target, path)
            if isinstance(value, (str, int, float, bool)):
                return value if isinstance(value, str) else str(value)
            if len(self.out.problems) > before:  # the scalar itself was bad, and said so
                return None
        # Reported, but the rest of the file is still checked (the entry is left out).
        self.problem(node, "keys must be plain words", fatal=False)
        return None

    def scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        tag = node.tag
        if tag in _TEXT_TAGS:
            return node.value
        if tag not in _SCALAR_TAGS:
            self.problem(node, _unsupported(tag), path)
            return None
        text = printable(node.value[:40]) + ("..." if len(node.value) > 40 else "")
        if tag == _TAG + "int" and sum(ch.isdigit() for ch in node.value) > 19:
            self.problem(node, f"{text} is too large; whole numbers have at most 19 digits", path)
            return None
        try:
            value = self.loader.construct_object(node, deep=True)
        except (ValueError, TypeError, AttributeError, OverflowError, yaml.YAMLError):
            if tag == _TAG + "timestamp":
                message = (
                    f'"{text}" is not a real date or time; write it as YYYY-MM-DD or '
                    "YYYY-MM-DDTHH:MM:SS (quote it to keep it as text)"
                )
            elif tag == _TAG + "int":
                message = f'"{text}" is not a whole number'
            else:
                message = f'"{text}" is not a {tag.removeprefix(_TAG)}'
            self.problem(node, message, path)
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(node, f"{text} is not a finite number; write a number", path)
            return None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            self.problem(node, f"{text} is too large; whole numbers have at most 19 digits", path)
            return None
        return value


def _merge_sources(node: yaml.Node) -> list[yaml.Node] | None:
    """The mappings a ``<<`` value names, or None when it names something else."""
    target = node.target if isinstance(node, _AliasNode) else node
    if isinstance(target, yaml.MappingNode):
        return [node]
    if isinstance(target, yaml.SequenceNode):
        items = [i.target if isinstance(i, _AliasNode) else i for i in target.value]
        if items and all(isinstance(i, yaml.MappingNode) for i in items):
            return list(target.value)
    return None


def _unsupported(tag: str | None) -> str:
    short = "!!" + tag.removeprefix(_TAG) if tag and tag.startswith(_TAG) else str(tag)
    return (
        f"the tag {printable(short)} is not supported; slaplug reads plain YAML (text, numbers, "
        "true/false, dates, lists, mappings): remove the tag"
    )
