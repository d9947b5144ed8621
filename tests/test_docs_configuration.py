"""docs/configuration.md names every key `slaplug.yaml` takes, with its default.

The keys come from the models `slaplug.config` validates the file with, so a setting added
there (as ``work.keep_failed_jobs`` was) fails here until the reference table lists it.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from slaplug.config import _SettingsFile
from slaplug.rules_config import VERSION_KEYS

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
#: A table row whose first cell is a key in backticks: ``| `work.engine` | `embedded` | ...``.
_ROW = re.compile(r"^\| `(?P<key>[^`]+)` \| (?P<default>[^|]*) \|", re.MULTILINE)
#: A heading for a key documented in its own section: ``## `notify`: notification channels``.
_HEADING = re.compile(r"^#+ `(?P<key>[a-z_]+)`", re.MULTILINE)


def documented(text: str) -> dict[str, str]:
    """The keys of the page's tables, each with its default cell (empty for a section)."""
    rows = {m["key"]: m["default"].strip() for m in _ROW.finditer(text)}
    return {m["key"]: "" for m in _HEADING.finditer(text)} | rows


def settings_keys(model: type[BaseModel] = _SettingsFile, prefix: str = "") -> dict[str, object]:
    """Every key of the file as a dotted path (``work.keep_failed_jobs``), with its default
    (None when it has none to show: a factory, or None itself)."""
    out: dict[str, object] = {}
    for name, info in model.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            out.update(settings_keys(sub, f"{prefix}{name}."))
        else:
            out[prefix + name] = info.default if isinstance(info.default, str | int) else None
    return out


def unlisted(text: str) -> list[str]:
    """The settings the page ``text`` does not list, or lists with another default."""
    docs = documented(text)
    missing = []
    for key, default in settings_keys().items():
        # A mapping of the user's names (connectors, notify) may be documented by its items.
        if key not in docs and not any(d.startswith(key + ".") for d in docs):
            missing.append(key)
        elif default is not None and f"`{default}`" not in docs.get(key, ""):
            missing.append(f"{key} (default {default})")
    return missing + [f"rules version key {k}" for k in VERSION_KEYS if k not in docs]


def test_every_setting_is_in_the_reference_with_its_default() -> None:
    assert "work.keep_failed_jobs" in settings_keys()  # the walk reaches the nested sections
    missing = unlisted(PAGE.read_text(encoding="utf-8"))
    assert not missing, f"docs/configuration.md does not list: {', '.join(missing)}"


def test_the_reference_lists_no_setting_the_file_refuses() -> None:
    """A key of a section the models forbid extras in must exist (a renamed or removed
    setting is taken out of the page too)."""
    keys = settings_keys()
    sections = {k.split(".")[0] + "." for k in keys if "." in k}
    stale = [
        key
        for key in documented(PAGE.read_text(encoding="utf-8"))
        if any(key.startswith(s) for s in sections) and key not in keys
    ]
    assert not stale, f"docs/configuration.md lists settings slaplug.yaml refuses: {stale}"


def test_a_setting_left_out_of_the_page_or_with_another_default_is_named() -> None:
    text = PAGE.read_text(encoding="utf-8")
    row = next(m for m in _ROW.finditer(text) if m["key"] == "work.keep_failed_jobs")
    line_end = text.index("\n", row.start())
    assert unlisted(text[: row.start()] + text[line_end + 1 :]) == ["work.keep_failed_jobs"]
    assert unlisted(text.replace("| `outbox.lease` | `5m` |", "| `outbox.lease` | `1m` |")) == [
        "outbox.lease (default 5m)"
    ]
