"""The rules docs stay true: the reference matches the schema, every YAML rules snippet compiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slaplug.rules.compile import compile_files
from slaplug.rules.docgen import render_reference

DOCS = Path(__file__).resolve().parent.parent / "docs"
_YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)
_RULES_KEYS = re.compile(r"^(calendars|policies|escalations|contracts):", re.M)


def yaml_rule_snippets() -> list[tuple[str, int, str]]:
    found = []
    for md in sorted(DOCS.rglob("*.md")):
        text = md.read_text(encoding="utf-8")
        for m in _YAML_BLOCK.finditer(text):
            if _RULES_KEYS.search(m.group(1)) and "cases:" not in m.group(1):
                line = text.count("\n", 0, m.start()) + 1
                found.append((str(md.relative_to(DOCS)), line, m.group(1)))
    return found


def test_reference_page_is_generated_from_the_current_schema() -> None:
    assert (DOCS / "rules" / "reference.md").read_text(encoding="utf-8") == render_reference(), (
        "docs/rules/reference.md is stale: run slaplug rules schema --format markdown > docs/rules/reference.md"
    )


def pages() -> list[str]:
    return sorted({doc for doc, _, _ in yaml_rule_snippets()})


@pytest.mark.parametrize("doc", pages())
def test_yaml_rules_snippets_of_a_page_pass_check_as_one_pack(doc: str, tmp_path: Path) -> None:
    # A page's snippets build on each other (a policy names the calendar declared above it),
    # so they load as one pack, several files merged in order, as users' files do.
    paths = []
    for doc_, line, snippet in yaml_rule_snippets():
        if doc_ == doc:
            path = tmp_path / f"{Path(doc).stem}-line{line}.yaml"
            path.write_text(snippet, encoding="utf-8")
            paths.append(path)
    compile_files(paths)  # raises RuleError, naming snippet and line, if the docs drifted


def test_there_are_snippets_to_check() -> None:
    assert len(yaml_rule_snippets()) >= 4
