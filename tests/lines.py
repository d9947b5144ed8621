"""A process's output stream read line by line in a thread, for tests that wait on a line
(``next pass in 60s``) with a timeout instead of a ``readline`` that may block for ever."""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["Lines"]


class Lines:
    """Read a process's stream line by line in a thread; wait for a line with a timeout."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def text(self) -> str:
        self._thread.join(timeout=10)
        return "".join(self.lines)
