"""The ``slaplug`` command line. Thin: it parses arguments and wires the parts together.

Exit codes are `slaplug.exitcodes.ExitCode` (the table in docs/cli.md): 0 ok, 1 a check
failed, 2 bad input or configuration, 3 a helpdesk unreachable or rejecting, 4 some actions
failed, 130 interrupted. Errors print as messages, never as tracebacks.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from slaplug.errors import ConnectorError, ProblemsError, SlaplugError
from slaplug.exitcodes import ExitCode
from slaplug.logs import logging_options

if TYPE_CHECKING:
    from slaplug.hookspecs import FakeRunner

F = TypeVar("F", bound=Callable[..., Any])


#: ``sync --once``: the pass finished, but some actions failed for good or became dead letters;
#: they wait in the store (`slaplug outbox list --failed`, `outbox retry --failed`). Kept as a
#: name for `ExitCode.ACTIONS_FAILED`.
EXIT_ACTIONS_FAILED = ExitCode.ACTIONS_FAILED


def _friendly_errors(func: F) -> F:
    """Turn slaplug's errors into messages and their exit codes (`ExitCode`)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ProblemsError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            click.echo(f"{len(exc.problems)} problem(s) found.", err=True)
            sys.exit(ExitCode.BAD_INPUT)
        except ConnectorError as exc:
            # Before SlaplugError: a helpdesk that is down or refuses us (AuthenticationError
            # is a ConfigError too) must not share its code with a typo in slaplug.yaml.
            click.echo(f"error: {_helpdesk_message(exc)}", err=True)
            sys.exit(ExitCode.HELPDESK)
        except SlaplugError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(ExitCode.BAD_INPUT)
        except KeyboardInterrupt:
            # Click would print "Aborted!" and exit 1; a stopped command is not a failed check.
            click.echo("interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def _helpdesk_message(exc: ConnectorError) -> str:
    """The message of a helpdesk error that stopped a command.

    A 404 is "skip this ticket" where one ticket is missing; one that stops the whole
    command came from a list or export endpoint, which exists on every account: the
    connector's base_url does not point at the API.
    """
    from slaplug.errors import TicketNotFoundError

    text = str(exc)
    if isinstance(exc, TicketNotFoundError):
        text = text.replace(
            "not found; skipping this ticket",
            "not found: the helpdesk has no such API path; check the connector's base_url "
            "(the account's root URL, without an API path)",
        )
    return text


def _parse_time(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time, e.g. 2026-03-04T15:00:00+01:00"
        ) from None
    if t.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} has no offset; add one, e.g. {value}+01:00 or {value}Z"
        )
    return t


#: Options several commands share.
RULES_OPTION = click.option(
    "--rules",
    "rules",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="Rules file (repeat for several).",
)
ENGINE_OPTION = click.option(
    "--engine", type=click.Choice(["durable", "python"]), help="Override the pack's engine."
)


@click.group()
@click.version_option(package_name="slaplug")
def main() -> None:
    """slaplug: SLA clocks, escalations and service credits for your helpdesk."""


@main.command()
@RULES_OPTION
@click.option(
    "--tickets", required=True, type=click.File("r"), help="JSON file with a list of tickets."
)
@click.option("--at", "at", help="Evaluate as of this time (ISO 8601 with offset); default now.")
@ENGINE_OPTION
@_friendly_errors
def assess(rules: tuple[str, ...], tickets: Any, at: str | None, engine: str | None) -> None:
    """Print the SLA state of every ticket in a file and the escalations that would fire."""
    from slaplug.rules.fields import human_duration
    from slaplug.rules.pack import RulePack
    from slaplug.serialize import TicketFormatError, ticket_from_dict, ticket_problem

    now = _parse_time(at)
    docs = json.load(tickets)
    items = [ticket_from_dict(d, source=f"{tickets.name}[{i}]") for i, d in enumerate(docs)]
    for i, item in enumerate(items):
        problem = ticket_problem(item)
        if problem is not None:  # what a sync would quarantine: say why, not a traceback
            raise TicketFormatError(f"{tickets.name}[{i}]: {problem}")
    with RulePack.load(rules, engine=engine) as pack:  # type: ignore[arg-type]
        results = pack.assess_many(items, now)
    click.echo(f"SLA states at {now.isoformat()} ({len(items)} tickets, engine {pack.engine})")
    click.echo("")
    header = f"{'ticket':<14}{'policy':<17}{'metric':<16}{'cyc':>3}  {'state':<9}{'used':>8}  {'remaining':>10}  deadline"
    click.echo(header)
    click.echo("-" * len(header))
    for r in results:
        for m in r.measures:
            deadline = m.deadline.strftime("%a %d %b %H:%M") if m.deadline else "(paused)"
            click.echo(
                f"{r.ticket.key:<14}{m.policy:<17}{m.metric.value:<16}{m.cycle:>3}  "
                f"{m.state.value:<9}{m.percent:>7.0f}%  {human_duration(m.remaining):>10}  {deadline}"
            )
    click.echo("")
    actions = [a for r in results for a in r.actions]
    click.echo(f"Escalations planned: {len(actions)}")
    for a in actions:
        shadow = " [shadow]" if a.shadow else ""
        params = ", ".join(f"{k}={v}" for k, v in a.params.items())
        click.echo(
            f"  {a.connector}:{a.ticket_id:<6} {a.escalation} L{a.level}: {a.kind.value} {params}{shadow}"
        )


