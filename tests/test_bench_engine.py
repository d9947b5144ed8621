"""Smoke test for bench/engine.py: the real script, tiny sizes, one JSON line of sane figures.

Speed is not asserted here (it lives in the benchmark's output); what is asserted is that the
benchmark still runs the shipped pack end to end on both engines and reports every figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "engine.py"


def test_bench_prints_one_json_line_with_every_figure() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "300", "3000"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    lines = out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["n"] == 300 and result["evaluations"] == 3000
    for key in (
        "tickets_per_s",
        "tickets_per_s_python",
        "tickets_per_s_one_version",
        "rules_per_s",
        "baseline_rules_per_s",
        "rules_per_s_no_dedupe",
    ):
        assert result[key] > 0, key
    ratio = result["baseline_rules_per_s"] / result["rules_per_s"]
    assert abs(result["rules_ratio"] - ratio) <= 0.011
    assert result["escalation_rules"] == 7  # the shipped pack's, so the bench measures it
    assert abs(result["rss_growth_mb"]) < 50
