"""The core knows no platform: nothing under slaplug/ imports a connector plugin or a
platform's fake, and ``slaplug demo`` gets its fakes from the plugins (hook ``register_fakes``).

The fakes live with their connectors (``slaplug_zendesk.fake``, ``slaplug_jira.fake``,
``slaplug_freshdesk.fake``); a core module that imported one would tie slaplug to a platform
and fail where that plugin is not installed.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "slaplug"
PLATFORMS = ("zendesk", "jira", "freshdesk")


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module a tree imports: import statements, and import_module/__import__ calls
    with a literal name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in ("import_module", "__import__") and isinstance(first, ast.Constant):
                found.append((node.lineno, str(first.value)))
    return found


def test_no_core_module_imports_a_plugin_or_a_platform_fake() -> None:
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in _imported(tree):
            if any(platform in module.lower() for platform in PLATFORMS):
                offending.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {module}")
    assert not offending, "the core imports a platform:\n" + "\n".join(offending)


def test_the_demo_names_no_platform() -> None:
    text = (PACKAGE / "demo.py").read_text(encoding="utf-8").lower()
    named = [platform for platform in PLATFORMS if platform in text]
    assert not named, f"slaplug/demo.py names {named}; the plugins offer the demo's fakes"


def test_the_check_sees_an_import_of_a_fake() -> None:
    """The walker finds the imports the old layout had (so a green run means something)."""
    old = (
        "from slaplug.testing.fake_zendesk import FakeZendesk\n"
        "def f():\n"
        "    from slaplug_jira.fake import FakeJira\n"
        "    importlib.import_module('slaplug_freshdesk')\n"
    )
    modules = [m for _, m in _imported(ast.parse(old))]
    assert "slaplug.testing.fake_zendesk" in modules
    assert "slaplug_jira.fake" in modules
    assert "slaplug_freshdesk" in modules
