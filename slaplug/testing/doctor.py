"""Run `slaplug doctor` as a real process against a configuration, for connector tests.

A plugin's doctor tests start its fake, write a ``slaplug.yaml`` pointing at it, and check
what ``slaplug doctor --json`` reports, passing and with each failure provoked::

    result = run_doctor(tmp_path / "slaplug.yaml", {"ACME_TOKEN": fake.token}, plugin="slaplug-acme")
    assert result.code == 1
    assert result.statuses("acme")["credentials"] == "fail"
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DoctorRun", "checks_of", "run_doctor", "statuses_of"]


def checks_of(report: Mapping[str, Any], subject: str) -> dict[str, dict[str, str]]:
    """The checks of one subject (a connector's configured name) in a report, by check name."""
    return {c["name"]: c for c in report["checks"] if c["subject"] == subject}


def statuses_of(report: Mapping[str, Any], subject: str) -> dict[str, str]:
    """Each check's status (``ok``, ``warn``, ``fail``, ``skip``) by name."""
    return {name: c["status"] for name, c in checks_of(report, subject).items()}


@dataclass(frozen=True)
class DoctorRun:
    """What one ``slaplug doctor --json`` process answered.

    Attributes:
        code: Its exit code (0 nothing failed, 1 a check failed, 2 an invalid configuration).
        report: The JSON document it printed.
        output: Everything it printed (stdout and stderr), to check that no secret is in it.
    """

    code: int
    report: dict[str, Any]
    output: str

    def checks(self, subject: str) -> dict[str, dict[str, str]]:
        """The checks of one subject (a connector's configured name), by check name."""
        return checks_of(self.report, subject)

    def statuses(self, subject: str) -> dict[str, str]:
        """Each check's status (``ok``, ``warn``, ``fail``, ``skip``) by name."""
        return statuses_of(self.report, subject)


def run_doctor(
    config: Path, env: Mapping[str, str], *, plugin: str, timeout: float = 120
) -> DoctorRun:
    """Run ``slaplug doctor --json --config CONFIG`` in a new process.

    Args:
        config: The configuration file.
        env: Variables added to this process's environment (the credentials).
        plugin: The plugin distribution to load (``SLAPLUG_LOAD_PLUGINS``).
        timeout: Seconds before the run is abandoned.
    """
    run = subprocess.run(
        [sys.executable, "-m", "slaplug.cli", "doctor", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env, "SLAPLUG_LOAD_PLUGINS": plugin},
        timeout=timeout,
    )
    assert run.stdout, run.stderr
    return DoctorRun(run.returncode, json.loads(run.stdout), run.stdout + run.stderr)
