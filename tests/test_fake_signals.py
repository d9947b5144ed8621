"""A fake helpdesk process is stoppable by SIGTERM from the moment it announces readiness.

The harness race (issue 18): the fakes printed ``... listening on URL`` and only then
installed their SIGTERM handler, so a test that sent SIGTERM right after reading the line
could kill the process (exit -15) instead of stopping it (exit 0) on a loaded machine.
"""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads the caught-signal mask from /proc"
)


def _catches_sigterm(pid: int) -> bool:
    """Whether process ``pid`` has a handler for SIGTERM (the SigCgt mask of /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def test_the_fake_handles_sigterm_before_it_announces_that_it_listens() -> None:
    # Many tickets: building the account takes seconds, the window the race lived in.
    argv = [sys.executable, "-m", "slaplug_zendesk.fake", "--port", "0"]
    with subprocess.Popen([*argv, "--tickets", "30000"], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        try:
            deadline = time.monotonic() + 60
            while not _catches_sigterm(proc.pid):
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.01)
            # The handler is there and the fake has not announced itself yet: a harness
            # reading the announcement can never find the process without its handler.
            readable, _, _ = select.select([proc.stdout], [], [], 0)
            assert not readable, "the fake announced itself before handling SIGTERM"
            proc.terminate()  # during start-up: it finishes starting, then stops cleanly
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
