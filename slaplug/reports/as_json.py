"""Credit periods as JSON: the same document that freezes them, in a list."""

from __future__ import annotations

import json
from collections.abc import Sequence

from slaplug.credits.freeze import result_to_dict
from slaplug.credits.model import PeriodResult

__all__ = ["render_json"]


def render_json(results: Sequence[PeriodResult]) -> str:
    """``{"results": [...]}``, one entry per contract, indented, keys sorted."""
    return (
        json.dumps({"results": [result_to_dict(r) for r in results]}, indent=2, sort_keys=True)
        + "\n"
    )
