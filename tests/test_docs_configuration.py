"""docs/configuration.md names every key `slaplug.yaml` takes, with its default.

The keys come from the models `slaplug.config` validates the file with, so a setting added
there (as ``work.keep_failed_jobs`` was) fails here until the reference table lists it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from slaplug.config import _SettingsFile, load_settings
from slaplug.errors import ProblemsError
from slaplug.plugins import get_connectors
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


# -- the connector snippets of the docs load (QA #6: `type: zendesk` where `plugin:` is the key) --

ROOT = PAGE.parent.parent
#: The plugin a page builds itself (the tutorial's), so it is not installed to load against.
_PAGES_OWN_PLUGIN = {"docs/plugins/tutorial.md": "tinydesk"}
#: An opening fence of a YAML block, indented as in a list item, and its closing fence.
_YAML_FENCE = re.compile(r"^(?P<indent> *)```ya?ml\s*$")


def yaml_blocks(text: str) -> Iterator[tuple[int, str]]:
    """The ```yaml blocks of Markdown ``text``: (line of the opening fence, dedented body)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _YAML_FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, indent = i, len(m["indent"])
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        yield start + 1, "\n".join(body) + "\n"
        i += 1


def connector_snippets() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every YAML block of the docs (and the plugins' READMEs) with a ``connectors:`` section,
    as ``file:line`` and its connectors."""
    pages = [*sorted((ROOT / "docs").rglob("*.md")), *sorted(ROOT.glob("plugins/*/README.md"))]
    for page in pages:
        for line, body in yaml_blocks(page.read_text(encoding="utf-8")):
            try:
                doc = yaml.safe_load(body)
            except yaml.YAMLError:
                continue  # not a configuration file (a rules excerpt with `...`)
            if isinstance(doc, dict) and isinstance(doc.get("connectors"), dict):
                yield f"{page.relative_to(ROOT)}:{line}", doc["connectors"]


class _AnyVariable(Mapping[str, str]):
    """An environment where every credential is set, so snippets load without them (slaplug's
    own ``SLAPLUG_*`` variables stay unset)."""

    def __getitem__(self, key: str) -> str:
        if key.startswith("SLAPLUG_"):
            raise KeyError(key)
        return "doc-snippet-secret-0123456789abcdef"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def snippet_problems(where: str, connectors: dict[str, Any], folder: Path) -> list[str]:
    """What is wrong with one snippet's connectors: a missing or unknown ``plugin:``, a key
    the plugin's settings do not take, and (when every connector is complete enough to
    run, with a ``base_url``) whatever `load_settings` refuses."""
    plugins = get_connectors()
    page = where.rsplit(":", 1)[0]
    problems = []
    for name, section in connectors.items():
        body = dict(section or {})
        plugin = body.pop("plugin", None)
        body.pop("escalate_from", None)  # slaplug's, not the plugin's
        if plugin is None:
            problems.append(f"{where}: connector {name!r} has no plugin:")
        elif plugin == _PAGES_OWN_PLUGIN.get(page):
            continue
        elif plugin not in plugins:
            problems.append(f"{where}: connector {name!r}: no plugin {plugin!r}")
        else:
            fields = plugins[plugin].Config.model_fields
            problems += [
                f"{where}: {name}.{key}: not a setting" for key in body if key not in fields
            ]
    complete = all("base_url" in (body or {}) for body in connectors.values())
    if (
        problems
        or not complete
        or any(
            (body or {}).get("plugin") == _PAGES_OWN_PLUGIN.get(page)
            for body in connectors.values()
        )
    ):
        return problems
    (folder / "rules.yaml").write_text("policies: []\n", encoding="utf-8")
    path = folder / "slaplug.yaml"
    path.write_text(yaml.safe_dump({"rules": ["rules.yaml"], "connectors": connectors}), "utf-8")
    try:
        load_settings(path, environ=_AnyVariable())
    except ProblemsError as exc:
        problems += [f"{where}: {p.where}: {p.message}" for p in exc.problems]
    return problems


@pytest.fixture
def connector_plugins(slaplug_register: Callable[..., str]) -> None:
    for module in ("slaplug_zendesk", "slaplug_jira", "slaplug_freshdesk"):
        plugin = pytest.importorskip(module, reason=f"{module} is not installed")
        slaplug_register(plugin, name=f"docs-{module}")


def test_every_connector_snippet_in_the_docs_loads(tmp_path: Path, connector_plugins: None) -> None:
    snippets = list(connector_snippets())
    where = [w.split(":")[0] for w, _ in snippets]
    assert {"docs/plugins/zendesk.md", "docs/configuration.md", "docs/webhooks.md"} <= set(where)
    problems = [p for w, c in snippets for p in snippet_problems(w, c, tmp_path)]
    assert not problems, "\n".join(problems)


def test_a_snippet_with_type_in_place_of_plugin_is_named(
    tmp_path: Path, connector_plugins: None
) -> None:
    typo = {"zendesk-eu": {"type": "zendesk", "base_url": "https://acme.zendesk.com"}}
    assert snippet_problems("x.md:3", typo, tmp_path) == [
        "x.md:3: connector 'zendesk-eu' has no plugin:"
    ]
    unknown = {
        "zendesk-eu": {
            "plugin": "zendesk",
            "base_url": "https://acme.zendesk.com",
            "email": "ops@acme.example",
            "api_token_env": "T",
            "pagesize": 5,
        }
    }
    assert snippet_problems("x.md:3", unknown, tmp_path) == [
        "x.md:3: zendesk-eu.pagesize: not a setting"
    ]
    refused = {"zendesk-eu": {"plugin": "zendesk", "base_url": "https://acme.zendesk.com"}}
    assert snippet_problems("x.md:3", refused, tmp_path)  # no credentials: load_settings says so
