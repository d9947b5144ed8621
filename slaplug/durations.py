"""Durations as the YAML files write them (``"4h"``, ``"30m"``, ``"1h30m"``, ``"90s"``).

Shared by the rules language, ``slaplug.yaml`` (sync interval, leases), contracts and the CLI
(``--every``, ``--within``): it lives at the top level so none of them imports another's
module for it.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["MAX_DURATION", "parse_duration"]

#: Longest duration accepted anywhere (targets, leases, intervals): about 11 years. Longer is
#: a typo, and far longer would overflow the date arithmetic it feeds.
MAX_DURATION = timedelta(hours=100_000)

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$"
)


def parse_duration(value: object) -> timedelta:
    """``"4h"``, ``"30m"``, ``"1h30m"``, ``"90s"`` -> timedelta. Durations count business time.

    Raises:
        ValueError: The value is not a duration; the message shows the accepted forms.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f'{value!r} needs a unit; write a duration like "4h", "30m" or "1h30m"')
    text = value.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?\s*(d|w|days?|weeks?)", text):
        raise ValueError(
            f'"{value}": days are ambiguous in business time; write hours, e.g. "8h" for one 8-hour day'
        )
    m = _DURATION.match(text)
    if not text or not m or not any(m.groups()):
        raise ValueError(
            f'"{value}" is not a duration; write it like "4h", "30m", "1h30m" or "90s"'
        )
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    seconds = h * 3600 + mi * 60 + s  # inf for thousands of digits, never an exception
    if not seconds <= MAX_DURATION.total_seconds():
        raise ValueError(
            f'"{_short(value)}" is too long; the longest duration is '
            f"{MAX_DURATION.total_seconds() / 3600:.0f}h"
        )
    return timedelta(seconds=seconds)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "..."
