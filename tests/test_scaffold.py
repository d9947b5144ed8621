"""`slaplug new-connector`: the generated project is complete, compiles and passes the suite."""

from __future__ import annotations

import importlib
import os
import py_compile
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from slaplug.cli import main
from slaplug.errors import ConfigError
from slaplug.scaffold import files, generate

EXPECTED = {
    "pyproject.toml",
    "slaplug_acme/__init__.py",
    "slaplug_acme/connector.py",
    "slaplug_acme/py.typed",
    "slaplug_acme/fake.py",
    "tests/test_acme_conformance.py",
}


def run_generated_suite(folder: Path) -> subprocess.CompletedProcess[str]:
    """Run the generated project's tests in a fresh interpreter, the project on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(folder / "tests")])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        check=False,  # the caller asserts, showing the output
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_new_connector_writes_the_project(tmp_path: Path) -> None:
    target = tmp_path / "slaplug-acme"
    result = CliRunner().invoke(main, ["new-connector", "acme", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    written = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert written == EXPECTED
    assert 'acme = "slaplug_acme"' in (target / "pyproject.toml").read_text()
    assert "[project.entry-points.slaplug]" in (target / "pyproject.toml").read_text()
    for path in target.rglob("*.py"):
        py_compile.compile(str(path), doraise=True)


def test_generated_conformance_suite_passes(tmp_path: Path) -> None:
    generate("acme", tmp_path)
    done = run_generated_suite(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "18 passed in" in done.stdout  # nothing skipped: the webhook tests run too


def test_generated_connector_names_follow_the_name() -> None:
    generated = files("acme")
    assert 'name: ClassVar[str] = "acme"' in generated["slaplug_acme/connector.py"]
    assert "class AcmeConnector(Connector)" in generated["slaplug_acme/connector.py"]
    assert "ACME_TOKEN" in generated["tests/test_acme_conformance.py"]


@pytest.mark.parametrize("name", ["Acme", "my-desk", "1desk", ""])
def test_new_connector_rejects_a_name_that_cannot_be_a_module(name: str) -> None:
    with pytest.raises(ConfigError, match="lower-case letters and digits"):
        files(name)


def test_new_connector_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["new-connector", "acme", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not empty" in result.output
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "pyproject.toml").exists()


@pytest.mark.parametrize("name", ["zendesk", "jira"])
def test_new_connector_refuses_an_installed_connectors_name(
    tmp_path: Path, name: str, slaplug_register: Any
) -> None:
    # QA pass 2, #16: `slaplug new-connector zendesk` scaffolded a second "zendesk".
    slaplug_register(importlib.import_module(f"slaplug_{name}"), name=name)
    result = CliRunner().invoke(main, ["new-connector", name, "--dir", str(tmp_path / "p")])
    assert result.exit_code == 2, result.output
    assert f"connector name {name!r} is taken: the installed slaplug_{name}" in result.output
    assert "choose your platform's own name" in result.output
    assert not (tmp_path / "p").exists()


def test_new_connector_refuses_an_installed_module_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "slaplug_acme").mkdir()
    (tmp_path / "slaplug_acme" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(main, ["new-connector", "acme", "--dir", str(tmp_path / "p")])
    assert result.exit_code == 2, result.output
    assert "a module slaplug_acme is already installed" in result.output
    assert not (tmp_path / "p").exists()
