"""The vendored, trimmed Jira OpenAPI (specs/, beside this file) is what its script makes, and
is enough for the fake Jira's contract cases (test_fake_jira_contract.py).

See specs/README.md.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

SPECS = Path(__file__).resolve().parent / "specs"
TRIMMED = SPECS / "jira-platform-v3.trimmed.openapi.json"
#: Where the full spec may be found on a development machine (the copy's source).
FULL = Path(
    os.environ.get("SLAPLUG_JIRA_SPEC") or "/work/shared/specs/jira-platform-v3.openapi.json"
)

sys.path.insert(0, str(SPECS))
from trim_jira_spec import trim  # noqa: E402 - the script lives beside the data it makes


def _template(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, ops in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if method in ops and re.fullmatch(pattern, path):
            op: dict[str, Any] = ops[method]
            return op
    raise AssertionError(f"{method.upper()} {path} is not in the vendored spec")


def test_every_contract_case_calls_an_operation_kept_whole() -> None:
    contract = pytest.importorskip("test_fake_jira_contract")
    spec = json.loads(TRIMMED.read_text(encoding="utf-8"))
    stubs = []
    for case, method, path, *_ in contract.CASES:
        sample = "/rest/api/3" + re.sub(r"\{[^}]+\}", "SUP-1", path)
        op = _template(spec, method.lower(), sample)
        if set(op["responses"]) == {"default"}:
            stubs.append(case)
    assert stubs == [], f"add these to EXERCISED in trim_jira_spec.py and run it: {stubs}"


def test_the_vendored_copy_is_what_the_script_makes_of_the_full_spec() -> None:
    if not FULL.is_file() or FULL.resolve() == TRIMMED:
        pytest.skip(f"the full spec is not at {FULL}; set SLAPLUG_JIRA_SPEC to check the copy")
    made = trim(json.loads(FULL.read_text(encoding="utf-8")))
    assert json.loads(TRIMMED.read_text(encoding="utf-8")) == made