@main.command()
@RULES_OPTION
@click.option(
    "--ticket",
    required=True,
    type=click.File("r"),
    help="A ticket as JSON (see docs/rules/language.md).",
)
@click.option("--at", "at", help="Explain as of this time (ISO 8601 with offset); default now.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@ENGINE_OPTION
@_friendly_errors
def explain(
    rules: tuple[str, ...], ticket: Any, at: str | None, as_json: bool, engine: str | None
) -> None:
    """Explain one ticket's clocks: counted and paused time, closures, state, escalations."""
    from slaplug.explain import explain as build
    from slaplug.explain import render_text
    from slaplug.rules.pack import RulePack
    from slaplug.serialize import ticket_from_dict

    try:
        doc = json.load(ticket)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{ticket.name}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    item = ticket_from_dict(doc, source=ticket.name)
    with RulePack.load(rules, engine=engine) as pack:  # type: ignore[arg-type]
        data = build(pack, item, _parse_time(at))
    click.echo(json.dumps(data, indent=2) if as_json else render_text(data))


@main.group()
def rules() -> None:
    """Check, test and describe rules files."""


@rules.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Also check the rules against this slaplug.yaml (every notify channel is served).",
)
@_friendly_errors
def rules_check(paths: tuple[str, ...], config_path: str | None) -> None:
    """Check rules files; print every problem as file:line:col and exit 2 if any."""
    from slaplug.rules.compile import compile_files

    src = compile_files(paths)
    if config_path is not None:
        from slaplug.config import load_settings
        from slaplug.notify.channels import unserved

        settings = load_settings(config_path)
        problems = unserved(src.writes, settings.notify, str(settings.path))
        if problems:
            raise ProblemsError(problems)
    click.echo(
        f"ok: {len(src.policies)} policies, {len(src.escalations)} escalations, "
        f"{len(src.calendars) - 1} calendars in {len(paths)} file(s)"
    )


@rules.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Also assess the stored tickets under both (snapshots and ledger of this slaplug.yaml).",
)
@click.option("--at", "at", help="Assess at this time (ISO 8601 with offset); default now.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@_friendly_errors
def rules_diff(old: str, new: str, config_path: str | None, at: str | None, as_json: bool) -> None:
    """What deploying NEW instead of OLD would change: actions added and removed (by identity,
    not position), levels and policies changed and, with --config, what would newly fire at the
    next sync, what would no longer fire, and which open clocks change."""
    from slaplug.rules.diff import diff_packs, diff_store, render_text
    from slaplug.rules.pack import RulePack

    with (
        RulePack.load([Path(old)], engine="python") as before,
        RulePack.load([Path(new)], engine="python") as after,
    ):
        if config_path is None:
            result = diff_packs(before, after)
        else:
            from slaplug.credits.run import load_offline_settings
            from slaplug.store import Store

            settings = load_offline_settings(config_path)
            with Store.open(settings.store) as store:
                when = _parse_time(at)

                def cutoff(connector: str) -> datetime | None:
                    """As `Sync.cutoff`: the explicit one, else the go-live, else now."""
                    explicit = settings.escalate_from.get(connector)
                    if explicit is not None:
                        return explicit
                    return store.peek_go_live(connector) or when

                result = diff_store(
                    before,
                    after,
                    store.iter_snapshots(),
                    when,
                    planned_before=lambda keys: {
                        k for k in keys if store.ledger_status(k) is not None
                    },
                    cutoff=cutoff,
                )
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(f"rules diff: {old} -> {new}")
        click.echo(render_text(result), nl=False)


@rules.command("schema")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "markdown"]),
    default="json",
    help="JSON Schema (for editors) or the Markdown reference page.",
)
def rules_schema(fmt: str) -> None:
    """Print the schema of rules files: JSON Schema for editors, or the Markdown reference."""
    if fmt == "markdown":
        from slaplug.rules.docgen import render_reference

        click.echo(render_reference(), nl=False)
        return
    from slaplug.rules.schema import RulePackSpec

    click.echo(json.dumps(RulePackSpec.model_json_schema(), indent=2))


