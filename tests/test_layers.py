"""The layers of the package: what each part may load, checked in a fresh interpreter.

Each check imports one module in a new Python process (so nothing an earlier test loaded
hides a leak) and looks at ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _loaded_by(module: str) -> list[str]:
    """The modules a fresh interpreter holds after ``import module``."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return list(json.loads(out.stdout))


def _under(modules: list[str], *roots: str) -> list[str]:
    return [m for m in modules if any(m == r or m.startswith(r + ".") for r in roots)]


@pytest.mark.parametrize(
    "module",
    ["slaplug.sync", "slaplug.web.worker", "slaplug.notify.deliver", "slaplug_zendesk.write"],
)
def test_production_code_does_not_load_the_testing_kit(module: str) -> None:
    # Crash points live in slaplug.crashpoints: the runners never import slaplug.testing.
    assert _under(_loaded_by(module), "slaplug.testing") == []


def test_the_rules_compiler_loads_no_http_code_and_no_plugin() -> None:
    # Holidays come through the provider its caller passes, not the plugin manager, which
    # would load every connector's HTTP kit into `slaplug rules check`.
    leaked = _under(
        _loaded_by("slaplug.rules.compile"),
        "httpx",
        "requests",
        "urllib3",
        "slaplug.connectors",
        "slaplug.plugins",
    )
    assert leaked == []
