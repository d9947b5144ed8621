"""The ``rules:`` section of ``slaplug.yaml``: files, or versions of them with effective dates.

Two forms::

    rules: [rules/default.yaml]                      # one version, since forever

    rules:                                           # versions (docs/rules/language.md)
      - {files: [rules/v1.yaml], label: v1}
      - {files: [rules/v2.yaml], label: v2, effective_from: 2026-12-01T00:00:00+01:00}

Every problem is reported at once, at ``file:line:col``: a later version without a date, two
versions sharing a date or a label, a date without a time zone, an unknown key, a file that
does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from slaplug.errors import Problem
from slaplug.yamlpos import Located

__all__ = ["VERSION_KEYS", "RulesVersionSettings", "parse_rules"]

#: The keys a version may have.
VERSION_KEYS = ("files", "label", "effective_from")


@dataclass(frozen=True)
class RulesVersionSettings:
    """One version of the rules as configured.

    Attributes:
        label: How ``explain``, the measure history, reports and credits name it; empty for
            the plain list form (no versions declared).
        effective_from: From when it applies (aware); None for the first (since forever).
        files: Its rules files, resolved against the configuration's folder, merged in order.
    """

    label: str
    effective_from: datetime | None
    files: tuple[Path, ...]


def parse_rules(
    value: Any, located: Located, base: Path
) -> tuple[list[RulesVersionSettings], list[Problem]]:
    """The versions ``rules:`` declares, oldest first, and every problem found.

    Args:
        value: The section as read (None when absent).
        located: The file, for positions.
        base: The folder relative file names are resolved against.
    """
    where: tuple[str | int, ...] = ("rules",)
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [
            located.problem(
                where, "rules is a list: of files, or of versions {files:, label:, effective_from:}"
            )
        ]
    if all(isinstance(item, str) for item in value):
        files, found = _files(value, located, base, where)
        return ([RulesVersionSettings("", None, files)] if value else []), found
    problems: list[Problem] = []
    parsed: list[tuple[int, RulesVersionSettings, bool]] = []
    for i, item in enumerate(value):
        at = (*where, i)
        if not isinstance(item, Mapping):
            problems.append(
                located.problem(
                    at,
                    "write every entry as a version {files: [...], label: ..., effective_from: ...} "
                    "once one is: a plain file among versions belongs to none"
                    if isinstance(item, str)
                    else "each entry is a rules file, or a version {files: [...], label: ..., "
                    "effective_from: ...}",
                )
            )
            continue
        version, found = _version(item, i, located, base)
        problems += found
        if version is not None:
            parsed.append((i, version, "effective_from" in item))
    problems += _check_dates(parsed, located)
    versions = [v for _, v, _ in parsed]
    dated = sorted((v for v in versions if v.effective_from is not None), key=_date)
    return [v for v in versions if v.effective_from is None] + dated, problems


def _version(
    item: Mapping[Any, Any], i: int, located: Located, base: Path
) -> tuple[RulesVersionSettings | None, list[Problem]]:
    at: tuple[str | int, ...] = ("rules", i)
    problems = [
        located.problem(
            (*at, str(key)),
            f'unknown key "{key}" in a rules version; use {", ".join(VERSION_KEYS)}',
            at_key=True,
        )
        for key in item
        if key not in VERSION_KEYS
    ]
    raw_files = item.get("files")
    if isinstance(raw_files, str):
        raw_files = [raw_files]
    if not isinstance(raw_files, list) or not raw_files:
        problems.append(
            located.problem(
                (*at, "files") if "files" in item else at,
                "a rules version needs files: a list of its rules files, e.g. [rules/v2.yaml]",
            )
        )
        return None, problems
    if not all(isinstance(f, str) for f in raw_files):
        problems.append(located.problem((*at, "files"), "files are file names (text)"))
        return None, problems
    files, found = _files(raw_files, located, base, (*at, "files"))
    problems += found
    label = item.get("label")
    if label is None:
        label = "+".join(raw_files)
    elif not isinstance(label, str | int | float) or isinstance(label, bool) or not str(label):
        problems.append(located.problem((*at, "label"), "label is a short text, e.g. v2"))
        label = ""
    label = str(label)
    effective: datetime | None = None
    if "effective_from" in item:
        effective, message = _effective(item["effective_from"])
        if message is not None:
            problems.append(located.problem((*at, "effective_from"), message))
    return RulesVersionSettings(label, effective, files), problems


def _effective(value: Any) -> tuple[datetime | None, str | None]:
    """``effective_from`` as an aware datetime, or why it is not one."""
    example = "2026-12-01T00:00:00+01:00"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None, f"{value!r} is not a date and time; write it as {example}"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return None, (
                f"{value.isoformat()} has no time zone; a version takes effect at one instant "
                f"everywhere: add one, e.g. {value.isoformat()}+01:00 or {value.isoformat()}Z"
            )
        return value, None
    if isinstance(value, date):
        return None, (
            f"{value.isoformat()} is a date without a time and zone; write the instant the "
            f"version takes effect, e.g. {value.isoformat()}T00:00:00+01:00"
        )
    return None, f"effective_from is an instant with its time zone, e.g. {example}"


def _check_dates(
    parsed: list[tuple[int, RulesVersionSettings, bool]], located: Located
) -> list[Problem]:
    """Labels and dates across versions; ``parsed`` holds (index, version, date given)."""
    problems: list[Problem] = []
    seen_dates: dict[datetime, str] = {}
    seen_labels: set[str] = set()
    undated = 0
    for i, v, dated in parsed:
        if v.label and v.label in seen_labels:
            problems.append(
                located.problem(
                    ("rules", i, "label"),
                    f"two rules versions are labelled {v.label!r}; give each its own label",
                )
            )
        seen_labels.add(v.label)
        if v.effective_from is None:
            # A date given but unreadable was reported already; only a missing one is here.
            # One version may go without a date (the oldest, since forever), wherever listed.
            undated += not dated
            if undated > 1 and not dated:
                problems.append(
                    located.problem(
                        ("rules", i),
                        f"rules version {v.label!r} has no effective_from: only one version, "
                        "the oldest, applies since forever; add the instant it takes effect, "
                        "e.g. effective_from: 2026-12-01T00:00:00+01:00",
                    )
                )
            continue
        other = seen_dates.get(v.effective_from)
        if other is not None:
            problems.append(
                located.problem(
                    ("rules", i, "effective_from"),
                    f"rules versions {other!r} and {v.label!r} both take effect at "
                    f"{v.effective_from.isoformat()}; give each its own date",
                )
            )
        seen_dates[v.effective_from] = v.label
    return problems


def _files(
    names: list[Any], located: Located, base: Path, where: tuple[str | int, ...]
) -> tuple[tuple[Path, ...], list[Problem]]:
    problems: list[Problem] = []
    out: list[Path] = []
    for j, name in enumerate(names):
        path = base / str(name)
        out.append(path)
        try:
            exists = path.is_file()
        except OSError as exc:  # a name too long for the file system, say
            problems.append(
                located.problem((*where, j), f"rules file cannot be read: {exc.strerror}")
            )
            continue
        if not exists:
            problems.append(located.problem((*where, j), f"rules file {path} does not exist"))
    return tuple(out), problems


def _date(v: RulesVersionSettings) -> datetime:
    assert v.effective_from is not None
    return v.effective_from