@rules.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@ENGINE_OPTION
@_friendly_errors
def rules_test(paths: tuple[str, ...], engine: str | None) -> None:
    """Run policy tests (YAML cases); exit 1 if any fails."""
    from slaplug.rules.policytest import run_policy_tests

    failed = passed = 0
    for p in paths:
        for r in run_policy_tests(Path(p), engine=engine):
            if r.passed:
                passed += 1
                click.echo(f"PASS {r.file}:{r.line} {r.name}")
            else:
                failed += 1
                click.echo(f"FAIL {r.file}:{r.line} {r.name}")
                for f in r.failures:
                    click.echo(f"    {f}")
    click.echo(f"{passed} passed, {failed} failed")
    if failed:
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@_friendly_errors
def plugins(as_json: bool) -> None:
    """List installed plugins with their versions and the hooks they implement."""
    from dataclasses import asdict

    from slaplug.plugins import plugin_list

    infos = plugin_list()
    if as_json:
        click.echo(json.dumps([asdict(i) for i in infos], indent=2))
        return
    if not infos:
        click.echo("No plugins installed. See docs/plugins/index.md.")
        return
    for info in infos:
        origin = f" ({info.distribution} {info.version})" if info.distribution else ""
        click.echo(f"{info.name}{origin}: {', '.join(info.hooks) or 'no hooks'}")


CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="The configuration file (default: $SLAPLUG_CONFIG or ./slaplug.yaml).",
)


@main.command()
@click.option("--path", default="slaplug.yaml", type=click.Path(dir_okay=False), show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, force: bool) -> None:
    """Write a commented starting configuration."""
    from slaplug.config import starter_config

    target = Path(path)
    if target.exists() and not force:
        click.echo(f"error: {target} exists; use --force to overwrite it", err=True)
        sys.exit(2)
    target.write_text(starter_config(), encoding="utf-8")
    click.echo(f"wrote {target}")
    # The starter file names rules/default.yaml beside it: give it the shipped pack (and its
    # policy tests), so the file works wherever slaplug was installed from. An existing pack
    # is the user's: never overwritten.
    from slaplug.packs import pack_file

    rules_dir = target.parent / "rules"
    for name, tests in (("default.yaml", False), ("default.tests.yaml", True)):
        dest = rules_dir / name
        if not dest.exists():
            rules_dir.mkdir(parents=True, exist_ok=True)
            dest.write_text(pack_file("default", tests=tests).read_text(encoding="utf-8"))
            click.echo(f"wrote {dest} (the shipped rules; edit them to fit your contracts)")
    click.echo("edit the connectors, then run: slaplug sync --once --dry-run")


#: The shortest ``--every`` accepted: a shorter loop would poll the helpdesk's API many
#: times a second (``--every 0s`` made about 60 requests a second) for no fresher results.
MIN_INTERVAL_SECONDS = 10.0
#: What ``--every`` given without a value stands for: ``sync.every`` from the configuration.
_EVERY_FROM_CONFIG = "__config__"


