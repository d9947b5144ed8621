"""Webhook workers in processes of their own, beside the web server, supervised.

``slaplug serve`` answers webhooks on uvicorn's event loop; the work behind them (reading
tickets, evaluating rules, writing back) is CPU-bound Python. In one process the two share a
GIL, and a request waiting for it waits up to the interpreter's switch interval (5 ms) for
each of the several hand-offs an answer takes, while the worker evaluates a burst. So the
server runs its workers as child processes (``slaplug serve --worker-only --supervised``):

* `WorkerSupervisor` (in the web process) starts them, restarts one that exits (with a
  growing delay, so a worker that dies at start-up does not spin), wakes them when a delivery
  is stored, and stops them with the server.
* `run_worker_process` (in each child) runs a `slaplug.web.worker.Worker` until SIGTERM,
  SIGINT, or, when supervised, the end of its standard input. Supervised workers run in a
  process group of their own, so a terminal's Ctrl-C reaches only the server, which stops
  them in order.

The wake-up channel is the child's standard input: the supervisor writes a byte per stored
delivery (never blocking: a full pipe already means "wake up"), and the pipe closes when the
web process dies in any way, SIGKILL included, so an orphaned worker notices at once and
stops instead of running on unsupervised. Between wake-ups workers poll the inbox, so retries
whose backoff ended and leases that lapsed are taken without a webhook.

Everything a worker does is in the store (inbox leases, ledger, outbox), so a worker killed
at any step loses nothing: its leased items are taken again once the lease lapses, and the
ledger keeps the retry from writing twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from slaplug.config import Settings
from slaplug.durations import parse_duration
from slaplug.jobs.units import JOBS, JobContext
from slaplug.runtime import open_runtime
from slaplug.web.worker import Worker

__all__ = ["WorkerSupervisor", "run_worker_process"]

log = logging.getLogger("slaplug.web.workers")

#: The environment variable of `slaplug.crashpoints`: it simulates one crash, so a worker
#: started again after one runs without it (as a real process would after a one-off kill).
_CRASH_ENV = "SLAPLUG_CRASH_AT"
#: Names the file descriptor on which a supervised worker says it is ready.
READY_FD_ENV = "SLAPLUG_WORKER_READY_FD"


@dataclass
class _Slot:
    """One worker process the supervisor keeps running."""

    index: int
    proc: subprocess.Popen[bytes] | None = None
    #: The read end of the pipe on which the worker says it is ready (its store, rules and
    #: connectors open, its thread started).
    ready_fd: int | None = None
    ready: bool = False
    started_at: float = 0.0
    next_start_at: float = 0.0
    failures: int = 0
    starts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class WorkerSupervisor:
    """Keeps ``count`` worker processes running beside the web server.

    Args:
        argv: The command line of one worker process.
        count: How many to keep running; 0 runs none (the workers run elsewhere).
        env: Their environment (default this process's).
        check_every: Seconds between looks at the children.
        restart_delay: The wait before restarting a worker that exited; it doubles with each
            exit in a row, up to ``max_restart_delay``, and starts over once a worker has run
            for a minute.
        stop_timeout: Seconds a worker gets to finish its batch when stopped, before SIGKILL.
        nice: Added to the workers' CPU niceness (0 leaves it). Acknowledgements must come
            in milliseconds and work behind them may take seconds, so when both want the CPU
            the web server should get it first; the workers still get every idle cycle.
    """

    def __init__(
        self,
        argv: Sequence[str],
        count: int = 1,
        *,
        env: Mapping[str, str] | None = None,
        check_every: float = 0.1,
        restart_delay: float = 0.5,
        max_restart_delay: float = 30.0,
        stop_timeout: float = 40.0,
        nice: int = 0,
    ) -> None:
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        self.argv = list(argv)
        self.count = count
        self.env = dict(os.environ if env is None else env)
        self.check_every = check_every
        self.restart_delay = restart_delay
        self.max_restart_delay = max_restart_delay
        self.stop_timeout = stop_timeout
        self.nice = nice
        #: Worker exits the supervisor answered with a restart.
        self.restarts = 0
        self._slots = [_Slot(i) for i in range(count)]
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers and the thread that watches them."""
        if self._thread is not None:
            return
        for slot in self._slots:
            self._spawn(slot)
        self._thread = threading.Thread(
            target=self._watch, name="slaplug-worker-supervisor", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the workers: each finishes its batch in hand; unfinished items stay queued."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        for slot in self._slots:
            with slot.lock:
                proc = slot.proc
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for slot in self._slots:
            proc = slot.proc
            if proc is None:
                continue
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("webhook worker %d did not stop in time; killed", slot.index)
                proc.kill()
                proc.wait()
            self._close_stdin(proc)
            self._close_ready(slot)

    @property
    def alive(self) -> bool:
        """True while the supervisor runs (it restarts workers that exit)."""
        return self.count == 0 or (
            self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()
        )

    @property
    def running(self) -> int:
        """Worker processes running now and ready to work."""
        return sum(
            1 for s in self._slots if s.ready and s.proc is not None and s.proc.poll() is None
        )

    @property
    def pids(self) -> list[int]:
        """Process ids of the running workers (tests kill them)."""
        return [s.proc.pid for s in self._slots if s.proc is not None and s.proc.poll() is None]

    def wake(self) -> None:
        """Tell the workers a delivery is waiting. Never blocks."""
        for slot in self._slots:
            proc = slot.proc
            if proc is None or proc.stdin is None:
                continue
            # Full (BlockingIOError): the worker has wake-ups to read already. Broken or closed:
            # it is exiting, and the watcher restarts it; it drains the inbox when it starts.
            with contextlib.suppress(OSError, ValueError):
                os.write(proc.stdin.fileno(), b".")

    # -- the watcher --------------------------------------------------------------------------

    def _spawn(self, slot: _Slot) -> None:
        env = dict(self.env)
        if slot.starts > 0:
            env.pop(_CRASH_ENV, None)
        ready_r, ready_w = os.pipe()
        env[READY_FD_ENV] = str(ready_w)
        try:
            # A process group of its own: the Ctrl-C a terminal sends to the server's group
            # would otherwise reach a worker still importing, before it can handle it, and
            # print a KeyboardInterrupt traceback. The server stops its workers itself
            # (SIGTERM, once it has drained), and a worker whose server died sees its
            # standard input end.
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                env=env,
                pass_fds=(ready_w,),
                process_group=0,
            )
        except BaseException:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)
        assert proc.stdin is not None
        if self.nice:
            # Set from here, before the worker has imported anything, rather than with a
            # preexec_fn (unsafe with threads); its own children inherit it.
            try:
                current = os.getpriority(os.PRIO_PROCESS, proc.pid)
                os.setpriority(os.PRIO_PROCESS, proc.pid, min(current + self.nice, 19))
            except OSError as exc:
                log.warning("could not lower webhook worker %d's priority: %s", slot.index, exc)
        os.set_blocking(proc.stdin.fileno(), False)
        os.set_blocking(ready_r, False)
        with slot.lock:
            self._close_ready(slot)
            slot.ready_fd = ready_r
            slot.ready = False
            slot.proc = proc
            slot.started_at = time.monotonic()
            slot.starts += 1
        log.info("webhook worker %d started (pid %d)", slot.index, proc.pid)

    def _watch(self) -> None:
        while not self._stopping.wait(self.check_every):
            for slot in self._slots:
                try:
                    self._check(slot)
                except Exception:  # a failed start is retried; the watcher must go on
                    log.exception("webhook worker %d could not be started", slot.index)
                    slot.proc = None
                    slot.failures += 1
                    slot.next_start_at = time.monotonic() + self._delay(slot)

    def _check(self, slot: _Slot) -> None:
        now = time.monotonic()
        proc = slot.proc
        if proc is not None:
            code = proc.poll()
            if code is None:
                if not slot.ready and slot.ready_fd is not None:
                    with contextlib.suppress(BlockingIOError):
                        slot.ready = bool(os.read(slot.ready_fd, 16))
                    if slot.ready:
                        log.info("webhook worker %d (pid %d) is ready", slot.index, proc.pid)
                if slot.failures and now - slot.started_at > 60:
                    slot.failures = 0  # it has been up a while: the next exit starts over
                return
            self._close_stdin(proc)
            slot.failures = 0 if now - slot.started_at > 60 else slot.failures + 1
            slot.next_start_at = now + self._delay(slot)
            how = f"signal {-code}" if code < 0 else f"code {code}"
            log.warning(
                "webhook worker %d (pid %d) exited with %s; restarting it in %.1f s",
                slot.index,
                proc.pid,
                how,
                slot.next_start_at - now,
            )
            with slot.lock:
                slot.proc = None
                slot.ready = False
                self._close_ready(slot)
            return
        if now >= slot.next_start_at and not self._stopping.is_set():
            self.restarts += 1
            self._spawn(slot)

    def _delay(self, slot: _Slot) -> float:
        exponent = min(max(slot.failures - 1, 0), 16)
        return float(min(self.restart_delay * 2**exponent, self.max_restart_delay))

    @staticmethod
    def _close_ready(slot: _Slot) -> None:
        if slot.ready_fd is not None:
            with contextlib.suppress(OSError):
                os.close(slot.ready_fd)
            slot.ready_fd = None

    @staticmethod
    def _close_stdin(proc: subprocess.Popen[bytes]) -> None:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()


