"""Make ``jira-platform-v3.trimmed.openapi.json`` from Atlassian's full Jira Cloud OpenAPI.

The contract tests (plugins/jira/tests/test_fake_jira_contract.py) need the operations the fake Jira
serves and the schemas they use, not the 2.4 MB of the whole API. This keeps:

* every path and method of the full spec, so a request matches the same path template as
  against the full spec, and the test that every operation the fake serves has a contract
  case still sees them all; operations the tests do not call keep only their operation id, path
  parameters and a ``default`` response;
* the operations the tests call (`EXERCISED`) whole: parameters, request body, responses;
* every schema those reference, followed through ``$ref`` to the end;
* ``info``, ``openapi``, ``servers``, ``security``, ``components.securitySchemes``.

Nothing is edited: the test's lenient patches (enum defaults, nullable changelog values,
Jira's ``date-time``) still apply in memory at load time, so the trimmed file validates
exactly as the full one does for these operations.

Run it again when `EXERCISED` or the spec changes (see plugins/jira/tests/specs/README.md)::

    python plugins/jira/tests/specs/trim_jira_spec.py FULL_SPEC.json plugins/jira/tests/specs/jira-platform-v3.trimmed.openapi.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

#: The requests the contract tests send, as (method, path): each path template they match
#: is kept whole. Add a line here with each new contract case, then run the script again.
EXERCISED: tuple[tuple[str, str], ...] = (
    ("get", "/rest/api/3/serverInfo"),
    ("get", "/rest/api/3/myself"),
    ("get", "/rest/api/3/field"),
    ("get", "/rest/api/3/mypermissions"),
    ("get", "/rest/api/3/priority"),
    ("get", "/rest/api/3/priority/2"),
    ("get", "/rest/api/3/status"),
    ("get", "/rest/api/3/status/10001"),
    ("get", "/rest/api/3/statuscategory"),
    ("get", "/rest/api/3/resolution"),
    ("get", "/rest/api/3/user"),
    ("get", "/rest/api/3/user/search"),
    ("get", "/rest/api/3/users/search"),
    ("get", "/rest/api/3/search/jql"),
    ("post", "/rest/api/3/search/jql"),
    ("get", "/rest/api/3/issue/SUP-1"),
    ("put", "/rest/api/3/issue/SUP-1"),
    ("get", "/rest/api/3/issue/SUP-1/changelog"),
    ("post", "/rest/api/3/changelog/bulkfetch"),
    ("get", "/rest/api/3/issue/SUP-1/comment"),
    ("post", "/rest/api/3/issue/SUP-1/comment"),
    ("get", "/rest/api/3/issue/SUP-1/comment/1"),
    ("get", "/rest/api/3/issue/SUP-1/transitions"),
    ("post", "/rest/api/3/issue/SUP-1/transitions"),
    ("put", "/rest/api/3/issue/SUP-1/assignee"),
    ("post", "/rest/api/3/bulk/issues/fields"),
    ("get", "/rest/api/3/bulk/queue/1"),
)

#: Top-level keys copied as they are.
KEPT_KEYS = ("openapi", "info", "servers", "security")


def _matches(template: str, path: str) -> bool:
    return re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path) is not None


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def trim(spec: dict[str, Any]) -> dict[str, Any]:
    """The trimmed copy of ``spec`` (see the module's docstring)."""
    whole: set[tuple[str, str]] = set()
    for method, path in EXERCISED:
        templates = [t for t, ops in spec["paths"].items() if method in ops and _matches(t, path)]
        if not templates:
            raise SystemExit(f"{method.upper()} {path}: no operation in the spec matches it")
        whole.update((t, method) for t in templates)
    paths: dict[str, Any] = {}
    for template, ops in spec["paths"].items():
        kept: dict[str, Any] = {}
        for method, op in ops.items():
            if (template, method) in whole:
                kept[method] = op
            elif isinstance(op, dict):
                kept[method] = {
                    "operationId": op.get("operationId", f"{method}{template}"),
                    # The path's own parameters stay: a template must declare each of them.
                    "parameters": [p for p in op.get("parameters", ()) if p.get("in") == "path"],
                    "responses": {"default": {"description": "trimmed: not exercised"}},
                }
            else:
                kept[method] = op  # path-level parameters and the like
        paths[template] = kept
    schemas = spec["components"]["schemas"]
    wanted: set[str] = set()
    todo = [r for r in _refs(paths) if r.startswith("#/components/schemas/")]
    while todo:
        name = todo.pop().rsplit("/", 1)[1]
        if name in wanted:
            continue
        wanted.add(name)
        todo.extend(r for r in _refs(schemas[name]) if r.startswith("#/components/schemas/"))
    out = {k: spec[k] for k in KEPT_KEYS if k in spec}
    out["info"] = {
        **spec["info"],
        "description": "TRIMMED copy for slaplug's contract tests: see plugins/jira/tests/specs/README.md.",
    }
    out["paths"] = paths
    out["components"] = {
        "schemas": {name: schemas[name] for name in sorted(wanted)},
        "securitySchemes": spec["components"].get("securitySchemes", {}),
    }
    return out


def main(argv: list[str]) -> None:
    """``trim_jira_spec.py FULL TRIMMED``: write the trimmed spec of FULL to TRIMMED."""
    if len(argv) != 2:
        raise SystemExit(__doc__)
    full = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    text = json.dumps(trim(full), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    Path(argv[1]).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