def _interval(value: str, where: str) -> float:
    """Seconds between passes from ``--every`` or ``sync.every``; a clear error otherwise."""
    from slaplug.rules.schema import parse_duration

    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(
            f"{exc} (accepted forms: 90s, 10m, 1h, 1h30m)", param_hint=where
        ) from None
    if seconds < MIN_INTERVAL_SECONDS:
        raise click.BadParameter(
            f"{value!r} is shorter than the {MIN_INTERVAL_SECONDS:.0f}s floor; a shorter loop "
            "only polls the helpdesk harder (use e.g. 60s)",
            param_hint=where,
        )
    return seconds


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Make SIGTERM (systemd, Kubernetes, kill) stop a run the way Ctrl-C does, in the block."""
    import signal
    import threading

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        # A command run in-process (tests, CliRunner) leaves its caller's handler as it was.
        signal.signal(signal.SIGTERM, previous)


@main.command()
@CONFIG_OPTION
@click.option("--once", "once", is_flag=True, help="One pass, then exit (the default).")
@click.option(
    "--every",
    "every",
    is_flag=False,
    flag_value=_EVERY_FROM_CONFIG,
    metavar="[DURATION]",
    help="Run a pass every DURATION (e.g. 60s, 5m; at least 10s) until stopped; without a "
    "value, sync.every from the configuration.",
)
@click.option("--dry-run", is_flag=True, help="Plan and print; write nothing, move no cursor.")
@click.option("--connector", "only", help="Sync only this configured connector.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line.")
@click.option(
    "--escalate-from",
    "escalate_from",
    metavar="WHEN",
    help="Write escalations for thresholds crossed from WHEN on (a date such as 2026-11-01, "
    "or a time with its zone): a backfill. Overrides escalate_from in the configuration; "
    "first-sync restores the default (each connector's first sync).",
)
@ENGINE_OPTION
@logging_options
@_friendly_errors
def sync(
    config_path: str | None,
    once: bool,
    every: str | None,
    dry_run: bool,
    only: str | None,
    as_json: bool,
    escalate_from: str | None,
    engine: str | None,
    log_level: str | None,
    verbose: int,
    log_format: str,
) -> None:
    """Read changed tickets, evaluate them, write results back exactly once.

    The first sync of a connector measures its whole history but writes nothing for
    thresholds crossed before it started (see --escalate-from), nor on solved or closed
    tickets.

    Exits 0 when every action went through, 4 when some failed (see docs/cli.md for every
    exit code), 130 when stopped by Ctrl-C or SIGTERM.
    """
    import time

    from slaplug.config import load_settings
    from slaplug.errors import ConfigError
    from slaplug.golive import parse_escalate_from
    from slaplug.logs import resolve_level, setup_logging
    from slaplug.progress import log_summary, print_summary, reporter
    from slaplug.runtime import open_runtime, release_leases
    from slaplug.sync import Summary, Sync

    setup_logging(resolve_level(log_level, verbose), log_format)
    if once and every:
        raise click.UsageError("choose --once or --every, not both")
    interval = None
    if every is not None and every != _EVERY_FROM_CONFIG:
        interval = _interval(every, "--every")  # before the configuration: a typo fails fast
    settings = load_settings(config_path)
    if every == _EVERY_FROM_CONFIG:
        interval = _interval(settings.sync.every, f"sync.every in {settings.path}")
    cutoffs = dict(settings.escalate_from)
    if escalate_from is not None:
        try:
            forced = parse_escalate_from(escalate_from, where="--escalate-from")
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--escalate-from") from None
        cutoffs = dict.fromkeys(settings.connectors, forced)
    # SLAPLUG_NOW pins the evaluation instant: for tests and benchmarks that compare two
    # passes over the same moment. Unset (always, in production), it is the real time.
    pinned = _parse_time(os.environ["SLAPLUG_NOW"]) if os.environ.get("SLAPLUG_NOW") else None
    clock = (lambda: pinned) if pinned else (lambda: datetime.now(UTC))
    failed_actions = False
    # The pass's running counters, as last reported: a pass stopped by a helpdesk error
    # raises before returning its summary, and the user must still see what was done.
    seen: list[Summary] = []
    show = reporter()

    def progress(message: str, running: Summary) -> None:
        seen[:] = [running]
        show(message, running)

    with (
        _sigterm_as_interrupt(),
        open_runtime(settings, engine=engine, only=only) as rt,  # type: ignore[arg-type]
    ):
        job = Sync(
            rt.store,
            rt.pack,
            rt.connectors,
            dry_run=dry_run,
            batch=settings.sync.batch,
            claim_batch=settings.outbox.batch,
            progress=progress,
            clock=clock,
            channels=settings.notify,
            escalate_from=cutoffs,
        )
        passes = 0
        try:
            while True:
                try:
                    summary = job.run_once(only)
                except ConnectorError as exc:
                    released = release_leases(rt.store)  # the next sync need not wait
                    _stopped_by_helpdesk(rt.store, seen[-1] if seen else None, released)
                    seen.clear()
                    if interval is None:
                        raise
                    # A loop outlives an outage: the next pass tries again (exit 3 is for
                    # --once, whose scheduler runs it again).
                    click.echo(f"error: {_helpdesk_message(exc)}", err=True)
                    click.echo(f"next pass in {interval:g}s", err=True)
                    time.sleep(interval)
                    continue
                seen.clear()
                passes += 1
                print_summary(summary, as_json=as_json, dry_run=dry_run)
                log_summary(summary, dry_run=dry_run)
                note = summary.failure_note()
                if note:
                    # Through the log handler: in the chosen format, with the other lines.
                    logging.getLogger("slaplug.sync").warning("%s", note)
                failed_actions = bool(note or summary.failed or summary.dead_lettered)
                failed_actions |= bool(summary.retried_later)
                if interval is None:
                    if dry_run and _writes_that_would_fail(settings, only):
                        failed_actions = True
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            _stop_interrupted(rt.store, release_leases, passes)
            sys.exit(ExitCode.INTERRUPTED)
    if failed_actions:
        sys.exit(ExitCode.ACTIONS_FAILED)


def _stopped_by_helpdesk(store: Any, running: Any, released: int) -> None:
    """Before the error line: what the stopped pass had done, and what waits for the next."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    stats = store.outbox_stats()
    done = "nothing done yet"
    if running is not None:
        done = (
            f"{running.tickets_read} tickets read, {running.planned} actions planned, "
            f"{running.applied} applied, {running.failed} failed"
        )
    click.echo(
        f"stopped: {done}; {stats.pending} action(s) pending in the outbox for the next "
        f"sync ({released} claimed one(s) released; nothing done is lost)",
        err=True,
    )


