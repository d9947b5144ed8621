"""Smoke test for bench/calendar.py: it runs and reports sane figures (speed is not asserted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent.parent / "bench" / "calendar.py"


def _load_bench() -> ModuleType:
    # Loaded under its own name: imported as ``calendar`` it would shadow the standard library.
    spec = importlib.util.spec_from_file_location("slaplug_bench_calendar", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_reports_rates_and_ratio() -> None:
    result = _load_bench().run(n=300)
    assert set(result) == {
        "add_per_s",
        "elapsed_per_s",
        "year_to_hour_ratio",
        "python",
        "n",
        "seed",
    }
    assert result["n"] == 300
    assert result["add_per_s"] > 0
    assert result["elapsed_per_s"] > 0
    assert 0 < result["year_to_hour_ratio"] < 100
    assert result["python"] == ".".join(map(str, sys.version_info[:3]))


def test_bench_runs_as_a_script_and_prints_one_json_line() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "30"], check=True, capture_output=True, text=True
    ).stdout
    lines = out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["n"] == 30
