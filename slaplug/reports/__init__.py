"""Customer reports of credit periods: ``slaplug report --format html|csv|json``.

- `slaplug.reports.as_json`: the results as they are stored, for machines.
- `slaplug.reports.as_csv`: one row per objective, then one per breach, for spreadsheets.
- `slaplug.reports.as_html`: one self-contained page with charts, for customers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from slaplug.credits.model import PeriodResult
from slaplug.reports.as_csv import render_csv
from slaplug.reports.as_html import render_html
from slaplug.reports.as_json import render_json

__all__ = ["RENDERERS", "render_csv", "render_html", "render_json"]

#: Renderer per ``--format``.
RENDERERS: dict[str, Callable[[Sequence[PeriodResult]], str]] = {
    "csv": render_csv,
    "html": render_html,
    "json": render_json,
}