def _stop_interrupted(store: Any, release: Callable[[Any], int], passes: int) -> None:
    """After Ctrl-C or SIGTERM: give back the claimed batch and say, in one line, what is left."""
    import signal

    # A second Ctrl-C must not cut the release short: the leases would then hold the
    # actions for the whole lease time (5 minutes by default).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    released = release(store)
    stats = store.outbox_stats()
    click.echo(
        f"interrupted after {passes} complete pass(es): {released} claimed action(s) released, "
        f"{stats.pending} pending in the outbox for the next sync; nothing is lost",
        err=True,
    )


def _writes_that_would_fail(settings: Any, only: str | None) -> int:
    """For ``sync --dry-run``: the doctor's failing checks (every field, group, user, status,
    priority and channel the rules write, at the rule's file:line:col), on stderr; their count.
    """
    from slaplug.doctor import CheckStatus, format_line, run_checks

    failing = [c for c in run_checks(settings, only=only) if c.status is CheckStatus.FAIL]
    for check in failing:
        click.echo(f"would fail: {format_line(check)}", err=True)
    return len(failing)


@main.command()
@click.option(
    "--dir",
    "folder",
    default=".slaplug-demo",
    type=click.Path(file_okay=False),
    show_default=True,
    help="Where the demo writes its configuration and store.",
)
@click.option(
    "--rules",
    "rules",
    default=None,
    type=click.Path(dir_okay=False),
    help="The rules pack to run (default: the shipped default pack, rules/default.yaml).",
)
@_friendly_errors
def demo(folder: str, rules: str | None) -> None:
    """Run the whole job against bundled fake helpdesks: no credentials, nothing to install."""
    from importlib.resources import as_file

    from slaplug.demo import run_demo
    from slaplug.packs import pack_file

    if rules is not None:
        run_demo(Path(folder), Path(rules))
        return
    # Package data, so the demo runs from any folder, not only from a checkout.
    with as_file(pack_file("default")) as shipped:
        run_demo(Path(folder), shipped)


@main.group()
def outbox() -> None:
    """Inspect and retry writes that failed (dead letters)."""


