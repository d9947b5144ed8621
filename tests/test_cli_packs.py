"""The shipped rule packs are package data: `slaplug init` works outside the checkout."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from slaplug.config import load_settings
from slaplug.packs import PACKS, pack_file

REPO = Path(__file__).resolve().parent.parent


def test_the_packaged_packs_are_the_repository_rules() -> None:
    for name in PACKS:
        assert pack_file(name).read_text() == (REPO / "rules" / f"{name}.yaml").read_text()
    tests = pack_file("default", tests=True).read_text()
    assert tests == (REPO / "rules" / "default.tests.yaml").read_text()


def test_init_outside_the_checkout_writes_a_config_whose_rules_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slaplug_register: Callable[..., str]
) -> None:
    import slaplug_zendesk

    slaplug_register(slaplug_zendesk, name="zendesk")

    def slaplug(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "slaplug.cli", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    done = slaplug("init")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "rules" / "default.yaml").is_file(), done.stdout
    checked = slaplug("rules", "check", "rules/default.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    monkeypatch.setenv("ZENDESK_API_TOKEN", "t" * 20)  # the starter file's connector
    settings = load_settings(tmp_path / "slaplug.yaml")
    assert [p.resolve() for p in settings.rules] == [
        (tmp_path / "rules" / "default.yaml").resolve()
    ]
    tested = slaplug("rules", "test", "rules/default.tests.yaml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # A pack already there is the user's: a second init (--force) leaves it alone.
    (tmp_path / "rules" / "default.yaml").write_text("# mine\n")
    again = slaplug("init", "--force")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "rules" / "default.yaml").read_text() == "# mine\n"
