"""Operating the distributed engine: what `slaplug worker` and `slaplug serve` say and do.

- ``serve`` under ``work.engine: procrastinate`` says that `slaplug worker` runs the jobs,
  that ``--workers`` is ignored when given, and registers no periodic ticks (QA 2, #14).
- ``worker --burst`` with nothing queued says so and hints ``--tick`` (QA 2, #15).
- Every job ends in one log line of one form; jobs that found nothing to do, and
  procrastinate's per-job lines, are at debug; failures still show (QA 2, #16).
- procrastinate's tables are created only once the configuration loaded (QA 2, #16).

The commands run in-process (click's runner) on the test PostgreSQL, each test in a schema
of its own in the run's database (dropped with it). No connector is configured unless the
test needs one, so nothing depends on the date; the tinydesk run pins its clock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from test_jobs import ROUND, _runtime, fake, pg_url  # noqa: F401  (fixtures)
from test_store import pg_database  # noqa: F401  (fixture: a database for this run)
from tinydesk import TinyFake

from slaplug.cli import main
from slaplug.jobs import JobContext
from slaplug.summary import Summary

pytest.importorskip("procrastinate")

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules" / "default.yaml"
#: The tinydesk run's "now": after every ticket's March history (tinydesk.py).
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)

#: The one form of a job's last line (docs/operations/scaling.md, "The worker's log").
JOB_LINE = re.compile(
    r"job (pull|drain|deliver|due)\((\w+)\) "
    r"(done in \d+\.\d\ds: (nothing to do|\w+=\S+( \w+=\S+)*)|failed after \d+\.\d\ds: .+)"
)


def _config(tmp_path: Path, store: str, rules: Path = RULES) -> Path:
    config = tmp_path / "slaplug.yaml"
    config.write_text(
        f"store: {store}\nrules: [{rules}]\n"
        "notify: {team-lead: [], support-manager: [], second-line-lead: []}\n"
        "work:\n  engine: procrastinate\n"
    )
    return config


def _has_procrastinate_tables(url: str) -> bool:
    import psycopg

    from slaplug.jobs.engine import conninfo

    with psycopg.connect(conninfo(url)) as conn:
        row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
    return row is not None and row[0] is not None


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The commands set up logging for the process: put the root logger back after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("procrastinate").level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.getLogger("procrastinate").setLevel(saved[2])


# -- #15: worker --burst -----------------------------------------------------------------


def test_a_burst_worker_with_nothing_queued_says_so_and_hints_tick(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    root_logging: None,
) -> None:
    config = _config(tmp_path, pg_url)
    result = _invoke("worker", "--config", str(config), "--burst")
    assert result.exit_code == 0
    assert "worker: nothing queued, nothing ran; add --tick" in result.stderr

    result = _invoke("worker", "--config", str(config), "--burst", "--tick")
    assert result.exit_code == 0
    # No connector configured: the round is the due buckets only.
    assert "worker: 16 job(s) queued" in result.stderr
    assert "worker: 16 job(s) ran" in result.stderr
    assert "nothing queued" not in result.stderr


# -- #16: one form of job line; procrastinate quiet unless -v; failures shown ---------------


def test_a_worker_logs_failures_but_not_procrastinates_routine_unless_verbose(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    root_logging: None,
) -> None:
    from slaplug.config import load_settings
    from slaplug.jobs.engine import Enqueuer, apply_schema, build_app, conninfo
    from slaplug.store.tickets import DUE_BUCKETS

    config = _config(tmp_path, pg_url)
    settings = load_settings(config)

    def queue_a_failing_job() -> None:
        apply_schema(conninfo(pg_url))
        app = build_app(settings, lambda: None, periodic=False)  # type: ignore[arg-type,return-value]
        with app.open():
            assert Enqueuer(app).defer("due", DUE_BUCKETS)  # out of range: the job fails

    queue_a_failing_job()
    result = _invoke("worker", "--config", str(config), "--burst", "--tick")
    err = result.stderr
    assert result.exit_code == 0
    assert "worker: 17 job(s) ran, 1 failed" in err
    # The failure, in slaplug's form and with procrastinate's traceback.
    assert "job due(16) failed after " in err
    assert "ValueError: due bucket 16 is out of range 0..15" in err
    assert "level=error logger=procrastinate" in err and "Traceback" in err
    # procrastinate's routine (a start and an end line per job, "Deferred 1 job" per
    # queued job) and the due jobs that found nothing: not at the default level.
    assert "logger=procrastinate" not in err.replace("level=error logger=procrastinate", "")
    assert "nothing to do" not in err

    queue_a_failing_job()
    verbose = _invoke("worker", "--config", str(config), "--burst", "--tick", "-v")
    assert "ended with status: Success" in verbose.stderr  # procrastinate's, with -v
    assert "job due(0) done in " in verbose.stderr and ": nothing to do" in verbose.stderr


def test_every_job_ends_in_one_line_of_one_form(
    fake: TinyFake,  # noqa: F811
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    from slaplug.jobs.engine import QUEUE, Enqueuer, apply_schema, build_app, conninfo

    rt = _runtime(pg_url, fake, "procrastinate", tmp_path)
    ctx = JobContext(rt, clock=lambda: NOW)
    info = conninfo(pg_url)
    apply_schema(info)
    app = build_app(rt.settings, lambda: ctx, info=info, periodic=False)
    caplog.set_level(logging.DEBUG, logger="slaplug.jobs.engine")
    try:
        with app.open():
            assert Enqueuer(app).defer_many(ROUND) == len(ROUND)
        app.run_worker(queues=[QUEUE], wait=False, install_signal_handlers=False)
    finally:
        rt.store.close()
        rt.pack.close()
    lines = {
        r.getMessage().split(" done", 1)[0]: r
        for r in caplog.records
        if r.name == "slaplug.jobs.engine" and r.getMessage().startswith("job ")
    }
    assert sorted(lines) == sorted(f"job {job}({arg})" for job, arg in ROUND)
    for record in lines.values():
        assert JOB_LINE.fullmatch(record.getMessage()), record.getMessage()
    pull = lines["job pull(tiny)"]
    assert pull.levelno == logging.INFO
    assert re.search(r": tickets_read=5 .*api_reads=\d", pull.getMessage())
    assert "seconds=" not in pull.getMessage()  # the time is the line's "done in"
    # Nothing was waiting in the inbox: the drain found nothing, at debug.
    drain = lines["job drain(tiny)"]
    assert drain.getMessage().endswith(": nothing to do") and drain.levelno == logging.DEBUG


def test_job_results_read_as_counters() -> None:
    from slaplug.jobs.engine import describe

    assert describe(Summary(tickets_read=60, planned=3, seconds=1.5)) == (
        "tickets_read=60 planned=3"
    )
    assert describe(6) == "deliveries=6"
    assert describe(Summary(seconds=0.2)) == describe(0) == ""


# -- #16: procrastinate's tables only for a configuration that loads ------------------------


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_procrastinates_tables_wait_for_a_configuration_that_loads(
    command: str,
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    root_logging: None,
) -> None:
    rules = tmp_path / "broken.yaml"
    rules.write_text(RULES.read_text() + "\nnot_a_section: {}\n")
    config = _config(tmp_path, pg_url, rules=rules)
    result = _invoke(command, "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "not_a_section" in result.stderr
    assert not _has_procrastinate_tables(pg_url)


# -- #14: serve under procrastinate -------------------------------------------------------


def test_serve_under_procrastinate_says_workers_run_the_jobs(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    root_logging: None,
) -> None:
    import slaplug.jobs.engine
    import slaplug.web.server

    apps: list[Any] = []
    build_app = slaplug.jobs.engine.build_app

    def recording_build_app(*args: Any, **kwargs: Any) -> Any:
        apps.append(build_app(*args, **kwargs))
        return apps[-1]

    monkeypatch.setattr(slaplug.jobs.engine, "build_app", recording_build_app)
    # The server "stops" as soon as it starts: what matters is said before.
    monkeypatch.setattr(slaplug.web.server, "serve", lambda *a, **kw: None)
    config = _config(tmp_path, pg_url)

    result = _invoke("serve", "--config", str(config), "--workers", "4", "-v")
    assert result.exit_code == 130
    err = result.stderr
    assert "level=warning logger=slaplug.serve" in err
    assert "this server runs no jobs" in err and "`slaplug worker` processes run" in err
    assert "(--workers 4 ignored)" in err
    # Nothing suggests the server runs the periodic ticks: it registers none.
    assert "periodically" not in err
    assert [dict(a.periodic_registry.periodic_tasks) for a in apps] == [{}]
    assert "stopped: the server drained its requests; the jobs they queued wait" in err

    plain = _invoke("serve", "--config", str(config))
    assert "level=info logger=slaplug.serve" in plain.stderr
    assert "ignored" not in plain.stderr

    only = _invoke("serve", "--config", str(config), "--worker-only")
    assert only.exit_code == 2
    assert "`slaplug worker` processes run the jobs" in only.stderr