@outbox.command("list")
@CONFIG_OPTION
@click.option("--connector", "only", help="Only this connector's.")
@click.option(
    "--failed",
    "failed",
    is_flag=True,
    help="List the actions the platform refused for good (ledger status failed) instead.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@_friendly_errors
def outbox_list(config_path: str | None, only: str | None, failed: bool, as_json: bool) -> None:
    """List dead letters (or, with --failed, failed actions) and the outbox counts."""
    from slaplug.config import load_settings
    from slaplug.connectors.redact import scrub
    from slaplug.serialize import action_to_dict
    from slaplug.store import Store

    settings = load_settings(config_path)
    with Store.open(settings.store) as store:
        stats = store.outbox_stats()
        counts: dict[str, Any] = {
            "pending": stats.pending,
            "leased": stats.leased,
            "dead": stats.dead,
            "ledger": dict(stats.ledger),
        }
        items: list[dict[str, Any]]
        if failed:
            items = [
                {
                    "key": f.key,
                    "action": action_to_dict(f.action),
                    "detail": scrub(f.detail),
                    "failed_at": f.failed_at.isoformat() if f.failed_at else None,
                }
                for f in store.failed_actions(only)
            ]
        else:
            items = [
                {
                    "key": d.key,
                    "action": action_to_dict(d.action),
                    "attempts": d.attempts,
                    # Scrubbed again: rows written by an older slaplug were stored as they came.
                    "last_error": scrub(d.last_error or ""),
                    "dead_at": d.dead_at.isoformat() if d.dead_at else None,
                }
                for d in store.dead_letters(only)
            ]
    if as_json:
        click.echo(json.dumps({**counts, "failed" if failed else "dead_letters": items}))
        return
    click.echo(f"outbox: {stats.pending} pending, {stats.leased} leased, {stats.dead} dead")
    ledger = ", ".join(f"{n} {status}" for status, n in sorted(dict(stats.ledger).items()))
    click.echo(f"ledger: {ledger or 'empty'}")
    for item in items:
        action = item["action"]
        params = " ".join(f"{k}={v}" for k, v in dict(action["params"]).items())
        what = f"{action['kind']} {params}".rstrip()
        if failed:
            click.echo(f"FAILED {item['key']}  {what}")
            click.echo(f"     detail: {item['detail']}")
        else:
            click.echo(f"DEAD {item['key']}  attempts={item['attempts']}  {what}")
            click.echo(f"     last error: {item['last_error']}")


@outbox.command("retry")
@CONFIG_OPTION
@click.argument("keys", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead letter.")
@click.option(
    "--failed",
    "failed",
    is_flag=True,
    help="Retry failed actions (ledger status failed) after fixing their cause: the KEYS "
    "named, or all of them.",
)
@click.option("--connector", "only", help="With --failed: only this connector's.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@_friendly_errors
def outbox_retry(
    config_path: str | None,
    keys: tuple[str, ...],
    retry_all: bool,
    failed: bool,
    only: str | None,
    as_json: bool,
) -> None:
    """Put dead letters (or, with --failed, failed actions) back in the outbox; the next sync
    tries them again."""
    from slaplug.config import load_settings
    from slaplug.store import Store

    if not keys and not retry_all and not failed:
        raise click.UsageError("name the keys to retry, or --all (dead letters), or --failed")
    settings = load_settings(config_path)
    wrong: list[str] = []
    with Store.open(settings.store) as store:
        if failed:
            requeued = store.retry_failed(list(keys) or None, connector=only)
            dead = store.retry_dead(None) if retry_all else 0
            missed = [k for k in dict.fromkeys(keys) if k not in set(requeued)]
            what = "a failed action"
        else:
            requeued = []
            parked = {d.key for d in store.dead_letters(limit=2**31 - 1)}
            missed = [] if retry_all else [k for k in dict.fromkeys(keys) if k not in parked]
            dead = store.retry_dead(None if retry_all else list(keys))
            what = "a dead letter"
        for key in missed:
            status = store.ledger_status(key)
            wrong.append(
                f"{key}: no such key" if status is None else f"{key}: not {what} ({status})"
            )
    if as_json:
        click.echo(json.dumps({"dead_letters": dead, "failed": len(requeued), "keys": requeued}))
    else:
        if failed:
            click.echo(f"{len(requeued)} failed action(s) back in the outbox")
        if dead or not failed:
            click.echo(f"{dead} dead letter(s) back in the outbox")
    if wrong:
        # A typo in a key must not look like success to a script.
        for line in wrong:
            click.echo(f"error: {line}", err=True)
        click.echo("see them with: slaplug outbox list (--failed)", err=True)
        sys.exit(ExitCode.BAD_INPUT)


@main.group("notify")
def notify_group() -> None:
    """Notifications beyond the rules' own: digests."""


@notify_group.command("digest")
@CONFIG_OPTION
@click.argument("channel")
@click.option(
    "--within", default="24h", show_default=True, help="List clocks due within this wall time."
)
@click.option("--at", "at", help="As of this time (ISO 8601 with offset); default now.")
@click.option("--force", is_flag=True, help="Send even if today's digest went out already.")
@_friendly_errors
def notify_digest(
    config_path: str | None, channel: str, within: str, at: str | None, force: bool
) -> None:
    """Send CHANNEL the tickets at risk across every helpdesk, once a day (run it from cron)."""
    from slaplug.config import load_settings
    from slaplug.notify.digest import send_digest
    from slaplug.rules.schema import parse_duration
    from slaplug.runtime import open_runtime

    try:
        horizon = parse_duration(within)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--within") from None
    settings = load_settings(config_path)
    if channel not in settings.notify:
        known = ", ".join(sorted(settings.notify)) or "none"
        raise click.UsageError(
            f"no channel {channel!r} under notify: in {settings.path}; declared: {known}"
        )
    with open_runtime(settings) as rt:
        listed, sent = send_digest(
            rt.store,
            rt.pack,
            settings.notify[channel],
            rt.connectors,
            now=_parse_time(at),
            within=horizon,
            force=force,
        )
    if sent:
        click.echo(f"digest sent to {channel} ({sent} service(s)): {listed} clock(s) listed")
    else:
        click.echo(f"today's digest for {channel} went out already; --force sends it again")


@main.command()
@CONFIG_OPTION
@click.option("--connector", "only", help="Check only this configured connector.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as one JSON document.")
@_friendly_errors
def doctor(config_path: str | None, only: str | None, as_json: bool) -> None:
    """Check the configuration against the live helpdesks before the first sync.

    One line per check; exits 1 if any check fails, 2 if the configuration or rules are
    invalid.
    """
    from slaplug.config import load_settings
    from slaplug.connectors.checks import CheckStatus
    from slaplug.doctor import format_line, run_checks

    settings = load_settings(config_path)
    if only is not None and only not in settings.connectors:
        known = ", ".join(settings.connectors) or "none"
        raise click.UsageError(f"no connector named {only!r}; configured: {known}")
    checks = run_checks(settings, only=only)
    failed = sum(c.status is CheckStatus.FAIL for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": not failed, "checks": [c.to_dict() for c in checks]}))
    else:
        for c in checks:
            click.echo(format_line(c))
        warned = sum(c.status is CheckStatus.WARN for c in checks)
        click.echo(f"{len(checks)} checks: {failed} failed, {warned} warning(s)")
    if failed:
        sys.exit(1)


class _FakeGroup(click.Group):
    """``slaplug fake NAME``: the fakes plugins register (hook ``register_fakes``).

    The core names no platform: the subcommands are whatever the installed plugins
    register, looked up when the command line is parsed.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._fakes())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        run = self._fakes().get(cmd_name)
        if run is None:
            return None
        summary = ((run.__doc__ or "").strip().splitlines() or [f"Serve a fake {cmd_name}."])[0]

        @click.command(
            cmd_name,
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
            add_help_option=False,  # the fake's own --help lists its options
            help=f"{summary} (see: slaplug fake {cmd_name} --help)",
            short_help=summary,
        )
        @click.argument("args", nargs=-1, type=click.UNPROCESSED)
        def command(args: tuple[str, ...]) -> None:
            sys.exit(run(list(args)))

        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            known = ", ".join(self.list_commands(ctx)) or "none (install a connector plugin)"
            raise click.UsageError(f"no fake named {name!r}; installed fakes: {known}", ctx)
        return super().resolve_command(ctx, args)

    @staticmethod
    def _fakes() -> dict[str, FakeRunner]:
        from slaplug.plugins import get_fakes

        return get_fakes()


@main.group()
def quarantine() -> None:
    """Tickets slaplug set aside because it cannot process them, and why."""


@quarantine.command("list")
@CONFIG_OPTION
@click.option("--connector", "only", help="Only this connector's.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@_friendly_errors
def quarantine_list(config_path: str | None, only: str | None, as_json: bool) -> None:
    """List quarantined tickets with the reason; each leaves once a later read is processed."""
    from slaplug.config import load_settings
    from slaplug.store import Store

    settings = load_settings(config_path)
    with Store.open(settings.store) as store:
        items = store.quarantined(only)
    if as_json:
        click.echo(json.dumps([q.as_dict() for q in items], indent=2))
        return
    click.echo(f"{len(items)} quarantined ticket(s)")
    for q in items:
        click.echo(
            f"{q.connector}:{q.ticket_id}  {q.stage}  seen {q.times}x, last {q.last_seen.isoformat()}"
        )
        click.echo(f"     {q.reason}")


@main.group(cls=_FakeGroup)
@logging_options
def fake(log_level: str | None, verbose: int, log_format: str) -> None:
    """Run a fake helpdesk on 127.0.0.1 for tests, demos and trying slaplug.

    Each connector plugin brings its platform's fake (slaplug fake zendesk, jira,
    freshdesk...); `slaplug fake --help` lists the installed ones. The logging options go
    before the fake's name: slaplug fake --log-format json zendesk --port 0.
    """
    from slaplug.logs import resolve_level, setup_logging

    setup_logging(resolve_level(log_level, verbose), log_format)


@main.command()
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
    "none, when workers run elsewhere (--worker-only).",
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
@_friendly_errors
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
    if worker_only and supervised:
        import signal

        # Ctrl-C reaches the whole process group; a supervised worker is stopped by its web
        # process (SIGTERM, after the server drained), so it must not die half started.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = load_settings(config_path)
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
    supervisor = WorkerSupervisor(argv, workers, nice=worker_nice)
    # Opened here, not in the app, so a configuration problem is reported before the port
    # is bound; the workers then finish whatever the inbox holds from an earlier run.
    # Header and body timeouts and a connection cap: slow clients must not hold every
    # descriptor (docs/webhooks.md, "Limits on clients").
    limits = ServeLimits(header_timeout, body_timeout, max_connections, keep_alive)
    options = uvicorn_options(limits)
    # uvicorn's own lines go through the handler set up above (format, redaction), not
    # through the one uvicorn would configure.
    options["log_config"] = None
    with open_runtime(settings) as rt:
        app = create_app(
            settings,
            runtime=rt,
            max_body=max_body,
            workers=supervisor,
            connections_closed=options["http"].closed,
        )
        # uvicorn shuts down gracefully on SIGINT and SIGTERM, then raises the signal again:
        # as KeyboardInterrupt for both, so the exit code is 130 and not death by SIGTERM.
        with _sigterm_as_interrupt():
            run_server(app, host=host, port=port, log_level=level, options=options)
    # The server returns only when told to stop (a failed start raises).
    click.echo(
        "stopped: the server drained its requests and the workers finished their batch; "
        "deliveries not yet processed stay in the inbox for the next start",
        err=True,
    )
    sys.exit(ExitCode.INTERRUPTED)


@main.command()
@CONFIG_OPTION
@click.option("--period", required=True, help="A month (2026-10) or a quarter (2026-Q4).")
@click.option("--contract", "contract", help="Only this contract.")
@click.option(
    "--recalculate", is_flag=True, help="Compute a frozen period again; show what changed."
)
@click.option("--reason", default="", help="Recorded with a recalculation.")
@click.option("--deliver", is_flag=True, help="Hand each statement to on_credit_statement plugins.")
@click.option("--at", "at", help="Compute as of this time (ISO 8601 with offset); default now.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_friendly_errors
def credits(
    config_path: str | None,
    period: str,
    contract: str | None,
    recalculate: bool,
    reason: str,
    deliver: bool,
    at: str | None,
    as_json: bool,
) -> None:
    """Service credits per contract for a period; closed periods are frozen when first computed."""
    from slaplug.credits.run import load_offline_settings, open_credits, settle_period
    from slaplug.credits.statement import statement_for
    from slaplug.plugins import load_plugins, pm
    from slaplug.reports import render_json

    settings = load_offline_settings(config_path)
    with open_credits(settings) as ctx:
        settled = settle_period(ctx, period, _parse_time(at), contract, recalculate, reason)
    if as_json:
        click.echo(render_json([s.result for s in settled]), nl=False)
    for s in settled:
        if not as_json:
            click.echo(statement_for(s.result).text)
            if s.previous is not None and s.previous is s.result:
                click.echo(f"Recalculated: no difference; revision {s.result.revision} stands")
            elif s.previous is not None:
                click.echo(f"Recalculated: revision {s.previous.revision} -> {s.result.revision}")
                for line in s.changes or ("no difference",):
                    click.echo(f"  {line}")
            click.echo("")
        if deliver:
            load_plugins()
            pm.hook.on_credit_statement(statement=statement_for(s.result))


@main.command()
@CONFIG_OPTION
@click.option("--period", required=True, help="A month (2026-10) or a quarter (2026-Q4).")
@click.option("--contract", "contract", help="Only this contract.")
@click.option(
    "--format", "fmt", type=click.Choice(["html", "csv", "json"]), default="html", show_default=True
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here, not to stdout.")
@click.option("--at", "at", help="Compute as of this time (ISO 8601 with offset); default now.")
@_friendly_errors
def report(
    config_path: str | None,
    period: str,
    contract: str | None,
    fmt: str,
    output: str | None,
    at: str | None,
) -> None:
    """A customer report: compliance, breaches with ticket links, the credit owed and why."""
    from slaplug.credits.run import load_offline_settings, open_credits, settle_period
    from slaplug.reports import RENDERERS

    settings = load_offline_settings(config_path)
    with open_credits(settings) as ctx:
        settled = settle_period(ctx, period, _parse_time(at), contract)
    text = RENDERERS[fmt]([s.result for s in settled])
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@main.command()
@CONFIG_OPTION
@click.option(
    "--rules",
    "rules",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The rules pack to try (repeat for several files).",
)
@click.option("--since", default="90d", show_default=True, help="Window: 90d, 12h, 2w or a date.")
@click.option("--at", "at", help="Replay up to this time (ISO 8601 with offset); default now.")
@_friendly_errors
def backtest(config_path: str | None, rules: tuple[str, ...], since: str, at: str | None) -> None:
    """Replay the stored history under another rules pack: breaches, escalations, credits."""
    from slaplug.backtest import backtest as run_backtest
    from slaplug.backtest import render_text
    from slaplug.credits.run import load_offline_settings, open_credits, parse_since
    from slaplug.rules.pack import RulePack

    settings = load_offline_settings(config_path)
    now = _parse_time(at)
    start = parse_since(since, now)
    # The plain-Python engine: a replay assesses each ticket many times, one at a time, and
    # both engines give one meaning (a property test holds them equal).
    with (
        open_credits(settings, engine="python") as ctx,
        RulePack.load([Path(r) for r in rules], engine="python") as new,
    ):
        tickets = list(ctx.store.iter_snapshots())
        diffs = run_backtest(ctx.pack, new, tickets, start, now)
    current = ", ".join(str(p) for p in settings.rules)
    click.echo(f"current rules: {current}\nnew rules:     {', '.join(rules)}\n")
    click.echo(render_text(diffs, start, now), nl=False)


@main.command("new-connector")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Where to create the project (default: ./slaplug-NAME); must be empty.",
)
@_friendly_errors
def new_connector(name: str, directory: str | None) -> None:
    """Create a connector plugin project: pyproject, connector skeleton, conformance tests."""
    from slaplug.scaffold import generate

    target = Path(directory) if directory else Path(f"slaplug-{name}")
    for path in generate(name, target):
        click.echo(f"created {path}")
    click.echo(
        f"next: cd {target} && pip install -e . && pytest "
        "(docs/plugins/tutorial.md walks through the code)"
    )


if __name__ == "__main__":
    main()
