"""Malformed rules files end in ``file:line:col`` problems and exit 2, never a traceback or a hang.

Each case is one of the files issue 14 (item 7) found ending in a traceback, hanging, or being
accepted silently; the position named is where the fix goes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slaplug.errors import RuleError
from slaplug.rules.compile import compile_files
from slaplug.yamlpos import MAX_DEPTH, MAX_FILE_BYTES

POLICY = "policies:\n  - name: p\n    targets: {resolution: {urgent: %s}}\n"
ESCALATION = "escalations:\n  - name: e\n    when: {%s}\n    actions: [{add_tag: x}]\n"
CONTRACT = (
    "contracts:\n  - name: c\n"
    "    objectives: [{severity: urgent, metric: resolution, target: 95}]\n"
)
CALENDAR = "calendars:\n  c:\n    timezone: UTC\n    hours: {mon: '09:00-17:00'}\n"


def billion_laughs() -> str:
    """Nine levels of nine aliases each: 9**9 strings once expanded, 700 bytes on disk."""
    text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    prev = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
        prev = name
    return text


#: Where the first problem must stand: the first occurrence of a text, a line and column, or
#: None for "anywhere, as long as it has one".
Marker = str | tuple[int, int] | None

# (id, file bytes, where the first problem must stand, fragment of its message)
CASES: list[tuple[str, bytes, Marker, str]] = [
    # One action indented two columns too deep: PyYAML fails at the next one (QA #8).
    (
        "item-over-indented",
        (
            b"escalations:\n  - name: e\n    when: {breached: true}\n    actions:\n"
            b"        - add_tag: x\n      - add_tag: y\n"
        ),
        "- add_tag: x",
        "starts in column 9, the next one (line 6) in column 7; items of one list",
    ),
    (
        "impossible-date",
        (CALENDAR + "    holidays: {dates: [2026-02-30]}\n").encode(),
        "2026-02-30",
        "not a real date",
    ),
    ("int-tag", b"version: !!int abc\n", "!!int", '"abc" is not a whole number'),
    ("timestamp-tag", b"version: !!timestamp abc\n", "!!timestamp", "not a real date"),
    ("custom-tag", b"calendars:\n  c: !tz Europe/Berlin\n", "!tz", "tag !tz is not supported"),
    ("python-tag", b"version: !!python/name:os.system x\n", "!!python", "is not supported"),
    ("set-tag", b"policies: !!set {a, b}\n", "!!set", "tag !!set is not supported"),
    ("merge-of-scalars", b"policies:\n  - <<: [1, 2]\n    name: p\n", "[1, 2]", "<< merges"),
    ("recursive-anchor", b"policies: &a [*a]\n", "*a", "contains itself"),
    ("recursive-mapping", b"x: &a {y: *a}\n", "*a", "contains itself"),
    (
        "nested-3000",
        ("policies: " + "[" * 3000 + "]" * 3000 + "\n").encode(),
        (1, 11 + MAX_DEPTH),  # the first bracket past the limit
        "nested deeper",
    ),
    (
        "nested-mapping-3000",
        ("a: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n").encode(),
        (1, 5 + 4 * (MAX_DEPTH - 2)),  # the first key past the limit (a value is a level too)
        "nested deeper",
    ),
    ("integer-5000-digits", ("version: " + "9" * 5000 + "\n").encode(), "9", "too large"),
    (
        "integer-5000-digits-in-condition",
        (ESCALATION % ("percent: {gte: " + "9" * 5000 + "}")).encode(),
        "9999",
        "too large",
    ),
    ("float-overflow", (ESCALATION % "percent: {gte: 1.0e+400}").encode(), "1.0e+400", "finite"),
    ("duration-overflow", (POLICY % "99999999999999h").encode(), "99999999999999h", "too long"),
    ("duration-digits", (POLICY % ("9" * 400 + "h")).encode(), "9999", "too long"),
    (
        "duration-overflow-in-condition",
        (ESCALATION % "remaining: {lt: 99999999999999h}").encode(),
        "99999999999999h",
        "too long",
    ),
    (
        "freeze-after-overflow",
        (CONTRACT + "    freeze_after: 99999999999999h\n").encode(),
        "99999999999999h",
        "too long",
    ),
    (
        "fee-5000-digits",
        (CONTRACT + "    fee: " + "9" * 5000 + "\n").encode(),
        "9999",
        "too large",
    ),
    ("utf-16", (POLICY % "1h").encode("utf-16"), "", "UTF-16"),
    ("latin-1", "description: caf\xe9\n".encode("latin-1"), "\ufffd", "not UTF-8"),
    ("nul-byte", b"version: 1\x00\n", "\x00", "NUL"),
    ("binary", bytes(range(256)) * 4, "\ufffd", "not UTF-8"),
    ("billion-laughs", billion_laughs().encode(), None, "more than"),
    # Accepted silently before: a target that never fires, a comparison that never holds,
    # a priority no helpdesk delivers.
    ("percent-nan", (ESCALATION % "percent: {gte: .nan}").encode(), ".nan", "finite"),
    ("percent-inf", (ESCALATION % "percent: {gte: .inf}").encode(), ".inf", "finite"),
    # Accepted, then an OverflowError once a breached clock looked for its next due time.
    (
        "percent-huge",
        (ESCALATION % "percent: {gte: 1.0e+300}").encode(),
        "1.0e+300",
        "at most 1000",
    ),
    ("elapsed-huge", (ESCALATION % "elapsed: {gte: 1.0e+300}").encode(), "1.0e+300", "at most"),
    ("zero-target", (POLICY % "0h").encode(), "0h", "longer than 0"),
    (
        "unknown-priority",
        b"policies:\n  - name: p\n    targets: {resolution: {urgnet: 1h}}\n",
        "urgnet",
        'unknown priority "urgnet"; did you mean "urgent"?',
    ),
    (
        "numeric-priority",
        b"policies:\n  - name: p\n    targets: {resolution: {1.5: 1h}}\n",
        "1.5",
        'unknown priority "1.5"',
    ),
    (
        # A due date compared unquoted: YAML reads a date, and fields hold text.
        "unquoted-date",
        (ESCALATION % "fields.due: {lte: 2026-12-02}").encode(),
        "2026-12-02",
        'YAML read 2026-12-02 as a date: quote it, "2026-12-02"',
    ),
]


def position(data: bytes, marker: str | tuple[int, int]) -> tuple[int, int]:
    """1-based line and column of the first ``marker`` in ``data`` (1:1 for an empty marker);
    the bytes are read as UTF-8, a byte that is not UTF-8 as U+FFFD."""
    if isinstance(marker, tuple):
        return marker
    if not marker:
        return 1, 1
    text = data.decode("utf-8", errors="replace")
    at = text.index(marker)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


@pytest.mark.parametrize(
    ("data", "marker", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_rules_file_is_a_problem_at_its_position(
    tmp_path: Path, data: bytes, marker: str, fragment: str
) -> None:
    p = tmp_path / "rules.yaml"
    p.write_bytes(data)
    started = time.perf_counter()
    with pytest.raises(RuleError) as info:
        compile_files([p])
    assert time.perf_counter() - started < 5
    first = info.value.problems[0]
    assert first.file == str(p) and first.line and first.column
    if marker is not None:
        assert (first.line, first.column) == position(data, marker)
    assert fragment in first.message, str(first)
    # Nothing unprintable reaches a terminal: a NUL or an escape shows as an escape sequence.
    assert all(ch.isprintable() or ch == "\n" for ch in str(info.value)), repr(str(info.value))


def test_merge_keys_share_a_mapping(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text(
        "policies:\n"
        "  - &std\n"
        "    name: std\n"
        "    match: {group: a}\n"
        "    targets: {resolution: {urgent: 1h}}\n"
        "  - <<: *std\n"
        "    name: other\n"
        "    match: {group: b}\n",
        encoding="utf-8",
    )
    src = compile_files([p])
    assert [(x.name, x.match) for x in src.policies] == [
        ("std", {"group": "a"}),
        ("other", {"group": "b"}),
    ]
    assert src.policies[1].targets == src.policies[0].targets


def test_declared_priorities_are_accepted_as_targets(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text(
        "priorities: [P1, P2]\n"
        "policies:\n  - name: p\n    targets: {resolution: {P1: 1h, P2: 4h, urgent: 1h}}\n",
        encoding="utf-8",
    )
    assert compile_files([p]).policies[0].targets["resolution"]["P1"].total_seconds() == 3600
    p.write_text(
        "priorities: [P1]\npolicies:\n  - name: p\n    targets: {resolution: {P3: 1h}}\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as info:
        compile_files([p])
    assert str(info.value.problems[0]).startswith(
        f'{p}:4:28: policies[0].targets.resolution.P3: unknown priority "P3"'
    )


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    p.write_bytes(b"# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    with pytest.raises(RuleError) as info:
        compile_files([p])
    assert str(info.value.problems[0]).startswith(f"{p}:1:1: ")
    assert "larger than" in str(info.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    os.mkfifo(p)
    # In a process with a bounded wait: opening a pipe nobody writes to blocks forever.
    run = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "rules", "check", str(p)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 2
    assert f"{p}:1:1: not a regular file" in run.stderr


CLI_CASES = [
    "impossible-date",
    "int-tag",
    "recursive-anchor",
    "utf-16",
    "nul-byte",
    "billion-laughs",
]


@pytest.mark.parametrize("case", CLI_CASES)
def test_rules_check_exits_2_with_the_position(tmp_path: Path, case: str) -> None:
    _, data, marker, fragment = next(c for c in CASES if c[0] == case)
    p = tmp_path / "rules.yaml"
    p.write_bytes(data)
    # A bounded wait: the billion-laughs file used to run for minutes, then exhaust memory.
    run = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "rules", "check", str(p)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    prefix = f"{p}:" if marker is None else "{}:{}:{}: ".format(p, *position(data, marker))
    assert prefix in run.stderr and fragment in run.stderr


def test_a_time_zone_typo_is_reported_once_not_again_as_an_unknown_calendar(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "calendars:\n"
        '  office: {timezone: Europe/Berlni, hours: {mon-fri: ["09:00-17:00"]}}\n'
        "policies:\n"
        "  - {name: p, calendar: office, targets: {resolution: {normal: 8h}}}\n"
        "contracts:\n"
        "  - name: c\n"
        "    calendar: office\n"
        "    fee: 100\n"
        "    currency: EUR\n"
        "    objectives:\n"
        "      - {severity: normal, metric: resolution, target: 95%, tiers: [{below: 95%, credit: 10%}]}\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as err:
        compile_files([path])
    messages = [str(p) for p in err.value.problems]
    assert len(messages) == 1, messages
    assert "Europe/Berlni" in messages[0] and f"{path}:2:" in messages[0]
