"""``slaplug serve``: the webhook server and its workers."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

import click
from click.core import ParameterSource

from slaplug.cli._common import (
    CONFIG_OPTION,
    friendly_errors,
    sigterm_as_interrupt,
)
from slaplug.errors import ConfigError
from slaplug.exitcodes import ExitCode
from slaplug.logs import logging_options

log = logging.getLogger("slaplug.serve")


@click.command()
@CONFIG_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--max-body",
    default=1024 * 1024,
    show_default=True,
    type=click.IntRange(min=1),
    help="Largest webhook body accepted, in bytes (larger ones get 413).",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a client has to send a request's line and headers; then it is closed.",
)
@click.option(
    "--body-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a client has to send a request's body once its headers are in.",
)
@click.option(
    "--max-connections",
    default=None,
    type=click.IntRange(min=1),
    help="Open connections at most; past it the one waiting longest on its client is "
    "closed. Default: the descriptor limit (ulimit -n) less 128, at most 4096.",
)
@click.option(
    "--keep-alive",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds an idle kept-alive connection stays open.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="Worker processes started beside the web server (restarted if they die); 0 for "
    "none, when workers run elsewhere (--worker-only). Ignored with work.engine: "
    "procrastinate (`slaplug worker` runs the jobs).",
)
@click.option(
    "--worker-only",
    is_flag=True,
    help="Run one worker in this process and no web server (to scale workers apart).",
)
@click.option(
    "--worker-nice",
    default=10,
    show_default=True,
    type=click.IntRange(0, 19),
    help="Lower the worker processes' CPU priority by this much, so acknowledgements get "
    "the CPU first; 0 to leave it.",
)
@click.option("--supervised", is_flag=True, hidden=True)
@logging_options
@friendly_errors
def serve(
    config_path: str | None,
    host: str,
    port: int,
    max_body: int,
    header_timeout: float,
    body_timeout: float,
    max_connections: int | None,
    keep_alive: int,
    workers: int,
    worker_only: bool,
    worker_nice: int,
    supervised: bool,
    log_level: str | None,
    verbose: int,
    log_format: str,
) -> None:
    """Receive helpdesk webhooks: SLA fields and escalations follow within seconds."""
    from slaplug.config import load_settings
    from slaplug.logs import resolve_level, setup_logging

    level = resolve_level(log_level, verbose)
    setup_logging(level, log_format)
    # A supervised worker runs in a process group of its own (WorkerSupervisor): a terminal's
    # Ctrl-C reaches only the server, which stops it after draining.
    settings = load_settings(config_path)
    # Before the port is bound: serve verifies webhooks and calls every helpdesk.
    settings.require_credentials(webhooks=True)
    distributed = settings.work.engine == "procrastinate"
    if worker_only and distributed:
        raise ConfigError(
            f"{settings.path}: work.engine is procrastinate: `slaplug worker` processes run "
            "the jobs, not `slaplug serve --worker-only` (docs/operations/scaling.md)"
        )
    if worker_only:
        from slaplug.web.processes import run_worker_process

        sys.exit(run_worker_process(settings, supervised=supervised))

    from slaplug.runtime import open_runtime
    from slaplug.web.app import create_app
    from slaplug.web.processes import WorkerSupervisor
    from slaplug.web.server import ServeLimits, uvicorn_options
    from slaplug.web.server import serve as run_server

    # The workers run in processes of their own: rules evaluation is CPU-bound Python, and
    # sharing this process's GIL with it delays every acknowledgement (docs/webhooks.md).
    argv = [sys.executable, "-m", "slaplug.cli", "serve", "--worker-only", "--supervised"]
    argv += ["--config", str(settings.path), "--log-level", level, "--log-format", log_format]
    pool: Any = WorkerSupervisor(argv, workers, nice=worker_nice)
    jobs_app = None
    ignored: list[str] = []  # options that do not apply to the distributed engine
    if distributed:
        # The distributed engine: no worker processes here; a stored delivery queues its
        # connector's drain job for the `slaplug worker` processes (docs/operations/scaling.md).
        # No periodic ticks either: the workers' periodic deferrer queues them.
        from slaplug.jobs.engine import Enqueuer, build_app

        jobs_app = build_app(settings, _no_jobs_here, periodic=False)
        pool = Enqueuer(jobs_app)
        ctx = click.get_current_context()
        ignored = [
            f"--{name.replace('_', '-')} {value}"
            for name, value in (("workers", workers), ("worker_nice", worker_nice))
            if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT
        ]
    # Opened here, not in the app, so a configuration problem is reported before the port
    # is bound; the workers then finish whatever the inbox holds from an earlier run.
    # Header and body timeouts and a connection cap: slow clients must not hold every
    # descriptor (docs/webhooks.md, "Limits on clients").
    limits = ServeLimits(header_timeout, body_timeout, max_connections, keep_alive)
    options = uvicorn_options(limits)
    # uvicorn's own lines go through the handler set up above (format, redaction), not
    # through the one uvicorn would configure.
    options["log_config"] = None
    with open_runtime(settings) as rt, contextlib.ExitStack() as stack:
        if jobs_app is not None:
            from slaplug.jobs.engine import apply_schema, conninfo

            # Once the rules, channels and connectors are checked (open_runtime): a
            # configuration that cannot run leaves the database as it was.
            apply_schema(conninfo(settings.store))
            stack.enter_context(jobs_app.open())
            log.log(
                logging.WARNING if ignored else logging.INFO,
                "work.engine is procrastinate: this server runs no jobs; each stored delivery "
                "queues its connector's drain, and `slaplug worker` processes run every job "
                "and the periodic ticks%s",
                f" ({' and '.join(ignored)} ignored)" if ignored else "",
            )
        app = create_app(
            settings,
            runtime=rt,
            max_body=max_body,
            workers=pool,
            connections_closed=options["http"].closed,
        )
        # uvicorn shuts down gracefully on SIGINT and SIGTERM, then raises the signal again:
        # as KeyboardInterrupt for both, so the exit code is 130 and not death by SIGTERM.
        with sigterm_as_interrupt():
            run_server(app, host=host, port=port, log_level=level, options=options)
    # The server returns only when told to stop (a failed start raises).
    if distributed:
        click.echo(
            "stopped: the server drained its requests; the jobs they queued wait for "
            "`slaplug worker` processes",
            err=True,
        )
    else:
        click.echo(
            "stopped: the server drained its requests and the workers finished their batch; "
            "deliveries not yet processed stay in the inbox for the next start",
            err=True,
        )
    sys.exit(ExitCode.INTERRUPTED)


def _no_jobs_here() -> Any:
    raise RuntimeError("slaplug serve queues jobs; `slaplug worker` processes run them")