def run_worker_process(
    settings: Settings,
    *,
    supervised: bool = False,
    poll_interval: float = 1.0,
) -> int:
    """Run one webhook worker in this process until told to stop; the exit code.

    Args:
        settings: Validated settings.
        supervised: Started by `WorkerSupervisor`: standard input carries wake-ups, and its
            end means the web process is gone, so the worker stops.
        poll_interval: Seconds between looks at the inbox without a wake-up.

    Returns:
        0 after a requested stop; 1 if the worker's thread ended on its own.
    """
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with open_runtime(settings) as rt:
        worker = Worker(
            rt.store,
            rt.pack,
            rt.connectors,
            claim_batch=settings.outbox.batch,
            poll_interval=poll_interval,
            channels=settings.notify,
            escalate_from=settings.escalate_from,
        )
        # The rounds run the job functions the distributed engine's workers run (drain,
        # deliver, due), in this process, with this worker as their context.
        ctx = JobContext(
            rt, make_sync=lambda: worker.sync, make_worker=lambda: worker, drain_batches=1
        )
        worker.use_jobs(
            lambda job, arg: JOBS[job](ctx, arg),
            parse_duration(settings.work.due_every).total_seconds(),
        )
        if supervised:
            threading.Thread(
                target=_read_wakeups, args=(worker, stop), name="slaplug-wakeups", daemon=True
            ).start()
        worker.start()
        _say_ready()
        log.info("webhook worker running (pid %d)", os.getpid())
        try:
            while not stop.wait(0.5):
                if not worker.alive:
                    log.error("the webhook worker thread ended; exiting")
                    return 1
        finally:
            worker.stop()
    return 0


def _say_ready() -> None:
    """Tell the supervisor this worker is ready, through the pipe it passed (if any)."""
    fd = os.environ.pop(READY_FD_ENV, "")
    if not fd.isdigit():
        return
    try:
        os.write(int(fd), b"ready\n")
        os.close(int(fd))
    except OSError:
        log.warning("could not tell the web server that this worker is ready")


def _read_wakeups(worker: Worker, stop: threading.Event) -> None:
    fd = 0  # standard input: the supervisor's pipe
    while True:
        try:
            data = os.read(fd, 4096)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            log.warning("the web server is gone (its pipe closed); the worker stops")
            stop.set()
            return
        worker.wake()
