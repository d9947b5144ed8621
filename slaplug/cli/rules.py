"""``slaplug rules``: check, diff, schema and test a rules pack."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from slaplug.cli._common import (
    ENGINE_OPTION,
    friendly_errors,
    parse_time,
)
from slaplug.errors import Problem, ProblemsError


@click.group()
def rules() -> None:
    """Check, test and describe rules files."""


@rules.command("check")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Also check the rules against this slaplug.yaml (every notify channel is served); "
    "without PATHS, check every rules version it configures.",
)
@friendly_errors
def rules_check(paths: tuple[str, ...], config_path: str | None) -> None:
    """Check rules files; print every problem as file:line:col and exit 2 if any."""
    from slaplug.errors import ConfigError
    from slaplug.plugins import holidays_for
    from slaplug.rules.compile import compile_files

    if not paths and config_path is None:
        raise ConfigError(
            "give the rules files to check, or --config slaplug.yaml to check every "
            "configured rules version"
        )
    if config_path is None:
        src = compile_files(paths, holiday_provider=holidays_for)
        click.echo(f"ok: {_checked(src, len(paths))}")
        return
    from slaplug.config import load_settings
    from slaplug.notify.channels import unserved

    settings = load_settings(config_path)
    versions = (
        [("", tuple(Path(p) for p in paths))]
        if paths
        else [(v.label, v.files) for v in settings.rules_versions]
    )
    if not versions:
        raise ConfigError(f"{settings.path}: no rules files; add them under rules:")
    problems: list[Problem] = []
    lines: list[str] = []
    for label, files in versions:
        # Every version is checked, each one's problems reported with the others'.
        try:
            src = compile_files(files, holiday_provider=holidays_for)
        except ProblemsError as exc:
            problems += exc.problems
            continue
        problems += unserved(src.writes, settings.notify, str(settings.path))
        lines.append("ok: " + (f"rules {label}: " if label else "") + _checked(src, len(files)))
    if problems:
        raise ProblemsError(problems)
    for line in lines:
        click.echo(line)


def _checked(src: Any, files: int) -> str:
    return (
        f"{len(src.policies)} policies, {len(src.escalations)} escalations, "
        f"{len(src.calendars) - 1} calendars in {files} file(s)"
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
@friendly_errors
def rules_diff(old: str, new: str, config_path: str | None, at: str | None, as_json: bool) -> None:
    """What deploying NEW instead of OLD would change: actions added and removed (by identity,
    not position), levels and policies changed and, with --config, what would newly fire at the
    next sync, what would no longer fire, and which open clocks change."""
    from slaplug.plugins import holidays_for
    from slaplug.rules.diff import diff_packs, diff_store, render_text
    from slaplug.rules.pack import RulePack

    with (
        RulePack.load([Path(old)], engine="python", holiday_provider=holidays_for) as before,
        RulePack.load([Path(new)], engine="python", holiday_provider=holidays_for) as after,
    ):
        if config_path is None:
            result = diff_packs(before, after)
        else:
            from slaplug.credits.run import load_offline_settings
            from slaplug.store import Store

            settings = load_offline_settings(config_path)
            with Store.open(settings.store) as store:
                when = parse_time(at)

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
@friendly_errors
def rules_test(paths: tuple[str, ...], engine: str | None) -> None:
    """Run policy tests (YAML cases); exit 1 if any fails."""
    from slaplug.plugins import holidays_for
    from slaplug.rules.policytest import run_policy_tests

    failed = passed = 0
    for p in paths:
        for r in run_policy_tests(Path(p), engine=engine, holiday_provider=holidays_for):
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
